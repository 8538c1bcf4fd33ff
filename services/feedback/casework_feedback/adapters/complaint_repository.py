"""Complaints and suggestions in feedback's database: append-only (a stored complaint's
entries only ever grow), with the moment the deadline timer next looks at each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import mongoengine as me

from casework_common.envelope import EventEnvelope
from casework_common.repository import (
    UTC_INSTANT,
    AggregateRepository,
    Stored,
    StoredFields,
    enum_value,
)
from casework_common.storage import AggregateDocument
from casework_feedback.adapters.repository import at
from casework_feedback.domain import complaints


class ComplaintDocument(AggregateDocument):
    meta = {
        "collection": "complaints",
        "indexes": [{"fields": ["next_notice_at"]}, {"fields": ["organisation", "centre_id"]}],
    }

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    channel = me.StringField(required=True)
    subject = me.StringField(required=True)
    subject_ref = me.StringField(default="")
    client_id = me.StringField(default="")
    received_at = me.DateTimeField(required=True)
    answer_due = me.DateTimeField(required=True)
    entries = me.ListField(me.DictField())
    notices_sent = me.ListField(me.StringField())
    reply_to = me.StringField(default="")
    answered = me.BooleanField(default=False)
    # When the deadline timer next has something to say (None: nothing more).
    next_notice_at = me.DateTimeField()


ENTRIES = Stored(
    lambda entries: [
        {
            "entry_id": e.entry_id,
            "kind": e.kind.value,
            "text": e.text,
            "by": e.by,
            "at": e.at,
            "corrects": e.corrects,
        }
        for e in entries
    ],
    lambda raw: tuple(
        complaints.Entry(
            e["entry_id"],
            complaints.EntryKind(e["kind"]),
            e["text"],
            e["by"],
            at(e["at"]),
            e.get("corrects") or "",
        )
        for e in raw
    ),
)
NOTICES = Stored(
    lambda notices: sorted(n.value for n in notices),
    lambda raw: frozenset(complaints.Notice(n) for n in raw),
)
COMPLAINT_FIELDS = StoredFields(
    complaints.Complaint,
    "complaint_id",
    kind=enum_value(complaints.ComplaintKind),
    channel=enum_value(complaints.ComplaintChannel),
    subject=enum_value(complaints.Subject),
    received_at=UTC_INSTANT,
    answer_due=UTC_INSTANT,
    entries=ENTRIES,
    notices_sent=NOTICES,
)


def _write_complaint(doc: ComplaintDocument, c: complaints.Complaint, remind_before: Any) -> None:
    COMPLAINT_FIELDS.write(doc, c)
    # Stored for the deadline timer's query, not part of the complaint itself.
    doc.answered = c.answered
    doc.next_notice_at = complaints.next_notice_at(c, remind_before)


class ComplaintRepository(AggregateRepository[ComplaintDocument, complaints.Complaint]):
    document = ComplaintDocument
    fields = COMPLAINT_FIELDS
    what = "complaint"
    remind_before = complaints.DEFAULT_REMIND_BEFORE

    def _write(self, doc: ComplaintDocument, complaint: complaints.Complaint) -> None:
        _write_complaint(doc, complaint, self.remind_before)

    def append(
        self,
        complaint: complaints.Complaint,
        events: Iterable[EventEnvelope] = (),
    ) -> None:
        """Store a complaint whose entries only grew (the domain never rewrites one):
        the stored entries must be a prefix of the new ones, else nothing is written."""
        doc = self._one(complaint.complaint_id)
        stored = [e["entry_id"] for e in doc.entries]
        if [e.entry_id for e in complaint.entries[: len(stored)]] != stored:
            raise complaints.refuse_change("rewritten")
        _write_complaint(doc, complaint, self.remind_before)
        self._save(doc, events)

    def with_notices_due(self, now: datetime, limit: int = 100) -> list[complaints.Complaint]:
        due = self._scoped().filter(next_notice_at__lte=now).limit(limit)
        return [COMPLAINT_FIELDS.read(d) for d in due]


def organisations_with_notices_due(now: datetime) -> list[str]:
    return sorted(ComplaintDocument.objects(next_notice_at__lte=now).distinct("organisation"))
