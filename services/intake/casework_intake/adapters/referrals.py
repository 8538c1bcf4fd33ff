"""Referrals in the intake database, and the counters that number them."""

from __future__ import annotations

from datetime import date, datetime

import mongoengine as me
from pymongo import ReturnDocument

from casework_common.repository import AggregateRepository
from casework_common.storage import AggregateDocument
from casework_intake.domain.referrals import Channel, Referral


class ReferralDocument(AggregateDocument):
    meta = {
        "collection": "referrals",
        "indexes": [
            {"fields": ["organisation", "idempotency_key"], "unique": True},
            {"fields": ["organisation", "centre_id", "-submitted_at"]},
            {"fields": ["first_response_due_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    reference_number = me.StringField(required=True)
    idempotency_key = me.StringField(required=True)
    fingerprint = me.StringField(required=True)
    given_name = me.StringField(required=True)
    family_name = me.StringField(required=True)
    date_of_birth = me.StringField(default="")  # "" for a person without papers
    phone = me.StringField(default="")
    email = me.StringField(default="")
    address = me.StringField(default="")
    region_id = me.StringField(required=True)
    centre_id = me.StringField(required=True)
    client_type = me.StringField(required=True)
    problem_type = me.StringField(required=True)
    channel = me.StringField(required=True)
    free_text = me.StringField(default="")
    submitted_by = me.StringField(required=True)
    submitted_at = me.DateTimeField(required=True)
    first_response_due_at = me.DateTimeField()
    acknowledged_at = me.DateTimeField()
    acknowledged_by = me.StringField(default="")
    first_contact_at = me.DateTimeField()
    first_contact_by = me.StringField(default="")
    first_contact_channel = me.StringField(default="")
    first_contact_note = me.StringField(default="")
    escalated_at = me.DateTimeField()


class Counter(me.Document):
    meta = {"collection": "counters"}
    id = me.StringField(primary_key=True)
    seq = me.IntField(default=0)


def _to_domain(doc: ReferralDocument) -> Referral:
    return Referral(
        referral_id=doc.id,
        reference_number=doc.reference_number,
        organisation=doc.organisation,
        idempotency_key=doc.idempotency_key,
        fingerprint=doc.fingerprint,
        given_name=doc.given_name,
        family_name=doc.family_name,
        date_of_birth=date.fromisoformat(doc.date_of_birth) if doc.date_of_birth else None,
        phone=doc.phone,
        email=doc.email,
        address=doc.address,
        region_id=doc.region_id,
        centre_id=doc.centre_id,
        client_type=doc.client_type,
        problem_type=doc.problem_type,
        channel=Channel(doc.channel),
        free_text=doc.free_text,
        submitted_by=doc.submitted_by,
        submitted_at=doc.submitted_at,
        first_response_due_at=doc.first_response_due_at,
        acknowledged_at=doc.acknowledged_at,
        acknowledged_by=doc.acknowledged_by or "",
        first_contact_at=doc.first_contact_at,
        first_contact_by=doc.first_contact_by or "",
        first_contact_channel=(
            Channel(doc.first_contact_channel) if doc.first_contact_channel else None
        ),
        first_contact_note=doc.first_contact_note or "",
        escalated_at=doc.escalated_at,
    )


def _write_referral(doc: ReferralDocument, referral: Referral) -> None:
    """Copy a referral's values onto its document (id and version stay)."""
    doc.organisation = referral.organisation
    doc.reference_number = referral.reference_number
    doc.idempotency_key = referral.idempotency_key
    doc.fingerprint = referral.fingerprint
    doc.given_name = referral.given_name
    doc.family_name = referral.family_name
    doc.date_of_birth = referral.date_of_birth.isoformat() if referral.date_of_birth else ""
    doc.phone = referral.phone
    doc.email = referral.email
    doc.address = referral.address
    doc.region_id = referral.region_id
    doc.centre_id = referral.centre_id
    doc.client_type = referral.client_type
    doc.problem_type = referral.problem_type
    doc.channel = referral.channel.value
    doc.free_text = referral.free_text
    doc.submitted_by = referral.submitted_by
    doc.submitted_at = referral.submitted_at
    doc.first_response_due_at = referral.first_response_due_at
    doc.acknowledged_at = referral.acknowledged_at
    doc.acknowledged_by = referral.acknowledged_by
    doc.first_contact_at = referral.first_contact_at
    doc.first_contact_by = referral.first_contact_by
    doc.first_contact_channel = (
        referral.first_contact_channel.value if referral.first_contact_channel else ""
    )
    doc.first_contact_note = referral.first_contact_note
    doc.escalated_at = referral.escalated_at


class ReferralRepository(AggregateRepository[ReferralDocument, Referral]):
    """Referrals of one organisation; reads are limited to the centres given."""

    document = ReferralDocument
    what = "referral"

    def _read(self, doc: ReferralDocument) -> Referral:
        return _to_domain(doc)

    def _write(self, doc: ReferralDocument, aggregate: Referral) -> None:
        _write_referral(doc, aggregate)

    def _id_of(self, aggregate: Referral) -> str:
        return aggregate.referral_id

    def next_sequence(self, year: int) -> int:
        raw = Counter._get_collection().find_one_and_update(
            {"_id": f"{self._organisation}:referral:{year}"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(raw["seq"])


def referral_centre(organisation: str, referral_id: str) -> str | None:
    """The centre of a referral, unscoped: a self-fill link names its referral."""
    doc = (
        ReferralDocument.objects(organisation=organisation, id=referral_id)
        .only("centre_id")
        .first()
    )
    return str(doc.centre_id) if doc else None


def organisation_of_referral(referral_id: str) -> str | None:
    """The organisation of a referral, unscoped: a self-fill link names only its
    referral, and is checked against its signature before this is asked."""
    doc = ReferralDocument.objects(id=referral_id).only("organisation").first()
    return str(doc.organisation) if doc else None


def overdue_referrals(now: datetime, limit: int = 100) -> list[Referral]:
    """Referrals of every organisation past their first-response deadline that nobody
    acknowledged and that were not escalated yet (the timer's query)."""
    docs = ReferralDocument.objects(
        first_response_due_at__lte=now, acknowledged_at=None, escalated_at=None
    ).limit(limit)
    return [_to_domain(doc) for doc in docs]
