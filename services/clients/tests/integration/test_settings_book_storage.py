"""The projects' status settings as one process keeps them between events, against a
real database (the `mongo_db` fixture: the development wire server, or whatever
MONGO_URI names): an administrator's change, made in any process, governs the very
next decision."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from casework_clients import services
from casework_clients.adapters.repository import ClientRepository, ProjectRepository
from casework_clients.bootstrap import Clients
from casework_clients.domain.cards import Contract, NewPerson, new_card
from casework_clients.domain.status import StatusSettings
from casework_clients.use_cases.projects import (
    SetProjectSettings,
    SettingsValues,
    set_project_settings,
)
from casework_common.auth import Principal
from casework_common.envelope import Actor
from casework_common.unit_of_work import SystemActor, UnitOfWork

pytestmark = pytest.mark.usefixtures("mongo_db")

ORG = "org-demo"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
ADMIN = Principal(ORG, "w-admin", "worker", frozenset(), frozenset({"administrator"}), frozenset())


def administrator_sets(project_id: str, mode: str) -> None:
    """What SetProjectSettings does in the api process: a process of its own, with
    its own repository (never the events process's wiring)."""
    values = SettingsValues(mode, False, 0, False, (), ())
    command = SetProjectSettings(project_id, f"Project {project_id}", values, NOW.date(), 0, "")
    set_project_settings(command, UnitOfWork(ADMIN, now=NOW), ProjectRepository(ORG))


def events_process() -> Clients:
    # The wiring an events process builds once (bootstrap), with the file's default.
    settings: Any = None
    return Clients(settings=settings, clock=lambda: NOW, status_settings={ORG: StatusSettings()})


def card_in(project_id: str, family: str) -> str:
    person = NewPerson(ORG, "Jana", family, date(1950, 1, 1), "", "", "", "reg-north",
                       "ctr-north-town", "senior", "", project_id=project_id)  # fmt: skip
    card = new_card(person, client_id=f"cl-{family}", settings=StatusSettings(),
                    actor="w-anna", now=NOW)  # fmt: skip
    return ClientRepository(ORG, None).save(card, []).client_id


def contract_signed(app: Clients, client_id: str) -> services.ContractOutcome:
    """What the events process does on documents.contract.signed.v1."""
    return services.record_contract_signed(
        client_id, Contract(f"k-{client_id}", NOW.date(), None, NOW),
        UnitOfWork(SystemActor("clients"), now=NOW), ClientRepository(ORG, None),
        settings=app.settings_book(ORG), by=Actor("worker", "w-anna"),
    )  # fmt: skip


def test_an_administrators_change_governs_the_very_next_event_of_the_same_process() -> None:
    administrator_sets("prj-housing", "manual")
    app = events_process()
    kept = contract_signed(app, card_in("prj-housing", "Malá"))
    assert kept.recorded and not kept.status_changed  # manual: a worker decides

    administrator_sets("prj-housing", "automatic")
    moved = contract_signed(app, card_in("prj-housing", "Velká"))
    assert moved.status_changed and moved.card.status == "service_user"

    administrator_sets("prj-housing", "manual")
    again = contract_signed(app, card_in("prj-housing", "Stredná"))
    assert again.recorded and not again.status_changed


def test_a_project_defined_after_the_book_was_kept_governs_the_next_event() -> None:
    app = events_process()
    first = contract_signed(app, card_in("prj-debt", "Nová"))
    assert first.status_changed  # no such project yet: the automatic default

    administrator_sets("prj-debt", "manual")
    second = contract_signed(app, card_in("prj-debt", "Stará"))
    assert second.recorded and not second.status_changed


def test_an_unchanged_book_is_kept_between_events() -> None:
    administrator_sets("prj-housing", "manual")
    app = events_process()
    book = app.settings_book(ORG)

    assert app.settings_book(ORG) is book  # not read and built again
    administrator_sets("prj-housing", "automatic")
    changed = app.settings_book(ORG)
    assert changed is not book
    assert changed.for_project("prj-housing", NOW.date()).mode.value == "automatic"
    assert app.settings_book(ORG) is changed
