"""Specification: a referral (intake), a worker's registration and an edit of the card
(clients), and a referral reaching clients accept and refuse the same e-mail addresses
and phone numbers: all four apply the one rule of ``casework_common.values``.

Suite-level (it reads both services' domains, which never import each other); pure
domain code, no server.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import assume, example, given
from hypothesis import strategies as st

from casework_clients.domain.cards import ClientCard, ReferralFacts
from casework_clients.domain.commands import RegisterClient, new_person
from casework_clients.domain.details import CardChanges, update_card, with_acceptable_contact
from casework_clients.domain.records import ContactKind, ContactPoint
from casework_common.errors import InvalidArgument
from casework_common.organisation import Organisation, parse
from casework_intake.domain.referrals import Channel, SubmitReferral, validate

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
ORGANISATION: Organisation = parse(
    {
        "id": "org-test",
        "regions": [{"id": "reg-north", "name": "North"}],
        "centres": [
            {"id": "ctr-north", "region": "reg-north", "name": "North",
             "duty_worker": "w-anna", "manager": "w-anna"},
        ],
        "workers": [{"id": "w-anna", "name": "Anna", "centres": ["ctr-north"]}],
        "client_types": ["senior"],
        "problem_types": ["housing"],
    }
)  # fmt: skip

PHONES = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"\A\+?[0-9 ()./-]{3,24}\Z"),
    st.from_regex(r"\A\+?[0-9]{4,18}\Z"),
)
EMAILS = st.one_of(st.text(max_size=40), st.emails())


def create_referral(**overrides: Any) -> SubmitReferral:
    fields: dict[str, Any] = {
        "idempotency_key": "partner-key-0001",
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": "1950-03-14",
        "phone": "",
        "email": "",
        "address": "Main street 1",
        "region_id": "reg-north",
        "centre_id": "ctr-north",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": Channel.PARTNER_REFERRAL,
        "free_text": "",
    }
    fields.update(overrides)
    return SubmitReferral(**fields)


def create_registration(**overrides: Any) -> RegisterClient:
    fields: dict[str, Any] = {
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": "1950-03-14",
        "phone": "",
        "email": "",
        "address": "",
        "centre_id": "ctr-north",
        "client_type": "senior",
        "problem_type": "",
    }
    fields.update(overrides)
    return RegisterClient(**fields)


def create_card(**overrides: Any) -> ClientCard:
    fields: dict[str, Any] = {
        "client_id": "cl-1",
        "organisation": "org-test",
        "identity_key": "k",
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": date(1950, 3, 14),
        "phone": "",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_ids": ("ctr-north",),
        "client_type": "senior",
        "problem_types": (),
        "status": "applicant",
        "referral_ids": (),
        "registered_at": NOW,
    }
    fields.update(overrides)
    return ClientCard(**fields)


def create_referral_facts(**overrides: Any) -> ReferralFacts:
    fields: dict[str, Any] = {
        "referral_id": "ref-1",
        "organisation": "org-test",
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": date(1950, 3, 14),
        "phone": "",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_id": "ctr-north",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": "partner_referral",
        "submitted_at": NOW,
    }
    fields.update(overrides)
    return ReferralFacts(**fields)


def intake_accepts(**contact: str) -> bool:
    (field,) = (f"contact.{name}" for name in contact)
    errors = validate(create_referral(**contact), ORGANISATION, TODAY)
    return field not in {e.field for e in errors}


def registration_accepts(**contact: str) -> bool:
    try:
        new_person(create_registration(**contact), ORGANISATION, "org-test", TODAY)
    except InvalidArgument as refused:
        assert {e.field for e in refused.errors} == set(contact)
        return False
    return True


def update_accepts(kind: ContactKind, value: str) -> bool:
    changes = CardChanges(contacts=(ContactPoint(kind, value),))
    try:
        update_card(create_card(), changes, ORGANISATION, frozenset({"ctr-north"}), "w-anna", NOW)
    except InvalidArgument as refused:
        assert {e.field for e in refused.errors} == {"changes.contacts[0].value"}
        return False
    return True


def referral_path_keeps(**contact: str) -> bool:
    kept = with_acceptable_contact(create_referral_facts(**contact))
    return all(getattr(kept, name) == value for name, value in contact.items())


@given(PHONES)
@example("+421 900 123 456")
@example("12345")
@example("1234567890123456")
@example("0900/123.456")
def test_referral_registration_and_update_accept_and_refuse_the_same_phones(phone: str) -> None:
    assume(phone.strip())
    verdicts = {
        "intake referral": intake_accepts(phone=phone),
        "RegisterClient": registration_accepts(phone=phone),
        "UpdateClient": update_accepts(ContactKind.PHONE, phone),
        "referral reaching clients": referral_path_keeps(phone=phone),
    }
    assert len(set(verdicts.values())) == 1, verdicts


@given(EMAILS)
@example("anna@example.org")
@example("anna@localhost")
@example("a..b@example.org")
@example("anna@example.o")
def test_referral_registration_and_update_accept_and_refuse_the_same_emails(email: str) -> None:
    assume(email.strip())
    verdicts = {
        "intake referral": intake_accepts(email=email),
        "RegisterClient": registration_accepts(email=email),
        "UpdateClient": update_accepts(ContactKind.EMAIL, email),
        "referral reaching clients": referral_path_keeps(email=email),
    }
    assert len(set(verdicts.values())) == 1, verdicts


def test_an_address_registration_accepts_an_edit_of_the_card_accepts_too() -> None:
    person = new_person(
        create_registration(email="Anna.Nov@Example.org"), ORGANISATION, "org-test", TODAY
    )
    card = create_card(email=person.email)
    contacts = (ContactPoint(ContactKind.EMAIL, card.email),)
    updated, _ = update_card(
        card, CardChanges(contacts=contacts), ORGANISATION, frozenset({"ctr-north"}), "w-anna", NOW
    )
    assert updated.email == "Anna.Nov@Example.org"


def test_a_referral_with_a_refused_phone_reaches_clients_without_it_and_keeps_the_rest() -> None:
    facts = create_referral_facts(phone="call me", email="anna@example.org")
    kept = with_acceptable_contact(facts)
    assert kept == dataclasses.replace(facts, phone="")
