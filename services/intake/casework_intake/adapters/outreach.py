"""Outreach activities in the intake database."""

from __future__ import annotations

from datetime import datetime

import mongoengine as me

from casework_common.repository import AggregateRepository
from casework_common.storage import AggregateDocument
from casework_intake.domain.outreach import ActivityType, Outcome, Outreach, OutreachStatus


class OutreachDocument(AggregateDocument):
    meta = {
        "collection": "outreach_activities",
        "indexes": [
            # A key is used once per organisation; documents stored before keys existed
            # have none and are left out of the index.
            {
                "fields": ["organisation", "idempotency_key"],
                "unique": True,
                "partialFilterExpression": {"idempotency_key": {"$type": "string"}},
            },
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
    client_ids = me.ListField(me.StringField())
    outcome_recorded_at = me.DateTimeField()
    outcome_recorded_by = me.StringField(default="")
    cancelled_at = me.DateTimeField()
    cancelled_by = me.StringField(default="")
    # Unset (not stored) on activities planned before keys were required.
    idempotency_key = me.StringField()
    fingerprint = me.StringField(default="")


def _outreach(doc: OutreachDocument) -> Outreach:
    return Outreach(
        outreach_id=doc.id,
        organisation=doc.organisation,
        worker_id=doc.worker_id,
        centre_id=doc.centre_id,
        activity_type=ActivityType(doc.activity_type),
        planned_at=doc.planned_at,
        place=doc.place or "",
        description=doc.description or "",
        planned_by=doc.planned_by,
        created_at=doc.created_at,
        remind_at=doc.remind_at,
        status=OutreachStatus(doc.status),
        reminded_at=doc.reminded_at,
        outcome_requested_at=doc.outcome_requested_at,
        outcome=(
            Outcome(
                doc.outcome,
                doc.people_reached or 0,
                doc.contacts_made or 0,
                tuple(doc.client_ids or ()),
            )
            if doc.outcome_recorded_at is not None
            else None
        ),
        outcome_recorded_at=doc.outcome_recorded_at,
        outcome_recorded_by=doc.outcome_recorded_by or "",
        cancelled_at=doc.cancelled_at,
        cancelled_by=doc.cancelled_by or "",
        idempotency_key=doc.idempotency_key or "",
        fingerprint=doc.fingerprint or "",
    )


def _write_outreach(doc: OutreachDocument, o: Outreach) -> None:
    doc.organisation = o.organisation
    doc.worker_id = o.worker_id
    doc.centre_id = o.centre_id
    doc.activity_type = o.activity_type.value
    doc.planned_at = o.planned_at
    doc.place = o.place
    doc.description = o.description
    doc.planned_by = o.planned_by
    doc.created_at = o.created_at
    doc.remind_at = o.remind_at
    doc.status = o.status.value
    doc.reminded_at = o.reminded_at
    doc.outcome_requested_at = o.outcome_requested_at
    doc.outcome = o.outcome.text if o.outcome else ""
    doc.people_reached = o.outcome.people_reached if o.outcome else 0
    doc.contacts_made = o.outcome.contacts_made if o.outcome else 0
    doc.client_ids = list(o.outcome.client_ids) if o.outcome else []
    doc.outcome_recorded_at = o.outcome_recorded_at
    doc.outcome_recorded_by = o.outcome_recorded_by
    doc.cancelled_at = o.cancelled_at
    doc.cancelled_by = o.cancelled_by
    doc.idempotency_key = o.idempotency_key or None
    doc.fingerprint = o.fingerprint


class OutreachRepository(AggregateRepository[OutreachDocument, Outreach]):
    """Outreach activities of one organisation; reads are limited to the centres given."""

    document = OutreachDocument
    what = "outreach"

    def _read(self, doc: OutreachDocument) -> Outreach:
        return _outreach(doc)

    def _write(self, doc: OutreachDocument, aggregate: Outreach) -> None:
        _write_outreach(doc, aggregate)

    def _id_of(self, aggregate: Outreach) -> str:
        return aggregate.outreach_id

    def page(
        self, *, centre_id: str, worker_id: str, status: str, offset: int, limit: int
    ) -> list[Outreach]:
        query = self._scoped()
        if centre_id:
            query = query.filter(centre_id=centre_id)
        if worker_id:
            query = query.filter(worker_id=worker_id)
        if status:
            query = query.filter(status=status)
        docs = query.order_by("planned_at", "id").skip(offset).limit(limit)
        return [_outreach(doc) for doc in docs]


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
