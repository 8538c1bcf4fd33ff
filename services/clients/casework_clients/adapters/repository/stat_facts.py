"""Statistics facts, one small document per fact, and the database aggregation that
counts them (``domain.statistics.report_from_facts`` is its reference).

Every write of a card or family replaces its rows here (``store_facts``): the spans of
its status timeline, its closings and its flows, each row flat (a scalar home centre
and region, ISO dates that compare as dates), so counting is one ``$match`` and one
``$group`` per kind: no ``$unwind``, no match on an array, which the development wire
server runs slowly, and no compound ``$group`` key, which it does not evaluate.
A card counts once, under its home (first) centre.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import mongoengine as me

from casework_clients.domain.statistics import (
    Flow,
    Happening,
    Span,
    StatusReport,
    TimelineFacts,
    parse_flow,
)
from casework_clients.domain.status import ClientStatus

#: A span still lasting ends here: one range condition finds the spans holding on a
#: day (an `$or` beside `$in` makes the development wire server scan in Python).
OPEN = "9999-12-31"

#: Whose timeline a row describes.
CLIENT, FAMILY_OWN, FAMILY_SHARED = "client", "family", "family_shared"


class StatusFactDocument(me.Document):
    meta = {
        "collection": "status_facts",
        "indexes": [
            {"fields": ["organisation", "timeline", "kind", "on"]},
            {"fields": ["owner_id"]},
        ],
    }

    organisation = me.StringField(required=True)
    owner_id = me.StringField(required=True)
    timeline = me.StringField(required=True)  # CLIENT, FAMILY_OWN or FAMILY_SHARED
    kind = me.StringField(required=True)  # "span", "closing" or "flow"
    key = me.StringField(required=True)  # a status, "rejected|reason", "applicant>service_user"
    on = me.StringField(required=True)  # a span's first day, else the day it happened
    until = me.StringField(default=OPEN)  # a span's end (exclusive); OPEN while it lasts
    # "no" on the spans of a card merged into another (its survivor holds the status);
    # its closings and flows stay counted.
    current = me.StringField(default="yes")
    centre_id = me.StringField(default="")
    region_id = me.StringField(default="")


def facts_fields(facts: TimelineFacts, prefix: str) -> dict[str, list[dict[str, str]]]:
    """Facts embedded in a document (a family keeps its shared timeline's this way)."""
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


def facts_from_fields(doc: Any, prefix: str) -> TimelineFacts:
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


def fact_rows(
    facts: TimelineFacts,
    *,
    organisation: str,
    owner_id: str,
    timeline: str,
    centre_id: str,
    region_id: str,
    current: bool = True,
) -> list[dict[str, Any]]:
    base = {
        "organisation": organisation,
        "owner_id": owner_id,
        "timeline": timeline,
        "centre_id": centre_id,
        "region_id": region_id,
    }
    rows = [
        {
            **base,
            "kind": "span",
            "key": s.status.value,
            "on": s.since.isoformat(),
            "until": s.until.isoformat() if s.until else OPEN,
            "current": "yes" if current else "no",
        }
        for s in facts.spans
    ]
    rows += [
        {**base, "kind": "closing", "key": c.key, "on": c.on.isoformat()} for c in facts.closings
    ]
    rows += [{**base, "kind": "flow", "key": f.key, "on": f.on.isoformat()} for f in facts.flows]
    return rows


def store_facts(owner_id: str, timelines: list[str], rows: list[dict[str, Any]]) -> None:
    """Replace the owner's rows of these timelines."""
    collection = StatusFactDocument._get_collection()
    collection.delete_many({"owner_id": owner_id, "timeline": {"$in": timelines}})
    if rows:
        collection.insert_many(rows)


def add_facts(rows: list[dict[str, Any]]) -> None:
    """Insert the rows of an owner that has none stored: its first write."""
    if rows:
        StatusFactDocument._get_collection().insert_many(rows)


def scope_centres(centres: frozenset[str] | None, centre_id: str | None) -> list[str] | None:
    """The centres statistics may count: the caller's (None: all), narrowed to one."""
    if centre_id:
        return [centre_id] if centres is None or centre_id in centres else []
    return sorted(centres) if centres is not None else None


def _grouped(pipeline: list[dict[str, Any]]) -> dict[str, int]:
    collection = StatusFactDocument._get_collection()
    return {str(row["_id"]): int(row["n"]) for row in collection.aggregate(pipeline)}


def aggregate_report(
    organisation: str,
    timeline: str,
    start: date,
    end: date,
    *,
    centres: list[str] | None,
    region_id: str | None,
) -> StatusReport:
    """Statuses at the end of the period, closing reasons and flows within it, of one
    timeline kind in scope (home centre among ``centres``; None: every centre)."""
    first, last = start.isoformat(), end.isoformat()
    scope: dict[str, Any] = {"organisation": organisation, "timeline": timeline}
    if centres is not None:
        scope["centre_id"] = {"$in": centres}
    if region_id:
        scope["region_id"] = region_id

    def by_key(match: dict[str, Any]) -> dict[str, int]:
        return _grouped(
            [{"$match": {**scope, **match}}, {"$group": {"_id": "$key", "n": {"$sum": 1}}}]
        )

    held = by_key(
        {
            "kind": "span",
            "current": "yes",
            "on": {"$lte": last},
            "until": {"$gt": last},
        }
    )
    closed = by_key({"kind": "closing", "on": {"$gte": first, "$lte": last}})
    moved = by_key({"kind": "flow", "on": {"$gte": first, "$lte": last}})
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
