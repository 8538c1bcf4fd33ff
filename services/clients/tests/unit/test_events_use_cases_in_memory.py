"""Specification of the use cases clients' events process runs (other services' events
and its timers), against in-memory repositories (no server, no broker): each runs in a
unit of work of the service itself, so its events name the service (or the actor the
event named) and carry the unit's trace; a redelivered event changes nothing more; a
change that loses a race is worked out again on the card as the winner left it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from clients_fakes import ClientsStore, InMemoryClientRepository, InMemoryFamilyRepository
from clients_world import NORTH, NOW, ORG, TODAY, TRACE, World, create_card

from casework_clients import services
from casework_clients.domain.cards import (
    ClientCard,
    Consultation,
    Contract,
    Outcome,
    ReferralFacts,
)
from casework_clients.domain.contract_end import UnknownContract
from casework_clients.domain.families import Family, FamilyMember
from casework_clients.domain.status import ClientStatus, StatusSettings
from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import InvalidArgument, NotFound

JANA_BORN = date(1950, 3, 14)


def create_facts(**overrides: Any) -> ReferralFacts:
    """What intake's referral.submitted event says of Jana, referred to the north centre."""
    fields: dict[str, Any] = {
        "referral_id": "ref-1",
        "organisation": ORG,
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": JANA_BORN,
        "phone": "+421 900 555 111",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_id": NORTH,
        "client_type": "senior",
        "problem_type": "housing",
        "channel": "partner_referral",
        "submitted_at": NOW,
    }
    fields.update(overrides)
    return ReferralFacts(**fields)


def create_consultation(**overrides: Any) -> Consultation:
    fields: dict[str, Any] = {
        "consultation_id": "cons-1",
        "organisation": ORG,
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": JANA_BORN,
        "phone": "",
        "email": "",
        "topic": "rent arrears",
        "duration_minutes": 15,
        "worker_id": "w-anna",
        "channel": "phone",
        "centre_id": NORTH,
        "recorded_at": NOW - timedelta(days=1),
    }
    fields.update(overrides)
    return Consultation(**fields)


def jana(world: World) -> ClientCard:
    """Jana's card, registered by a worker a month ago."""
    return world.put(
        create_card(
            client_id="cl-jana", given_name="Jana", family_name="Nováková", date_of_birth=JANA_BORN
        )
    )


def refer(world: World, facts: ReferralFacts, repository: Any = None) -> tuple[ClientCard, Outcome]:
    return services.register_from_referral(
        facts,
        world.events_unit(),
        repository if repository is not None else world.every_card(),
        proposals_repo=world.every_proposal(),
        settings=world.settings,
        consultations=world.consultations(),
    )


def by_service(event: EventEnvelope, component: str = "clients") -> bool:
    return event.actor == Actor.system(component) and dict(event.trace) == TRACE


# ------------------------------------------------------------------ referrals


def test_a_referral_of_an_unknown_person_registers_a_card_named_by_the_service() -> None:
    world = World()

    card, outcome = refer(world, create_facts())

    assert outcome is Outcome.REGISTERED
    assert card.client_id == "cl-new-1"  # the unit's id factory
    stored = world.store.cards[card.client_id]
    assert (stored.given_name, stored.status, stored.referral_ids) == (
        "Jana",
        "applicant",
        ("ref-1",),
    )
    [registered] = world.store.events
    assert registered.type == "clients.client.registered"
    assert by_service(registered)
    assert (registered.payload["referral_id"], registered.payload["match"]) == ("ref-1", "none")
    # The events process audits nothing: no worker read or changed the card.
    assert world.store.audit == []


def test_a_referral_of_the_exact_same_person_leaves_the_card_untouched_and_proposes_it() -> None:
    world = World()
    before = jana(world)

    card, outcome = refer(world, create_facts(given_name="JANA", family_name="Novakova"))

    assert outcome is Outcome.PROPOSED
    assert card == before and world.store.cards[before.client_id] == before
    [proposal] = world.store.proposals.values()
    assert (proposal.client_id, proposal.referral.referral_id, proposal.match, proposal.score) == (
        before.client_id, "ref-1", "exact", 100,
    )  # fmt: skip
    # The referral's phone waits on the proposal, unverified, never on the card.
    assert proposal.unverified.phone == "+421 900 555 111" and before.phone != "+421 900 555 111"
    [proposed] = world.store.events
    assert proposed.type == "clients.match.proposed" and by_service(proposed)
    assert proposed.payload["client_id"] == before.client_id
    assert set(world.store.cards) == {before.client_id}


def test_a_referral_delivered_again_proposes_nothing_more() -> None:
    world = World()
    before = jana(world)
    refer(world, create_facts())
    events = list(world.store.events)

    card, outcome = refer(world, create_facts())

    assert outcome is Outcome.UNCHANGED and card == before
    assert len(world.store.proposals) == 1
    assert world.store.events == events


class RegisteredMeanwhile(InMemoryClientRepository):
    """Another consumer stores the same person's card between this one's look-up and
    its write (the identity's unique key then refuses the second card)."""

    def __init__(self, store: ClientsStore, rival: ClientCard) -> None:
        super().__init__(store, ORG, None)
        self._rival: ClientCard | None = rival

    def by_identity(self, key: str) -> ClientCard | None:
        return None if self._rival else super().by_identity(key)

    def save(self, card: ClientCard, events: list[EventEnvelope]) -> ClientCard:
        if self._rival is not None:
            self._store.cards[self._rival.client_id] = self._rival
            self._rival = None
        return super().save(card, events)


def test_a_referral_that_loses_the_race_to_register_its_person_becomes_a_proposal() -> None:
    world = World()
    rival = jana(world)
    del world.store.cards[rival.client_id]  # not there yet when the referral looks
    repository = RegisteredMeanwhile(world.store, rival)

    card, outcome = refer(world, create_facts(), repository)

    assert outcome is Outcome.PROPOSED and card == rival
    assert set(world.store.cards) == {rival.client_id}
    assert [e.type for e in world.store.events] == ["clients.match.proposed"]


# ------------------------------------------------------------------ contracts


def test_a_contract_signed_in_documents_makes_the_applicant_a_service_user() -> None:
    world = World()
    before = jana(world)
    signer = Actor("worker", "w-petr")

    outcome = services.record_contract_signed(
        before.client_id, Contract("k-1", TODAY, None, NOW), world.events_unit(),
        world.every_card(), settings=world.settings, by=signer,
    )  # fmt: skip

    assert outcome.recorded and outcome.status_changed
    stored = world.store.cards[before.client_id]
    assert stored.status == ClientStatus.SERVICE_USER.value
    assert [c.contract_id for c in stored.contracts] == ["k-1"]
    assert [e.type for e in world.store.events] == [
        "clients.client.contract_recorded",
        "clients.client.status_changed",
    ]
    # The events name who signed the contract, and carry the unit's trace.
    assert {(e.actor, tuple(e.trace.items())) for e in world.store.events} == {
        (signer, tuple(TRACE.items()))
    }
    assert world.store.audit == []


def test_a_contract_signed_event_delivered_again_changes_nothing() -> None:
    world = World()
    before = jana(world)

    def sign() -> services.ContractOutcome:
        return services.record_contract_signed(
            before.client_id, Contract("k-1", TODAY, None, NOW), world.events_unit(),
            world.every_card(), settings=world.settings, by=Actor("worker", "w-petr"),
        )  # fmt: skip

    first = sign()
    events = list(world.store.events)
    again = sign()

    assert not again.recorded and again.card == first.card
    assert world.store.events == events


def test_a_contract_for_an_unknown_client_or_signed_tomorrow_is_refused_and_nothing_kept() -> None:
    world = World()
    before = jana(world)

    with pytest.raises(NotFound):
        services.record_contract_signed(
            "cl-nobody", Contract("k-1", TODAY, None, NOW), world.events_unit(),
            world.every_card(), settings=world.settings,
        )  # fmt: skip
    with pytest.raises(InvalidArgument) as refused:
        services.record_contract_signed(
            before.client_id, Contract("k-1", TODAY + timedelta(days=1), None, NOW),
            world.events_unit(), world.every_card(), settings=world.settings,
        )  # fmt: skip

    assert [e.field for e in refused.value.errors] == ["signed_on"]
    assert world.store.cards[before.client_id] == before
    assert world.store.events == []


def test_a_contract_ended_in_documents_is_ended_on_the_card_once() -> None:
    world = World()
    before = jana(world)
    services.record_contract_signed(
        before.client_id, Contract("k-1", TODAY - timedelta(days=10), None, NOW),
        world.events_unit(), world.every_card(), settings=world.settings,
    )  # fmt: skip
    ended = services.ContractEnded(before.client_id, "k-1", TODAY, "moved away", "w-petr")

    def end(command: services.ContractEnded) -> bool:
        return services.record_contract_ended(command, world.events_unit(), world.every_card())

    assert end(ended) is True
    version = world.store.cards[before.client_id].version
    assert end(ended) is False
    assert world.store.cards[before.client_id].version == version
    with pytest.raises(UnknownContract):
        end(replace(ended, contract_id="k-unknown"))


def test_waiting_contracts_are_applied_by_the_timer_in_its_own_name() -> None:
    world = World(StatusSettings(use_approached=True))
    before = jana(world)
    world.record_status(before.client_id, "applicant")  # the worker's entry decides today
    services.record_contract_signed(
        before.client_id, Contract("k-1", TODAY, None, NOW), world.events_unit(),
        world.every_card(), settings=world.settings, by=Actor("worker", "w-petr"),
    )  # fmt: skip
    world.store.events.clear()

    tomorrow = NOW + timedelta(days=1)
    applied = services.apply_waiting_contracts(
        world.events_unit("clients.contracts", tomorrow), world.every_card(), world.settings
    )

    assert applied == 1
    assert world.status_of(before.client_id) is ClientStatus.SERVICE_USER
    [changed] = world.store.events
    assert changed.type == "clients.client.status_changed"
    assert by_service(changed, "clients.contracts")


# ------------------------------------------------------------------ inactivity


def silent_and_in_touch(world: World) -> tuple[ClientCard, ClientCard]:
    """Two applicants: one silent for 30 days, one in contact five days ago."""
    silent = world.put(create_card(client_id="cl-silent"))
    in_touch = world.put(
        create_card(
            client_id="cl-in-touch", given_name="Ivan", family_name="Horák",
            date_of_birth=date(1972, 9, 1),
        )
    )  # fmt: skip
    world.store.cards[in_touch.client_id] = replace(
        in_touch, last_contact_on=TODAY - timedelta(days=5)
    )
    return silent, in_touch


def sweep(world: World, repository: InMemoryClientRepository | None = None) -> int:
    return services.sweep_inactivity(
        world.events_unit("clients.inactivity"), repository or world.every_card(), world.settings
    )


def test_the_inactivity_sweep_closes_silent_episodes_once_in_its_own_name() -> None:
    world = World(StatusSettings(inactivity_days=20))
    silent, in_touch = silent_and_in_touch(world)

    assert sweep(world) == 1
    assert sweep(world) == 0  # a closed episode is never selected again

    closed = world.store.cards[silent.client_id]
    assert closed.status == ClientStatus.REJECTED.value
    assert closed.status_entries[-1].reason == "did_not_come"
    assert world.status_of(in_touch.client_id) is ClientStatus.APPLICANT
    [changed] = world.store.events
    assert changed.type == "clients.client.status_changed"
    assert changed.payload["client_id"] == silent.client_id
    assert by_service(changed, "clients.inactivity")


def test_the_inactivity_sweep_does_nothing_without_the_rule() -> None:
    world = World(StatusSettings(inactivity_days=None))
    silent_and_in_touch(world)

    assert sweep(world) == 0
    assert world.store.events == []


class WrittenMeanwhile(InMemoryClientRepository):
    """A worker's change lands on the card between the sweep's read and its write."""

    def __init__(self, store: ClientsStore, **change: Any) -> None:
        super().__init__(store, ORG, None)
        self._change: dict[str, Any] | None = change

    def save(self, card: ClientCard, events: list[EventEnvelope]) -> ClientCard:
        if self._change is not None:
            stored = self._store.cards[card.client_id]
            self._store.cards[card.client_id] = replace(
                stored, **self._change, version=stored.version + 1
            )
            self._change = None
        return super().save(card, events)


def test_a_contact_recorded_while_the_sweep_looked_keeps_the_episode_open() -> None:
    world = World(StatusSettings(inactivity_days=20))
    silent = world.put(create_card(client_id="cl-silent"))

    closed = sweep(world, WrittenMeanwhile(world.store, last_contact_on=TODAY))

    # The lost write is worked out again on the card as the worker left it.
    assert closed == 0
    card = world.store.cards[silent.client_id]
    assert (card.status, card.last_contact_on) == (ClientStatus.APPLICANT.value, TODAY)
    assert world.store.events == []


def test_another_change_while_the_sweep_looked_is_kept_beside_the_closure() -> None:
    world = World(StatusSettings(inactivity_days=20))
    silent = world.put(create_card(client_id="cl-silent"))

    closed = sweep(world, WrittenMeanwhile(world.store, address="Lake road 7"))

    assert closed == 1
    card = world.store.cards[silent.client_id]
    assert (card.status, card.address) == (ClientStatus.REJECTED.value, "Lake road 7")


# ------------------------------------------------------------------ contacts


def test_consultations_wait_for_their_person_and_join_the_card_once() -> None:
    world = World()

    waiting = services.consultation_recorded(
        create_consultation(), world.events_unit(), world.every_card(), world.consultations()
    )
    assert waiting is None
    assert world.store.consultations["cons-1"][1] == ""  # kept, joined to no card
    card = jana(world)

    def record(consultation: Consultation) -> ClientCard | None:
        return services.consultation_recorded(
            consultation, world.events_unit(), world.every_card(), world.consultations()
        )

    later = create_consultation(consultation_id="cons-2")
    joined = record(later)
    again = record(later)

    assert joined is not None and joined.client_id == card.client_id
    assert "cons-2" in joined.consultation_ids
    assert again == joined
    [event] = world.store.events
    assert event.type == "clients.consultation.joined" and by_service(event)


def test_a_contact_another_service_recorded_moves_the_inactivity_clock_once() -> None:
    world = World()
    month_ago = NOW - timedelta(days=30)
    card, _ = services.register_from_referral(
        create_facts(submitted_at=month_ago), world.events_unit(at=month_ago),
        world.every_card(), proposals_repo=world.every_proposal(),
    )  # fmt: skip
    world.store.events.clear()
    contact = services.ContactElsewhere(
        contact_id="intake-first-ref-1", client_id="", referral_id="ref-1",
        on=TODAY - timedelta(days=3), channel="phone", worker_id="w-anna",
        summary="first contact of referral ref-1 (phone)", source="intake",
    )  # fmt: skip

    def record(c: services.ContactElsewhere) -> ClientCard | None:
        return services.contact_recorded_elsewhere(c, world.events_unit(), world.every_card())

    moved = record(contact)
    again = record(contact)
    unknown = record(replace(contact, contact_id="intake-first-ref-x", referral_id="ref-x"))

    assert card.last_contact_on == month_ago.date()
    assert moved is not None and moved.last_contact_on == TODAY - timedelta(days=3)
    assert again == moved == world.store.cards[card.client_id]
    assert unknown is None
    assert world.store.events == []


# ------------------------------------------------------------------ families


def mother_and_child(world: World) -> tuple[ClientCard, ClientCard]:
    mum = world.put(
        create_card(
            client_id="cl-mum", given_name="Olga", family_name="Bondar",
            date_of_birth=date(1980, 5, 1),
        )
    )  # fmt: skip
    kid = world.put(
        create_card(
            client_id="cl-kid", given_name="Oleh", family_name="Bondar",
            date_of_birth=date(2012, 1, 1),
        )
    )  # fmt: skip
    return mum, kid


def household(world: World, *members: FamilyMember) -> Family:
    family = services.create_family(
        "Household", NORTH, members, world.unit(), world.cards(),
        InMemoryFamilyRepository(world.store, ORG, world.principal.centres),
        region_id="reg-north",
    )  # fmt: skip
    world.store.events.clear()
    world.store.audit.clear()
    return family


def refresh(world: World, changed: services.SharedStatusInput) -> int:
    return services.refresh_shared_status(
        changed, world.events_unit(), world.every_family(), world.every_card(), world.settings
    )


def test_a_familys_shared_status_follows_its_members_without_events() -> None:
    world = World(StatusSettings(shared_with_family=True))
    mum, kid = mother_and_child(world)
    family = household(
        world, FamilyMember(mum.client_id, "head"), FamilyMember(kid.client_id, "child")
    )

    assert refresh(world, services.SharedStatusInput(family_id=family.family_id)) == 1
    assert refresh(world, services.SharedStatusInput(family_id=family.family_id)) == 0
    assert world.store.families[family.family_id].shared_status == "applicant"

    world.record_status(mum.client_id, "service_user")
    world.store.events.clear()
    assert refresh(world, services.SharedStatusInput(client_id=mum.client_id)) == 1
    refreshed = world.store.families[family.family_id]
    assert refreshed.shared_status == "service_user"
    assert refreshed.member_ids == family.member_ids
    assert world.store.events == []
    assert refresh(world, services.SharedStatusInput(family_id="fam-unknown")) == 0


def test_families_of_an_absorbed_card_hold_its_survivor_in_the_services_name() -> None:
    world = World()
    mum, kid = mother_and_child(world)
    # The child's second card, under a name and birthday typed quite wrong.
    kid_again = world.put(
        replace(kid, client_id="cl-kid-2", given_name="Taras", date_of_birth=date(2013, 7, 7))
    )
    family = household(
        world,
        FamilyMember(mum.client_id, "head"),
        FamilyMember(kid_again.client_id, "child", (mum.client_id,)),
    )

    def repoint() -> list[Family]:
        return services.repoint_families(
            kid_again.client_id, kid.client_id, world.events_unit("clients.merge"),
            world.every_family(), world.every_card(),
        )  # fmt: skip

    [changed] = repoint()
    assert repoint() == []

    assert changed.member_ids == (mum.client_id, kid.client_id)
    assert world.store.families[family.family_id] == changed
    [event] = world.store.events
    assert event.type == "clients.family.member_merged" and by_service(event, "clients.merge")
    assert sorted((e.client_id, e.subject, e.action) for e in world.store.audit) == [
        (kid.client_id, "clients.merge", "family-merge"),
        (kid_again.client_id, "clients.merge", "family-merge"),
    ]
