"""Reminders: scheduled and cancelled by other services over gRPC, fired by the events
processes' timer (whichever claims a due reminder first)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork
from casework_notify.adapters.reminders import ReminderRepository, claim_due_reminders, mark_fired
from casework_notify.domain import reminders
from casework_notify.domain.reminders import Reminder
from casework_notify.use_cases.delivery import Postbox


@dataclass(frozen=True)
class ScheduleReminder:
    reminder: Reminder  # reminder_id, organisation and owner are filled in here


def schedule_reminder(
    command: ScheduleReminder,
    uow: UnitOfWork,
    repository: ReminderRepository,
    organisation: Organisation,
) -> Reminder:
    principal = uow.principal
    wanted = replace(
        command.reminder,
        reminder_id=reminders.reminder_id(principal.subject, command.reminder.key),
        organisation=principal.organisation,
        owner=principal.subject,
        state=reminders.SCHEDULED,
        fired_at=None,
        scheduled_at=uow.now,
    )
    reminders.check(wanted, uow.now, set(organisation.workers))
    existing = repository.find(wanted.reminder_id)
    if existing is None:
        if repository.add(wanted):
            return wanted
        existing = repository.get(wanted.reminder_id)
    if existing == replace(wanted, scheduled_at=existing.scheduled_at):
        return existing  # the same request again
    rescheduled = reminders.reschedule(existing, wanted)
    if not repository.replace_scheduled(rescheduled):
        raise FailedPrecondition(f"reminder {wanted.key} is firing or has fired")
    return rescheduled


def cancel_reminder(key: str, uow: UnitOfWork, repository: ReminderRepository) -> Reminder:
    if not key:
        raise InvalidArgument([FieldError("key", "is required")])
    principal = uow.principal
    existing = repository.get(reminders.reminder_id(principal.subject, key))
    cancelled = reminders.cancel(existing)
    if cancelled is existing or repository.replace_scheduled(cancelled):
        return cancelled
    return repository.get(existing.reminder_id)  # it fired meanwhile


def fire_due_reminders(
    now: datetime,
    postbox_of: Callable[[str], Postbox],
    *,
    lease: timedelta = timedelta(seconds=60),
    limit: int = 500,
) -> int:
    """Claim what is due (several processes share the work; each reminder goes to one),
    put it into the worker's inbox, mark it fired. One that fired late because notify
    was down fires now."""
    claimed = claim_due_reminders(now, lease, limit)
    batches: dict[tuple[str, str], list[Reminder]] = {}
    for reminder, holder in claimed:
        batches.setdefault((reminder.organisation, holder), []).append(reminder)
    # A batch at a time: one insert of its notifications, one update marking it fired.
    for (organisation, holder), batch in batches.items():
        postbox_of(organisation).deliver([reminders.notification_of(r, now) for r in batch])
        mark_fired([r.reminder_id for r in batch], holder, now)
    return len(claimed)


def keep_or_withdraw(reminder: Reminder, repository: ReminderRepository) -> None:
    """Another service's word on one of its reminders, in whichever order its events
    arrive: a scheduled reminder is kept unless its cancellation came first (the first
    word stored wins), a cancellation withdraws the reminder still scheduled (one that
    fired stays fired) or, arriving first, is kept so that the scheduling adds nothing."""
    if repository.add(reminder) or reminder.state != reminders.CANCELLED:
        return
    existing = repository.find(reminder.reminder_id)
    if existing is not None:
        repository.replace_scheduled(reminders.cancel(existing))
