"""Specification of the text, e-mail and date-of-birth rules every service applies."""

from __future__ import annotations

from datetime import date

import pytest

from casework_common.values import birth_date_error, email_error, text_error, text_errors


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
