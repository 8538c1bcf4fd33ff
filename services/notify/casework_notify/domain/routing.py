"""Who is responsible for a new client: the organisation's routing rules.

A rule matches on region, centre, client type and problem type (an empty list matches
anything). Among matching rules the highest priority wins; rules of equal priority
all apply. With no match, the centre's duty worker is responsible, so no referral is
ever left without someone to call the person back.
"""

from __future__ import annotations

from dataclasses import dataclass

from casework_common.organisation import Organisation, RoutingRuleSpec


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
        return list(recipients.values())
    centre = organisation.centre(case.centre_id)
    if centre is None:
        return []
    return [Recipient(centre.duty_worker, f"no routing rule matched; duty worker of {centre.id}")]
