"""The organisation's reference data: regions, centres, workers, the lists of client
and problem types, and routing rules.

Read from a JSON file (CASEWORK_ORGANISATION_FILE) so a network can describe itself
without code. It is validated on load: a centre in an unknown region or a rule naming
a worker who does not exist stops the process at start-up, not at 3 a.m. when the
first referral for that centre arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casework_common.routing import Rule


class InvalidOrganisation(ValueError):
    pass


@dataclass(frozen=True)
class Centre:
    id: str
    region: str
    name: str
    duty_worker: str
    manager: str


@dataclass(frozen=True)
class Worker:
    id: str
    name: str
    centres: tuple[str, ...]
    roles: tuple[str, ...]
    email: str


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    regions: dict[str, str]
    centres: dict[str, Centre]
    workers: dict[str, Worker]
    client_types: tuple[str, ...]
    problem_types: tuple[str, ...]
    # The file's rules: in effect until intake publishes a version.
    routing_rules: tuple[Rule, ...]
    # The language its people read (ISO 639-1, e.g. "sk"); notify's e-mails use it
    # first, English where a text has no translation.
    language: str = "en"
    # How long an action notification may stay unread before notify escalates it, in
    # seconds; None: notify's NOTIFY_ESCALATE_AFTER_SECONDS applies.
    escalate_after_seconds: float | None = None

    def centre(self, centre_id: str) -> Centre | None:
        return self.centres.get(centre_id)


def _strings(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise InvalidOrganisation(f"{where} must be a list of non-empty strings")
    return tuple(raw)


def _priority(raw: Any, rule_id: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise InvalidOrganisation(f"rule {rule_id}: priority must be a whole number, got {raw!r}")
    return raw


def _workers(raw: Any, rule_id: str) -> tuple[str, ...]:
    workers = _strings(raw, f"rule {rule_id} workers")
    if not workers:
        # A winning rule with nobody on it would leave the person without a call back.
        raise InvalidOrganisation(f"rule {rule_id}: workers must name at least one worker")
    return workers


def _language(raw: Any) -> str:
    if not isinstance(raw, str) or not (2 <= len(raw) <= 8) or not raw.replace("-", "").isalpha():
        raise InvalidOrganisation(f"language must be a language code such as 'en', got {raw!r}")
    return raw.lower()


def _seconds(raw: Any, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 1 <= raw <= 30 * 86400:
        raise InvalidOrganisation(f"{where} must be seconds from 1 to 2592000, got {raw!r}")
    return float(raw)


def _unique(items: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for item in items:
        if item["id"] in seen:
            raise InvalidOrganisation(f"{what} {item['id']} is defined twice")
        seen.add(item["id"])
    return items


def parse(data: dict[str, Any]) -> Organisation:
    try:
        org_id = data["id"]
        regions = {r["id"]: r["name"] for r in data["regions"]}
        centres = {
            c["id"]: Centre(c["id"], c["region"], c["name"], c["duty_worker"], c["manager"])
            for c in _unique(data["centres"], "centre")
        }
        workers = {
            w["id"]: Worker(
                w["id"],
                w["name"],
                _strings(w["centres"], f"worker {w['id']} centres"),
                _strings(w.get("roles"), f"worker {w['id']} roles"),
                w.get("email", ""),
            )
            for w in _unique(data["workers"], "worker")
        }
        rules = tuple(
            Rule(
                id=r["id"],
                priority=_priority(r.get("priority", 0), r["id"]),
                regions=_strings(r.get("regions"), f"rule {r['id']} regions"),
                centres=_strings(r.get("centres"), f"rule {r['id']} centres"),
                client_types=_strings(r.get("client_types"), f"rule {r['id']} client_types"),
                problem_types=_strings(r.get("problem_types"), f"rule {r['id']} problem_types"),
                workers=_workers(r["workers"], r["id"]),
            )
            for r in _unique(data.get("routing_rules", []), "routing rule")
        )
        org = Organisation(
            id=org_id,
            name=data.get("name", org_id),
            regions=regions,
            centres=centres,
            workers=workers,
            client_types=_strings(data["client_types"], "client_types"),
            problem_types=_strings(data["problem_types"], "problem_types"),
            routing_rules=rules,
            language=_language(data.get("language", "en")),
            escalate_after_seconds=_seconds(
                data.get("escalate_after_seconds"), "escalate_after_seconds"
            ),
        )
    except KeyError as exc:
        raise InvalidOrganisation(f"missing key {exc}") from None
    _check_references(org)
    return org


def _check_references(org: Organisation) -> None:
    problems = []
    for centre in org.centres.values():
        if centre.region not in org.regions:
            problems.append(f"centre {centre.id}: unknown region {centre.region}")
        for role, worker_id in (("duty_worker", centre.duty_worker), ("manager", centre.manager)):
            if worker_id not in org.workers:
                problems.append(f"centre {centre.id}: {role} {worker_id} is not a worker")
    for worker in org.workers.values():
        for centre_id in worker.centres:
            if centre_id not in org.centres:
                problems.append(f"worker {worker.id}: unknown centre {centre_id}")
    for rule in org.routing_rules:
        for worker_id in rule.workers:
            if worker_id not in org.workers:
                problems.append(f"rule {rule.id}: worker {worker_id} does not exist")
        for field, known in (
            ("regions", org.regions),
            ("centres", org.centres),
            ("client_types", org.client_types),
            ("problem_types", org.problem_types),
        ):
            for value in getattr(rule, field):
                if value not in known:
                    problems.append(f"rule {rule.id}: unknown {field[:-1]} {value}")
    if problems:
        raise InvalidOrganisation("; ".join(problems))


def load(path: Path) -> dict[str, Organisation]:
    """Load a file holding one organisation or {"organisations": [...]}, keyed by id."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidOrganisation(f"cannot read {path}: {exc}") from None
    items = data.get("organisations", [data])
    return {org.id: org for org in (parse(item) for item in items)}
