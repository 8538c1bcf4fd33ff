"""Complaints and suggestions: every one kept, every one answered by its deadline.

A complaint is an append-only list of entries: what was received, corrections (a new
entry that says what it corrects, never a change to the old one), analysis notes and the
answer. Nothing is ever deleted or edited; a request to do so is refused by name.

Before the deadline a reminder is due, after it an escalation; both are events for
notify to deliver, each published once per complaint (the complaint records that it was
sent, so a replayed timer does not remind twice).

A complaint about a worker is a signal to look at the situation, never a verdict: no
score, rating or penalty is derived from it anywhere.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta

from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument

DEFAULT_ANSWER_WITHIN = timedelta(days=30)
"""The usual term for answering a citizen's appeal; a centre may configure a shorter one."""
DEFAULT_REMIND_BEFORE = timedelta(days=5)
MAX_TEXT = 10_000


class ComplaintChannel(enum.StrEnum):
    HOTLINE = "hotline"
    EMAIL = "email"
    SOCIAL_MEDIA = "social_media"
    LETTER = "letter"
    FEEDBACK_BOOK = "feedback_book"
    SEALED_BOX = "sealed_box"
    INTERVIEW = "interview"


class ComplaintKind(enum.StrEnum):
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"
    STATEMENT = "statement"
    PRAISE = "praise"


class Subject(enum.StrEnum):
    STAFF = "staff"
    EXTERNAL_PROVIDER = "external_provider"
    SERVICE = "service"
    """The centre's service or premises in general, no person named."""


class EntryKind(enum.StrEnum):
    RECEIVED = "received"
    CORRECTION = "correction"
    NOTE = "note"
    ANSWER = "answer"


class Notice(enum.StrEnum):
    DEADLINE_DUE = "deadline_due"
    OVERDUE = "overdue"


@dataclasses.dataclass(frozen=True)
class Entry:
    entry_id: str
    kind: EntryKind
    text: str
    by: str
    at: datetime
    corrects: str = ""
    """For a correction, the entry it corrects."""


@dataclasses.dataclass(frozen=True)
class Complaint:
    complaint_id: str
    centre_id: str
    kind: ComplaintKind
    channel: ComplaintChannel
    subject: Subject
    subject_ref: str
    """The worker or the external organisation it is about; empty for SERVICE."""
    client_id: str
    """Empty when the author is anonymous (a sealed box, an unsigned letter)."""
    received_at: datetime
    answer_due: datetime
    entries: tuple[Entry, ...]
    notices_sent: frozenset[Notice] = frozenset()
    reply_to: str = ""
    """Where the answer goes (postal or e-mail address); empty when there is none."""

    @property
    def answered(self) -> bool:
        return any(e.kind is EntryKind.ANSWER for e in self.entries)

    @property
    def answer(self) -> Entry | None:
        return next((e for e in reversed(self.entries) if e.kind is EntryKind.ANSWER), None)

    def overdue(self, now: datetime) -> bool:
        return not self.answered and now > self.answer_due


def receive(
    *,
    complaint_id: str,
    entry_id: str,
    centre_id: str,
    kind: ComplaintKind,
    channel: ComplaintChannel,
    subject: Subject,
    subject_ref: str,
    client_id: str,
    text: str,
    recorded_by: str,
    received_at: datetime,
    answer_within: timedelta = DEFAULT_ANSWER_WITHIN,
    reply_to: str = "",
) -> Complaint:
    errors = _text_errors("text", text)
    if subject is not Subject.SERVICE and not subject_ref:
        errors.append(FieldError("subject_ref", f"a complaint about {subject.value} names whom"))
    if answer_within <= timedelta(0):
        errors.append(FieldError("answer_within", "must be positive"))
    if errors:
        raise InvalidArgument(errors)
    return Complaint(
        complaint_id=complaint_id,
        centre_id=centre_id,
        kind=kind,
        channel=channel,
        subject=subject,
        subject_ref=subject_ref,
        client_id=client_id,
        received_at=received_at,
        answer_due=received_at + answer_within,
        entries=(Entry(entry_id, EntryKind.RECEIVED, text, recorded_by, received_at),),
        reply_to=reply_to,
    )


def _text_errors(field: str, text: str) -> list[FieldError]:
    if not text.strip():
        return [FieldError(field, "must not be empty")]
    if len(text) > MAX_TEXT:
        return [FieldError(field, f"at most {MAX_TEXT} characters")]
    return []


def _append(complaint: Complaint, entry: Entry) -> Complaint:
    return dataclasses.replace(complaint, entries=(*complaint.entries, entry))


def correct(
    complaint: Complaint, *, entry_id: str, corrects: str, text: str, by: str, at: datetime
) -> Complaint:
    """A correction is a new entry pointing at the one it corrects; the old one stays."""
    errors = _text_errors("text", text)
    if not any(e.entry_id == corrects for e in complaint.entries):
        errors.append(FieldError("corrects", "this complaint has no such entry"))
    if errors:
        raise InvalidArgument(errors)
    return _append(complaint, Entry(entry_id, EntryKind.CORRECTION, text, by, at, corrects))


def add_note(complaint: Complaint, *, entry_id: str, text: str, by: str, at: datetime) -> Complaint:
    """An analysis note: what was looked at, what is learnt. Not a sanction."""
    errors = _text_errors("text", text)
    if errors:
        raise InvalidArgument(errors)
    return _append(complaint, Entry(entry_id, EntryKind.NOTE, text, by, at))


def record_answer(
    complaint: Complaint, *, entry_id: str, text: str, by: str, at: datetime
) -> Complaint:
    """The answer given to the author. A second answer (a follow-up letter) is a new
    entry too; the first stays."""
    errors = _text_errors("text", text)
    if errors:
        raise InvalidArgument(errors)
    return _append(complaint, Entry(entry_id, EntryKind.ANSWER, text, by, at))


def refuse_change(what: str) -> FailedPrecondition:
    """Complaints are never edited or deleted: the caller is told to add an entry."""
    return FailedPrecondition(
        f"complaints are kept as received and cannot be {what}; add a correction or a note",
        field="complaint_id",
    )


def notices_due(
    complaint: Complaint, now: datetime, remind_before: timedelta = DEFAULT_REMIND_BEFORE
) -> list[Notice]:
    """Notices that are due now and were not sent yet, earliest first."""
    if complaint.answered:
        return []
    due: list[Notice] = []
    if (
        now >= complaint.answer_due - remind_before
        and Notice.DEADLINE_DUE not in complaint.notices_sent
    ):
        due.append(Notice.DEADLINE_DUE)
    if now > complaint.answer_due and Notice.OVERDUE not in complaint.notices_sent:
        due.append(Notice.OVERDUE)
    return due


def mark_sent(complaint: Complaint, notices: list[Notice]) -> Complaint:
    return dataclasses.replace(complaint, notices_sent=complaint.notices_sent | set(notices))


def asks_for_plan_review(complaint: Complaint) -> bool:
    """A complaint by a known client about the centre's service or its staff: the
    responsible worker looks at that client's plan. About an external provider, the
    campaign or the referral is the place, not the plan."""
    return (
        bool(complaint.client_id)
        and complaint.kind is ComplaintKind.COMPLAINT
        and complaint.subject in (Subject.STAFF, Subject.SERVICE)
    )


def next_notice_at(
    complaint: Complaint, remind_before: timedelta = DEFAULT_REMIND_BEFORE
) -> datetime | None:
    """When the timer next has something to say about this complaint (None: never)."""
    if complaint.answered:
        return None
    if Notice.DEADLINE_DUE not in complaint.notices_sent:
        return complaint.answer_due - remind_before
    if Notice.OVERDUE not in complaint.notices_sent:
        return complaint.answer_due + timedelta(microseconds=1000)
    return None
