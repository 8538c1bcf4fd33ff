"""Outreach activities: planned (idempotent), answered or cancelled by workers, and
the timers that remind a worker before and ask for the outcome after."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import Message

from casework.intake.v1 import events_pb2
from casework_common.envelope import EventEnvelope
from casework_common.errors import raise_if_any
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork
from casework_intake.adapters.outreach import OutreachRepository
from casework_intake.domain import outreach
from casework_intake.domain.outreach import Outcome, Outreach, PlanOutreach
from casework_intake.use_cases import _common as shared
from casework_intake.use_cases._common import event, require_worker, required

OUTREACH_PLANNED = events_pb2.OutreachPlanned
OUTREACH_REMINDER_DUE = events_pb2.OutreachReminderDue
OUTREACH_OUTCOME_DUE = events_pb2.OutreachOutcomeDue
OUTREACH_OUTCOME_RECORDED = events_pb2.OutreachOutcomeRecorded
OUTREACH_CANCELLED = events_pb2.OutreachCancelled


@dataclass(frozen=True)
class RecordOutreachOutcome:
    outreach_id: str
    outcome: Outcome


@dataclass(frozen=True)
class CancelOutreach:
    outreach_id: str


def plan_outreach(
    command: PlanOutreach,
    uow: UnitOfWork,
    organisation: Organisation,
    repository: OutreachRepository,
    *,
    reminder_hours: float = outreach.DEFAULT_REMINDER_HOURS,
) -> Outreach:
    """Store a planned activity (for the caller unless another worker is named)."""
    require_worker(uow)
    principal = uow.principal
    if not command.worker_id:
        command = dataclasses.replace(command, worker_id=principal.subject)

    def create() -> Outreach:
        raise_if_any(outreach.validate(command, organisation, uow.now))
        principal.require_centre(command.centre_id)
        planned = outreach.plan(
            command,
            organisation,
            outreach_id=uow.new_id(),
            planned_by=principal.subject,
            now=uow.now,
            reminder_hours=reminder_hours,
        )
        payload = outreach.event_payload(planned) | {"planned_by": planned.planned_by}
        repository.add(planned, event(OUTREACH_PLANNED, organisation.id, uow, payload))
        return planned

    def replay(stored: Outreach) -> Outreach:
        return outreach.check_replay(stored, command, principal.subject)

    return shared.create_once(command.idempotency_key, repository, replay, create)[0]


def record_outreach_outcome(
    command: RecordOutreachOutcome, uow: UnitOfWork, repository: OutreachRepository
) -> Outreach:
    require_worker(uow)
    required("outreach_id", command.outreach_id)
    principal, now, outcome = uow.principal, uow.now, command.outcome

    def change(current: Outreach) -> tuple[Outreach, list[EventEnvelope]]:
        done = outreach.record_outcome(current, outcome, principal.subject, now)
        return shared.with_event(
            uow, OUTREACH_OUTCOME_RECORDED, done, outreach.outcome_event_payload(done)
        )

    return repository.update(command.outreach_id, change)


def cancel_outreach(
    command: CancelOutreach, uow: UnitOfWork, repository: OutreachRepository
) -> Outreach:
    require_worker(uow)
    required("outreach_id", command.outreach_id)
    principal, now = uow.principal, uow.now

    def change(current: Outreach) -> tuple[Outreach, list[EventEnvelope]]:
        return shared.if_changed(
            uow,
            OUTREACH_CANCELLED,
            outreach.cancel(current, principal.subject, now),
            lambda cancelled: (
                outreach.event_payload(cancelled) | {"cancelled_by": principal.subject}
            ),
        )

    return repository.update(command.outreach_id, change)


def _once(
    uow: UnitOfWork,
    items: list[Outreach],
    repository_of: Callable[[str], OutreachRepository],
    message_type: type[Message],
    is_due: Callable[[Outreach, datetime], bool],
    mark: Callable[[Outreach, datetime], Outreach],
) -> int:
    """Mark each due activity and emit its event, once (see mark_each)."""

    def change(current: Outreach) -> tuple[Outreach, list[EventEnvelope]]:
        if not is_due(current, uow.now):
            return current, []  # reminded, answered or cancelled meanwhile
        marked = mark(current, uow.now)
        return shared.with_event(uow, message_type, marked, outreach.event_payload(marked))

    return shared.mark_each(
        items,
        lambda item, change: repository_of(item.organisation).update(item.outreach_id, change),
        change,
    )


def remind_outreach(
    uow: UnitOfWork,
    due: list[Outreach],
    repository_of: Callable[[str], OutreachRepository],
) -> int:
    """Remind each planning worker of their activity, once (intake.outreach.reminder_due)."""
    due_now, mark = outreach.reminder_due, outreach.mark_reminded
    return _once(uow, due, repository_of, OUTREACH_REMINDER_DUE, due_now, mark)


def request_outreach_outcomes(
    uow: UnitOfWork,
    due: list[Outreach],
    repository_of: Callable[[str], OutreachRepository],
) -> int:
    """Ask each worker for the outcome of an activity that took place, once
    (intake.outreach.outcome_due)."""
    due_now, mark = outreach.outcome_due, outreach.mark_outcome_requested
    return _once(uow, due, repository_of, OUTREACH_OUTCOME_DUE, due_now, mark)
