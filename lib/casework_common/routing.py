"""Who is responsible for a new referral: the one routing algorithm.

A rule matches on region, centre, client type and problem type (an empty list matches
anything). Among matching rules the highest priority wins; rules of equal priority all
apply. When no matching rule names a worker, the centre's duty worker is responsible
(the fallback), so no referral is left without someone to call the person back.

Intake owns the rules (validation, versions, publishing) and answers "who would get
this referral?" with this module; notify routes real referrals with the same function
and the rules intake published, so the dry run and the inbox cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the organisation holds its file's rules, so it imports this module
    from casework_common.organisation import Organisation

# What happens when no rule matches; the only fallback there is.
FALLBACK = "centre_duty_worker"


@dataclass(frozen=True)
class Rule:
    id: str
    priority: int
    regions: tuple[str, ...] = ()
    centres: tuple[str, ...] = ()
    client_types: tuple[str, ...] = ()
    problem_types: tuple[str, ...] = ()
    workers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """What routing looks at in a referral; the region is the centre's."""

    centre_id: str
    client_type: str
    problem_type: str


@dataclass(frozen=True)
class Recipient:
    worker_id: str
    reason: str


@dataclass(frozen=True)
class Decision:
    """Who is told, each with the reason, and every rule that matched (the losers of a
    lower priority included, so a dry run can show why they did not decide)."""

    recipients: tuple[Recipient, ...]
    matching_rule_ids: tuple[str, ...]


def rule_to_dict(rule: Rule) -> dict[str, object]:
    """A rule as stored and as published: every list spelled out, empty or not."""
    return {
        "id": rule.id,
        "priority": rule.priority,
        "regions": list(rule.regions),
        "centres": list(rule.centres),
        "client_types": list(rule.client_types),
        "problem_types": list(rule.problem_types),
        "workers": list(rule.workers),
    }


def matches(rule: Rule, organisation: Organisation, case: Case) -> bool:
    centre = organisation.centre(case.centre_id)
    region = centre.region if centre else ""
    return all(
        not allowed or value in allowed
        for allowed, value in (
            (rule.regions, region),
            (rule.centres, case.centre_id),
            (rule.client_types, case.client_type),
            (rule.problem_types, case.problem_type),
        )
    )


def route(rules: Iterable[Rule], organisation: Organisation, case: Case) -> Decision:
    """The responsible workers for `case` under `rules`."""
    matching = sorted((r for r in rules if matches(r, organisation, case)), key=lambda r: r.id)
    recipients: dict[str, Recipient] = {}
    if matching:
        top = max(rule.priority for rule in matching)
        for rule in matching:
            if rule.priority != top:
                continue
            for worker_id in rule.workers:
                recipients.setdefault(
                    worker_id,
                    Recipient(worker_id, f"routing rule {rule.id} (priority {rule.priority})"),
                )
    matched = tuple(rule.id for rule in matching)
    if recipients:
        return Decision(tuple(recipients.values()), matched)
    # Rule sets are validated to name workers; should a rule without any still win,
    # the person gets the duty worker rather than nobody.
    centre = organisation.centre(case.centre_id)
    if centre is None or not centre.duty_worker:
        return Decision((), matched)
    return Decision(
        (Recipient(centre.duty_worker, f"no routing rule matched; duty worker of {centre.id}"),),
        matched,
    )
