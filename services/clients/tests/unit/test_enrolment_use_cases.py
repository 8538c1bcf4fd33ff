"""EnrolClient and EndEnrolment's use cases against in-memory repositories: what is
stored, the events and audit entries that go with it, another centre's card, refusals
and repeats that change nothing, and the lead's settings governing the status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from clients_fakes import ClientsStore, InMemoryClientRepository, InMemoryConsultationRepository

from casework_clients import services
from casework_clients.domain.cards import ClientCard, Contract, NewPerson
from casework_clients.domain.enrolments import EndEnrolment, EnrolClient
from casework_clients.domain.projects import SettingsBook, define_project
from casework_clients.domain.status import StatusMode, StatusSettings
from casework_clients.use_cases import enrolments
from casework_clients.use_cases.reading import ListFilter
from casework_common.auth import Principal
from casework_common.errors import FailedPrecondition, InvalidArgument, NotFound
from casework_common.unit_of_work import Trace, UnitOfWork

ORG = "org-test"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
NORTH, SOUTH = "ctr-north", "ctr-south"
MANUAL = StatusSettings(mode=StatusMode.MANUAL)
AUTOMATIC = StatusSettings(use_approached=True)


def principal(centre: str = NORTH, subject: str = "w-anna") -> Principal:
    return Principal(
        organisation=ORG, subject=subject, kind="worker", centres=frozenset({centre}),
        roles=frozenset({"case_worker"}), scopes=frozenset(),
    )  # fmt: skip


class World:
    def __init__(self) -> None:
        self.store = ClientsStore()
        start = NOW - timedelta(days=30)
        self.book = SettingsBook(
            StatusSettings(),
            {
                "prj-housing": define_project("prj-housing", ORG, "Housing", AUTOMATIC,
                                              start.date(), "w-admin", start),
                "prj-debt": define_project("prj-debt", ORG, "Debt", MANUAL, start.date(),
                                           "w-admin", start),
            },
        )  # fmt: skip
        self.ids = (f"cl-{n}" for n in range(1, 100))
        self.people = 0

    def unit(self, caller: Principal | None = None) -> UnitOfWork:
        return UnitOfWork(caller or principal(), now=NOW, trace=Trace({}),
                          new_id=lambda: next(self.ids))  # fmt: skip

    def cards(self, caller: Principal | None = None) -> InMemoryClientRepository:
        return InMemoryClientRepository(self.store, ORG, (caller or principal()).centres)

    def register(self, project_id: str = "", centre: str = NORTH) -> ClientCard:
        self.people += 1
        # People far apart in names and birth, so that no one is a candidate of another.
        family = ("Malá", "Horváthová", "Kuzmenko", "Ozola", "Petrenko")[self.people % 5]
        born = date(1940 + self.people * 7, 1 + self.people, 1)
        person = NewPerson(ORG, "Jana", family, born, "", "", "", "reg-north", centre,
                           "senior", "", project_id=project_id)  # fmt: skip
        caller = principal(centre)
        card = services.register_client(
            person, frozenset(), self.unit(caller), self.cards(caller), settings=self.book,
            consultations=InMemoryConsultationRepository(self.store, ORG),
        ).card  # fmt: skip
        assert card is not None
        self.store.events.clear()
        self.store.audit.clear()
        return card

    def enrol(self, client_id: str, project_id: str, since: str = "", lead: bool = False,
              caller: Principal | None = None) -> ClientCard:  # fmt: skip
        return enrolments.enrol_client(
            EnrolClient(client_id, project_id, since, lead), self.unit(caller),
            self.cards(caller), settings=self.book,
        )  # fmt: skip

    def end(self, client_id: str, project_id: str, until: str = "", reason: str = "done",
            caller: Principal | None = None) -> ClientCard:  # fmt: skip
        return enrolments.end_enrolment(
            EndEnrolment(client_id, project_id, until, reason), self.unit(caller),
            self.cards(caller), settings=self.book,
        )  # fmt: skip


def payloads(world: World) -> list[tuple[str, dict[str, Any]]]:
    return [(e.type, dict(e.payload)) for e in world.store.events]


def test_enrolling_in_a_second_project_stores_it_emits_enrolled_and_audits() -> None:
    world = World()
    card = world.register("prj-housing")

    after = world.enrol(card.client_id, "prj-debt")

    assert [(e.project_id, e.lead) for e in after.enrolments] == [
        ("prj-housing", True), ("prj-debt", False),
    ]  # fmt: skip
    assert after.project_id == "prj-housing"
    [(kind, payload)] = payloads(world)
    assert kind == "clients.client.enrolled"
    assert payload["project_id"] == "prj-debt" and payload["lead_project_id"] == "prj-housing"
    assert payload["enrolled_by"] == "w-anna" and payload["centre_ids"] == [NORTH]
    assert [(e.client_id, e.action) for e in world.store.audit] == [(card.client_id, "enrol")]


def test_the_same_enrolment_again_changes_nothing_and_emits_nothing() -> None:
    world = World()
    card = world.register("prj-housing")
    first = world.enrol(card.client_id, "prj-debt", TODAY.isoformat())
    world.store.events.clear()

    again = world.enrol(card.client_id, "prj-debt", TODAY.isoformat())

    assert again == first
    assert world.store.events == []
    # The card was answered both times: both calls are in the audit trail.
    assert [(e.client_id, e.action) for e in world.store.audit] == [(card.client_id, "enrol")] * 2


def test_another_centres_card_is_not_found_whatever_the_request() -> None:
    world = World()
    card = world.register("prj-housing", centre=SOUTH)
    north = principal(NORTH, "w-petr")
    for attempt in (
        lambda: world.enrol(card.client_id, "prj-debt", caller=north),
        lambda: world.enrol(card.client_id, "prj-nobody", caller=north),
        lambda: world.end(card.client_id, "prj-housing", caller=north),
        lambda: world.end(card.client_id, "prj-debt", caller=north),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert world.store.events == []
    assert world.cards(principal(SOUTH)).get(card.client_id) == card


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda w, c: w.enrol(c, "prj-nobody"), InvalidArgument, "project_id"),
        (lambda w, c: w.enrol(c, "prj-debt", "2026-13-01"), InvalidArgument, "since"),
        (lambda w, c: w.enrol(c, "prj-debt", (TODAY + timedelta(days=1)).isoformat()),
         InvalidArgument, "since"),
        (lambda w, c: w.enrol(c, "prj-housing", (TODAY - timedelta(days=3)).isoformat()),
         FailedPrecondition, "since"),
        (lambda w, c: w.end(c, "prj-housing", (TODAY - timedelta(days=1)).isoformat()),
         InvalidArgument, "until"),
        (lambda w, c: w.end(c, "prj-housing", reason=""), InvalidArgument, "reason"),
        (lambda w, c: w.end(c, "prj-debt"), FailedPrecondition, "project_id"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    call: Any, error: type[Exception], field: str
) -> None:
    world = World()
    card = world.register("prj-housing")
    with pytest.raises(error) as refused:
        call(world, card.client_id)
    fields = (
        {e.field for e in refused.value.errors}
        if isinstance(refused.value, InvalidArgument)
        else {refused.value.field}  # type: ignore[attr-defined]
    )
    assert fields == {field}
    assert world.store.events == [] and world.store.audit == []
    assert world.cards().get(card.client_id) == card


def test_after_the_lead_ends_the_next_projects_settings_govern_the_status() -> None:
    world = World()
    card = world.register("prj-housing")
    world.enrol(card.client_id, "prj-debt")
    world.store.events.clear()

    ended = world.end(card.client_id, "prj-housing", reason="housing found")

    assert ended.project_id == "prj-debt"
    [(kind, payload)] = payloads(world)
    assert kind == "clients.enrolment.ended"
    assert (payload["until"], payload["reason"], payload["lead_project_id"]) == (
        TODAY.isoformat(), "housing found", "prj-debt",
    )  # fmt: skip
    # prj-debt is run manually: a contract leaves the status to the worker now.
    outcome = services.record_worker_contract(
        card.client_id, Contract("k-1", TODAY, None, NOW), world.unit(), world.cards(),
        settings=world.book,
    )  # fmt: skip
    assert outcome.recorded and not outcome.status_changed
    assert "manual" in outcome.explanation


def test_with_no_enrolment_left_the_default_governs_and_the_end_repeats_harmlessly() -> None:
    world = World()
    card = world.register("prj-housing")
    ended = world.end(card.client_id, "prj-housing", reason="left")
    world.store.events.clear()

    again = world.end(card.client_id, "prj-housing", reason="left")

    assert ended.project_id == "" and again == ended
    assert world.store.events == []
    # The contract takes effect by the organisation's (automatic) default.
    outcome = services.record_worker_contract(
        card.client_id, Contract("k-2", TODAY, None, NOW), world.unit(), world.cards(),
        settings=world.book,
    )  # fmt: skip
    assert outcome.status_changed


def test_a_card_registered_before_enrolments_were_kept_gets_its_enrolment_written() -> None:
    world = World()
    card = world.register("prj-housing")
    # As stored before: the project alone.
    world.store.cards[card.client_id] = legacy = replace(card, enrolments=())
    assert [e.project_id for e in legacy.enrolment_record] == ["prj-housing"]

    after = world.enrol(card.client_id, "prj-debt")

    assert [e.project_id for e in after.enrolments] == ["prj-housing", "prj-debt"]
    assert after.enrolments[0].since == legacy.registered_at.date()


def test_list_clients_by_project_shows_cards_with_an_open_enrolment_in_it() -> None:
    world = World()
    housing = world.register("prj-housing")
    both = world.register("prj-housing")
    world.enrol(both.client_id, "prj-debt")
    left = world.register("prj-debt")
    world.end(left.client_id, "prj-debt")

    page, _ = services.list_clients(
        ListFilter(project_id="prj-debt"), world.unit(), world.cards(), offset=0, limit=10
    )
    assert [c.client_id for c in page] == [both.client_id]
    page, _ = services.list_clients(
        ListFilter(project_id="prj-housing"), world.unit(), world.cards(), offset=0, limit=10
    )
    assert sorted(c.client_id for c in page) == sorted([housing.client_id, both.client_id])
