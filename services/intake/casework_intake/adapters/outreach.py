"""Outreach activities in the intake database."""

from __future__ import annotations

from datetime import datetime

import mongoengine as me

from casework_common.repository import (
    OPTIONAL_KEY,
    AggregateRepository,
    StoredFields,
    enum_value,
    idempotency_key_index,
)
from casework_common.storage import AggregateDocument
from casework_intake.domain.outreach import ActivityType, Outcome, Outreach, OutreachStatus


class OutreachDocument(AggregateDocument):
    meta = {
        "collection": "outreach_activities",
        "indexes": [
            idempotency_key_index(keyless_records=True),
            {"fields": ["organisation", "centre_id", "planned_at"]},
            {"fields": ["status", "remind_at"]},
            {"fields": ["status", "planned_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    worker_id = me.StringField(required=True)
    centre_id = me.StringField(required=True)
    activity_type = me.StringField(required=True)
    planned_at = me.DateTimeField(required=True)
    place = me.StringField(default="")
    description = me.StringField(default="")
    planned_by = me.StringField(required=True)
    created_at = me.DateTimeField(required=True)
    remind_at = me.DateTimeField(required=True)
    status = me.StringField(required=True)
    reminded_at = me.DateTimeField()
    outcome_requested_at = me.DateTimeField()
    outcome = me.StringField(default="")
    people_reached = me.IntField(default=0)
    contacts_made = me.IntField(default=0)
    # Clients' cards met in the activity (clients counts each as a contact).
    client_ids = me.ListField(me.StringField())
    outcome_recorded_at = me.DateTimeField()
    outcome_recorded_by = me.StringField(default="")
    cancelled_at = me.DateTimeField()
    cancelled_by = me.StringField(default="")
    # Unset (not stored) on activities planned before keys were required.
    idempotency_key = me.StringField()
    fingerprint = me.StringField(default="")


FIELDS = StoredFields(
    Outreach,
    "outreach_id",
    activity_type=enum_value(ActivityType),
    status=enum_value(OutreachStatus),
    idempotency_key=OPTIONAL_KEY,
    # Stored as three fields: its text, and the two counts.
    apart=("outcome",),
)


def _outreach(doc: OutreachDocument) -> Outreach:
    recorded = doc.outcome_recorded_at is not None
    return FIELDS.read(
        doc,
        outcome=Outcome(
            doc.outcome,
            doc.people_reached or 0,
            doc.contacts_made or 0,
            tuple(doc.client_ids or ()),
        )
        if recorded
        else None,
    )


class OutreachRepository(AggregateRepository[OutreachDocument, Outreach]):
    """Outreach activities of one organisation; reads are limited to the centres given."""

    document = OutreachDocument
    fields = FIELDS
    what = "outreach"

    def _read(self, doc: OutreachDocument) -> Outreach:
        return _outreach(doc)

    def _write(self, doc: OutreachDocument, aggregate: Outreach) -> None:
        FIELDS.write(doc, aggregate)
        outcome = aggregate.outcome
        doc.outcome = outcome.text if outcome else ""
        doc.people_reached = outcome.people_reached if outcome else 0
        doc.contacts_made = outcome.contacts_made if outcome else 0
        doc.client_ids = list(outcome.client_ids) if outcome else []

    def page(
        self, *, centre_id: str, worker_id: str, status: str, offset: int, limit: int
    ) -> list[Outreach]:
        return self._page(
            ("planned_at", "id"),
            offset,
            limit,
            centre_id=centre_id,
            worker_id=worker_id,
            status=status,
        )


def outreach_needing_reminder(now: datetime, limit: int = 100) -> list[Outreach]:
    """Planned activities of every organisation inside their reminder lead time, before
    they start, whose worker was not reminded yet (the timer's query)."""
    docs = OutreachDocument.objects(
        status=OutreachStatus.PLANNED.value,
        remind_at__lte=now,
        planned_at__gt=now,
        reminded_at=None,
    ).limit(limit)
    return [_outreach(doc) for doc in docs]


def outreach_needing_outcome(now: datetime, limit: int = 100) -> list[Outreach]:
    """Planned activities of every organisation whose time has passed with no outcome
    recorded and no request for it sent yet (the timer's query)."""
    docs = OutreachDocument.objects(
        status=OutreachStatus.PLANNED.value, planned_at__lte=now, outcome_requested_at=None
    ).limit(limit)
    return [_outreach(doc) for doc in docs]
