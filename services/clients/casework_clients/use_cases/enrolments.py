"""Enrolling a client in projects and programmes, and ending an enrolment."""

from __future__ import annotations

from collections.abc import Collection

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import ClientRepository
from casework_clients.domain import cards, enrolments
from casework_clients.domain.cards import ClientCard
from casework_clients.domain.enrolments import (
    EnrolmentChange,
    EnrolmentConflict,
    EnrolmentRuleViolation,
)
from casework_clients.domain.projects import SettingsBook, SettingsSource
from casework_clients.use_cases._shared import live_card, save_change
from casework_common.errors import (
    CaseworkError,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
)
from casework_common.unit_of_work import UnitOfWork


def _refused(exc: EnrolmentRuleViolation) -> CaseworkError:
    if isinstance(exc, EnrolmentConflict):
        return FailedPrecondition(f"{exc.field}: {exc.message}", field=exc.field)
    return InvalidArgument([FieldError(exc.field, exc.message)])


def _projects(settings: SettingsSource) -> Collection[str]:
    """The organisation's projects (one set of settings for everything knows none)."""
    return settings.projects if isinstance(settings, SettingsBook) else ()


def _saved(
    card: ClientCard,
    change: EnrolmentChange,
    message: type[events_pb2.ClientEnrolled] | type[events_pb2.EnrolmentEnded],
    facts: dict[str, object],
    uow: UnitOfWork,
    repository: ClientRepository,
    action: str,
) -> ClientCard:
    principal, now = uow.principal, uow.now
    if change.changed is None:
        # Nothing changed, but the card is answered: a read like any other.
        repository.audit(card.client_id, principal.subject, action, now, uow.trace.trace_id)
        return card
    # A card registered into a project before enrolments were kept gets that
    # enrolment written out with the first change.
    updated = cards.with_enrolments(card, change, now, principal.subject)
    payload = {
        "project_id": change.changed.project_id,
        "since": change.changed.since.isoformat(),
        **facts,
        "lead_project_id": change.lead_project_id,
        "region_id": card.region_id,
        "centre_ids": list(card.centre_ids),
    }
    return save_change(card, updated, message, payload, action, uow, repository)


def enrol_client(
    command: enrolments.EnrolClient,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    settings: SettingsSource,
) -> ClientCard:
    """Enrol a card of the caller's centres in a project; the same request again
    changes nothing (and stores no event)."""
    since = enrolments.enrol_request_of(command, uow.now.date())
    card = live_card(repository, command.client_id.strip())
    try:
        change = enrolments.enrol(
            card.enrolment_record, command.project_id.strip(), since, lead=command.lead,
            known_projects=_projects(settings), actor=uow.principal.subject, now=uow.now,
        )  # fmt: skip
    except EnrolmentRuleViolation as exc:
        raise _refused(exc) from None
    made = change.changed
    facts: dict[str, object] = (
        {"enrolled_by": made.enrolled_by, "lead": made.lead} if made is not None else {}
    )
    return _saved(card, change, events_pb2.ClientEnrolled, facts, uow, repository, "enrol")


def end_enrolment(
    command: enrolments.EndEnrolment,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    settings: SettingsSource,
) -> ClientCard:
    """End a card's open enrolment in a project; the same request again changes
    nothing."""
    until = enrolments.end_request_of(command, uow.now.date())
    card = live_card(repository, command.client_id.strip())
    try:
        change = enrolments.end(
            card.enrolment_record, command.project_id.strip(), until, command.reason,
            known_projects=_projects(settings), actor=uow.principal.subject, now=uow.now,
        )  # fmt: skip
    except EnrolmentRuleViolation as exc:
        raise _refused(exc) from None
    ended = change.changed
    facts: dict[str, object] = (
        {
            "until": until.isoformat(),
            "reason": ended.end_reason,
            "ended_by": ended.ended_by,
        }
        if ended is not None
        else {}
    )
    return _saved(card, change, events_pb2.EnrolmentEnded, facts, uow, repository, "enrolment-end")
