"""Referrals in the intake database (mongoengine)."""

from __future__ import annotations

from datetime import date

import mongoengine as me
from pymongo import ReturnDocument

from casework_common.envelope import EventEnvelope
from casework_common.errors import NotFound
from casework_common.storage import AggregateDocument, save_aggregate
from casework_intake.domain.referrals import Channel, Referral


class ReferralDocument(AggregateDocument):
    meta = {
        "collection": "referrals",
        "indexes": [
            {"fields": ["organisation", "idempotency_key"], "unique": True},
            {"fields": ["organisation", "centre_id", "-submitted_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    reference_number = me.StringField(required=True)
    idempotency_key = me.StringField(required=True)
    fingerprint = me.StringField(required=True)
    given_name = me.StringField(required=True)
    family_name = me.StringField(required=True)
    date_of_birth = me.StringField(required=True)
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
        date_of_birth=date.fromisoformat(doc.date_of_birth),
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
    )


class ReferralRepository:
    """Referrals of one organisation; reads are limited to the centres given."""

    def __init__(self, organisation: str, centres: frozenset[str] | None) -> None:
        self._organisation = organisation
        self._centres = centres

    def _scoped(self) -> me.QuerySet:
        query = ReferralDocument.objects(organisation=self._organisation)
        if self._centres is not None:
            query = query.filter(centre_id__in=list(self._centres))
        return query

    def by_idempotency_key(self, key: str) -> Referral | None:
        # Unscoped on purpose: the key belongs to the caller, whatever centre it named.
        doc = ReferralDocument.objects(organisation=self._organisation, idempotency_key=key).first()
        return _to_domain(doc) if doc else None

    def get(self, referral_id: str) -> Referral:
        doc = self._scoped().filter(id=referral_id).first()
        if doc is None:
            raise NotFound(f"referral {referral_id} not found")
        return _to_domain(doc)

    def add(self, referral: Referral, event: EventEnvelope) -> None:
        doc = ReferralDocument(
            id=referral.referral_id,
            organisation=referral.organisation,
            reference_number=referral.reference_number,
            idempotency_key=referral.idempotency_key,
            fingerprint=referral.fingerprint,
            given_name=referral.given_name,
            family_name=referral.family_name,
            date_of_birth=referral.date_of_birth.isoformat(),
            phone=referral.phone,
            email=referral.email,
            address=referral.address,
            region_id=referral.region_id,
            centre_id=referral.centre_id,
            client_type=referral.client_type,
            problem_type=referral.problem_type,
            channel=referral.channel.value,
            free_text=referral.free_text,
            submitted_by=referral.submitted_by,
            submitted_at=referral.submitted_at,
        )
        save_aggregate(doc, [event])

    def next_sequence(self, year: int) -> int:
        raw = Counter._get_collection().find_one_and_update(
            {"_id": f"{self._organisation}:referral:{year}"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(raw["seq"])
