"""Specification of referrals: what a valid referral is, and when a retried submission
is the same referral (pure domain, no server)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import AlreadyExists, FieldError, InvalidArgument
from casework_common.organisation import Organisation
from casework_dev.testing.organisations import create_organisation
from casework_intake.domain.referrals import (
    MAX_FREE_TEXT,
    MAX_NAME,
    Channel,
    Referral,
    SubmitReferral,
    accept,
    check_replay,
    fingerprint,
    reference_number,
    submitted_event_payload,
    validate,
)

ORGANISATION: Organisation = create_organisation()
TODAY = date(2025, 6, 1)
NOW = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


def create_command(**overrides: Any) -> SubmitReferral:
    """A valid referral of a senior to North Town about housing."""
    fields: dict[str, Any] = {
        "idempotency_key": "partner-key-0001",
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": "1950-03-14",
        "phone": "+421 900 123 456",
        "email": "jana@example.test",
        "address": "Main street 1",
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": Channel.PARTNER_REFERRAL,
        "free_text": "Rent arrears since March.",
    }
    fields.update(overrides)
    return SubmitReferral(**fields)


def create_referral(command: SubmitReferral | None = None, **overrides: Any) -> Referral:
    fields: dict[str, Any] = {
        "referral_id": "ref-1",
        "reference_number": "R-2025-000001",
        "submitted_by": "partner-city-hospital",
        "now": NOW,
    }
    fields.update(overrides)
    return accept(command or create_command(), ORGANISATION, **fields)


def errors_of(command: SubmitReferral) -> dict[str, str]:
    found = validate(command, ORGANISATION, TODAY)
    fields = [e.field for e in found]
    assert len(fields) == len(set(fields)), f"one error per field expected: {found}"
    return {e.field: e.description for e in found}


# ------------------------------------------------------------------------ validate


def test_a_complete_referral_is_valid() -> None:
    assert validate(create_command(), ORGANISATION, TODAY) == []


def test_free_text_and_an_address_keep_their_line_breaks() -> None:
    command = create_command(free_text="Rent arrears.\r\n\tSince March.", address="Main 1\nFlat 2")
    assert validate(command, ORGANISATION, TODAY) == []


@pytest.mark.parametrize(
    ("overrides", "field", "description"),
    [
        ({"idempotency_key": "short"}, "idempotency_key", "8 to 128 characters"),
        ({"idempotency_key": "k" * 129}, "idempotency_key", "8 to 128 characters"),
        ({"idempotency_key": "has space 1"}, "idempotency_key", "8 to 128 characters"),
        ({"given_name": ""}, "person.given_name", "is required"),
        ({"given_name": "   "}, "person.given_name", "is required"),
        ({"given_name": "J" * (MAX_NAME + 1)}, "person.given_name", f"at most {MAX_NAME}"),
        ({"family_name": "\t"}, "person.family_name", "is required"),
        ({"family_name": "N" * (MAX_NAME + 1)}, "person.family_name", f"at most {MAX_NAME}"),
        ({"date_of_birth": "14.3.1950"}, "person.date_of_birth", "YYYY-MM-DD"),
        ({"date_of_birth": "2025-06-02"}, "person.date_of_birth", "is in the future"),
        ({"date_of_birth": "1894-01-01"}, "person.date_of_birth", "more than 130 years ago"),
        ({"phone": "", "email": " "}, "contact", "a phone number or an e-mail address"),
        ({"phone": "call me maybe"}, "contact.phone", "is not a phone number"),
        ({"phone": "12345"}, "contact.phone", "is not a phone number"),
        ({"email": "jana.example.test"}, "contact.email", "is not an e-mail address"),
        ({"email": "jana@localhost"}, "contact.email", "is not an e-mail address"),
        (
            {"centre_id": "ctr-nowhere", "region_id": ""},
            "centre_id",
            "unknown centre 'ctr-nowhere'",
        ),
        ({"region_id": "reg-east"}, "region_id", "unknown region 'reg-east'"),
        (
            {"region_id": "reg-south"},
            "region_id",
            "centre ctr-north-town is in region reg-north",
        ),
        ({"client_type": "alien"}, "client_type", "one of senior, family_with_children"),
        ({"problem_type": "boredom"}, "problem_type", "one of housing, debt"),
        ({"channel": None}, "channel", "is required"),
        ({"free_text": "x" * (MAX_FREE_TEXT + 1)}, "free_text", f"at most {MAX_FREE_TEXT}"),
        ({"given_name": "Ja\x00na"}, "person.given_name", "control characters"),
        ({"given_name": "Ja\nna"}, "person.given_name", "control characters"),
        ({"family_name": "Nov\u202eáková"}, "person.family_name", "bidirectional"),
        ({"email": "<script>alert(1)</script>@x.y"}, "contact.email", "not an e-mail"),
        ({"email": "jana@exam\u2066ple.test"}, "contact.email", "not an e-mail"),
        ({"address": "Main\x00street"}, "contact.address", "control characters"),
        ({"address": "x" * 501}, "contact.address", "at most 500"),
        ({"free_text": "Rent \u2067arrears"}, "free_text", "bidirectional"),
        ({"free_text": "Rent\x07"}, "free_text", "control characters"),
    ],
)
def test_each_invalid_field_is_reported_with_its_path(
    overrides: dict[str, Any], field: str, description: str
) -> None:
    errors = errors_of(create_command(**overrides))

    assert list(errors) == [field]
    assert description in errors[field]


def test_limits_themselves_are_valid() -> None:
    command = create_command(
        idempotency_key="k" * 128,
        given_name="J" * MAX_NAME,
        free_text="x" * MAX_FREE_TEXT,
        date_of_birth=TODAY.isoformat(),
        phone="",
    )

    assert validate(command, ORGANISATION, TODAY) == []


def test_phone_alone_or_email_alone_is_enough_contact() -> None:
    assert validate(create_command(email=""), ORGANISATION, TODAY) == []
    assert validate(create_command(phone=""), ORGANISATION, TODAY) == []


def test_an_empty_region_is_allowed_because_the_centre_decides_it() -> None:
    assert validate(create_command(region_id=""), ORGANISATION, TODAY) == []


def test_every_problem_is_reported_at_once() -> None:
    command = create_command(
        idempotency_key="bad",
        given_name=" ",
        family_name="",
        date_of_birth="yesterday",
        phone="",
        email="",
        centre_id="ctr-nowhere",
        region_id="reg-east",
        client_type="",
        problem_type="",
        channel=None,
        free_text="x" * (MAX_FREE_TEXT + 1),
    )

    errors = validate(command, ORGANISATION, TODAY)

    assert [e.field for e in errors] == [
        "idempotency_key",
        "person.given_name",
        "person.family_name",
        "person.date_of_birth",
        "contact",
        "centre_id",
        "region_id",
        "client_type",
        "problem_type",
        "channel",
        "free_text",
    ]
    assert all(isinstance(e, FieldError) and e.description for e in errors)


def test_bad_phone_and_bad_email_are_both_reported() -> None:
    errors = errors_of(create_command(phone="phone?", email="mail?"))

    assert set(errors) == {"contact.phone", "contact.email"}


_text = st.text(max_size=200)


@given(
    idempotency_key=_text,
    given_name=_text,
    family_name=_text,
    date_of_birth=_text,
    phone=_text,
    email=_text,
    address=_text,
    region_id=_text,
    centre_id=_text,
    client_type=_text,
    problem_type=_text,
    channel=st.none() | st.sampled_from(Channel),
    free_text=st.text(max_size=50) | st.just("x" * (MAX_FREE_TEXT + 1)),
)
def test_validate_never_raises_on_arbitrary_strings(**fields: Any) -> None:
    errors = validate(SubmitReferral(**fields), ORGANISATION, TODAY)

    assert isinstance(errors, list)
    assert all(isinstance(e, FieldError) and e.field and e.description for e in errors)
    if fields["channel"] is None:
        assert "channel" in {e.field for e in errors}


# ------------------------------------------------------------------------ fingerprint


def test_the_same_content_has_the_same_fingerprint() -> None:
    assert fingerprint(create_command()) == fingerprint(create_command())
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(create_command()))


def test_names_differing_only_in_surrounding_whitespace_have_the_same_fingerprint() -> None:
    padded = create_command(given_name="  Jana ", family_name="\tNováková\n")

    assert fingerprint(padded) == fingerprint(create_command())


@pytest.mark.parametrize(
    "overrides",
    [
        {"free_text": "Rent arrears since April."},
        {"given_name": "Jan"},
        {"family_name": "Novakova"},
        {"date_of_birth": "1950-03-15"},
        {"phone": "+421 900 123 457"},
        {"email": "other@example.test"},
        {"address": "Main street 2"},
        {"centre_id": "ctr-north-village"},
        {"client_type": "homeless"},
        {"problem_type": "debt"},
        {"channel": Channel.PHONE},
        {"idempotency_key": "partner-key-0002"},
    ],
)
def test_any_other_difference_changes_the_fingerprint(overrides: dict[str, Any]) -> None:
    assert fingerprint(create_command(**overrides)) != fingerprint(create_command())


def test_submissions_accepted_as_the_same_referral_have_the_same_fingerprint() -> None:
    plain = create_command()
    padded = create_command(phone=" +421 900 123 456 ", email="jana@example.test ")
    stored_plain = dataclasses.replace(create_referral(plain), fingerprint="")
    stored_padded = dataclasses.replace(create_referral(padded), fingerprint="")
    assert stored_plain == stored_padded  # accept() makes them the same referral

    assert fingerprint(padded) == fingerprint(plain)


# ------------------------------------------------------------------------ accept


def test_accept_builds_the_referral_with_trimmed_fields_and_the_centres_region() -> None:
    command = create_command(
        given_name=" Jana ", family_name=" Nováková", phone=" +421 900 123 456 ", region_id=""
    )

    referral = create_referral(command)

    assert referral == Referral(
        referral_id="ref-1",
        reference_number="R-2025-000001",
        organisation="org-demo",
        idempotency_key="partner-key-0001",
        fingerprint=fingerprint(command),
        given_name="Jana",
        family_name="Nováková",
        date_of_birth=date(1950, 3, 14),
        phone="+421 900 123 456",
        email="jana@example.test",
        address="Main street 1",
        region_id="reg-north",
        centre_id="ctr-north-town",
        client_type="senior",
        problem_type="housing",
        channel=Channel.PARTNER_REFERRAL,
        free_text="Rent arrears since March.",
        submitted_by="partner-city-hospital",
        submitted_at=NOW,
    )


def test_accept_takes_the_region_of_a_southern_centre() -> None:
    referral = create_referral(create_command(centre_id="ctr-south-city", region_id=""))

    assert referral.region_id == "reg-south"


def test_accept_refuses_an_invalid_command_with_every_field_error() -> None:
    with pytest.raises(InvalidArgument) as raised:
        create_referral(create_command(given_name="", channel=None))

    assert [e.field for e in raised.value.errors] == ["person.given_name", "channel"]
    assert "person.given_name: is required" in str(raised.value)


def test_accept_judges_the_date_of_birth_against_the_day_of_now() -> None:
    command = create_command(date_of_birth="2025-06-02")

    with pytest.raises(InvalidArgument):
        create_referral(command, now=NOW)
    assert create_referral(command, now=datetime(2025, 6, 2, tzinfo=UTC)).date_of_birth == date(
        2025, 6, 2
    )


def test_submitted_event_payload_carries_the_referral() -> None:
    payload = submitted_event_payload(create_referral())

    assert payload == {
        "referral_id": "ref-1",
        "reference_number": "R-2025-000001",
        "person": {"given_name": "Jana", "family_name": "Nováková", "date_of_birth": "1950-03-14"},
        "contact": {
            "phone": "+421 900 123 456",
            "email": "jana@example.test",
            "address": "Main street 1",
        },
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": "partner_referral",
        "submitted_at": "2025-06-01T09:30:00+00:00",
    }


# ------------------------------------------------------------------------ check_replay


def test_a_retry_with_the_same_content_answers_the_stored_referral() -> None:
    stored = create_referral()

    assert check_replay(stored, create_command(given_name=" Jana")) is stored


def test_a_reused_key_with_other_content_is_refused_naming_the_first_referral() -> None:
    stored = create_referral(reference_number="R-2025-000042")

    with pytest.raises(AlreadyExists, match=r"'partner-key-0001'.*R-2025-000042"):
        check_replay(stored, create_command(free_text="Something else entirely."))


# ------------------------------------------------------------------------ reference number


@pytest.mark.parametrize(
    ("year", "sequence", "expected"),
    [
        (2025, 1, "R-2025-000001"),
        (2025, 42, "R-2025-000042"),
        (2026, 999999, "R-2026-999999"),
        (2026, 1000000, "R-2026-1000000"),
    ],
)
def test_reference_number_is_year_and_zero_padded_sequence(
    year: int, sequence: int, expected: str
) -> None:
    assert reference_number(year, sequence) == expected


def test_a_person_without_papers_is_referred_without_a_date_of_birth() -> None:
    """Seed 004: homeless or undocumented people may not know or prove their birthday;
    the referral is taken and clients marks the card."""
    command = create_command(date_of_birth="", address="")
    assert validate(command, ORGANISATION, TODAY) == []
    referral = create_referral(command)
    assert referral.date_of_birth is None
