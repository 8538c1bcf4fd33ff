"""Visits: what happened to a client, as the system recorded it, and what feedback
followed. A visit chooses its survey (the client never names a department), may get a
single-use mini-survey link, and is later looked at once: a visit with neither a
response nor a refusal is drawn into the random phone-survey sample or let go; a
monitoring contact in person that plans recorded is a visit too. A visit of a known
client also waits for its later survey (other aspects, some days after), issued once
unless the client refused surveys.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta

from casework_common.errors import FieldError
from casework_feedback.domain.followup import PHONE_SURVEY_WITHIN
from casework_feedback.domain.surveys import Audience

VISIT_KINDS = (Audience.FRONT_LINE, Audience.DEPARTMENT)
DEFAULT_SAMPLE_AFTER = timedelta(hours=2)
"""How long after a visit the system waits for a survey before drawing the sample."""
DEFAULT_LATER_AFTER = timedelta(days=7)
"""How long after a visit its later survey is issued, unless configured otherwise."""


@dataclasses.dataclass(frozen=True)
class Visit:
    visit_id: str
    centre_id: str
    kind: Audience
    department_id: str
    client_id: str
    worker_id: str
    visited_at: datetime
    answered: bool = False
    refused: bool = False
    later_call_welcome: bool = False
    sample_at: datetime | None = None
    """When the sample is drawn; None once drawn (or for a visit nobody can call)."""
    later_at: datetime | None = None
    """When the later survey is issued; None once looked at (or for a visit of nobody known)."""


def visit_errors(kind: str, department_id: str) -> list[FieldError]:
    errors = []
    if kind not in {k.value for k in VISIT_KINDS}:
        errors.append(FieldError("kind", "must be front_line or department"))
    elif kind == Audience.DEPARTMENT.value and not department_id:
        errors.append(FieldError("department_id", "a department's service names the department"))
    return errors


def new_visit(
    *,
    visit_id: str,
    centre_id: str,
    kind: Audience,
    department_id: str,
    client_id: str,
    worker_id: str,
    visited_at: datetime,
    sample_after: timedelta = DEFAULT_SAMPLE_AFTER,
    later_after: timedelta = DEFAULT_LATER_AFTER,
) -> Visit:
    return Visit(
        visit_id=visit_id,
        centre_id=centre_id,
        kind=kind,
        department_id=department_id if kind is Audience.DEPARTMENT else "",
        client_id=client_id,
        worker_id=worker_id,
        visited_at=visited_at,
        # A person without a card cannot be called back.
        sample_at=visited_at + sample_after if client_id else None,
        # Nobody to send a later survey to without a card.
        later_at=visited_at + later_after if client_id else None,
    )


def visit_at_monitoring_contact(
    *,
    contact_id: str,
    centre_id: str,
    client_id: str,
    worker_id: str,
    contacted_on: date,
    recorded_at: datetime,
    now: datetime,
    sample_after: timedelta = DEFAULT_SAMPLE_AFTER,
    later_after: timedelta = DEFAULT_LATER_AFTER,
) -> Visit:
    """A monitoring contact in person (plans records it) is a visit of the client by
    their worker, the department's service: it joins the phone-survey sample and waits
    for its later survey like a visit recorded here. Its id comes from the contact, so
    hearing of the contact twice is one visit. A contact recorded on a later day counts
    from the start of its day, and one recorded too late for a call within three days
    of it is not drawn into the sample."""
    visited_at = (
        recorded_at
        if recorded_at.date() == contacted_on
        else datetime.combine(contacted_on, time(), UTC)
    )
    visit = new_visit(
        visit_id=f"contact-{contact_id}",
        centre_id=centre_id,
        kind=Audience.DEPARTMENT,
        department_id="",
        client_id=client_id,
        worker_id=worker_id,
        visited_at=visited_at,
        sample_after=sample_after,
        later_after=later_after,
    )
    if now > visited_at + PHONE_SURVEY_WITHIN:
        return dataclasses.replace(visit, sample_at=None)
    return visit


def needs_phone_survey(visit: Visit) -> bool:
    """Drawn visits only: nothing was filled in and the client did not say no."""
    return not visit.answered and not visit.refused and bool(visit.client_id)


def later_survey_due(visit: Visit, now: datetime, *, client_refused: bool) -> bool:
    """Issue the later survey: its time has come, the client is known, and neither at
    this visit nor ever before did the client refuse surveys (a refusal that said a
    later call or a sent survey is fine does not count). Answering the mini-survey does
    not stop it: the later survey asks about other aspects."""
    return (
        visit.later_at is not None
        and visit.later_at <= now
        and bool(visit.client_id)
        and not (visit.refused and not visit.later_call_welcome)
        and not client_refused
    )
