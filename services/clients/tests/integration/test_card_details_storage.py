"""The card's details through the use cases against a real database (the `mongo_db`
fixture): stored whole and read back, each change saved with its event and audited, a
refused command leaves the document as it was, a card of another centre is NOT_FOUND,
a recorded contact keeps the inactivity rule away, and families follow a merge."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from casework_clients import services
from casework_clients.adapters.plan_states import keep_plan_state
from casework_clients.adapters.repository import (
    AuditEntry,
    ClientDocument,
    ClientRepository,
    FamilyDocument,
    FamilyRepository,
)
from casework_clients.adapters.repository.search_index import SearchKeyDocument
from casework_clients.domain import merging, search
from casework_clients.domain.cards import ClientCard, HistoryEntry
from casework_clients.domain.colour import PlanState
from casework_clients.domain.commands import Search
from casework_clients.domain.details import CardChanges
from casework_clients.domain.families import FamilyMember
from casework_clients.domain.identity import identity_key
from casework_clients.domain.records import (
    ConsentAction,
    ConsentPurpose,
    ContactChannel,
    ContactKind,
    ContactPoint,
)
from casework_clients.domain.status import StatusHistory, StatusSettings, record_first_contact
from casework_common.auth import Principal
from casework_common.errors import FailedPrecondition, InvalidArgument, NotFound
from casework_common.organisation import load
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork

pytestmark = pytest.mark.usefixtures("mongo_db")

ORG = "org-demo"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
SETTINGS = StatusSettings(inactivity_days=60)
ORGANISATION = load(Path(__file__).parents[4] / "config" / "organisation.dev.json")[ORG]
ANNA = Principal(
    ORG, "w-anna", "worker", frozenset({"ctr-north-town"}), frozenset({"case_worker"}), frozenset()
)
ILZE = Principal(
    ORG, "w-ilze", "worker", frozenset({"ctr-south-city"}), frozenset({"case_worker"}), frozenset()
)


def create_card(**overrides: Any) -> ClientCard:
    """A North Town applicant, last in contact 90 days ago, saved through the repository."""
    long_ago = NOW - timedelta(days=90)
    family_name = overrides.pop("family_name", f"Nováková{secrets.token_hex(3)}")
    first = record_first_contact(StatusHistory(), SETTINGS, long_ago.date(), "w-anna", long_ago)
    fields: dict[str, Any] = {
        "client_id": f"cl-{secrets.token_hex(4)}",
        "organisation": ORG,
        "identity_key": identity_key(ORG, "Jana", family_name, date(1961, 4, 12)),
        "given_name": "Jana",
        "family_name": family_name,
        "date_of_birth": date(1961, 4, 12),
        "phone": "+421 900 123 456",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_ids": ("ctr-north-town",),
        "client_type": "senior",
        "problem_types": ("housing",),
        "status": "applicant",
        "referral_ids": (),
        "registered_at": long_ago,
        "history": (HistoryEntry(long_ago, "seeded", "test"),),
        "status_entries": first.history.entries,
        "last_contact_on": long_ago.date(),
    }
    fields.update(overrides)
    return system().save(ClientCard(**fields), [])


def unit(principal: Principal) -> UnitOfWork:
    return UnitOfWork(principal, now=NOW, trace=Trace({}))


def system() -> ClientRepository:
    return ClientRepository(ORG, None)


def anna() -> ClientRepository:
    return services_repo(ANNA)


def services_repo(principal: Principal) -> ClientRepository:
    return ClientRepository(principal.organisation, principal.centres)


def stored(client_id: str) -> dict[str, Any]:
    doc = ClientDocument.objects(id=client_id).first()
    assert doc is not None
    return dict(doc.to_mongo())


def every_detail(client_id: str) -> ClientCard:
    services.update_client(
        client_id,
        CardChanges(
            contacts=(
                ContactPoint(ContactKind.PHONE, "+421 911 222 333", "mobile"),
                ContactPoint(ContactKind.EMAIL, "jana@example.test", "home"),
            ),
            address="Lake road 7",
            problem_types=("housing", "debt"),
        ),
        unit(ANNA), anna(), org=ORGANISATION,
    )  # fmt: skip
    services.assign_responsible_worker(client_id, "w-petr", unit(ANNA), anna(), org=ORGANISATION)
    services.record_consent(
        client_id, ConsentPurpose.FEEDBACK_CALLS, "", TODAY - timedelta(days=1), "DOC-7",
        unit(ANNA), anna(),
    )  # fmt: skip
    services.withdraw_consent(
        client_id, ConsentPurpose.FEEDBACK_CALLS, "", TODAY, "", "no more calls",
        unit(ANNA), anna(),
    )  # fmt: skip
    first = services.add_note(client_id, "Lives with her sister.", "", unit(ANNA), anna())
    services.add_note(
        client_id, "Her daughter, not her sister.", first.notes[-1].note_id, unit(ANNA), anna()
    )
    return services.record_contact(
        client_id, TODAY - timedelta(days=3), ContactChannel.HOME_VISIT, "w-petr",
        "Visited at home; rent arrears discussed.", unit(ANNA), anna(), org=ORGANISATION,
    )  # fmt: skip


def test_every_detail_is_stored_read_back_with_its_event_and_audited() -> None:
    card = create_card()
    after = every_detail(card.client_id)
    again = system().get(card.client_id)
    assert again == after
    assert again.phone == "+421 911 222 333" and again.email == "jana@example.test"
    assert [w.worker_id for w in again.responsible_workers] == ["w-petr"]
    assert [r.action for r in again.consent_records] == [
        ConsentAction.GIVEN,
        ConsentAction.WITHDRAWN,
    ]
    assert again.notes[1].corrects_note_id == again.notes[0].note_id
    assert again.last_contact_on == TODAY - timedelta(days=3)
    doc = stored(card.client_id)
    assert [e["type"] for e in doc["outbox"]] == [
        "clients.client.updated",
        "clients.client.responsible_worker_assigned",
        "clients.consent.recorded",
        "clients.consent.withdrawn",
        "clients.note.added",
        "clients.note.added",
        "clients.client.contact_recorded",
    ]
    assert all(e["version"] == 1 for e in doc["outbox"])
    assert "Lives with" not in str(doc["outbox"])  # note texts stay on the card
    assert doc["last_activity_on"] == (TODAY - timedelta(days=3)).isoformat()
    # Found by the new phone's key (see domain.search.phone_key).
    assert (
        SearchKeyDocument.objects(
            client_id=card.client_id, lookup="c:911222333@" + card.organisation
        ).count()
        == 1
    )
    actions = [a.action for a in AuditEntry.objects(client_id=card.client_id).order_by("at")]
    assert actions == [
        "update", "assign-worker", "consent-record", "consent-withdraw", "note", "note", "contact",
    ]  # fmt: skip
    assert len(after.history) == len(card.history) + 7


RefusedCall = Callable[[str], object]


def test_a_search_answers_the_card_without_its_notes_consents_and_contact_records() -> None:
    card = create_card()
    whole = every_detail(card.client_id)
    keep_plan_state(ORG, card.client_id, "plan-1", True, TODAY + timedelta(days=30), NOW)
    [found] = services.search_clients(
        Search(search.SearchQuery("Jana", card.family_name, date(1961, 4, 12)), 40, 20),
        unit(ANNA), anna(),
    )  # fmt: skip
    shown = found.card
    assert found.plan == PlanState(active=True, next_review_on=TODAY + timedelta(days=30))
    assert (shown.client_id, shown.given_name, shown.family_name) == (
        whole.client_id, "Jana", card.family_name,
    )  # fmt: skip
    assert shown.date_of_birth == date(1961, 4, 12) and shown.address == "Lake road 7"
    assert shown.contacts == whole.contacts and shown.status_entries == whole.status_entries
    assert shown.responsible_workers == whole.responsible_workers
    assert shown.registered_at == whole.registered_at and shown.version == whole.version
    assert (shown.notes, shown.consent_records, shown.contact_records, shown.history) == (
        (), (), (), (),
    )  # fmt: skip
    assert whole.notes and whole.consent_records and whole.contact_records and whole.history
    assert anna().by_ids([card.client_id]) == [whole]


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda i: services.update_client(
            i, CardChanges(contacts=(ContactPoint(ContactKind.EMAIL, "nope"),)), unit(ANNA), anna(),
            org=ORGANISATION), InvalidArgument, "changes.contacts[0].value"),
        (lambda i: services.update_client(
            i, CardChanges(centre_ids=("ctr-south-city",)), unit(ANNA), anna(), org=ORGANISATION),
         InvalidArgument, "changes.centre_ids"),
        (lambda i: services.assign_responsible_worker(
            i, "w-ilze", unit(ANNA), anna(), org=ORGANISATION), FailedPrecondition, "worker_id"),
        (lambda i: services.unassign_responsible_worker(i, "w-petr", "", unit(ANNA), anna()),
         FailedPrecondition, "worker_id"),
        (lambda i: services.withdraw_consent(
            i, ConsentPurpose.DATA_PROCESSING, "", TODAY, "", "", unit(ANNA), anna()),
         FailedPrecondition, "purpose"),
        (lambda i: services.add_note(i, "fix", "n-none", unit(ANNA), anna()),
         InvalidArgument, "corrects_note_id"),
        (lambda i: services.record_contact(
            i, TODAY + timedelta(days=1), ContactChannel.PHONE, "w-anna", "call",
            unit(ANNA), anna(), org=ORGANISATION), InvalidArgument, "contacted_on"),
    ],
    ids=["bad-email", "centre-not-served", "foreign-worker", "not-responsible",
         "never-consented", "correct-nothing", "future-contact"],
)  # fmt: skip
def test_a_refused_command_changes_nothing(call: RefusedCall, error: type, field: str) -> None:
    card = create_card()
    before = stored(card.client_id)
    with pytest.raises(error) as refused:
        call(card.client_id)
    fields = (
        {e.field for e in refused.value.errors}
        if isinstance(refused.value, InvalidArgument)
        else {refused.value.field}
    )
    assert field in fields
    assert stored(card.client_id) == before
    assert AuditEntry.objects(client_id=card.client_id).count() == 0


def test_a_card_of_another_centre_is_not_found_for_every_command() -> None:
    card = create_card()
    before = stored(card.client_id)
    ilze = services_repo(ILZE)
    calls: list[Callable[[], object]] = [
        lambda: services.update_client(
            card.client_id, CardChanges(address="x"), unit(ILZE), ilze, org=ORGANISATION
        ),
        lambda: services.assign_responsible_worker(
            card.client_id, "w-ilze", unit(ILZE), ilze, org=ORGANISATION
        ),
        lambda: services.record_consent(
            card.client_id, ConsentPurpose.DATA_PROCESSING, "", TODAY, "", unit(ILZE), ilze
        ),
        lambda: services.add_note(card.client_id, "hello", "", unit(ILZE), ilze),
        lambda: services.record_contact(
            card.client_id, TODAY, ContactChannel.PHONE, "w-ilze", "hi", unit(ILZE), ilze,
            org=ORGANISATION,
        ),
    ]  # fmt: skip
    for call in calls:
        with pytest.raises(NotFound):
            call()
    assert stored(card.client_id) == before


def test_new_names_of_another_card_are_refused() -> None:
    taken = create_card()
    card = create_card()
    before = stored(card.client_id)
    with pytest.raises(FailedPrecondition) as refused:
        services.update_client(
            card.client_id, CardChanges(family_name=taken.family_name), unit(ANNA), anna(),
            org=ORGANISATION,
        )  # fmt: skip
    assert refused.value.field == "changes.family_name"
    assert stored(card.client_id) == before


def test_a_recorded_contact_keeps_the_inactivity_rule_away() -> None:
    silent, in_touch = create_card(), create_card()
    services.record_contact(
        in_touch.client_id, TODAY - timedelta(days=5), ContactChannel.PHONE, "w-anna",
        "Called back about the appointment.", unit(ANNA), anna(), org=ORGANISATION,
    )  # fmt: skip
    closed = services.sweep_inactivity(
        UnitOfWork(SystemActor("clients.inactivity"), now=NOW), system(), SETTINGS
    )
    assert closed >= 1
    assert system().get(silent.client_id).status == "rejected"
    kept = system().get(in_touch.client_id)
    assert kept.status == "applicant" and len(kept.status_entries) == 1


def test_families_follow_a_merge_even_in_other_centres() -> None:
    mum, kid, kid_again = create_card(), create_card(), create_card()
    families = FamilyRepository(ORG, None)
    home = services.create_family(
        "Household", "ctr-north-town",
        (FamilyMember(mum.client_id, "head"),
         FamilyMember(kid.client_id, "child", (mum.client_id,)),
         FamilyMember(kid_again.client_id, "child", (mum.client_id,))),
        unit(ANNA), anna(), FamilyRepository(ORG, ANNA.centres), region_id="reg-north",
    )  # fmt: skip
    # A second family, kept by South City, names the absorbed card too.
    away = services.create_family(
        "Grandparents", "ctr-south-city", (FamilyMember(kid_again.client_id, "child"),),
        unit(ANNA), anna(), families, region_id="reg-south",
    )  # fmt: skip
    services.merge_clients(
        kid.client_id, kid_again.client_id, "typed twice", unit(ANNA), anna(),
        families_repo=families,
    )  # fmt: skip
    home_after = families.get(home.family_id)
    assert home_after.member_ids == (mum.client_id, kid.client_id)
    assert home_after.parents()[kid.client_id] == (mum.client_id,)
    assert families.get(away.family_id).member_ids == (kid.client_id,)
    assert families.of_client(kid_again.client_id) == []
    outbox = FamilyDocument.objects(id=home.family_id).first().outbox
    assert outbox[-1]["type"] == "clients.family.member_merged"
    assert AuditEntry.objects(client_id=kid_again.client_id, action="family-merge").count() == 2
    # Repeating the re-pointing finds nothing left to do.
    again = services.repoint_families(
        kid_again.client_id, kid.client_id, unit(ANNA), families, system()
    )
    assert again == []


def test_a_merge_cut_short_between_its_writes_is_finished_by_repeating_it() -> None:
    survivor, absorbed = create_card(), create_card()
    # As if the call stopped after the absorbed card's write: it already redirects.
    _, absorbed_after = merging.merge_cards(survivor, absorbed, "typed twice", "w-anna", NOW)
    system().save(absorbed_after, [])

    merged = services.merge_clients(
        survivor.client_id, absorbed.client_id, "typed twice", unit(ANNA), anna()
    )

    assert absorbed.client_id in merged.merged_from
    assert stored(survivor.client_id)["outbox"][-1]["type"] == "clients.client.merged"
    # A third call finds the merge complete and writes nothing more.
    version = stored(survivor.client_id)["version"]
    again = services.merge_clients(
        survivor.client_id, absorbed.client_id, "typed twice", unit(ANNA), anna()
    )
    assert again.merged_from == merged.merged_from
    assert stored(survivor.client_id)["version"] == version


def test_merging_into_a_card_already_merged_elsewhere_is_refused() -> None:
    first, second, third = create_card(), create_card(), create_card()
    services.merge_clients(first.client_id, second.client_id, "same person", unit(ANNA), anna())

    with pytest.raises(FailedPrecondition) as refused:
        services.merge_clients(third.client_id, second.client_id, "same", unit(ANNA), anna())

    assert "absorbed_client_id" in str(refused.value)
