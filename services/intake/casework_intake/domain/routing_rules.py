"""The organisation's routing rule sets, owned by intake: validation, versions and the
payload they are published with.

Who a referral reaches under a rule set is decided by the one routing algorithm in
`casework_common.routing`; notify routes with the published version
(intake.routing_rules.published.v1) through the same function, so intake's dry run
answers what notify will do.

Rule sets are validated as a whole before they are stored:
- every id, worker, region, centre and type must exist in the organisation;
- a rule that can never decide anything is refused: one that matches no referral at
  all (its centres all lie outside its regions), or one shadowed by a rule of higher
  priority whose match is a superset of its own;
- a gap is refused: a centre where no rule can match and that has no duty worker.
Rules never refer to one another and the fallback is fixed, so a rule set has no way
to express a cycle.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from casework_common.errors import FieldError
from casework_common.organisation import Organisation
from casework_common.routing import FALLBACK, Case, Rule, rule_to_dict

MAX_RULES = 500
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DIMENSIONS = ("regions", "centres", "client_types", "problem_types")


@dataclass(frozen=True)
class RuleSet:
    organisation: str
    version: int
    rules: tuple[Rule, ...]
    saved_by: str
    saved_at: datetime
    published_at: datetime | None = None
    published_by: str = ""
    fallback: str = FALLBACK


# ---------------------------------------------------------------------------- reach


@dataclass(frozen=True)
class _Reach:
    """Everything a rule can match, spelled out over the organisation's lists."""

    centres: frozenset[str]
    client_types: frozenset[str]
    problem_types: frozenset[str]

    def empty(self) -> bool:
        return not (self.centres and self.client_types and self.problem_types)

    def covers(self, other: _Reach) -> bool:
        return (
            self.centres >= other.centres
            and self.client_types >= other.client_types
            and self.problem_types >= other.problem_types
        )


def _reach(rule: Rule, org: Organisation) -> _Reach:
    centres = set(rule.centres or org.centres)
    if rule.regions:
        centres = {c for c in centres if c in org.centres and org.centres[c].region in rule.regions}
    return _Reach(
        frozenset(centres),
        frozenset(rule.client_types or org.client_types),
        frozenset(rule.problem_types or org.problem_types),
    )


def validate_case(case: Case, org: Organisation) -> list[FieldError]:
    errors = []
    if org.centre(case.centre_id) is None:
        errors.append(FieldError("centre_id", f"unknown centre {case.centre_id!r}"))
    if case.client_type not in org.client_types:
        errors.append(FieldError("client_type", f"one of {', '.join(org.client_types)}"))
    if case.problem_type not in org.problem_types:
        errors.append(FieldError("problem_type", f"one of {', '.join(org.problem_types)}"))
    return errors


# ----------------------------------------------------------------------- validation


def validate(rules: Sequence[Rule], org: Organisation) -> list[FieldError]:
    """Everything wrong with a rule set; an empty list means it may be saved."""
    errors: list[FieldError] = []
    if len(rules) > MAX_RULES:
        return [FieldError("rules", f"at most {MAX_RULES} rules")]
    known: dict[str, Collection[str]] = {
        "regions": org.regions,
        "centres": org.centres,
        "client_types": org.client_types,
        "problem_types": org.problem_types,
    }
    seen: set[str] = set()
    sound: list[tuple[int, Rule]] = []
    for n, rule in enumerate(rules):
        path = f"rules[{n}]"
        before = len(errors)
        if not _RULE_ID.match(rule.id):
            errors.append(
                FieldError(f"{path}.id", "1 to 64 letters, digits, . _ -, starting with one")
            )
        elif rule.id in seen:
            errors.append(FieldError(f"{path}.id", f"rule id {rule.id!r} is used twice"))
        seen.add(rule.id)
        for dimension in DIMENSIONS:
            values = getattr(rule, dimension)
            for value in values:
                if value not in known[dimension]:
                    errors.append(
                        FieldError(f"{path}.{dimension}", f"unknown {dimension[:-1]} {value!r}")
                    )
            if len(set(values)) != len(values):
                errors.append(FieldError(f"{path}.{dimension}", "lists a value twice"))
        if not rule.workers:
            # A winning rule with nobody on it would leave the person without a call back.
            errors.append(FieldError(f"{path}.workers", "must name at least one worker"))
        for worker_id in rule.workers:
            if worker_id not in org.workers:
                errors.append(FieldError(f"{path}.workers", f"worker {worker_id!r} does not exist"))
        if len(set(rule.workers)) != len(rule.workers):
            errors.append(FieldError(f"{path}.workers", "lists a worker twice"))
        if len(errors) == before:
            sound.append((n, rule))
    errors.extend(_unreachable(sound, org))
    errors.extend(_gaps(rules, org))
    return errors


def _unreachable(rules: Iterable[tuple[int, Rule]], org: Organisation) -> list[FieldError]:
    errors = []
    indexed = [(n, rule, _reach(rule, org)) for n, rule in rules]
    for n, rule, reach in indexed:
        if reach.empty():
            errors.append(
                FieldError(
                    f"rules[{n}]",
                    f"rule {rule.id} can never match: none of its centres lies in its regions",
                )
            )
            continue
        for _, other, other_reach in indexed:
            if other.priority > rule.priority and other_reach.covers(reach):
                errors.append(
                    FieldError(
                        f"rules[{n}]",
                        f"rule {rule.id} is unreachable: rule {other.id} has a higher priority"
                        f" ({other.priority} > {rule.priority}) and matches everything it does",
                    )
                )
                break
    return errors


def _gaps(rules: Sequence[Rule], org: Organisation) -> list[FieldError]:
    """Centres where a referral could reach nobody: no rule covers all of the centre's
    referrals and the centre has no duty worker to fall back on."""
    errors = []
    for centre in org.centres.values():
        if centre.duty_worker and centre.duty_worker in org.workers:
            continue
        everything = _Reach(
            frozenset({centre.id}), frozenset(org.client_types), frozenset(org.problem_types)
        )
        if not any(_reach(rule, org).covers(everything) for rule in rules):
            errors.append(
                FieldError(
                    "rules",
                    f"gap: centre {centre.id} has no duty worker and not every referral"
                    " to it is matched by a rule",
                )
            )
    return errors


def published_event_payload(rule_set: RuleSet) -> dict[str, object]:
    """Payload of intake.routing_rules.published.v1 (notify's read model)."""
    return {
        "version": rule_set.version,
        "rules": [rule_to_dict(rule) for rule in rule_set.rules],
        "fallback": rule_set.fallback,
    }


def rule_from_dict(data: dict[str, object]) -> Rule:
    def strings(key: str) -> tuple[str, ...]:
        value = data.get(key) or []
        assert isinstance(value, list)
        return tuple(str(v) for v in value)

    priority = data.get("priority", 0)
    assert isinstance(priority, int)
    return Rule(
        id=str(data["id"]),
        priority=priority,
        regions=strings("regions"),
        centres=strings("centres"),
        client_types=strings("client_types"),
        problem_types=strings("problem_types"),
        workers=strings("workers"),
    )
