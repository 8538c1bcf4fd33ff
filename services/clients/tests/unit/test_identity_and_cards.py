"""Specification of who a person is (identity) and how a referral finds or creates the
person's card (pure domain, no server)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_clients.domain.cards import (
    ClientCard,
    HistoryEntry,
    Outcome,
    ReferralFacts,
    event_payload,
    register_from_referral,
)
from casework_clients.domain.identity import identity_key, normalise_name

ORG = "org-demo"
BORN = date(1950, 3, 14)
T0 = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
T1 = T0 + timedelta(days=3)


def create_facts(**overrides: Any) -> ReferralFacts:
    """What intake's referral.submitted event says about a senior referred to North Town."""
    fields: dict[str, Any] = {
        "referral_id": "ref-1",
        "organisation": ORG,
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": BORN,
        "phone": "+421 900 123 456",
        "email": "jana@example.test",
        "address": "Main street 1",
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": "partner_referral",
        "submitted_at": T0,
    }
    fields.update(overrides)
    return ReferralFacts(**fields)


def register(
    existing: ClientCard | None, facts: ReferralFacts, now: datetime = T0
) -> tuple[ClientCard, Outcome]:
    return register_from_referral(
        existing, facts, new_client_id="cl-new", initial_status="applicant", now=now
    )


def create_card(**overrides: Any) -> ClientCard:
    """The card registered from create_facts() (ref-1), as stored at version 1."""
    card, _ = register(None, create_facts())
    return replace(card, **{"version": 1, **overrides})


# ------------------------------------------------------------------------ normalise_name


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("Nováková", "novakova"),
        ("NOVAKOVA", "novakova"),
        ("  novakova ", "novakova"),
        ("Łukasz", "lukasz"),
        ("łukasz", "lukasz"),
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("Bērziņa", "berzina"),
        ("Dvořák", "dvorak"),
        ("Horváthová", "horvathova"),
        ("Søren", "soren"),
        ("Đorđe", "dorde"),
        ("Æsa", "aesa"),
        ("Jana   Marie", "jana marie"),
        ("Jana\tMarie\n", "jana marie"),
        ("Юлія", "юлія"),
        ("", ""),
    ],
)
def test_names_compare_without_diacritics_case_or_extra_whitespace(
    written: str, normalised: str
) -> None:
    assert normalise_name(written) == normalised


def test_the_spellings_of_one_name_normalise_alike() -> None:
    assert len({normalise_name(n) for n in ("Nováková", "NOVAKOVA", "  novakova ")}) == 1
    assert normalise_name("Łukasz") == normalise_name("lukasz")
    assert normalise_name("ß") == normalise_name("ss") == "ss"


def test_different_names_stay_different() -> None:
    assert normalise_name("Novák") != normalise_name("Nováková")
    assert normalise_name("Jana Marie") != normalise_name("JanaMarie")


@given(st.text(max_size=60))
def test_normalising_twice_changes_nothing(name: str) -> None:
    once = normalise_name(name)

    assert normalise_name(once) == once
    assert once == once.strip()
    assert "  " not in once


# ------------------------------------------------------------------------ identity_key


def test_identity_key_is_organisation_family_given_and_date_of_birth() -> None:
    assert identity_key(ORG, " Jana ", "NOVÁKOVÁ", BORN) == "org-demo|novakova|jana|1950-03-14"


def test_identity_key_is_the_same_for_two_spellings_of_one_person() -> None:
    assert identity_key(ORG, "Łukasz", "Dvořák", BORN) == identity_key(
        ORG, "LUKASZ", "  dvorak", BORN
    )


@pytest.mark.parametrize(
    ("organisation", "given_name", "family_name", "born"),
    [
        ("org-other", "Jana", "Nováková", BORN),
        (ORG, "Jan", "Nováková", BORN),
        (ORG, "Jana", "Novák", BORN),
        (ORG, "Jana", "Nováková", date(1950, 3, 15)),
        (ORG, "Nováková", "Jana", BORN),
    ],
)
def test_identity_key_differs_for_another_person_or_organisation(
    organisation: str, given_name: str, family_name: str, born: date
) -> None:
    assert identity_key(organisation, given_name, family_name, born) != identity_key(
        ORG, "Jana", "Nováková", BORN
    )


# ------------------------------------------------------------------------ register_from_referral


def test_a_referral_of_a_new_person_registers_a_card() -> None:
    card, outcome = register(None, create_facts())

    assert outcome is Outcome.REGISTERED
    assert card == ClientCard(
        client_id="cl-new",
        organisation=ORG,
        identity_key="org-demo|novakova|jana|1950-03-14",
        given_name="Jana",
        family_name="Nováková",
        date_of_birth=BORN,
        phone="+421 900 123 456",
        email="jana@example.test",
        address="Main street 1",
        region_id="reg-north",
        centre_ids=("ctr-north-town",),
        client_type="senior",
        problem_types=("housing",),
        status="applicant",
        referral_ids=("ref-1",),
        registered_at=T0,
        history=(
            HistoryEntry(T0, "card created from referral ref-1 (partner_referral)", "system"),
        ),
        version=0,
        # The referral is the first contact: the inactivity rule counts from it.
        last_contact_on=T0.date(),
        # How the person came is kept on the card.
        channel="partner_referral",
    )


def test_a_confirmed_referral_joins_the_card_without_changing_its_contacts_or_centres() -> None:
    existing = create_card()
    facts = create_facts(
        referral_id="ref-2",
        centre_id="ctr-north-village",
        problem_type="debt",
        phone="+421 900 999 999",
        email="",
        address="",
        channel="phone",
    )

    card, outcome = register(existing, facts, now=T1)

    assert outcome is Outcome.MATCHED
    assert card.client_id == existing.client_id
    assert card.referral_ids == ("ref-1", "ref-2")
    # What arrives from outside never replaces the card's details or shares the card:
    # a worker of the card's centre chooses that (see join_referral).
    assert card.centre_ids == ("ctr-north-town",)
    assert card.problem_types == ("housing", "debt")
    assert card.phone == "+421 900 123 456"
    assert card.email == "jana@example.test"
    assert card.address == "Main street 1"
    assert card.history[-1] == HistoryEntry(
        T1, "referral ref-2 (phone) joined to the card", "system"
    )
    assert len(card.history) == 2
    assert (card.status, card.registered_at, card.version) == ("applicant", T0, 1)


def test_a_match_from_the_same_centre_and_problem_adds_them_only_once() -> None:
    card, outcome = register(create_card(), create_facts(referral_id="ref-2"))

    assert outcome is Outcome.MATCHED
    assert card.centre_ids == ("ctr-north-town",)
    assert card.problem_types == ("housing",)
    assert card.referral_ids == ("ref-1", "ref-2")


def test_a_redelivered_referral_leaves_the_card_unchanged() -> None:
    existing = create_card()

    card, outcome = register(existing, create_facts(centre_id="ctr-south-city"), now=T1)

    assert outcome is Outcome.UNCHANGED
    assert card is existing


def test_a_matched_referral_delivered_again_is_unchanged() -> None:
    matched, _ = register(create_card(), create_facts(referral_id="ref-2"), now=T1)

    again, outcome = register(matched, create_facts(referral_id="ref-2"), now=T1 + timedelta(1))

    assert outcome is Outcome.UNCHANGED
    assert again == matched


def test_event_payload_describes_the_card_and_the_referral() -> None:
    card, _ = register(None, create_facts())

    assert event_payload(card, create_facts()) == {
        "client_id": "cl-new",
        "referral_id": "ref-1",
        "display_name": "Jana Nováková",
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "status": "applicant",
    }


_names = st.text(st.characters(categories=["L", "Zs"]), min_size=1, max_size=20)
_ids = st.text("abcdef0123456789", min_size=1, max_size=8).map(lambda s: f"ref-{s}")
_facts = st.builds(
    create_facts,
    referral_id=_ids,
    given_name=_names,
    family_name=_names,
    phone=st.sampled_from(["", "+421 900 123 456", "+420 777 000 111"]),
    email=st.sampled_from(["", "jana@example.test"]),
    centre_id=st.sampled_from(["ctr-north-town", "ctr-north-village", "ctr-south-city"]),
    problem_type=st.sampled_from(["housing", "debt", "health"]),
)


@given(existing=st.none() | st.builds(create_card), facts=_facts)
def test_registering_the_same_referral_twice_is_idempotent(
    existing: ClientCard | None, facts: ReferralFacts
) -> None:
    first, first_outcome = register(existing, facts, now=T1)
    second, second_outcome = register(first, facts, now=T1 + timedelta(days=1))

    assert second_outcome is Outcome.UNCHANGED
    assert second == first
    assert first.referral_ids.count(facts.referral_id) == 1
    # A referral the card already holds changes nothing, whatever centre it names now.
    if existing is None or facts.referral_id not in existing.referral_ids:
        assert first.centre_ids.count(facts.centre_id) == (
            1 if existing is None else existing.centre_ids.count(facts.centre_id)
        )
        assert first.problem_types.count(facts.problem_type) == 1
    if existing is None:
        assert first_outcome is Outcome.REGISTERED
    elif facts.referral_id in existing.referral_ids:
        assert first_outcome is Outcome.UNCHANGED
    else:
        assert first_outcome is Outcome.MATCHED
