"""Specification of the text, e-mail, phone, name, date-of-birth and address rules every
service applies, and of the value objects built on them."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import InvalidArgument
from casework_common.values import (
    MAX_ADDRESS,
    MAX_PERSON_NAME,
    Address,
    DateOfBirth,
    Email,
    PersonName,
    Phone,
    birth_date_error,
    collect,
    email_error,
    phone_error,
    text_error,
    text_errors,
)


@pytest.mark.parametrize(
    "value",
    ["a\x00b", "\x07", "line\x1bx", "\x7f", "\x85", "ok\u202eevil", "\u2066x\u2069", "x\ud800"],
)
def test_control_bidi_and_surrogate_characters_are_refused_in_any_text(value: str) -> None:
    assert text_error(value) is not None
    assert text_error(value, multiline=True) is not None


def test_free_text_keeps_line_breaks_and_tabs_a_single_line_does_not() -> None:
    assert text_error("first\r\nsecond\tthird", multiline=True) is None
    assert text_error("first\nsecond") is not None


def test_ordinary_text_in_any_script_passes() -> None:
    assert text_error("Anna Horváthová, Ilze Bērziņa, Ωμέγα, 日本, 😀") is None


def test_text_errors_name_each_bad_field_and_leave_blank_ones_to_the_required_rule() -> None:
    errors = text_errors(
        {"given_name": "A\x00", "family_name": "\t", "notes": "a\nb"}, free_text=("notes",)
    )
    assert [e.field for e in errors] == ["given_name"]


@pytest.mark.parametrize(
    "address",
    [
        "anna@example.org",
        "anna.horvathova+intake@mail.example.co.uk",
        "o'brien@example.ie",
        "jana@příklad.cz",
    ],
)
def test_an_ordinary_e_mail_address_is_accepted(address: str) -> None:
    assert email_error(address) is None


@pytest.mark.parametrize(
    "address",
    [
        "<script>alert(1)</script>@x.y",
        "<script>@x.yz",
        "anna@example",
        "anna@@example.org",
        "anna..b@example.org",
        ".anna@example.org",
        "anna@example.org.",
        "anna@-example.org",
        "an na@example.org",
        "anna@exa mple.org",
        '"anna"@example.org',
        "anna@example.o",
        "anna@example.123",
        "anna\x00@example.org",
        "anna@exam\u202eple.org",
        "a" * 65 + "@example.org",
        "a@" + "b" * 250 + ".org",
    ],
)
def test_anything_else_is_not_an_e_mail_address(address: str) -> None:
    assert email_error(address) is not None


@pytest.mark.parametrize(
    ("born", "refused"),
    [
        (date(9999, 12, 31), True),
        (date(2025, 6, 2), True),
        (date(1899, 12, 31), True),
        (date(1, 1, 1), True),
        (date(1900, 1, 1), False),
        (date(2025, 6, 1), False),
    ],
)
def test_a_date_of_birth_lies_between_1900_and_today(born: date, refused: bool) -> None:
    assert (birth_date_error(born, date(2025, 6, 1)) is not None) is refused


# ------------------------------------------------------------------ value objects


def _refused_field(build: Any) -> str:
    with pytest.raises(InvalidArgument) as refused:
        build()
    (error,) = refused.value.errors
    return error.field


def test_an_email_value_keeps_the_address_without_surrounding_blanks() -> None:
    assert Email.parse("  anna@example.org ").value == "anna@example.org"


@pytest.mark.parametrize("raw", ["", "anna", "anna@", "anna@@example.org", "a..b@example.org"])
def test_an_email_value_refuses_what_is_not_an_address_naming_the_field(raw: str) -> None:
    assert _refused_field(lambda: Email.parse(raw, "contact.email")) == "contact.email"


@pytest.mark.parametrize("raw", ["+421 900 123 456", "0900/123.456", "(02) 123-4567"])
def test_a_phone_value_accepts_the_ways_people_write_numbers(raw: str) -> None:
    assert Phone.parse(raw).value == raw


@pytest.mark.parametrize("raw", ["", "12345", "call me", "+1 2345 6789 0123 4567", "12\x003456"])
def test_a_phone_value_refuses_too_few_or_too_many_digits_and_letters(raw: str) -> None:
    assert _refused_field(lambda: Phone.parse(raw, "contact.phone")) == "contact.phone"


def test_a_phone_key_is_the_last_nine_digits_whatever_the_country_code() -> None:
    assert Phone.parse("+421 900 123 456").key == Phone.parse("0900 123 456").key


def test_a_constructed_value_refuses_a_bad_value_too() -> None:
    assert _refused_field(lambda: Email("no address")) == "email"
    assert _refused_field(lambda: Phone("12")) == "phone"


@pytest.mark.parametrize("raw", ["", "   ", "J" * (MAX_PERSON_NAME + 1), "Jana\x00", "Ja\u202ena"])
def test_a_person_name_is_one_line_of_text_not_blank_and_not_too_long(raw: str) -> None:
    assert _refused_field(lambda: PersonName.parse(raw, "given_name")) == "given_name"


def test_a_person_name_in_any_script_is_kept_without_surrounding_blanks() -> None:
    assert PersonName.parse(" Ilze Bērziņa ").value == "Ilze Bērziņa"


@pytest.mark.parametrize("raw", ["", "1961-4-12", "12.04.1961", "2026-06-02", "1899-12-31"])
def test_a_date_of_birth_is_an_iso_day_that_has_passed_not_before_1900(raw: str) -> None:
    today = date(2026, 6, 1)
    assert _refused_field(lambda: DateOfBirth.parse(raw, today)) == "date_of_birth"


def test_a_date_of_birth_of_today_is_accepted() -> None:
    assert DateOfBirth.parse("2026-06-01", date(2026, 6, 1)).value == date(2026, 6, 1)


def test_an_address_is_kept_on_one_line_and_refused_over_its_length() -> None:
    assert Address.parse(" Main  street 1\n Town ").value == "Main street 1 Town"
    assert _refused_field(lambda: Address.parse("x" * (MAX_ADDRESS + 1))) == "address"


def test_collect_names_each_problem_and_skips_fields_without_one() -> None:
    errors = collect(("email", email_error("x")), ("phone", phone_error("+421 900 123 456")))
    assert [e.field for e in errors] == ["email"]


@given(st.text(max_size=40))
def test_the_phone_value_and_the_phone_rule_agree_on_any_text(raw: str) -> None:
    value = raw.strip()
    accepted = phone_error(value) is None if value else False
    try:
        Phone.parse(raw)
    except InvalidArgument:
        assert not accepted
    else:
        assert accepted
