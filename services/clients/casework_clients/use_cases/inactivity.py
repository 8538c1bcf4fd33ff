"""The inactivity sweep: open episodes without contact for too long are closed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
)
from casework_clients.domain import cards
from casework_clients.domain.projects import SettingsBook, SettingsSource
from casework_clients.domain.status import (
    SYSTEM_ACTOR,
    StatusMode,
    StatusSettings,
    apply_inactivity,
)
from casework_clients.use_cases._shared import _event, status_changed_payload
from casework_common.envelope import Actor
from casework_common.errors import (
    Conflict,
)


def sweep_inactivity(
    repository: ClientRepository,
    settings: SettingsSource,
    *,
    today: date,
    now: datetime,
    trace: Mapping[str, str],
    batch: int = 500,
) -> int:
    """Close every open episode without contact for the configured days ("did not
    come"), each card by the settings of its project in force today. Idempotent: a
    closed episode is never selected again, and a card changed meanwhile by someone
    else is simply left to the next run."""
    if isinstance(settings, StatusSettings):
        return _sweep(repository, settings, today=today, now=now, trace=trace, batch=batch)
    return sweep_book(repository, settings, today=today, now=now, trace=trace, batch=batch)


def sweep_book(
    repository: ClientRepository,
    book: SettingsBook,
    *,
    today: date,
    now: datetime,
    trace: Mapping[str, str],
    batch: int = 500,
) -> int:
    projects = tuple(sorted(book.projects))
    closed = _sweep(
        repository, book.default, today=today, now=now, trace=trace, batch=batch,
        other_than=projects,
    )  # fmt: skip
    for project_id in projects:
        closed += _sweep(
            repository, book.for_project(project_id, today), today=today, now=now,
            trace=trace, batch=batch, project_id=project_id,
        )  # fmt: skip
    return closed


def _sweep(
    repository: ClientRepository,
    settings: StatusSettings,
    *,
    today: date,
    now: datetime,
    trace: Mapping[str, str],
    batch: int,
    project_id: str | None = None,
    other_than: tuple[str, ...] = (),
) -> int:
    days = settings.inactivity_days
    if settings.mode is not StatusMode.AUTOMATIC or days is None:
        return 0
    closed = 0
    while True:
        due = repository.due_for_inactivity(
            today - timedelta(days=days), limit=batch, project_id=project_id,
            other_than=other_than,
        )  # fmt: skip
        changed_now = 0
        for card in due:
            change = apply_inactivity(
                card.status_history, settings, card.last_contact_on, today, now
            )
            if change.entry is None:
                continue
            updated = cards.with_status_change(card, change, now, SYSTEM_ACTOR)
            event = _event(
                events_pb2.ClientStatusChanged,
                card.organisation,
                Actor.system("clients.inactivity"),
                status_changed_payload(updated, change.entry, card.status),
                trace,
            )
            try:
                repository.save(updated, [event])
            except Conflict:
                continue
            changed_now += 1
        closed += changed_now
        if len(due) < batch or changed_now == 0:
            return closed
