"""Specification of clients' registration and status use cases, run against in-memory
repositories (no server): what is stored, which events go with it, what is audited,
and that a refused command changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from clients_fakes import InMemoryClientRepository
from clients_world import (
    NORTH,
    NOW,
    ORG,
    SOUTH,
    TODAY,
    TRACE,
    World,
    create_card,
    create_person,
    create_principal,
)

from casework_clients import services
from casework_clients.domain import commands
from casework_clients.domain.cards import ClientCard, Contract
from casework_clients.domain.status import ClientStatus, StatusSettings
from casework_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from casework_common.organisation import Organisation, parse
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork

ORGANISATION: Organisation = parse(
    {
        "id": ORG,
        "regions": [{"id": "reg-north", "name": "N"}, {"id": "reg-south", "name": "S"}],
        "centres": [
            {"id": NORTH, "region": "reg-north", "name": "North",
             "duty_worker": "w-anna", "manager": "w-anna"},
            {"id": SOUTH, "region": "reg-south", "name": "South",
             "duty_worker": "w-ilze", "manager": "w-ilze"},
        ],
        "workers": [
            {"id": "w-anna", "name": "Anna", "centres": [NORTH]},
            {"id": "w-ilze", "name": "Ilze", "centres": [SOUTH]},
        ],
        "client_types": ["senior"],
        "problem_types": ["housing"],
    }
)  # fmt: skip
# ------------------------------------------------------------------ registration


def test_registering_a_new_person_stores_the_card_emits_registered_and_audits_it() -> None:
    world = World()

    outcome = world.register(create_person())

    assert outcome.card is not None and outcome.candidates == []
    stored = world.cards().get(outcome.card.client_id)
    assert (stored.given_name, stored.status) == ("Jana", ClientStatus.APPLICANT.value)
    assert world.store.event_types() == ["clients.client.registered"]
    assert world.audit_actions() == [(stored.client_id, "create")]


def test_a_possible_duplicate_in_the_callers_centres_is_answered_and_nothing_is_stored() -> None:
    world = World()
    world.put(create_card(client_id="cl-1", given_name="Jana", family_name="Novakova",
                          date_of_birth=date(1950, 3, 14)))  # fmt: skip

    outcome = world.register(create_person())

    assert outcome.card is None
    assert [c.card.client_id for c in outcome.candidates] == ["cl-1"]
    assert set(world.store.cards) == {"cl-1"}
    assert world.store.events == []


def test_a_dismissed_candidate_no_longer_stops_the_registration() -> None:
    world = World()
    world.put(create_card(client_id="cl-1", given_name="Jana", family_name="Novak",
                          date_of_birth=date(1950, 3, 14)))  # fmt: skip

    outcome = world.register(create_person(), dismissed=frozenset({"cl-1"}))

    assert outcome.card is not None
    assert set(world.store.cards) == {"cl-1", outcome.card.client_id}


def test_the_same_person_in_another_centre_is_registered_here_and_that_centre_is_asked() -> None:
    world = World()
    world.put(create_card(client_id="cl-south", given_name="Jana", family_name="Nováková",
                          date_of_birth=date(1950, 3, 14), centre_ids=(SOUTH,)))  # fmt: skip

    outcome = world.register(create_person())

    assert outcome.card is not None and outcome.candidates == []
    assert outcome.card.duplicate_of == "cl-south"
    (request,) = world.store.sharing.values()
    assert (request.client_id, request.requester_client_id) == ("cl-south", outcome.card.client_id)
    assert world.store.event_types() == ["clients.client.registered", "clients.sharing.requested"]


def test_a_registration_with_an_email_the_shared_rule_refuses_stores_nothing() -> None:
    world = World()
    command = commands.RegisterClient(
        given_name="Jana", family_name="Nováková", date_of_birth="1950-03-14",
        phone="", email="jana@", address="", centre_id=NORTH, client_type="senior",
        problem_type="",
    )  # fmt: skip

    with pytest.raises(InvalidArgument) as refused:
        commands.new_person(command, ORGANISATION, ORG, TODAY)

    assert [e.field for e in refused.value.errors] == ["email"]
    assert world.store.cards == {} and world.store.events == []


# ------------------------------------------------------------------ status


def test_a_recorded_status_is_stored_with_its_event_and_audited() -> None:
    world = World()
    world.put(create_card(client_id="cl-1"))

    card = world.record_status("cl-1", "service_user")

    assert card.status == "service_user"
    assert world.cards().get("cl-1").status == "service_user"
    assert world.store.event_types() == ["clients.client.status_changed"]
    assert world.audit_actions() == [("cl-1", "status")]


def test_closing_an_episode_without_a_reason_is_refused_and_changes_nothing() -> None:
    world = World()
    before = world.put(create_card(client_id="cl-1"))

    with pytest.raises(InvalidArgument) as refused:
        world.record_status("cl-1", "rejected")

    assert "reason" in {e.field for e in refused.value.errors}
    assert world.cards().get("cl-1") == before
    assert world.store.events == []


def test_a_card_of_another_centre_is_not_found_and_keeps_its_status() -> None:
    world = World()
    before = world.put(create_card(client_id="cl-south", centre_ids=(SOUTH,)))

    with pytest.raises(NotFound):
        world.record_status("cl-south", "service_user")

    assert world.store.cards["cl-south"] == before
    assert world.store.events == [] and world.store.audit == []


def test_a_merged_card_takes_no_status_its_survivor_does() -> None:
    world = World()
    merged = world.put(create_card(client_id="cl-1"))
    world.store.cards["cl-1"] = replace(merged, merged_into="cl-2")

    with pytest.raises(FailedPrecondition, match="merged into cl-2"):
        world.record_status("cl-1", "service_user")

    assert world.store.events == []


def test_only_a_closed_episode_may_be_archived_and_then_the_card_is() -> None:
    world = World()
    world.put(create_card(client_id="cl-1"))

    def archive() -> ClientCard:
        return services.archive_client(
            "cl-1",
            world.unit(),
            world.cards(),
        )

    with pytest.raises(FailedPrecondition, match="episode is closed"):
        archive()
    world.record_status("cl-1", "rejected", reason=world.settings.rejection_reasons[0])

    assert archive().archived
    assert world.store.event_types()[-1] == "clients.client.archived"


def test_archiving_needs_a_manager() -> None:
    world = World()
    world.put(create_card(client_id="cl-1"))
    world.principal = create_principal(roles=frozenset({"case_worker"}))

    with pytest.raises(PermissionDenied):
        services.archive_client(
            "cl-1",
            world.unit(),
            world.cards(),
        )


def test_a_signed_contract_makes_the_applicant_a_service_user_in_automatic_mode() -> None:
    world = World()
    world.put(create_card(client_id="cl-1"))

    outcome = services.record_worker_contract(
        "cl-1", Contract("k-1", TODAY, None, NOW), world.unit(), world.cards(),
        settings=world.settings,
    )  # fmt: skip

    assert outcome.recorded and outcome.status_changed
    assert outcome.card.status == "service_user"
    assert world.store.event_types() == [
        "clients.client.contract_recorded",
        "clients.client.status_changed",
    ]
    assert world.audit_actions() == [("cl-1", "contract")]


def test_a_contract_valid_until_before_it_was_signed_is_refused_and_nothing_is_kept() -> None:
    world = World()
    before = world.put(create_card(client_id="cl-1"))

    with pytest.raises(InvalidArgument) as refused:
        services.record_worker_contract(
            "cl-1", Contract("k-1", TODAY, TODAY - timedelta(days=1), NOW), world.unit(),
            world.cards(), settings=world.settings,
        )  # fmt: skip

    assert [e.field for e in refused.value.errors] == ["valid_until"]
    assert world.cards().get("cl-1") == before
    assert world.store.events == []


def test_a_contract_deferred_by_a_workers_entry_that_day_is_applied_by_the_next_days_run() -> None:
    world = World(StatusSettings(use_approached=True))
    world.put(create_card(client_id="cl-1"))
    world.record_status("cl-1", "applicant")  # the worker's entry decides today
    outcome = services.record_worker_contract(
        "cl-1", Contract("k-1", TODAY, None, NOW), world.unit(), world.cards(),
        settings=world.settings,
    )  # fmt: skip
    assert outcome.recorded and not outcome.status_changed
    system = InMemoryClientRepository(world.store, ORG, None)

    def run(at: datetime) -> int:
        timer = UnitOfWork(SystemActor("clients.contracts"), now=at, trace=Trace(TRACE))
        return services.apply_waiting_contracts(timer, system, world.settings)

    same_day = run(NOW)
    assert same_day == 0
    tomorrow = NOW + timedelta(days=1)
    assert run(tomorrow) == 1
    card = world.cards().get("cl-1")
    assert card.status == "service_user"
    assert card.status_history.current_entry is not None
    assert card.status_history.current_entry.effective_on == TODAY + timedelta(days=1)
    # Idempotent: the next run finds nothing waiting.
    assert run(tomorrow) == 0
