"""One-time consultations in the intake database."""

from __future__ import annotations

from datetime import date

import mongoengine as me

from casework_common.envelope import EventEnvelope
from casework_common.repository import ScopedRepository
from casework_common.storage import AggregateDocument
from casework_intake.domain.consultations import Consultation
from casework_intake.domain.referrals import Channel


class ConsultationDocument(AggregateDocument):
    meta = {
        "collection": "consultations",
        "indexes": [
            {"fields": ["organisation", "idempotency_key"], "unique": True},
            {"fields": ["organisation", "centre_id", "-recorded_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    idempotency_key = me.StringField(required=True)
    fingerprint = me.StringField(required=True)
    given_name = me.StringField(default="")
    family_name = me.StringField(default="")
    date_of_birth = me.StringField(default="")
    phone = me.StringField(default="")
    email = me.StringField(default="")
    topic = me.StringField(required=True)
    duration_minutes = me.IntField(required=True)
    worker_id = me.StringField(required=True)
    channel = me.StringField(required=True)
    centre_id = me.StringField(required=True)
    notes = me.StringField(default="")
    recorded_by = me.StringField(required=True)
    recorded_at = me.DateTimeField(required=True)


def _consultation(doc: ConsultationDocument) -> Consultation:
    return Consultation(
        consultation_id=doc.id,
        organisation=doc.organisation,
        idempotency_key=doc.idempotency_key,
        fingerprint=doc.fingerprint,
        given_name=doc.given_name,
        family_name=doc.family_name,
        date_of_birth=date.fromisoformat(doc.date_of_birth) if doc.date_of_birth else None,
        phone=doc.phone,
        email=doc.email,
        topic=doc.topic,
        duration_minutes=doc.duration_minutes,
        worker_id=doc.worker_id,
        channel=Channel(doc.channel),
        centre_id=doc.centre_id,
        notes=doc.notes,
        recorded_by=doc.recorded_by,
        recorded_at=doc.recorded_at,
    )


class ConsultationRepository(ScopedRepository[ConsultationDocument]):
    """Consultations of one organisation; reads are limited to the centres given."""

    document = ConsultationDocument
    what = "consultation"

    def by_idempotency_key(self, key: str) -> Consultation | None:
        doc = self._unscoped().filter(idempotency_key=key).first()
        return _consultation(doc) if doc else None

    def add(self, c: Consultation, event: EventEnvelope) -> None:
        doc = ConsultationDocument(
            id=c.consultation_id,
            organisation=c.organisation,
            idempotency_key=c.idempotency_key,
            fingerprint=c.fingerprint,
            given_name=c.given_name,
            family_name=c.family_name,
            date_of_birth=c.date_of_birth.isoformat() if c.date_of_birth else "",
            phone=c.phone,
            email=c.email,
            topic=c.topic,
            duration_minutes=c.duration_minutes,
            worker_id=c.worker_id,
            channel=c.channel.value,
            centre_id=c.centre_id,
            notes=c.notes,
            recorded_by=c.recorded_by,
            recorded_at=c.recorded_at,
        )
        self._save(doc, [event])

    def page(self, *, centre_id: str, offset: int, limit: int) -> list[Consultation]:
        query = self._scoped()
        if centre_id:
            query = query.filter(centre_id=centre_id)
        docs = query.order_by("-recorded_at", "id").skip(offset).limit(limit)
        return [_consultation(doc) for doc in docs]
