"""Notify's read model of intake's routing rules: the latest version intake published
(intake.routing_rules.published.v1), and the organisation file's rules until one is.

Who a referral reaches under those rules is decided by `casework_common.routing`, the
algorithm intake's dry run uses too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from casework_common.organisation import Organisation
from casework_common.routing import FALLBACK, Rule


class UnreadableRules(ValueError):
    """A published rule set whose shape notify cannot read."""


@dataclass(frozen=True)
class PublishedRules:
    """The latest rule set intake published for an organisation (notify's read model)."""

    organisation: str
    version: int
    rules: tuple[Rule, ...]


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
            Rule(
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


def rules_in_force(
    organisation: Organisation, published: PublishedRules | None
) -> tuple[Rule, ...]:
    """The published rules, or the organisation file's while intake has published none."""
    if published is None:
        return organisation.routing_rules
    return published.rules
