"""The projects and programmes a client is enrolled in, over time and at once.

Seed 000: the project or programme is chosen together with the client; a person may
take part in several of the organisation's programmes, one after another or side by
side. A card keeps every enrolment: the project, the first day (``since``), the day it
ended (``until``, the enrolment covers ``since`` up to the day before), who enrolled
the client, who ended it and why. Enrolments are only appended and ended, never
rewritten, so the card shows which programmes the person was in when.

Which project's settings govern the status (seed 001 sets them per project): the card
has one status, so it is kept under one *lead* enrolment. The lead is the open
enrolment a worker designated when enrolling (``lead``), else the open enrolment
recorded first; it stays the lead until it ends or a worker designates another, so
enrolling in a second programme never changes the rules under which the card's status
moves. When the lead ends, the open enrolment recorded first takes over; with no
enrolment open the organisation's default settings apply, exactly as for a card never
enrolled. A card enrolled in one project behaves as it always did.

Pure domain code: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime

from casework_common import values
from casework_common.errors import FieldError, raise_if_any

__all__ = [
    "REASON_LIMIT",
    "EndEnrolment",
    "EnrolClient",
    "Enrolment",
    "EnrolmentChange",
    "EnrolmentConflict",
    "EnrolmentRuleViolation",
    "as_recorded",
    "end",
    "end_request_of",
    "enrol",
    "enrol_request_of",
    "lead_of",
    "merged",
    "open_projects",
]

REASON_LIMIT = 500


class EnrolmentRuleViolation(ValueError):
    """Input no enrolment can be made of (the caller's request is wrong)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class EnrolmentConflict(EnrolmentRuleViolation):
    """A well-formed request the card's enrolments as they stand forbid."""


@dataclass(frozen=True)
class Enrolment:
    """One enrolment of a card in a project or programme."""

    project_id: str
    since: date
    enrolled_by: str
    enrolled_at: datetime
    #: The day it ended (not enrolled from that day on); None while open.
    until: date | None = None
    end_reason: str = ""
    ended_by: str = ""
    #: The one open enrolment whose project's settings govern the card's status.
    lead: bool = False

    @property
    def open(self) -> bool:
        return self.until is None


def lead_of(enrolments: tuple[Enrolment, ...]) -> Enrolment | None:
    """The lead enrolment: the open one flagged lead, else the open one recorded first;
    None when none is open."""
    opened = [e for e in enrolments if e.open]
    flagged = [e for e in opened if e.lead]
    if flagged:
        return flagged[0]
    return opened[0] if opened else None


def open_projects(enrolments: tuple[Enrolment, ...]) -> tuple[str, ...]:
    """The projects the card is enrolled in now, in recording order."""
    return tuple(e.project_id for e in enrolments if e.open)


def _with_lead(enrolments: tuple[Enrolment, ...], designated: int | None) -> tuple[Enrolment, ...]:
    """Exactly one open enrolment flagged lead (the designated one, else the one that
    led before, else the open one recorded first); ended ones never lead."""
    if designated is None:
        current = lead_of(enrolments)
        designated = next((n for n, e in enumerate(enrolments) if e is current), None)
    return tuple(replace(e, lead=(n == designated and e.open)) for n, e in enumerate(enrolments))


def as_recorded(
    enrolments: tuple[Enrolment, ...],
    project_id: str,
    registered_at: datetime,
    registered_by: str,
) -> tuple[Enrolment, ...]:
    """The card's enrolments. A card registered into a project before enrolments were
    kept (only its project known) shows that project as one open lead enrolment from
    the day the card was registered."""
    if enrolments or not project_id:
        return enrolments
    return (
        Enrolment(
            project_id=project_id,
            since=registered_at.date(),
            enrolled_by=registered_by,
            enrolled_at=registered_at,
            lead=True,
        ),
    )


def merged(
    survivor: tuple[Enrolment, ...], absorbed: tuple[Enrolment, ...]
) -> tuple[Enrolment, ...]:
    """The enrolments of two cards of one person made one: the survivor's as they are,
    then each of the absorbed card's that no enrolment of the survivor in the same
    project overlaps (the same enrolment recorded twice is kept once, the survivor's).
    The survivor's lead stays the lead; an absorbed enrolment leads only when the
    survivor has none open, by the usual rule (the open one recorded first)."""
    kept = [
        replace(e, lead=False)
        for e in absorbed
        if not any(s.project_id == e.project_id and _overlap(s, e) for s in survivor)
    ]
    return _with_lead((*survivor, *kept), None)


def _overlap(a: Enrolment, b: Enrolment) -> bool:
    """Whether two enrolments share a day (an ended one is over on its ``until``)."""
    a_ends = a.until or date.max
    b_ends = b.until or date.max
    return a.since < b_ends and b.since < a_ends


@dataclass(frozen=True)
class EnrolmentChange:
    """The card's enrolments after a command, and what changed (None: nothing, the
    same request was made before)."""

    enrolments: tuple[Enrolment, ...]
    changed: Enrolment | None
    explanation: str = ""

    @property
    def lead_project_id(self) -> str:
        lead = lead_of(self.enrolments)
        return lead.project_id if lead is not None else ""


def enrol(
    enrolments: tuple[Enrolment, ...],
    project_id: str,
    since: date,
    *,
    lead: bool,
    known_projects: Collection[str],
    actor: str,
    now: datetime,
) -> EnrolmentChange:
    """Enrol the card in a project from ``since`` (today or before). Repeating an
    enrolment already made (same project, same day, and the lead flag already so)
    changes nothing. A project the organisation does not have, a day in the future,
    an open enrolment in the project from another day, or a day inside an ended
    enrolment of the project are refused."""
    if project_id not in known_projects:
        raise EnrolmentRuleViolation("no such project; see ListProjects", "project_id")
    if since > now.date():
        raise EnrolmentRuleViolation(
            f"is in the future (today is {now.date().isoformat()})", "since"
        )
    same = [e for e in enrolments if e.project_id == project_id]
    for existing in same:
        if existing.open:
            if existing.since != since:
                raise EnrolmentConflict(
                    f"already enrolled in {project_id} since {existing.since.isoformat()}; "
                    "end that enrolment first",
                    "since",
                )
            if lead and not existing.lead:
                raise EnrolmentConflict(
                    f"already enrolled in {project_id} since {existing.since.isoformat()}, "
                    "not as the lead; the lead is designated when enrolling",
                    "lead",
                )
            return EnrolmentChange(enrolments, None)
        assert existing.until is not None
        if since < existing.until:
            raise EnrolmentConflict(
                f"enrolled in {project_id} from {existing.since.isoformat()} until "
                f"{existing.until.isoformat()}; a new enrolment starts on "
                f"{existing.until.isoformat()} or later",
                "since",
            )
    added = Enrolment(project_id, since, actor, now)
    together = (*enrolments, added)
    after = _with_lead(together, len(enrolments) if lead else None)
    made = after[-1]
    how = " as the lead (its settings govern the status)" if made.lead else ""
    return EnrolmentChange(after, made, f"enrolled in {project_id} from {since.isoformat()}{how}")


def end(
    enrolments: tuple[Enrolment, ...],
    project_id: str,
    until: date,
    reason: str,
    *,
    known_projects: Collection[str],
    actor: str,
    now: datetime,
) -> EnrolmentChange:
    """End the open enrolment in a project on ``until`` (today or before, not before it
    began). Ending it again on the same day for the same reason changes nothing; a
    project the organisation does not have, no reason, or no open enrolment in the
    project is refused."""
    if project_id not in known_projects:
        raise EnrolmentRuleViolation("no such project; see ListProjects", "project_id")
    reason = " ".join((reason or "").split())
    if not reason:
        raise EnrolmentRuleViolation("say why the enrolment ended", "reason")
    if len(reason) > REASON_LIMIT:
        raise EnrolmentRuleViolation(f"at most {REASON_LIMIT} characters", "reason")
    if until > now.date():
        raise EnrolmentRuleViolation(
            f"is in the future (today is {now.date().isoformat()})", "until"
        )
    same = [n for n, e in enumerate(enrolments) if e.project_id == project_id]
    opened = [n for n in same if enrolments[n].open]
    if not opened:
        if same and _ended_as(enrolments[same[-1]], until, reason):
            return EnrolmentChange(enrolments, None)
        raise EnrolmentConflict(f"the client is not enrolled in {project_id} now", "project_id")
    at = opened[0]
    current = enrolments[at]
    if until < current.since:
        raise EnrolmentRuleViolation(
            f"is before the enrolment began ({current.since.isoformat()})", "until"
        )
    ended = replace(current, until=until, end_reason=reason, ended_by=actor, lead=False)
    after = _with_lead((*enrolments[:at], ended, *enrolments[at + 1 :]), None)
    lead = lead_of(after)
    then = (
        f"; {lead.project_id} now leads" if current.lead and lead is not None
        else "; no enrolment open: the organisation's default settings govern the status"
        if current.lead else ""
    )  # fmt: skip
    return EnrolmentChange(
        after, after[at], f"enrolment in {project_id} ended on {until.isoformat()}: {reason}{then}"
    )


def _ended_as(enrolment: Enrolment, until: date, reason: str) -> bool:
    return enrolment.until == until and enrolment.end_reason == reason


# ------------------------------------------------------------------ requests


@dataclass(frozen=True)
class EnrolClient:
    """A worker's EnrolClient request as received."""

    client_id: str
    project_id: str
    since: str
    lead: bool


@dataclass(frozen=True)
class EndEnrolment:
    """A worker's EndEnrolment request as received."""

    client_id: str
    project_id: str
    until: str
    reason: str


def _day(raw: str, field: str, today: date, errors: list[FieldError]) -> date:
    if not raw.strip():
        return today
    parsed = values.iso_day(raw.strip())
    if parsed is None:
        errors.append(FieldError(field, "must be a date YYYY-MM-DD"))
        return today
    return parsed


def _required(fields: dict[str, str], errors: list[FieldError]) -> None:
    errors += [FieldError(name, "is required") for name, value in fields.items() if not value]


def enrol_request_of(command: EnrolClient, today: date) -> date:
    """The first day enrolled (empty: today); INVALID_ARGUMENT naming each field the
    request got wrong."""
    errors: list[FieldError] = []
    _required({"client_id": command.client_id, "project_id": command.project_id}, errors)
    since = _day(command.since, "since", today, errors)
    raise_if_any(errors)
    return since


def end_request_of(command: EndEnrolment, today: date) -> date:
    """The day the enrolment ended (empty: today); INVALID_ARGUMENT naming each field
    the request got wrong."""
    errors: list[FieldError] = []
    _required({"client_id": command.client_id, "project_id": command.project_id}, errors)
    until = _day(command.until, "until", today, errors)
    raise_if_any(errors)
    return until
