"""The inactivity sweep: open episodes without contact for too long are closed."""

from __future__ import annotations

from datetime import timedelta

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
)
from casework_clients.domain import cards
from casework_clients.domain.cards import ClientCard
from casework_clients.domain.projects import SettingsSource
from casework_clients.domain.status import (
    SYSTEM_ACTOR,
    StatusMode,
    StatusSettings,
    apply_inactivity,
)
from casework_clients.use_cases._shared import _event, card_changed, status_changed_payload
from casework_common.errors import Conflict
from casework_common.unit_of_work import UnitOfWork


def sweep_inactivity(
    uow: UnitOfWork,
    repository: ClientRepository,
    settings: SettingsSource,
    *,
    batch: int = 500,
) -> int:
    """Close every open episode without contact for the configured days ("did not
    come") as of the unit's day, each card by the settings of its project in force that
    day. Idempotent: a closed episode is never selected again, and a card still
    contended after the shared retries is simply left to the next run."""
    if isinstance(settings, StatusSettings):
        return _sweep(uow, repository, settings, batch=batch)
    today = uow.now.date()
    projects = tuple(sorted(settings.projects))
    closed = _sweep(uow, repository, settings.default, batch=batch, other_than=projects)
    for project_id in projects:
        closed += _sweep(
            uow, repository, settings.for_project(project_id, today), batch=batch,
            project_id=project_id,
        )  # fmt: skip
    return closed


def _sweep(
    uow: UnitOfWork,
    repository: ClientRepository,
    settings: StatusSettings,
    *,
    batch: int,
    project_id: str | None = None,
    other_than: tuple[str, ...] = (),
) -> int:
    days = settings.inactivity_days
    if settings.mode is not StatusMode.AUTOMATIC or days is None:
        return 0
    now, today = uow.now, uow.now.date()

    def close(card: ClientCard) -> bool:
        change = apply_inactivity(card.status_history, settings, card.last_contact_on, today, now)
        if change.entry is None:
            return False
        updated = cards.with_status_change(card, change, now, SYSTEM_ACTOR)
        event = _event(
            events_pb2.ClientStatusChanged,
            card.organisation,
            uow.actor,
            status_changed_payload(updated, change.entry, card.status),
            uow.trace.carrier,
        )
        repository.save(updated, [event])
        return True

    closed = 0
    while True:
        due = repository.due_for_inactivity(
            today - timedelta(days=days), limit=batch, project_id=project_id,
            other_than=other_than,
        )  # fmt: skip
        changed_now = 0
        for card in due:
            try:
                changed_now += card_changed(repository, card.client_id, close, as_read=card)
            except Conflict:
                continue
        closed += changed_now
        if len(due) < batch or changed_now == 0:
            return closed
