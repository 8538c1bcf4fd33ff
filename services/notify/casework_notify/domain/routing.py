"""Who is responsible for a new client: the organisation's routing rules.

A rule matches on region, centre, client type and problem type (an empty list matches
anything). Among matching rules the highest priority wins; rules of equal priority
all apply. With no match, the centre's duty worker is responsible, so no referral is
ever left without someone to call the person back.

The rules are intake's: notify routes with the latest version intake published
(intake.routing_rules.published.v1), and with the organisation file's rules until one
is published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from casework_common.organisation import Organisation, RoutingRuleSpec

# What happens when no rule matches; the only fallback intake publishes.
FALLBACK = "centre_duty_worker"


@dataclass(frozen=True)
class Case:
    region_id: str
    centre_id: str
    client_type: str
    problem_type: str


@dataclass(frozen=True)
class Recipient:
    worker_id: str
    reason: str


def _matches(rule: RoutingRuleSpec, case: Case) -> bool:
    return all(
        not allowed or value in allowed
        for allowed, value in (
            (rule.regions, case.region_id),
            (rule.centres, case.centre_id),
            (rule.client_types, case.client_type),
            (rule.problem_types, case.problem_type),
        )
    )


def route(organisation: Organisation, case: Case) -> list[Recipient]:
    """The responsible workers for a case, each with the reason they were chosen."""
    matching = [rule for rule in organisation.routing_rules if _matches(rule, case)]
    if matching:
        top = max(rule.priority for rule in matching)
        recipients: dict[str, Recipient] = {}
        for rule in sorted(matching, key=lambda r: r.id):
            if rule.priority != top:
                continue
            for worker_id in rule.workers:
                recipients.setdefault(
                    worker_id,
                    Recipient(worker_id, f"routing rule {rule.id} (priority {rule.priority})"),
                )
        if recipients:
            return list(recipients.values())
        # Rule sets are validated to name workers; should one slip through, the
        # person still gets someone to call them back.
    centre = organisation.centre(case.centre_id)
    if centre is None:
        return []
    return [Recipient(centre.duty_worker, f"no routing rule matched; duty worker of {centre.id}")]


class UnreadableRules(ValueError):
    """A published rule set whose shape notify cannot read."""


@dataclass(frozen=True)
class PublishedRules:
    """The latest rule set intake published for an organisation (notify's read model)."""

    organisation: str
    version: int
    rules: tuple[RoutingRuleSpec, ...]


def rules_from_payload(organisation: str, payload: Mapping[str, Any]) -> PublishedRules:
    """Read intake.routing_rules.published.v1; UnreadableRules names what is wrong."""
    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UnreadableRules("version must be a whole number, 1 or higher")
    if payload.get("fallback") != FALLBACK:
        raise UnreadableRules(f"fallback must be {FALLBACK!r}")
    raw_rules = payload.get("rules")
    if not isinstance(raw_rules, list):
        raise UnreadableRules("rules must be a list")
    rules = []
    for n, raw in enumerate(raw_rules):
        if not isinstance(raw, Mapping):
            raise UnreadableRules(f"rules[{n}] must be an object")

        def strings(key: str, raw: Mapping[str, Any] = raw, n: int = n) -> tuple[str, ...]:
            value = raw.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise UnreadableRules(f"rules[{n}].{key} must be a list of strings")
            return tuple(value)

        rule_id, priority = raw.get("id"), raw.get("priority")
        if not isinstance(rule_id, str) or not rule_id:
            raise UnreadableRules(f"rules[{n}].id must be a non-empty string")
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise UnreadableRules(f"rules[{n}].priority must be a whole number")
        workers = strings("workers")
        if not workers:
            raise UnreadableRules(f"rules[{n}].workers must name at least one worker")
        rules.append(
            RoutingRuleSpec(
                id=rule_id,
                priority=priority,
                regions=strings("regions"),
                centres=strings("centres"),
                client_types=strings("client_types"),
                problem_types=strings("problem_types"),
                workers=workers,
            )
        )
    return PublishedRules(organisation, version, tuple(rules))


def with_rules(organisation: Organisation, published: PublishedRules | None) -> Organisation:
    """The organisation routed with the published rules, or its file's rules while
    intake has published none."""
    if published is None:
        return organisation
    return replace(organisation, routing_rules=published.rules)
