"""Specification of the card's details (pure domain, no server): editing contacts,
address, centres, client type and problems; responsible workers; consents (the state is
the latest record); append-only notes; recorded contacts and the inactivity rule;
merged cards and families."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_clients.domain.cards import ClientCard, HistoryEntry
from casework_clients.domain.details import (
    CardChanges,
    add_note,
    assign_worker,
    consent_state,
    contact_points,
    corrected_by,
    record_consent,
    record_contact,
    unassign_worker,
    update_card,
    withdraw_consent,
)
from casework_clients.domain.families import (
    Family,
    FamilyMember,
    add_member,
    creates_cycle,
    new_family,
    replace_member,
)
from casework_clients.domain.identity import identity_key
from casework_clients.domain.merging import merge_cards
from casework_clients.domain.records import (
    ConsentAction,
    ConsentPurpose,
    ContactChannel,
    ContactKind,
    ContactPoint,
)
from casework_clients.domain.status import (
    ClientStatus,
    StatusHistory,
    StatusSettings,
    apply_inactivity,
    record_first_contact,
)
from casework_common.errors import FailedPrecondition, InvalidArgument
from casework_common.organisation import Organisation, parse

ORG = "org-demo"
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
TODAY = T0.date()
NORTH = frozenset({"ctr-north-town"})


def create_organisation(**overrides: Any) -> Organisation:
    data: dict[str, Any] = {
        "id": ORG,
        "regions": [{"id": "reg-north", "name": "N"}, {"id": "reg-south", "name": "S"}],
        "centres": [
            {"id": "ctr-north-town", "region": "reg-north", "name": "NT",
             "duty_worker": "w-anna", "manager": "w-anna"},
            {"id": "ctr-north-village", "region": "reg-north", "name": "NV",
             "duty_worker": "w-petr", "manager": "w-petr"},
            {"id": "ctr-south-city", "region": "reg-south", "name": "SC",
             "duty_worker": "w-ilze", "manager": "w-ilze"},
        ],
        "workers": [
            {"id": "w-anna", "name": "Anna", "centres": ["ctr-north-town"]},
            {"id": "w-petr", "name": "Petr", "centres": ["ctr-north-town", "ctr-north-village"]},
            {"id": "w-ilze", "name": "Ilze", "centres": ["ctr-south-city"]},
        ],
        "client_types": ["senior", "youth"],
        "problem_types": ["housing", "debt", "health"],
    }  # fmt: skip
    data.update(overrides)
    return parse(data)


ORGANISATION = create_organisation()


def create_card(**overrides: Any) -> ClientCard:
    fields: dict[str, Any] = {
        "client_id": "cl-1",
        "organisation": ORG,
        "identity_key": identity_key(ORG, "Jana", "Nováková", date(1961, 4, 12)),
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": date(1961, 4, 12),
        "phone": "+421 900 123 456",
        "email": "",
        "address": "Main street 1",
        "region_id": "reg-north",
        "centre_ids": ("ctr-north-town",),
        "client_type": "senior",
        "problem_types": ("housing",),
        "status": "applicant",
        "referral_ids": (),
        "registered_at": T0 - timedelta(days=30),
        "history": (HistoryEntry(T0 - timedelta(days=30), "card created", "w-anna"),),
        "last_contact_on": TODAY - timedelta(days=30),
    }
    fields.update(overrides)
    return ClientCard(**fields)


def update(card: ClientCard, centres: frozenset[str] = NORTH, **changes: Any) -> ClientCard:
    updated, _ = update_card(card, CardChanges(**changes), ORGANISATION, centres, "w-anna", T0)
    return updated


def refused_fields(error: InvalidArgument) -> set[str]:
    return {e.field for e in error.errors}


# ------------------------------------------------------------------ card details


def test_contacts_address_type_and_problems_change_and_the_history_names_them() -> None:
    card = create_card()
    updated, changed = update_card(
        card,
        CardChanges(
            contacts=(
                ContactPoint(ContactKind.PHONE, " +421 911 222 333 ", "mobile"),
                ContactPoint(ContactKind.EMAIL, "jana@example.test", "home"),
                ContactPoint(ContactKind.PHONE, "02/123 4567", "daughter"),
            ),
            address="Lake road  7",
            client_type="youth",
            problem_types=("debt", "health"),
        ),
        ORGANISATION,
        NORTH,
        "w-anna",
        T0,
    )
    assert changed == ("contacts", "address", "client_type", "problem_types")
    assert updated.phone == "+421 911 222 333" and updated.email == "jana@example.test"
    assert [p.label for p in contact_points(updated)] == ["mobile", "home", "daughter"]
    assert updated.address == "Lake road 7"
    assert updated.history[-1] == HistoryEntry(
        T0, "card details changed: contacts, address, client_type, problem_types", "w-anna"
    )
    assert "911" not in updated.history[-1].what  # values stay out of the history


def test_a_referrals_primary_phone_shows_among_the_contacts() -> None:
    points = contact_points(create_card(email="j@x.test"))
    assert [(p.kind, p.value, p.label) for p in points] == [
        (ContactKind.PHONE, "+421 900 123 456", "primary"),
        (ContactKind.EMAIL, "j@x.test", "primary"),
    ]


def test_a_change_to_no_effect_changes_nothing() -> None:
    card = create_card()
    same, changed = update_card(
        card, CardChanges(address="Main street 1", client_type="senior"), ORGANISATION, NORTH,
        "w-anna", T0,
    )  # fmt: skip
    assert changed == () and same is card


def test_new_names_give_a_new_identity_and_centres_a_new_region() -> None:
    card = update(
        create_card(),
        frozenset({"ctr-north-town", "ctr-south-city"}),
        family_name="Horváthová",
        centre_ids=("ctr-south-city", "ctr-north-town"),
    )
    assert card.identity_key == identity_key(ORG, "Jana", "Horváthová", date(1961, 4, 12))
    assert card.region_id == "reg-south"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"given_name": "  "}, "changes.given_name"),
        ({"family_name": ""}, "changes.family_name"),
        ({"family_name": "x" * 201}, "changes.family_name"),
        ({"date_of_birth": TODAY + timedelta(days=1)}, "changes.date_of_birth"),
        ({"contacts": (ContactPoint(ContactKind.EMAIL, "jana.example.test"),)},
         "changes.contacts[0].value"),
        ({"contacts": (ContactPoint(ContactKind.EMAIL, "jana@example"),)},
         "changes.contacts[0].value"),
        ({"contacts": (ContactPoint(ContactKind.PHONE, "call me"),)}, "changes.contacts[0].value"),
        ({"contacts": (ContactPoint(ContactKind.PHONE, "123"),)}, "changes.contacts[0].value"),
        ({"contacts": (ContactPoint(ContactKind.PHONE, "+421 900 1"),
                       ContactPoint(ContactKind.PHONE, "421-900-1"))}, "changes.contacts[1].value"),
        ({"contacts": (ContactPoint(ContactKind.PHONE, ""),)}, "changes.contacts[0].value"),
        ({"contacts": (ContactPoint(ContactKind.PHONE, "+421 900 111", "x" * 51),)},
         "changes.contacts[0].label"),
        ({"address": "x" * 501}, "changes.address"),
        ({"centre_ids": ()}, "changes.centre_ids"),
        ({"centre_ids": ("ctr-nowhere",)}, "changes.centre_ids"),
        ({"centre_ids": ("ctr-north-town", "ctr-south-city")}, "changes.centre_ids"),  # not served
        ({"centre_ids": ("ctr-north-village",)}, "changes.centre_ids"),  # not served
        ({"client_type": "astronaut"}, "changes.client_type"),
        ({"problem_types": ("housing", "boredom")}, "changes.problem_types"),
        ({"problem_types": ("debt", "debt")}, "changes.problem_types"),
    ],
)  # fmt: skip
def test_bad_details_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        update(create_card(), **changes)
    assert field in refused_fields(refused.value)


def test_centres_cannot_leave_a_responsible_worker_serving_none_of_them() -> None:
    card, _ = assign_worker(create_card(), "w-anna", ORGANISATION, "w-anna", T0)
    both = frozenset({"ctr-north-town", "ctr-north-village"})
    with pytest.raises(FailedPrecondition) as refused:
        update(card, both, centre_ids=("ctr-north-village",))
    assert refused.value.field == "changes.centre_ids"
    moved = update(card, both, centre_ids=("ctr-north-town", "ctr-north-village"))
    assert moved.centre_ids == ("ctr-north-town", "ctr-north-village")


# ------------------------------------------------------------------ responsible workers


def test_a_worker_of_the_cards_centres_is_assigned_once_and_unassigned() -> None:
    card, assigned = assign_worker(create_card(), "w-petr", ORGANISATION, "w-anna", T0)
    assert assigned and [w.worker_id for w in card.responsible_workers] == ["w-petr"]
    again, assigned_again = assign_worker(card, "w-petr", ORGANISATION, "w-anna", T0)
    assert not assigned_again and again is card
    gone = unassign_worker(card, "w-petr", "moved team", "w-anna", T0)
    assert gone.responsible_workers == ()
    assert gone.history[-1].what == "worker w-petr no longer responsible; reason: moved team"


def test_an_unknown_or_foreign_worker_is_refused() -> None:
    card = create_card()
    with pytest.raises(InvalidArgument) as unknown:
        assign_worker(card, "w-ghost", ORGANISATION, "w-anna", T0)
    assert refused_fields(unknown.value) == {"worker_id"}
    with pytest.raises(FailedPrecondition) as foreign:
        assign_worker(card, "w-ilze", ORGANISATION, "w-anna", T0)
    assert foreign.value.field == "worker_id"
    with pytest.raises(FailedPrecondition) as not_assigned:
        unassign_worker(card, "w-petr", "", "w-anna", T0)
    assert not_assigned.value.field == "worker_id"


# ------------------------------------------------------------------ consents


def give(card: ClientCard, purpose: ConsentPurpose, on: date, partner: str = "") -> ClientCard:
    updated, _ = record_consent(
        card, consent_id=f"c{len(card.consent_records)}", purpose=purpose, partner=partner,
        given_on=on, document_ref="DOC-1", by="w-anna", now=T0,
    )  # fmt: skip
    return updated


def withdraw(card: ClientCard, purpose: ConsentPurpose, on: date, partner: str = "") -> ClientCard:
    updated, _ = withdraw_consent(
        card, consent_id=f"c{len(card.consent_records)}", purpose=purpose, partner=partner,
        withdrawn_on=on, document_ref="", note="changed her mind", by="w-anna", now=T0,
    )  # fmt: skip
    return updated


def test_a_withdrawn_consent_keeps_its_history() -> None:
    card = give(create_card(), ConsentPurpose.FEEDBACK_CALLS, TODAY - timedelta(days=5))
    card = withdraw(card, ConsentPurpose.FEEDBACK_CALLS, TODAY)
    assert [r.action for r in card.consent_records] == [
        ConsentAction.GIVEN,
        ConsentAction.WITHDRAWN,
    ]
    state = consent_state(card.consent_records)
    assert state[(ConsentPurpose.FEEDBACK_CALLS, "")].action is ConsentAction.WITHDRAWN
    assert "feedback calls withdrawn" in card.history[-1].what


def test_sharing_is_consented_per_partner() -> None:
    card = give(create_card(), ConsentPurpose.SHARING_WITH_PARTNER, TODAY, "City Hospital")
    card = give(card, ConsentPurpose.SHARING_WITH_PARTNER, TODAY, "Food Bank")
    card = withdraw(card, ConsentPurpose.SHARING_WITH_PARTNER, TODAY, "city  hospital")
    state = consent_state(card.consent_records)
    assert state[(ConsentPurpose.SHARING_WITH_PARTNER, "city hospital")].action.value == "withdrawn"
    assert state[(ConsentPurpose.SHARING_WITH_PARTNER, "food bank")].action.value == "given"


@pytest.mark.parametrize(
    ("call", "kind", "field"),
    [
        (lambda c: give(c, ConsentPurpose.SHARING_WITH_PARTNER, TODAY), InvalidArgument,
         "partner"),
        (lambda c: give(c, ConsentPurpose.FEEDBACK_CALLS, TODAY, "Hospital"), InvalidArgument,
         "partner"),
        (lambda c: give(c, ConsentPurpose.FEEDBACK_CALLS, TODAY + timedelta(days=1)),
         InvalidArgument, "given_on"),
        (lambda c: withdraw(c, ConsentPurpose.FEEDBACK_CALLS, TODAY), FailedPrecondition,
         "purpose"),
        (lambda c: withdraw(withdraw(give(c, ConsentPurpose.FEEDBACK_CALLS, TODAY),
                                     ConsentPurpose.FEEDBACK_CALLS, TODAY),
                            ConsentPurpose.FEEDBACK_CALLS, TODAY), FailedPrecondition, "purpose"),
        (lambda c: withdraw(give(c, ConsentPurpose.FEEDBACK_CALLS, TODAY),
                            ConsentPurpose.FEEDBACK_CALLS, TODAY - timedelta(days=1)),
         FailedPrecondition, "withdrawn_on"),
    ],
    ids=["no-partner", "partner-not-shared", "future", "never-given", "withdrawn-twice",
         "before-given"],
)  # fmt: skip
def test_bad_consent_records_are_refused(call: Any, kind: type[Exception], field: str) -> None:
    card = create_card()
    with pytest.raises(kind) as refused:
        call(card)
    error = refused.value
    fields = refused_fields(error) if isinstance(error, InvalidArgument) else {error.field}  # type: ignore[attr-defined]
    assert field in fields
    assert card.consent_records == ()


_purposes = st.sampled_from([ConsentPurpose.DATA_PROCESSING, ConsentPurpose.FEEDBACK_CALLS])


@given(st.lists(st.tuples(st.booleans(), _purposes, st.integers(0, 3)), max_size=30))
def test_consent_state_after_any_sequence_is_the_last_accepted_record_per_purpose(
    commands: list[tuple[bool, ConsentPurpose, int]],
) -> None:
    card = create_card()
    expected: dict[ConsentPurpose, ConsentAction] = {}
    day = TODAY - timedelta(days=100)
    for giving, purpose, step in commands:
        day += timedelta(days=step)
        before = card
        try:
            card = give(card, purpose, day) if giving else withdraw(card, purpose, day)
        except FailedPrecondition:
            assert card is before
            assert not giving and expected.get(purpose) is not ConsentAction.GIVEN
            continue
        expected[purpose] = ConsentAction.GIVEN if giving else ConsentAction.WITHDRAWN
        assert card.consent_records[: len(before.consent_records)] == before.consent_records
    state = consent_state(card.consent_records)
    assert {p: r.action for (p, _), r in state.items()} == expected


# ------------------------------------------------------------------ notes


def note(card: ClientCard, text: str, corrects: str = "") -> ClientCard:
    updated, _ = add_note(
        card, note_id=f"n{len(card.notes) + 1}", text=text, corrects_note_id=corrects,
        author="w-anna", now=T0,
    )  # fmt: skip
    return updated


def test_a_correction_is_a_new_note_naming_the_old_one() -> None:
    card = note(create_card(), "Lives with her sister.")
    card = note(card, "Lives with her daughter, not her sister.", corrects="n1")
    assert [n.text for n in card.notes] == [
        "Lives with her sister.",
        "Lives with her daughter, not her sister.",
    ]
    assert corrected_by(card.notes) == {"n1": ("n2",)}
    assert card.history[-1].what == "note n2 added, correcting note n1"


@pytest.mark.parametrize(
    ("text", "corrects", "field"),
    [("   ", "", "text"), ("x" * 5001, "", "text"), ("fix", "n-missing", "corrects_note_id")],
)
def test_bad_notes_are_refused(text: str, corrects: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        note(create_card(), text, corrects)
    assert field in refused_fields(refused.value)


@given(st.lists(st.tuples(st.text(max_size=20), st.integers(0, 12)), max_size=20))
def test_notes_are_append_only(commands: list[tuple[str, int]]) -> None:
    card = create_card()
    for text, corrects in commands:
        before = card.notes
        try:
            card = note(card, text, f"n{corrects}" if corrects else "")
        except InvalidArgument:
            assert card.notes == before
            continue
        assert card.notes[:-1] == before and len(card.notes) == len(before) + 1


# ------------------------------------------------------------------ contacts


def contact(card: ClientCard, on: date, **overrides: Any) -> ClientCard:
    fields: dict[str, Any] = {
        "contact_id": f"k{len(card.contact_records) + 1}",
        "on": on,
        "channel": ContactChannel.PHONE,
        "worker_id": "w-anna",
        "summary": "Called about the rent.",
        "org": ORGANISATION,
        "by": "w-anna",
        "now": T0,
    }
    fields.update(overrides)
    updated, _ = record_contact(card, **fields)
    return updated


def test_a_contact_moves_the_last_contact_forward_never_back() -> None:
    card = contact(create_card(), TODAY - timedelta(days=2))
    assert card.last_contact_on == TODAY - timedelta(days=2)
    older = contact(card, TODAY - timedelta(days=20))
    assert older.last_contact_on == TODAY - timedelta(days=2)
    assert len(older.contact_records) == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"on": TODAY + timedelta(days=1)}, "contacted_on"),
        ({"on": None}, "contacted_on"),
        ({"channel": None}, "channel"),
        ({"worker_id": "w-ghost"}, "worker_id"),
        ({"summary": " "}, "summary"),
        ({"summary": "x" * 501}, "summary"),
    ],
)
def test_bad_contacts_are_refused(overrides: dict[str, Any], field: str) -> None:
    on = overrides.pop("on", TODAY)
    with pytest.raises(InvalidArgument) as refused:
        contact(create_card(), on, **overrides)
    assert field in refused_fields(refused.value)


def test_a_client_in_touch_is_not_closed_as_did_not_come() -> None:
    settings = StatusSettings(inactivity_days=60)
    long_ago = T0 - timedelta(days=90)
    first = record_first_contact(StatusHistory(), settings, long_ago.date(), "w-anna", long_ago)
    silent = create_card(status_entries=first.history.entries, last_contact_on=long_ago.date())
    assert silent.last_activity_on == long_ago.date()
    closed = apply_inactivity(silent.status_history, settings, silent.last_contact_on, TODAY, T0)
    assert closed.entry is not None and closed.entry.status is ClientStatus.REJECTED
    in_touch = contact(silent, TODAY - timedelta(days=10))
    assert in_touch.last_activity_on == TODAY - timedelta(days=10)
    kept = apply_inactivity(in_touch.status_history, settings, in_touch.last_contact_on, TODAY, T0)
    assert kept.entry is None


# ------------------------------------------------------------------ merge


def test_a_merge_keeps_the_details_of_both_cards() -> None:
    survivor = note(give(create_card(), ConsentPurpose.DATA_PROCESSING, TODAY), "survivor note")
    absorbed = create_card(client_id="cl-2", registered_at=T0 - timedelta(days=40))
    absorbed, _ = assign_worker(absorbed, "w-petr", ORGANISATION, "w-anna", T0)
    absorbed = contact(absorbed, TODAY - timedelta(days=1))
    absorbed = replace(
        absorbed,
        notes=(replace(note(absorbed, "absorbed note").notes[0], note_id="n-abs"),),
        contacts=(ContactPoint(ContactKind.EMAIL, "old@example.test", "old"),),
    )
    kept, _ = merge_cards(survivor, absorbed, "same person", "w-anna", T0)
    assert [w.worker_id for w in kept.responsible_workers] == ["w-petr"]
    assert {n.note_id for n in kept.notes} == {"n1", "n-abs"}
    assert len(kept.consent_records) == 1 and len(kept.contact_records) == 1
    assert kept.contacts == absorbed.contacts
    assert kept.last_contact_on == TODAY - timedelta(days=1)


# ------------------------------------------------------------------ families after a merge


def create_family(**overrides: Any) -> Family:
    fields: dict[str, Any] = {
        "family_id": "fam-1",
        "organisation": ORG,
        "name": "Household",
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "members": (FamilyMember("mum", "head"), FamilyMember("kid", "child", ("mum",))),
        "actor": "w-anna",
        "now": T0,
    }
    fields.update(overrides)
    return new_family(**fields)


def test_the_absorbed_member_becomes_the_survivor() -> None:
    family, dropped = replace_member(create_family(), "mum", "mum-2", "w-anna", T0)
    assert family.member_ids == ("mum-2", "kid") and dropped == ()
    assert family.parents() == {"mum-2": (), "kid": ("mum-2",)}
    assert "merged into card mum-2" in family.history[-1].what


def test_two_members_of_one_person_become_one_without_a_cycle() -> None:
    # "kid-2" was typed as the kid's child by mistake; it is the kid's own second card.
    family = create_family(
        members=(
            FamilyMember("mum", "head"),
            FamilyMember("kid", "child", ("mum",)),
            FamilyMember("kid-2", "child", ("kid",)),
            FamilyMember("baby", "child", ("kid-2",)),
        )
    )
    merged, dropped = replace_member(family, "kid-2", "kid", "w-anna", T0)
    assert merged.member_ids == ("mum", "kid", "baby")
    assert merged.parents() == {"mum": (), "kid": ("mum",), "baby": ("kid",)}
    assert dropped == (("kid", "kid"),)
    assert "dropped" in merged.history[-1].what


def test_a_family_without_the_absorbed_card_is_unchanged() -> None:
    family = create_family()
    assert replace_member(family, "stranger", "mum", "w", T0) == (family, ())


_people = st.sampled_from(["a", "b", "c", "d", "e"])


@given(
    st.lists(st.tuples(_people, st.lists(_people, max_size=3, unique=True)), max_size=15),
    _people,
    _people,
)
def test_after_any_merge_a_family_has_no_duplicate_no_absorbed_card_and_no_cycle(
    changes: list[tuple[str, list[str]]], absorbed: str, survivor: str
) -> None:
    family = create_family(members=(FamilyMember("a", "head"),))
    for client_id, parents in changes:
        try:
            family, _ = add_member(
                family, FamilyMember(client_id, "other", tuple(parents)), "w", T0
            )
        except InvalidArgument:
            continue
    merged, _ = replace_member(family, absorbed, survivor, "w", T0)
    if absorbed == survivor or absorbed not in family.member_ids:
        assert merged == family
        return
    assert absorbed not in merged.member_ids
    assert survivor in merged.member_ids
    assert len(set(merged.member_ids)) == len(merged.member_ids)
    assert not creates_cycle(merged.parents())
    assert all(p in merged.member_ids for ps in merged.parents().values() for p in ps)
    assert len(merged.members) == len(set(family.member_ids) - {absorbed} | {survivor})
