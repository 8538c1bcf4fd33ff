"""Outreach: active work to find people who need help (field work, group events,
newsletters) that a worker plans for a date. The worker is reminded before it and,
once the date has passed, asked to record what came of it.

Pure rules over the Outreach value; the clock is always passed in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from casework_common import idempotency
from casework_common.errors import FailedPrecondition, FieldError, raise_if_any
from casework_common.organisation import Organisation
from casework_intake.domain import rules

DEFAULT_REMINDER_HOURS = 24.0
MAX_REMINDER_HOURS = 24.0 * 31
MAX_PLACE = 200
MAX_TEXT = 4000
MAX_PEOPLE = 1_000_000
MAX_CLIENTS_MET = 200


class ActivityType(enum.Enum):
    FIELD_WORK = "field_work"
    GROUP_EVENT = "group_event"
    NEWSLETTER = "newsletter"
    OTHER = "other"


class OutreachStatus(enum.Enum):
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PlanOutreach:
    worker_id: str
    centre_id: str
    activity_type: ActivityType | None
    planned_at: datetime | None
    place: str
    description: str
    # Caller-chosen key that makes a retry answer the first activity (required).
    idempotency_key: str = ""


@dataclass(frozen=True)
class Outcome:
    text: str
    people_reached: int
    contacts_made: int
    #: Clients' cards met in the activity (clients counts each as a contact).
    client_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outreach:
    outreach_id: str
    organisation: str
    worker_id: str
    centre_id: str
    activity_type: ActivityType
    planned_at: datetime
    place: str
    description: str
    planned_by: str
    created_at: datetime
    remind_at: datetime
    status: OutreachStatus = OutreachStatus.PLANNED
    reminded_at: datetime | None = None
    outcome_requested_at: datetime | None = None
    outcome: Outcome | None = None
    outcome_recorded_at: datetime | None = None
    outcome_recorded_by: str = ""
    cancelled_at: datetime | None = None
    cancelled_by: str = ""
    idempotency_key: str = ""
    # Digest of the planning call (see fingerprint); a retry must match it.
    fingerprint: str = ""


def check_hours(hours: object) -> float:
    """The organisation's reminder lead time in hours; refuses nonsense at start-up."""
    return rules.hours_setting(hours, "outreach_reminder_hours", MAX_REMINDER_HOURS)


def validate(command: PlanOutreach, organisation: Organisation, now: datetime) -> list[FieldError]:
    errors = idempotency.key_errors(command.idempotency_key)
    centre = organisation.centre(command.centre_id) if command.centre_id else None
    if not command.centre_id:
        errors.append(FieldError("centre_id", "is required"))
    elif centre is None:
        errors.append(FieldError("centre_id", "is not a centre of the organisation"))
    worker = organisation.workers.get(command.worker_id)
    if not command.worker_id:
        errors.append(FieldError("worker_id", "is required"))
    elif worker is None:
        errors.append(FieldError("worker_id", "is not a worker of the organisation"))
    elif centre is not None and centre.id not in worker.centres:
        errors.append(FieldError("worker_id", f"does not serve {centre.id}"))
    if command.activity_type is None:
        errors.append(FieldError("activity_type", "is required"))
    errors += rules.planned_moment_errors(command.planned_at, now, "planned_at")
    if len(command.place) > MAX_PLACE:
        errors.append(FieldError("place", f"at most {MAX_PLACE} characters"))
    if len(command.description) > MAX_TEXT:
        errors.append(FieldError("description", f"at most {MAX_TEXT} characters"))
    return errors


def fingerprint(command: PlanOutreach, planned_by: str) -> str:
    """What makes two planning calls 'the same activity' for an idempotent retry: the
    values plan() stores, and who planned it."""
    return idempotency.fingerprint(
        {
            "worker_id": command.worker_id,
            "centre_id": command.centre_id,
            "activity_type": command.activity_type.value if command.activity_type else None,
            "planned_at": command.planned_at.isoformat() if command.planned_at else None,
            "place": command.place.strip(),
            "description": command.description.strip(),
            "planned_by": planned_by,
        }
    )


def check_replay(existing: Outreach, command: PlanOutreach, planned_by: str) -> Outreach:
    """A retried call answers the stored activity; a reused key with other content (or
    another caller's key) is refused and nothing is changed."""
    idempotency.check(
        existing.fingerprint,
        command.idempotency_key,
        fingerprint(command, planned_by),
        # No id: the key may be another centre's, whose activity the caller may not see.
        "an outreach activity",
    )
    return existing


def plan(
    command: PlanOutreach,
    organisation: Organisation,
    *,
    outreach_id: str,
    planned_by: str,
    now: datetime,
    reminder_hours: float,
) -> Outreach:
    raise_if_any(validate(command, organisation, now))
    assert command.activity_type is not None and command.planned_at is not None
    return Outreach(
        outreach_id=outreach_id,
        organisation=organisation.id,
        worker_id=command.worker_id,
        centre_id=command.centre_id,
        activity_type=command.activity_type,
        planned_at=command.planned_at,
        place=command.place.strip(),
        description=command.description.strip(),
        planned_by=planned_by,
        created_at=now,
        remind_at=command.planned_at - timedelta(hours=reminder_hours),
        idempotency_key=command.idempotency_key,
        fingerprint=fingerprint(command, planned_by),
    )


def validate_outcome(outcome: Outcome) -> list[FieldError]:
    errors = []
    if not outcome.text.strip():
        errors.append(FieldError("outcome", "is required"))
    elif len(outcome.text) > MAX_TEXT:
        errors.append(FieldError("outcome", f"at most {MAX_TEXT} characters"))
    if not 0 <= outcome.people_reached <= MAX_PEOPLE:
        errors.append(FieldError("people_reached", f"between 0 and {MAX_PEOPLE}"))
    if outcome.contacts_made < 0:
        errors.append(FieldError("contacts_made", "must not be negative"))
    elif outcome.contacts_made > max(outcome.people_reached, 0):
        errors.append(FieldError("contacts_made", "cannot exceed people_reached"))
    if len(outcome.client_ids) > MAX_CLIENTS_MET:
        errors.append(FieldError("client_ids", f"at most {MAX_CLIENTS_MET}"))
    elif any(not c.strip() or len(c) > 100 for c in outcome.client_ids):
        errors.append(FieldError("client_ids", "an empty or over-long client id"))
    return errors


def record_outcome(outreach: Outreach, outcome: Outcome, by: str, now: datetime) -> Outreach:
    """Only once, only for a planned activity, and only once its time has come."""
    raise_if_any(validate_outcome(outcome))
    if outreach.status is OutreachStatus.DONE:
        raise FailedPrecondition(
            f"outreach {outreach.outreach_id} has its outcome already", field="outreach_id"
        )
    if outreach.status is OutreachStatus.CANCELLED:
        raise FailedPrecondition(
            f"outreach {outreach.outreach_id} was cancelled", field="outreach_id"
        )
    if now < outreach.planned_at:
        raise FailedPrecondition(
            f"outreach {outreach.outreach_id} is planned for {outreach.planned_at.isoformat()};"
            " record its outcome afterwards",
            field="outreach_id",
        )
    return replace(
        outreach,
        status=OutreachStatus.DONE,
        outcome=replace(outcome, text=outcome.text.strip()),
        outcome_recorded_at=now,
        outcome_recorded_by=by,
    )


def cancel(outreach: Outreach, by: str, now: datetime) -> tuple[Outreach, bool]:
    """Answer (outreach, changed). Cancelling twice keeps the first; an activity with
    its outcome recorded took place and cannot be cancelled."""
    if outreach.status is OutreachStatus.CANCELLED:
        return outreach, False
    if outreach.status is OutreachStatus.DONE:
        raise FailedPrecondition(
            f"outreach {outreach.outreach_id} took place already", field="outreach_id"
        )
    return replace(
        outreach, status=OutreachStatus.CANCELLED, cancelled_at=now, cancelled_by=by
    ), True


# ----------------------------------------------------------------- the timer's rules


def reminder_due(outreach: Outreach, now: datetime) -> bool:
    """Remind the worker once, inside the lead time and before the activity; a timer
    that was away until after it leaves the reminder out (the outcome is asked)."""
    return (
        outreach.status is OutreachStatus.PLANNED
        and outreach.reminded_at is None
        and outreach.remind_at <= now < outreach.planned_at
    )


def mark_reminded(outreach: Outreach, now: datetime) -> Outreach:
    if not reminder_due(outreach, now):
        raise FailedPrecondition(f"outreach {outreach.outreach_id} needs no reminder")
    return replace(outreach, reminded_at=now)


def outcome_due(outreach: Outreach, now: datetime) -> bool:
    """Ask for the outcome once, after the planned time, while none is recorded."""
    return (
        outreach.status is OutreachStatus.PLANNED
        and outreach.outcome_requested_at is None
        and now >= outreach.planned_at
    )


def mark_outcome_requested(outreach: Outreach, now: datetime) -> Outreach:
    if not outcome_due(outreach, now):
        raise FailedPrecondition(f"outreach {outreach.outreach_id} needs no outcome request")
    return replace(outreach, outcome_requested_at=now)


# -------------------------------------------------------------------- event payloads


def event_payload(outreach: Outreach) -> dict[str, object]:
    """What every outreach event carries (no free text: it stays in intake)."""
    return {
        "outreach_id": outreach.outreach_id,
        "centre_id": outreach.centre_id,
        "worker_id": outreach.worker_id,
        "activity_type": outreach.activity_type.value,
        "planned_at": outreach.planned_at.isoformat(),
        "place": outreach.place,
    }


def outcome_event_payload(outreach: Outreach) -> dict[str, object]:
    assert outreach.outcome is not None and outreach.outcome_recorded_at is not None
    return {
        **event_payload(outreach),
        "people_reached": outreach.outcome.people_reached,
        "contacts_made": outreach.outcome.contacts_made,
        "recorded_by": outreach.outcome_recorded_by,
        "recorded_at": outreach.outcome_recorded_at.isoformat(),
        "client_ids": list(outreach.outcome.client_ids),
    }
