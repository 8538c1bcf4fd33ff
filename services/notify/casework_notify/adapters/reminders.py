"""Reminders in the notify database, claimed when due by whichever events process
looks first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import mongoengine as me

from casework_common.errors import NotFound
from casework_notify.adapters.claims import NEVER, claim_due, insert_new
from casework_notify.domain.inbox import Link
from casework_notify.domain.reminders import FIRED, Reminder


class ReminderDocument(me.Document):
    meta = {
        "collection": "reminders",
        "indexes": [{"fields": ["state", "due_ts"]}],
    }

    id = me.StringField(primary_key=True)
    organisation = me.StringField(required=True)
    owner = me.StringField(required=True)
    key = me.StringField(required=True)
    worker_id = me.StringField(required=True)
    due_at = me.DateTimeField(required=True)
    due_ts = me.FloatField(required=True)  # due_at as a number (see adapters.claims)
    kind = me.StringField(required=True)
    title = me.StringField(required=True)
    body = me.StringField(default="")
    centre_id = me.StringField(default="")
    priority = me.StringField(default="")
    links = me.ListField(me.DictField())
    needs_action = me.BooleanField(default=False)
    state = me.StringField(required=True)
    fired_at = me.DateTimeField()
    fired_ts = me.FloatField()
    scheduled_at = me.DateTimeField()
    holder = me.StringField(default="")
    lease_until = me.FloatField(default=NEVER)


def document_of(r: Reminder) -> dict[str, Any]:
    doc = ReminderDocument(
        id=r.reminder_id,
        organisation=r.organisation,
        owner=r.owner,
        key=r.key,
        worker_id=r.worker_id,
        due_at=r.due_at,
        due_ts=r.due_at.timestamp(),
        kind=r.kind,
        title=r.title,
        body=r.body,
        centre_id=r.centre_id,
        priority=r.priority,
        links=[{"kind": lk.kind, "id": lk.id} for lk in r.links],
        needs_action=r.needs_action,
        state=r.state,
        fired_at=r.fired_at,
        scheduled_at=r.scheduled_at,
        holder="",
        lease_until=NEVER,
    )
    doc.validate()
    return dict(doc.to_mongo())


def to_domain(raw: dict[str, Any]) -> Reminder:
    return Reminder(
        reminder_id=str(raw["_id"]),
        organisation=raw["organisation"],
        owner=raw["owner"],
        key=raw["key"],
        worker_id=raw["worker_id"],
        due_at=raw["due_at"],
        kind=raw["kind"],
        title=raw["title"],
        body=raw.get("body", ""),
        centre_id=raw.get("centre_id", ""),
        priority=raw.get("priority", ""),
        links=tuple(
            Link(str(x.get("kind", "")), str(x.get("id", ""))) for x in raw.get("links") or []
        ),
        needs_action=bool(raw.get("needs_action")),
        state=raw["state"],
        fired_at=(
            datetime.fromtimestamp(raw["fired_ts"], UTC)
            if raw.get("fired_ts")
            else raw.get("fired_at")
        ),
        scheduled_at=raw.get("scheduled_at"),
    )


def _collection() -> Any:
    return ReminderDocument._get_collection()


class ReminderRepository:
    """The reminders one service scheduled in one organisation."""

    def __init__(self, organisation: str, owner: str) -> None:
        self._organisation = organisation
        self._owner = owner

    def find(self, reminder_id: str) -> Reminder | None:
        raw = _collection().find_one(
            {"_id": reminder_id, "organisation": self._organisation, "owner": self._owner}
        )
        return to_domain(raw) if raw else None

    def get(self, reminder_id: str) -> Reminder:
        found = self.find(reminder_id)
        if found is None:
            raise NotFound("reminder not found")
        return found

    def add(self, reminder: Reminder) -> bool:
        return insert_new(_collection(), document_of(reminder))

    def replace_scheduled(self, reminder: Reminder) -> bool:
        """Update a reminder still scheduled and unclaimed; False when it fired (or is
        being fired) meanwhile."""
        result = _collection().replace_one(
            {"_id": reminder.reminder_id, "state": "scheduled", "holder": ""}, document_of(reminder)
        )
        return bool(result.matched_count)


def claim_due_reminders(now: datetime, lease: timedelta, limit: int) -> list[tuple[Reminder, str]]:
    claimed = claim_due(
        _collection(), state="scheduled", due_field="due_ts", now=now, lease=lease, limit=limit
    )
    return [(to_domain(raw), raw["holder"]) for raw in claimed]


def mark_fired(reminder_ids: list[str], holder: str, now: datetime) -> int:
    """One update for a batch the holder fired. Only strings and numbers are `$set`
    (see adapters.claims): the moment it fired is kept as a number."""
    result = _collection().update_many(
        {"_id": {"$in": reminder_ids}, "holder": holder},
        {"$set": {"state": FIRED, "fired_ts": now.timestamp(), "holder": "", "lease_until": NEVER}},
    )
    return int(result.modified_count)
