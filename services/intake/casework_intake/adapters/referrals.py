"""Referrals in the intake database, and the counters that number them."""

from __future__ import annotations

import os
import threading
from datetime import datetime

import mongoengine as me
from pymongo import ReturnDocument

from casework_common.repository import (
    OPTIONAL_ISO_DATE,
    AggregateRepository,
    StoredFields,
    enum_value,
    idempotency_key_index,
    optional_enum_value,
)
from casework_common.storage import AggregateDocument
from casework_intake.domain.referrals import Channel, Referral


class ReferralDocument(AggregateDocument):
    meta = {
        "collection": "referrals",
        "indexes": [
            idempotency_key_index(),
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


def next_in_sequence(counter_id: str, block: int = 1) -> int:
    """The next number of a counter (1 first), taken atomically; `block` numbers at
    once, answering the last of them."""
    raw = Counter._get_collection().find_one_and_update(
        {"_id": counter_id},
        {"$inc": {"seq": block}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return int(raw["seq"])


# How many reference numbers a process takes from its counter at once. One counter
# write per referral was a third of SubmitReferral's database time; a block costs one
# write per REFERENCE_BLOCK referrals. The numbers stay unique (each block is taken
# atomically) and readable; what a block costs is order and density: two processes
# number their referrals from their own blocks, and the numbers a process took and did
# not hand out before it stopped are never used.
REFERENCE_BLOCK = 20


class NumberBlocks:
    """The blocks of numbers this process took from its counters, by database and
    counter: the next number to hand out and the last of the block."""

    def __init__(self, size: int = REFERENCE_BLOCK) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._blocks: dict[tuple[int, str, str], tuple[int, int]] = {}

    def next(self, counter_id: str) -> int:
        # By process too: a process forked after taking a block must not hand out the
        # same numbers as its parent.
        key = (os.getpid(), Counter._get_db().name, counter_id)
        with self._lock:
            following, last = self._blocks.get(key, (1, 0))
            if following > last:
                last = next_in_sequence(counter_id, self._size)
                following = last - self._size + 1
            self._blocks[key] = (following + 1, last)
            return following


_reference_numbers = NumberBlocks()


FIELDS = StoredFields(
    Referral,
    "referral_id",
    date_of_birth=OPTIONAL_ISO_DATE,
    channel=enum_value(Channel),
    first_contact_channel=optional_enum_value(Channel),
)


class ReferralRepository(AggregateRepository[ReferralDocument, Referral]):
    """Referrals of one organisation; reads are limited to the centres given."""

    document = ReferralDocument
    fields = FIELDS
    what = "referral"

    def next_sequence(self, year: int) -> int:
        return _reference_numbers.next(f"{self._organisation}:referral:{year}")


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
    return [FIELDS.read(doc) for doc in docs]
