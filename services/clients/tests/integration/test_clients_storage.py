"""clients' use cases against a real database (the `mongo_db` fixture: the development
wire server, or whatever MONGO_URI names), with a fixed clock."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from casework_clients import services
from casework_clients.adapters.repository import (
    ClientDocument,
    ClientRepository,
    ConsultationRepository,
    FamilyRepository,
    MatchProposalDocument,
    MatchProposalRepository,
    UnattachedConsultation,
)
from casework_clients.bootstrap import Clients
from casework_clients.domain import search
from casework_clients.domain.cards import Consultation, Contract, NewPerson, Outcome, ReferralFacts
from casework_clients.domain.commands import Period, Search
from casework_clients.domain.proposals import Disclosure
from casework_clients.domain.status import StatusSettings
from casework_common.auth import Principal
from casework_common.envelope import Actor
from casework_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from casework_common.unit_of_work import SystemActor, UnitOfWork
from casework_dev.testing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.usefixtures("mongo_db")

ORG = "org-demo"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
SETTINGS = StatusSettings(inactivity_days=60, shared_with_family=True)
ANNA = Principal(
    ORG, "w-anna", "worker", frozenset({"ctr-north-town"}), frozenset({"case_worker"}), frozenset()
)
ILZE = Principal(
    ORG, "w-ilze", "worker", frozenset({"ctr-south-city"}), frozenset({"case_worker"}), frozenset()
)
MANAGER_NORTH = Principal(
    ORG, "w-manager-north", "worker", frozenset({"ctr-north-town", "ctr-north-village"}),
    frozenset({"manager"}), frozenset(),
)  # fmt: skip


def create_facts(**overrides: Any) -> ReferralFacts:
    fields: dict[str, Any] = {
        "referral_id": f"ref-{secrets.token_hex(4)}",
        "organisation": ORG,
        "given_name": "Taras",
        "family_name": "Шевченко",
        "date_of_birth": date(1961, 3, 9),
        "phone": "+380 44 123 4567",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": "partner_referral",
        "submitted_at": NOW,
    }
    fields.update(overrides)
    return ReferralFacts(**fields)


def create_consultation(**overrides: Any) -> Consultation:
    fields: dict[str, Any] = {
        "consultation_id": f"cons-{secrets.token_hex(4)}",
        "organisation": ORG,
        "given_name": "Taras",
        "family_name": "Shevchenko",
        "date_of_birth": date(1961, 3, 9),
        "phone": "",
        "email": "",
        "topic": "rent arrears",
        "duration_minutes": 15,
        "worker_id": "w-duty-north",
        "channel": "phone",
        "centre_id": "ctr-north-town",
        "recorded_at": NOW - timedelta(days=10),
    }
    fields.update(overrides)
    return Consultation(**fields)


def system() -> ClientRepository:
    return ClientRepository(ORG, None)


def events_app() -> Clients:
    """The wiring an events process builds once (bootstrap); its timers ask it."""
    settings: Any = None
    return Clients(settings=settings, clock=lambda: NOW, status_settings={ORG: SETTINGS})


def unit(principal: Principal, now: datetime = NOW) -> UnitOfWork:
    return UnitOfWork(principal, now=now)


def events_unit(now: datetime = NOW, component: str = "clients") -> UnitOfWork:
    """The unit of work the events process runs a use case in: the service itself."""
    return UnitOfWork(SystemActor(component), now=now)


def refer(facts: ReferralFacts, now: datetime = NOW) -> tuple[Any, Outcome]:
    return services.register_from_referral(
        facts,
        events_unit(now),
        system(),
        proposals_repo=MatchProposalRepository(ORG, None),
        settings=SETTINGS,
        consultations=ConsultationRepository(ORG),
    )


def test_a_referral_spelled_another_way_is_proposed_to_the_card_of_the_same_person() -> None:
    card, first = refer(create_facts(family_name="Шевченко"))
    again, second = refer(create_facts(family_name="Ševčenko", given_name="TARAS"))
    third, outcome = refer(create_facts(family_name="Shevchenko"))
    assert (first, second, outcome) == (Outcome.REGISTERED, Outcome.PROPOSED, Outcome.PROPOSED)
    assert again.client_id == third.client_id == card.client_id
    # The card is untouched until a worker of its centre confirms a proposal.
    assert system().get(card.client_id).referral_ids == card.referral_ids
    assert system().get(card.client_id).version == card.version
    pending = MatchProposalRepository(ORG, ANNA.centres).page(status="pending", offset=0, limit=9)
    assert {p.client_id for p in pending} == {card.client_id} and len(pending) == 2
    assert ClientDocument.objects.count() == 1
    assert card.status == "applicant" and len(card.status_entries) == 1


def test_a_person_referred_again_is_proposed_to_their_card_as_the_same_identity() -> None:
    # Found among the cards born that day (no identity lookup of its own), it is still
    # the exact match, not a look-alike.
    card, _ = refer(create_facts())
    refer(create_facts(given_name="Taras", family_name="Kovalenko"))  # born that day too
    again, outcome = refer(create_facts(phone=""))
    assert outcome is Outcome.PROPOSED and again.client_id == card.client_id
    (proposal,) = MatchProposalRepository(ORG, ANNA.centres).page(
        status="pending", offset=0, limit=9
    )
    assert (proposal.client_id, proposal.match, proposal.score) == (card.client_id, "exact", 100)
    assert ClientDocument.objects.count() == 2


def test_a_person_whose_card_was_merged_away_is_proposed_to_the_survivor() -> None:
    # The absorbed card is not among the day's cards matching reads; the identity it
    # holds refuses a new card, and the referral looked at again finds its survivor.
    survivor, _ = refer(create_facts())
    absorbed, _ = refer(create_facts(given_name="Tara", date_of_birth=date(1961, 3, 8)))
    services.merge_clients(
        survivor.client_id, absorbed.client_id, "same person", unit(ANNA),
        ClientRepository(ORG, ANNA.centres),
    )  # fmt: skip
    again, outcome = refer(create_facts(given_name="Tara", date_of_birth=date(1961, 3, 8)))
    assert outcome is Outcome.PROPOSED and again.client_id == survivor.client_id
    (proposal,) = MatchProposalRepository(ORG, ANNA.centres).page(
        status="pending", offset=0, limit=9
    )
    assert (proposal.client_id, proposal.match) == (survivor.client_id, "exact")
    assert ClientDocument.objects.count() == 2


def test_a_referral_with_another_birthday_is_a_new_card() -> None:
    card, _ = refer(create_facts())
    other, outcome = refer(create_facts(date_of_birth=date(1961, 3, 10)))
    assert outcome is Outcome.REGISTERED and other.client_id != card.client_id


def test_a_consultation_waits_for_its_person_and_joins_the_new_card() -> None:
    consultation = create_consultation()
    anonymous = create_consultation(given_name="", family_name="", date_of_birth=None)
    consultations = ConsultationRepository(ORG)
    for c in (consultation, anonymous):
        assert services.consultation_recorded(c, events_unit(), system(), consultations) is None
    card, _ = refer(create_facts())
    assert card.consultation_ids == (consultation.consultation_id,)
    assert card.last_contact_on == NOW.date()
    assert consultations.get(consultation.consultation_id).attached_to == card.client_id
    assert consultations.get(anonymous.consultation_id).attached_to == ""
    # Later consultations of a known person join the card at once, and only once.
    later = create_consultation(family_name="ШЕВЧЕНКО")
    for _ in range(2):
        joined = services.consultation_recorded(later, events_unit(), system(), consultations)
    assert joined is not None
    assert system().get(card.client_id).consultation_ids == (
        consultation.consultation_id,
        later.consultation_id,
    )
    assert UnattachedConsultation.objects(id=later.consultation_id).count() == 0


def test_search_finds_typos_swaps_and_birthday_slips_only_in_the_callers_centres() -> None:
    card, _ = refer(create_facts())
    refer(create_facts(given_name="Other", family_name="Person", centre_id="ctr-south-city"))

    def found(principal: Principal, **query: Any) -> list[str]:
        return [
            c.card.client_id
            for c in services.search_clients(
                Search(search.SearchQuery(**query), min_score=40, limit=20),
                FakeUnitOfWork(principal, now=NOW),
                ClientRepository(ORG, principal.centres),
            )
        ]

    assert found(ANNA, given_name="Taras", family_name="Schevchenko") == [card.client_id]
    assert found(ANNA, given_name="Shevchenko", family_name="Taras") == [card.client_id]
    assert found(ANNA, family_name="Sevcenko", date_of_birth=date(1961, 9, 3)) == [card.client_id]
    assert found(ANNA, family_name="Shevchenko", date_of_birth=date(1961, 3, 10)) == [
        card.client_id
    ]
    assert found(ILZE, given_name="Taras", family_name="Shevchenko") == []
    assert found(ILZE, given_name="Other", family_name="Person") != []
    trail = system().audit_entries(card.client_id, offset=0, limit=50)
    assert [(e.subject, e.action) for e in trail].count(("w-anna", "search-result")) == 4
    with pytest.raises(InvalidArgument):
        found(ANNA, given_name=" ")


def test_registration_answers_candidates_until_the_caller_dismisses_them() -> None:
    card, _ = refer(create_facts())
    person = NewPerson(
        ORG, "Taras", "Ševčenková", date(1961, 3, 9), "", "", "", "reg-north",
        "ctr-north-town", "senior", "",
    )  # fmt: skip

    def register(dismissed: frozenset[str]) -> services.Registration:
        return services.register_client(
            person, dismissed, UnitOfWork(ANNA, now=NOW), ClientRepository(ORG, ANNA.centres),
            settings=SETTINGS, consultations=ConsultationRepository(ORG),
        )  # fmt: skip

    first = register(frozenset())
    assert first.card is None and [c.card.client_id for c in first.candidates] == [card.client_id]
    assert ClientDocument.objects.count() == 1
    second = register(frozenset({card.client_id}))
    assert second.card is not None and second.card.status == "applicant"
    assert ClientDocument.objects.count() == 2


def test_status_contract_and_reopen_through_the_repository() -> None:
    card, _ = refer(create_facts())
    repo = ClientRepository(ORG, ANNA.centres)
    outcome = services.record_contract_signed(
        card.client_id, Contract("k-1", NOW.date(), None, NOW), events_unit(), repo,
        settings=SETTINGS, by=Actor("worker", "w-anna"),
    )  # fmt: skip
    assert outcome.status_changed and outcome.card.status == "service_user"
    assert services.colour_of(outcome.card, NOW.date()).colour.value == "amber"
    with pytest.raises(FailedPrecondition):
        services.record_status(
            card.client_id, "rejected", "no_capacity", NOW.date(), unit(ANNA), repo,
            settings=SETTINGS,
        )  # fmt: skip
    with pytest.raises(InvalidArgument) as bad:
        services.record_status(
            card.client_id, "terminated", "bored", NOW.date(), unit(ANNA), repo,
            settings=SETTINGS,
        )  # fmt: skip
    assert bad.value.errors[0].field == "reason"
    assert repo.get(card.client_id).version == outcome.card.version  # nothing changed
    ended = services.record_status(
        card.client_id, "terminated", "goals_achieved", NOW.date(), unit(ANNA), repo,
        settings=SETTINGS,
    )  # fmt: skip
    services.archive_client(
        card.client_id, unit(MANAGER_NORTH), ClientRepository(ORG, MANAGER_NORTH.centres),
    )  # fmt: skip
    back = services.reopen_client_episode(
        card.client_id, NOW.date(), "", unit(ANNA, NOW + timedelta(hours=1)), repo,
        settings=SETTINGS,
    )  # fmt: skip
    assert ended.status == "terminated"
    assert back.status == "applicant" and back.episode == 2 and not back.archived
    assert len(back.status_entries) == 4


def test_the_inactivity_rule_closes_silent_episodes_once() -> None:
    old = NOW - timedelta(days=200)
    silent, _ = refer(create_facts(submitted_at=old), now=old)
    recent, _ = refer(create_facts(given_name="Ivan", submitted_at=NOW), now=NOW)
    repo = system()
    closed = services.sweep_inactivity(events_unit(component="clients.inactivity"), repo, SETTINGS)
    again = services.sweep_inactivity(events_unit(component="clients.inactivity"), repo, SETTINGS)
    assert (closed, again) == (1, 0)
    card = repo.get(silent.client_id)
    assert card.status == "rejected"
    assert card.status_entries[-1].reason == "did_not_come"
    assert card.status_entries[-1].effective_on == old.date() + timedelta(days=60)
    assert repo.get(recent.client_id).status == "applicant"
    stored = ClientDocument.objects(id=silent.client_id).first()
    assert stored.outbox[-1]["type"] == "clients.client.status_changed"


def test_merge_redirects_and_refuses_self_and_other_centres() -> None:
    one, _ = refer(create_facts())
    two, _ = refer(create_facts(given_name="Tara", date_of_birth=date(1961, 3, 8)))
    south, _ = refer(create_facts(given_name="Ann", centre_id="ctr-south-city"))
    repo = ClientRepository(ORG, ANNA.centres)
    with pytest.raises(InvalidArgument):
        services.merge_clients(
            one.client_id,
            one.client_id,
            "x",
            unit(ANNA),
            repo,
        )
    with pytest.raises(NotFound):
        services.merge_clients(
            one.client_id,
            south.client_id,
            "x",
            unit(ANNA),
            repo,
        )
    kept = services.merge_clients(
        one.client_id,
        two.client_id,
        "same person, typo",
        unit(ANNA),
        repo,
    )
    assert set(kept.referral_ids) == set(one.referral_ids) | set(two.referral_ids)
    assert (
        services.read_client(two.client_id, FakeUnitOfWork(ANNA, now=NOW), repo).client_id
        == one.client_id
    )
    # A retried merge (say, after a lost answer) is the same merge: nothing more happens.
    again = services.merge_clients(
        one.client_id,
        two.client_id,
        "again",
        unit(ANNA),
        repo,
    )
    assert again == repo.get(one.client_id)
    assert again.merged_from == kept.merged_from


def test_statistics_and_families_of_the_callers_centres() -> None:
    a, _ = refer(create_facts(given_name="A"))
    b, _ = refer(create_facts(given_name="B"))
    refer(create_facts(given_name="C", centre_id="ctr-south-city"))
    repo = ClientRepository(ORG, ANNA.centres)
    services.record_status(
        b.client_id, "rejected", "no_capacity", NOW.date(), unit(ANNA), repo,
        settings=SETTINGS,
    )  # fmt: skip
    from casework_clients.domain.families import FamilyMember

    members = (
        FamilyMember(a.client_id, "head"),
        FamilyMember(b.client_id, "child", (a.client_id,)),
    )
    family = services.create_family(
        "Household", "ctr-north-town", members, unit(ANNA), repo,
        FamilyRepository(ORG, ANNA.centres), region_id="reg-north",
    )  # fmt: skip
    # What the events process does on clients.family.created.v1.
    assert (
        services.refresh_shared_status(
            services.SharedStatusInput(family_id=family.family_id),
            events_unit(),
            FamilyRepository(ORG, None),
            system(),
            SETTINGS,
        )
        == 1
    )
    view = services.view_family(family, repo, SETTINGS, NOW.date())
    assert view.status.status is not None and view.status.status.value == "applicant"
    assert view.colour.colour.value == "blue"
    with pytest.raises(NotFound):
        FamilyRepository(ORG, ILZE.centres).get(family.family_id)
    scoped = (repo, FamilyRepository(ORG, ANNA.centres))
    with pytest.raises(PermissionDenied):
        services.statistics(
            Period(NOW.date(), NOW.date(), None, None), FakeUnitOfWork(ANNA, now=NOW),
            scoped, scoped, org=None, settings=SETTINGS,
        )  # fmt: skip
    manager = replace(ANNA, roles=frozenset({"manager"}))
    stats = services.statistics(
        Period(NOW.date() - timedelta(days=30), NOW.date(), None, None),
        FakeUnitOfWork(manager, now=NOW), scoped, (system(), FamilyRepository(ORG, None)),
        org=None, settings=SETTINGS,
    )  # fmt: skip
    assert stats.clients.total == 2
    assert stats.clients.rejection_reasons == {"no_capacity": 1}
    assert stats.families.total == 1
    assert sum(stats.families.flows.values()) == 1  # families' flows are counted too


def test_the_referring_centre_is_told_only_as_the_organisation_allows() -> None:
    card, _ = refer(create_facts())
    proposals_repo = MatchProposalRepository(ORG, None)
    for referral_id, centre, disclosure in (
        ("ref-quiet", "ctr-south-city", Disclosure.NONE),
        ("ref-told", "ctr-south-city", Disclosure.TELL_KNOWN_ELSEWHERE),
        ("ref-own", "ctr-north-town", Disclosure.TELL_KNOWN_ELSEWHERE),
    ):
        same, outcome = services.register_from_referral(
            create_facts(referral_id=referral_id, centre_id=centre, phone="+421 911 000 666"),
            events_unit(), system(), proposals_repo=proposals_repo, settings=SETTINGS,
            consultations=ConsultationRepository(ORG), disclosure=disclosure,
        )  # fmt: skip
        assert outcome is Outcome.PROPOSED and same == card
    told = {
        doc.referral["referral_id"]: doc.outbox[-1]["payload"]
        for doc in MatchProposalDocument.objects(organisation=ORG)
    }
    assert {k: v["tell_referring_centre"] for k, v in told.items()} == {
        "ref-quiet": False,
        "ref-told": True,
        "ref-own": False,
    }
    # The event carries ids and routing facts, never the referral's contact details.
    assert "+421 911 000 666" not in str(told)
    assert system().get(card.client_id).phone == card.phone


def test_a_rejected_namesake_gets_a_card_of_their_own_beside_the_first() -> None:
    card, _ = refer(create_facts())
    refer(create_facts(referral_id="ref-namesake", centre_id="ctr-south-city"))
    proposals_repo = MatchProposalRepository(ORG, ANNA.centres)
    [proposal] = proposals_repo.page(status="pending", offset=0, limit=5)
    assert (
        services.list_match_proposals(
            unit(ILZE),
            MatchProposalRepository(ORG, ILZE.centres),
            status=None,
            offset=0,
            limit=5,
        )
        == []
    )
    rejected = services.reject_match_proposal(
        proposal.proposal_id, "another Taras", unit(ANNA), proposals_repo,
        ClientRepository(ORG, ANNA.centres), system(), settings=SETTINGS,
        consultations=ConsultationRepository(ORG),
    )  # fmt: skip
    theirs = ClientRepository(ORG, ILZE.centres).get(rejected.new_client_id)
    assert theirs.identity_key == f"{card.identity_key}#{theirs.client_id}"
    assert theirs.referral_ids == ("ref-namesake",)
    assert system().by_identity(card.identity_key) == system().get(card.client_id)
    # The same referral delivered again proposes nothing more and makes no third card.
    refer(create_facts(referral_id="ref-namesake", centre_id="ctr-south-city"))
    assert ClientDocument.objects.count() == 2


def test_cards_stored_before_the_derived_rows_get_them_once() -> None:
    from casework_clients.adapters.repository.card_documents import to_document
    from casework_clients.adapters.repository.cards import backfill_derived_rows
    from casework_clients.adapters.repository.search_index import SearchKeyDocument
    from casework_clients.adapters.repository.stat_facts import StatusFactDocument
    from casework_common.storage import save_aggregate

    card, _ = refer(create_facts(given_name="Old", family_name="Storedová"))
    # As if written before the rows existed.
    SearchKeyDocument.objects(client_id=card.client_id).delete()
    StatusFactDocument.objects(owner_id=card.client_id).delete()
    save_aggregate(to_document(replace(card, history=card.history)), [])
    query = search.SearchQuery("Old", "Storedová", None)
    assert card.client_id not in [f.ref for f in system().candidate_facts(query)]

    assert events_app().backfill_derived_rows(ORG) >= 1  # what the daily timer asks
    assert card.client_id in [f.ref for f in system().candidate_facts(query)]
    assert StatusFactDocument.objects(owner_id=card.client_id).count() > 0
    assert backfill_derived_rows(ORG, NOW) == 0  # done once


def test_a_card_stored_with_its_old_in_document_search_keys_loads_and_sheds_them() -> None:
    from casework_clients.adapters.repository.card_documents import RETIRED_INDEXES

    card, _ = refer(create_facts(given_name="Old", family_name="Keysová"))
    collection = ClientDocument._get_collection()
    # As a card was stored when it carried its own search keys, with their indexes.
    collection.update_one(
        {"_id": card.client_id},
        {"$set": {"name_keys": ["old"], "search_keys": ["old", "ld"], "phone_key": "",
                  "email_key": ""}},
    )  # fmt: skip
    for spec in RETIRED_INDEXES:
        collection.create_index(spec)

    loaded = system().get(card.client_id)
    assert loaded.family_name == "Keysová"
    assert [c.client_id for c in system().page(centre_id=None, offset=0, limit=50)].count(
        card.client_id
    ) == 1
    system().save(replace(loaded, phone="+421 911 222 999"), [])
    assert "search_keys" not in collection.find_one({"_id": card.client_id})

    dropped = events_app().retire_indexes()  # what the daily timer asks
    assert len(dropped) == len(RETIRED_INDEXES)
    kept = [info["key"] for info in collection.index_information().values()]
    assert [("identity_key", 1)] in kept
    assert not any("search_keys" in dict(key) for key in kept)
    assert events_app().retire_indexes() == []


def test_a_cards_audit_trail_pages_its_own_rows_and_the_answers_that_showed_it() -> None:
    card, _ = refer(create_facts(given_name="Trail", family_name="Pagedová"))
    other, _ = refer(create_facts(given_name="Other", family_name="Shownová"))
    repository = system()
    for minute in range(6):
        at = NOW + timedelta(minutes=minute)
        if minute % 2:
            repository.audit_shown([other.client_id, card.client_id], "w-anna", "search-result",
                                   at, "t")  # fmt: skip
        else:
            repository.audit(card.client_id, "w-petr", "read", at, "t")
    repository.audit_shown([other.client_id], "w-anna", "search-result", NOW, "t")

    newest_first = [
        (e.at, e.action)
        for page in range(3)
        for e in repository.audit_entries(card.client_id, offset=page * 2, limit=2)
    ]
    ours = [
        (e.at, e.action)
        for e in repository.audit_entries(card.client_id, offset=0, limit=50)
        if e.at >= NOW
    ]
    assert ours == newest_first[: len(ours)]
    assert [a for _, a in ours[:6]] == ["search-result", "read"] * 3
    assert [t for t, _ in ours[:6]] == [NOW + timedelta(minutes=m) for m in range(5, -1, -1)]
    assert all(e.client_id == card.client_id for e in
               repository.audit_entries(card.client_id, offset=0, limit=50))  # fmt: skip
    assert len(repository.audit_entries(other.client_id, offset=0, limit=50)) >= 4


def test_a_search_by_birthday_finds_the_day_and_the_days_beside_it_of_its_own_organisation() -> (
    None
):
    born = date(1937, 5, 20)
    cards = {
        delta: refer(create_facts(given_name=f"Day{delta + 2}", family_name="Rangeová",
                                  date_of_birth=born + timedelta(days=delta)))[0].client_id
        for delta in (-2, -1, 0, 1, 2)
    }  # fmt: skip
    elsewhere = "org-elsewhere"
    services.register_from_referral(
        create_facts(organisation=elsewhere, given_name="Day", family_name="Rangeová",
                     date_of_birth=born),
        events_unit(), ClientRepository(elsewhere, None),
        proposals_repo=MatchProposalRepository(elsewhere, None), settings=SETTINGS,
        consultations=ConsultationRepository(elsewhere),
    )  # fmt: skip

    found = {f.ref for f in system().candidate_facts(search.SearchQuery(date_of_birth=born))}
    assert {cards[-1], cards[0], cards[1]} <= found
    assert cards[-2] not in found and cards[2] not in found
    assert not [ref for ref in found if ClientDocument.objects(id=ref).first().organisation != ORG]


def test_a_renamed_card_is_found_by_its_new_name_only_and_by_its_birthday() -> None:
    card, _ = refer(create_facts(given_name="Olga", family_name="Kovalenko"))
    system().save(replace(card, family_name="Marková"), [])

    def refs(query: search.SearchQuery) -> list[str]:
        return [f.ref for f in system().candidate_facts(query)]

    assert card.client_id in refs(search.SearchQuery("Olga", "Markova"))
    assert card.client_id not in refs(search.SearchQuery(family_name="Kovalenko"))
    assert [f.ref for f in system().born_on(date(1961, 3, 9))] == [card.client_id]
    assert card.client_id in refs(search.SearchQuery(phone="044 123 4567"))
