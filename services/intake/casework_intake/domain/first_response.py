"""First response: a new referral must be taken on by a worker before a deadline the
organisation sets; when nobody has, the centre manager is told, once.

Pure rules over the Referral value; the clock is always passed in.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from casework_common.errors import FailedPrecondition, FieldError, raise_if_any
from casework_intake.domain import rules
from casework_intake.domain.referrals import MAX_FREE_TEXT, Channel, Referral

DEFAULT_FIRST_RESPONSE_HOURS = 24.0
# A deadline longer than a month would no longer be a "first response".
MAX_FIRST_RESPONSE_HOURS = 24.0 * 31


def check_hours(hours: object) -> float:
    """The organisation's first-response time in hours; refuses nonsense at start-up."""
    return rules.hours_setting(hours, "first_response_hours", MAX_FIRST_RESPONSE_HOURS)


def with_deadline(referral: Referral, hours: float) -> Referral:
    return replace(referral, first_response_due_at=referral.submitted_at + timedelta(hours=hours))


def acknowledge(referral: Referral, worker_id: str, now: datetime) -> tuple[Referral, bool]:
    """Answer (referral, changed). A second acknowledgement keeps the first."""
    if referral.acknowledged_at is not None:
        return referral, False
    return replace(referral, acknowledged_at=now, acknowledged_by=worker_id), True


def record_first_contact(
    referral: Referral, worker_id: str, channel: Channel | None, note: str, now: datetime
) -> tuple[Referral, bool]:
    """Answer (referral, changed). Reaching the person also acknowledges the referral;
    a second first contact is not one, and keeps the first."""
    errors = []
    if channel is None:
        errors.append(FieldError("channel", "is required"))
    if len(note) > MAX_FREE_TEXT:
        errors.append(FieldError("note", f"at most {MAX_FREE_TEXT} characters"))
    raise_if_any(errors)
    if referral.first_contact_at is not None:
        return referral, False
    acknowledged, _ = acknowledge(referral, worker_id, now)
    return (
        replace(
            acknowledged,
            first_contact_at=now,
            first_contact_by=worker_id,
            first_contact_channel=channel,
            first_contact_note=note,
        ),
        True,
    )


def is_overdue(referral: Referral, now: datetime) -> bool:
    """Nobody took the referral on in time and the manager has not been told yet."""
    return (
        referral.first_response_due_at is not None
        and referral.acknowledged_at is None
        and referral.escalated_at is None
        and now >= referral.first_response_due_at
    )


def escalate(referral: Referral, now: datetime) -> Referral:
    if not is_overdue(referral, now):
        raise FailedPrecondition(f"referral {referral.referral_id} is not overdue")
    return replace(referral, escalated_at=now)


def overdue_event_payload(referral: Referral, manager_id: str) -> dict[str, object]:
    """Payload of intake.referral.first_contact_overdue.v1 (notify tells the manager)."""
    assert referral.first_response_due_at is not None
    return {
        "referral_id": referral.referral_id,
        "reference_number": referral.reference_number,
        "centre_id": referral.centre_id,
        "region_id": referral.region_id,
        "manager_id": manager_id,
        "client_type": referral.client_type,
        "problem_type": referral.problem_type,
        "channel": referral.channel.value,
        "submitted_at": referral.submitted_at.isoformat(),
        "due_at": referral.first_response_due_at.isoformat(),
    }


def acknowledged_event_payload(referral: Referral) -> dict[str, object]:
    """Payload of intake.referral.acknowledged.v1."""
    assert referral.acknowledged_at is not None
    return {
        "referral_id": referral.referral_id,
        "centre_id": referral.centre_id,
        "worker_id": referral.acknowledged_by,
        "acknowledged_at": referral.acknowledged_at.isoformat(),
    }


def first_contact_event_payload(referral: Referral) -> dict[str, object]:
    """Payload of intake.referral.first_contact_recorded.v1."""
    assert referral.first_contact_at is not None and referral.first_contact_channel
    return {
        "referral_id": referral.referral_id,
        "centre_id": referral.centre_id,
        "worker_id": referral.first_contact_by,
        "channel": referral.first_contact_channel.value,
        "first_contact_at": referral.first_contact_at.isoformat(),
        "submitted_at": referral.submitted_at.isoformat(),
    }
