"""Consultations waiting for their person's card (mongoengine; the system's consumers only)."""

from __future__ import annotations

import contextlib
from datetime import date, datetime

import mongoengine as me

from casework_clients.domain.cards import (
    Consultation,
)


class UnattachedConsultation(me.Document):
    """A one-time consultation not (yet) joined to a card. When the person's card is
    created or matched later, it is joined and ``attached_to`` names the card."""

    meta = {
        "collection": "unattached_consultations",
        "indexes": [
            {"fields": ["organisation", "date_of_birth", "attached_to"]},
        ],
    }

    id = me.StringField(primary_key=True)  # the consultation id
    organisation = me.StringField(required=True)
    given_name = me.StringField(default="")
    family_name = me.StringField(default="")
    date_of_birth = me.StringField(default="")
    phone = me.StringField(default="")
    email = me.StringField(default="")
    topic = me.StringField(default="")
    duration_minutes = me.IntField(default=0)
    worker_id = me.StringField(default="")
    channel = me.StringField(default="")
    centre_id = me.StringField(default="")
    recorded_at = me.DateTimeField(required=True)
    stored_at = me.DateTimeField(required=True)
    attached_to = me.StringField(default="")
    attached_at = me.DateTimeField()


def _consultation_to_domain(doc: UnattachedConsultation) -> Consultation:
    return Consultation(
        consultation_id=doc.id,
        organisation=doc.organisation,
        given_name=doc.given_name,
        family_name=doc.family_name,
        date_of_birth=date.fromisoformat(doc.date_of_birth) if doc.date_of_birth else None,
        phone=doc.phone,
        email=doc.email,
        topic=doc.topic,
        duration_minutes=doc.duration_minutes,
        worker_id=doc.worker_id,
        channel=doc.channel,
        centre_id=doc.centre_id,
        recorded_at=doc.recorded_at,
    )


class ConsultationRepository:
    """Unattached consultations of one organisation (the system's consumers only)."""

    def __init__(self, organisation: str) -> None:
        self._organisation = organisation

    def keep(self, consultation: Consultation, now: datetime) -> None:
        """Store it until its person's card appears (idempotent by consultation id)."""
        c = consultation
        with contextlib.suppress(me.NotUniqueError):
            UnattachedConsultation(
                id=c.consultation_id,
                organisation=self._organisation,
                given_name=c.given_name,
                family_name=c.family_name,
                date_of_birth=c.date_of_birth.isoformat() if c.date_of_birth else "",
                phone=c.phone,
                email=c.email,
                topic=c.topic,
                duration_minutes=c.duration_minutes,
                worker_id=c.worker_id,
                channel=c.channel,
                centre_id=c.centre_id,
                recorded_at=c.recorded_at,
                stored_at=now,
            ).save(force_insert=True)

    def waiting_for(self, born: date) -> list[Consultation]:
        """Unattached consultations of people born on that day."""
        docs = UnattachedConsultation.objects(
            organisation=self._organisation, date_of_birth=born.isoformat(), attached_to=""
        )
        return [_consultation_to_domain(d) for d in docs]

    def mark_attached(self, consultation_id: str, client_id: str, now: datetime) -> None:
        UnattachedConsultation.objects(id=consultation_id, organisation=self._organisation).update(
            set__attached_to=client_id, set__attached_at=now
        )

    def waiting(self, consultation_id: str) -> tuple[Consultation, str] | None:
        """The consultation kept here and the card it was joined to ("" while none)."""
        doc = self.get(consultation_id)
        return (_consultation_to_domain(doc), doc.attached_to or "") if doc else None

    def get(self, consultation_id: str) -> UnattachedConsultation | None:
        return UnattachedConsultation.objects(
            id=consultation_id, organisation=self._organisation
        ).first()
