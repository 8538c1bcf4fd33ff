"""Statistics facts as stored beside a card or family, and the database aggregation
that counts them (``domain.statistics.report_from_facts`` is its reference).

Dates are ISO strings (they compare as dates); an open span's ``until`` is "". Grouping
is by one stored string key: the development wire server does not evaluate a
compound ``$group`` key."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from pymongo.collection import Collection

from casework_clients.domain.statistics import (
    Flow,
    Happening,
    Span,
    StatusReport,
    TimelineFacts,
    parse_flow,
)
from casework_clients.domain.status import ClientStatus


def facts_fields(facts: TimelineFacts, prefix: str = "stat") -> dict[str, list[dict[str, str]]]:
    return {
        f"{prefix}_spans": [
            {
                "status": s.status.value,
                "since": s.since.isoformat(),
                "until": s.until.isoformat() if s.until else "",
            }
            for s in facts.spans
        ],
        f"{prefix}_closings": [{"key": c.key, "on": c.on.isoformat()} for c in facts.closings],
        f"{prefix}_flows": [{"key": f.key, "on": f.on.isoformat()} for f in facts.flows],
    }


def facts_from_fields(doc: Any, prefix: str = "stat") -> TimelineFacts:
    spans = getattr(doc, f"{prefix}_spans", None) or ()
    closings = getattr(doc, f"{prefix}_closings", None) or ()
    flows = getattr(doc, f"{prefix}_flows", None) or ()
    return TimelineFacts(
        tuple(
            Span(
                ClientStatus(s["status"]),
                date.fromisoformat(s["since"]),
                date.fromisoformat(s["until"]) if s.get("until") else None,
            )
            for s in spans
        ),
        tuple(Happening(c["key"], date.fromisoformat(c["on"])) for c in closings),
        tuple(Happening(f["key"], date.fromisoformat(f["on"])) for f in flows),
    )


def _grouped(collection: Collection[Any], pipeline: list[dict[str, Any]]) -> dict[str, int]:
    return {str(row["_id"]): int(row["n"]) for row in collection.aggregate(pipeline)}


def aggregate_report(
    collection: Collection[Any],
    match: dict[str, Any],
    start: date,
    end: date,
    *,
    prefix: str = "stat",
    current_only: dict[str, Any] | None = None,
) -> StatusReport:
    """Statuses at the end of the period (of the records ``current_only`` also
    matches), closing reasons and flows within it (of every record ``match`` matches:
    a merged card's episodes stay counted), in three aggregations."""
    first, last = start.isoformat(), end.isoformat()
    spans, closings, flows = f"{prefix}_spans", f"{prefix}_closings", f"{prefix}_flows"
    held = _grouped(
        collection,
        [
            {"$match": {**match, **(current_only or {})}},
            {"$unwind": f"${spans}"},
            {
                "$match": {
                    f"{spans}.since": {"$lte": last},
                    "$or": [{f"{spans}.until": ""}, {f"{spans}.until": {"$gt": last}}],
                }
            },
            {"$group": {"_id": f"${spans}.status", "n": {"$sum": 1}}},
        ],
    )
    closed = _grouped(
        collection,
        [
            {"$match": match},
            {"$unwind": f"${closings}"},
            {"$match": {f"{closings}.on": {"$gte": first, "$lte": last}}},
            {"$group": {"_id": f"${closings}.key", "n": {"$sum": 1}}},
        ],
    )
    moved = _grouped(
        collection,
        [
            {"$match": match},
            {"$unwind": f"${flows}"},
            {"$match": {f"{flows}.on": {"$gte": first, "$lte": last}}},
            {"$group": {"_id": f"${flows}.key", "n": {"$sum": 1}}},
        ],
    )
    statuses: Counter[ClientStatus] = Counter({status: 0 for status in ClientStatus})
    for status, n in held.items():
        statuses[ClientStatus(status)] += n
    rejections: Counter[str] = Counter()
    terminations: Counter[str] = Counter()
    for key, n in closed.items():
        status, reason = key.split("|", 1)
        (rejections if status == ClientStatus.REJECTED.value else terminations)[reason] += n
    flow_counts: Counter[Flow] = Counter()
    for key, n in moved.items():
        flow_counts[parse_flow(key)] += n
    return StatusReport(
        start, end, statuses, rejections, terminations, flow_counts, sum(statuses.values())
    )
