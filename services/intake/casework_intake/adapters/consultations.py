"""One-time consultations in the intake database."""

from __future__ import annotations

import mongoengine as me

from casework_common.repository import (
    OPTIONAL_ISO_DATE,
    AggregateRepository,
    StoredFields,
    enum_value,
    idempotency_key_index,
)
from casework_common.storage import AggregateDocument
from casework_intake.domain.consultations import Consultation
from casework_intake.domain.referrals import Channel


class ConsultationDocument(AggregateDocument):
    meta = {
        "collection": "consultations",
        "indexes": [
            idempotency_key_index(),
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


FIELDS = StoredFields(
    Consultation,
    "consultation_id",
    date_of_birth=OPTIONAL_ISO_DATE,
    channel=enum_value(Channel),
)


class ConsultationRepository(AggregateRepository[ConsultationDocument, Consultation]):
    """Consultations of one organisation; reads are limited to the centres given."""

    document = ConsultationDocument
    fields = FIELDS
    what = "consultation"

    def page(self, *, centre_id: str, offset: int, limit: int) -> list[Consultation]:
        return self._page(("-recorded_at", "id"), offset, limit, centre_id=centre_id)
