"""Complaints and suggestions: recorded from every channel, corrected and annotated by
new entries only, answered by a deadline the timer watches."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from casework.feedback.v1 import events_pb2
from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict, FieldError, InvalidArgument
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork
from casework_feedback.adapters.audit import audit
from casework_feedback.adapters.complaint_repository import ComplaintRepository
from casework_feedback.domain import complaints
from casework_feedback.domain.complaints import (
    Complaint,
    ComplaintChannel,
    ComplaintKind,
    EntryKind,
    Notice,
    Subject,
)
from casework_feedback.use_cases._common import (
    choice,
    event,
    instant,
    require_centre,
)
from casework_feedback.use_cases.plan_review import plan_review_requested

MAX_ANSWER_DAYS = 365


@dataclasses.dataclass(frozen=True)
class RecordComplaint:
    centre_id: str
    kind: str
    channel: str
    subject: str
    subject_ref: str
    client_id: str
    text: str
    reply_to: str
    answer_within_days: int


def _manager(organisation: Organisation, centre_id: str) -> str:
    centre = organisation.centres.get(centre_id)
    return centre.manager if centre else ""


def record_complaint(
    command: RecordComplaint,
    uow: UnitOfWork,
    organisation: Organisation,
    repository: ComplaintRepository,
) -> Complaint:
    require_centre(uow, command.centre_id)
    errors: list[FieldError] = []
    kind = choice(ComplaintKind, command.kind, "kind", errors)
    channel = choice(ComplaintChannel, command.channel, "channel", errors)
    subject = choice(Subject, command.subject, "subject", errors)
    if not 0 <= command.answer_within_days <= MAX_ANSWER_DAYS:
        errors.append(FieldError("answer_within_days", f"must be from 0 to {MAX_ANSWER_DAYS}"))
    if errors or kind is None or channel is None or subject is None:
        raise InvalidArgument(errors)
    complaint = complaints.receive(
        complaint_id=uow.new_id(),
        entry_id=uow.new_id(),
        centre_id=command.centre_id,
        kind=kind,
        channel=channel,
        subject=subject,
        subject_ref=command.subject_ref,
        client_id=command.client_id,
        text=command.text,
        recorded_by=uow.actor.subject,
        received_at=uow.now,
        answer_within=timedelta(days=command.answer_within_days)
        if command.answer_within_days
        else complaints.DEFAULT_ANSWER_WITHIN,
        reply_to=command.reply_to,
    )
    events = [
        event(
            events_pb2.ComplaintReceived,
            organisation.id,
            uow,
            {
                "complaint_id": complaint.complaint_id,
                "centre_id": complaint.centre_id,
                "kind": complaint.kind.value,
                "channel": complaint.channel.value,
                "subject": complaint.subject.value,
                "answer_due": instant(complaint.answer_due),
                "manager_id": _manager(organisation, complaint.centre_id),
            },
        )
    ]
    if complaints.asks_for_plan_review(complaint):
        events.append(
            plan_review_requested(
                organisation.id,
                uow,
                client_id=complaint.client_id,
                centre_id=complaint.centre_id,
                source="complaint",
                source_id=complaint.complaint_id,
                aspects=[],
                worker_id=complaint.subject_ref if complaint.subject is Subject.STAFF else "",
            )
        )
    repository.add(complaint, events)
    audit(
        uow,
        organisation.id,
        complaint.client_id,
        "complaint.recorded",
        complaint.complaint_id,
        centre_id=complaint.centre_id,
    )
    return complaint


def get_complaint(complaint_id: str, uow: UnitOfWork, repository: ComplaintRepository) -> Complaint:
    complaint = repository.get(complaint_id)
    audit(
        uow,
        uow.organisation,
        complaint.client_id,
        "complaint.read",
        complaint_id,
        centre_id=complaint.centre_id,
    )
    return complaint


def add_entry(
    complaint_id: str,
    kind: str,
    text: str,
    corrects: str,
    uow: UnitOfWork,
    repository: ComplaintRepository,
) -> Complaint:
    errors: list[FieldError] = []
    entry_kind = choice(EntryKind, kind, "kind", errors, (EntryKind.CORRECTION, EntryKind.NOTE))
    if errors or entry_kind is None:
        raise InvalidArgument(errors)
    complaint = repository.get(complaint_id)
    if entry_kind is EntryKind.CORRECTION:
        changed = complaints.correct(
            complaint,
            entry_id=uow.new_id(),
            corrects=corrects,
            text=text,
            by=uow.actor.subject,
            at=uow.now,
        )
    else:
        changed = complaints.add_note(
            complaint, entry_id=uow.new_id(), text=text, by=uow.actor.subject, at=uow.now
        )
    repository.append(changed)
    audit(
        uow,
        uow.organisation,
        changed.client_id,
        f"complaint.{entry_kind.value}_added",
        complaint_id,
        centre_id=changed.centre_id,
    )
    return changed


def answer(
    complaint_id: str, text: str, uow: UnitOfWork, repository: ComplaintRepository
) -> Complaint:
    complaint = repository.get(complaint_id)
    entry_id = uow.new_id()
    answered = complaints.record_answer(
        complaint, entry_id=entry_id, text=text, by=uow.actor.subject, at=uow.now
    )
    repository.append(
        answered,
        [
            event(
                events_pb2.ComplaintAnswered,
                uow.organisation,
                uow,
                {
                    "complaint_id": complaint.complaint_id,
                    "centre_id": complaint.centre_id,
                    "entry_id": entry_id,
                    "reply_to": complaint.reply_to,
                    "answer_text": text,
                    "answered_at": instant(uow.now),
                },
            )
        ],
    )
    audit(
        uow,
        uow.organisation,
        answered.client_id,
        "complaint.answered",
        complaint_id,
        centre_id=answered.centre_id,
    )
    return answered


def refuse_change(complaint_id: str, what: str, repository: ComplaintRepository) -> None:
    """Edits and deletions are refused, after the scope check: another centre's
    complaint is NOT_FOUND, never a hint that it exists."""
    repository.get(complaint_id)
    raise complaints.refuse_change(what)


def raise_deadline_notices(
    uow: UnitOfWork, organisation: Organisation, repository: ComplaintRepository
) -> int:
    """Each notice due now, once per complaint: a reminder before the deadline, an
    escalation after it. Answers how many complaints were looked at."""
    due_complaints = repository.with_notices_due(uow.now)
    for complaint in due_complaints:
        due = complaints.notices_due(complaint, uow.now, repository.remind_before)
        events: list[EventEnvelope] = []
        for notice in due:
            message = (
                events_pb2.ComplaintDeadlineApproaching
                if notice is Notice.DEADLINE_DUE
                else events_pb2.ComplaintDeadlineMissed
            )
            events.append(
                event(
                    message,
                    organisation.id,
                    uow,
                    {
                        "complaint_id": complaint.complaint_id,
                        "centre_id": complaint.centre_id,
                        "manager_id": _manager(organisation, complaint.centre_id),
                        "answer_due": instant(complaint.answer_due),
                    },
                )
            )
        try:
            repository.append(complaints.mark_sent(complaint, due), events)
        except Conflict:
            continue  # another process raised it, or someone answered meanwhile
    return len(due_complaints)
