"""Rules every service applies to the text, e-mail addresses and dates people send.

Pure Python (domain modules import it). Each check answers a description for a
FieldError, or None when the value is acceptable; the caller names the field.

The value objects at the end (Email, Phone, PersonName, DateOfBirth, Address) are the
one rule every service applies to a person's identity and contact details: a referral
in intake, a registration and an edit in clients accept and refuse the same values.
Each refuses a bad value with ``InvalidArgument`` naming the field it was given.

Why these rules:
- Control characters (NUL above all) break exports, logs and the database drivers;
  free text may hold line breaks and tabs, nothing else below U+0020 or DEL..U+009F.
- Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) make a name or
  a note display differently from what it says ("Trojan Source"): refused everywhere.
- A lone surrogate (possible in JSON as "\\ud800", never in valid UTF-8) cannot be
  stored or encoded; it is refused before anything tries.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import ClassVar, Self

from casework_common.errors import FieldError, InvalidArgument

# Line breaks and tabs are the only control characters free text keeps.
_FREE_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")

MAX_EMAIL = 254
# RFC 5321's shape without its rarely used corners (quoted local parts, address
# literals): dot-atoms of the printable characters RFC 5322 allows, a domain of
# letter-digit-hyphen labels (any script: internationalised domains are typed as
# such) ending in a label of two or more letters.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u00a0-\uffff-]+"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[^\W\d_]{{2,63}}$")

EARLIEST_BIRTH = date(1900, 1, 1)


def text_error(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` may not be stored as text, or None. `multiline` allows line
    breaks and tabs (free text: notes, descriptions, addresses)."""
    if _SURROGATE.search(value):
        return "contains an invalid character (a lone surrogate)"
    controls = _FREE_TEXT_CONTROLS if multiline else _LINE_CONTROLS
    if controls.search(value):
        return (
            "contains control characters (only line breaks and tabs are allowed)"
            if multiline
            else "contains control characters"
        )
    if _BIDI.search(value):
        return "contains bidirectional override characters"
    return None


def length_error(value: str, most: int) -> str | None:
    return f"at most {most} characters" if len(value) > most else None


def email_error(value: str) -> str | None:
    """Why `value` is not an e-mail address we would write to, or None."""
    if len(value) > MAX_EMAIL:
        return f"at most {MAX_EMAIL} characters"
    local, _, domain = value.rpartition("@")
    if len(local) > 64 or len(domain) > 253 or not _EMAIL.match(value):
        return "is not an e-mail address"
    if ".." in value or text_error(value) is not None:
        return "is not an e-mail address"
    return None


def is_email(value: str) -> bool:
    return email_error(value) is None


def birth_date_error(born: date, today: date) -> str | None:
    """A date of birth must be a day that has passed, and not before 1900."""
    if born > today:
        return "is in the future"
    if born < EARLIEST_BIRTH:
        return f"is before {EARLIEST_BIRTH.isoformat()}"
    return None


def text_errors(texts: Mapping[str, str], *, free_text: Collection[str] = ()) -> list[FieldError]:
    """text_error for each named field; the fields in `free_text` may hold line breaks.
    Blank values pass: whether a field may be blank is each command's own rule."""
    errors = []
    for field, value in texts.items():
        if not value.strip():
            continue
        problem = text_error(value, multiline=field in free_text)
        if problem:
            errors.append(FieldError(field, problem))
    return errors


# ------------------------------------------------------------------ value objects

MAX_PERSON_NAME = 200
MAX_ADDRESS = 500
# A phone number as people write it: digits, an optional leading +, and the usual
# separators; 6 to 15 digits (E.164 allows at most 15, no service number has fewer
# than 6).
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()./-]+$")
PHONE_PROBLEM = "is not a phone number (6 to 15 digits, optionally +, spaces, ( ) . / -)"


def phone_error(value: str) -> str | None:
    """Why `value` is not a phone number we would call, or None."""
    digits = sum(ch.isdigit() for ch in value)
    if not _PHONE_CHARS.match(value) or not 6 <= digits <= 15:
        return PHONE_PROBLEM
    return None


def person_name_error(value: str) -> str | None:
    """Why `value` (already stripped) is not a person's given or family name, or None."""
    if not value:
        return "is required"
    if len(value) > MAX_PERSON_NAME:
        return f"at most {MAX_PERSON_NAME} characters"
    return text_error(value)


def address_error(value: str) -> str | None:
    """Why `value` (already stripped) is not a postal address, or None (blank is fine)."""
    return length_error(value, MAX_ADDRESS) or text_error(value, multiline=True)


def _refuse(field: str, problem: str | None) -> None:
    if problem:
        raise InvalidArgument([FieldError(field, problem)])


@dataclass(frozen=True)
class _CheckedText:
    """A line of text refused (InvalidArgument naming the field) unless `_problem`
    finds nothing wrong with it. `parse` reads what someone sent: `_clean` first
    (surrounding blanks dropped), and blank refused as missing where `_blank_refused`."""

    value: str
    _field: ClassVar[str]
    _blank_refused: ClassVar[bool] = False

    @staticmethod
    def _problem(value: str) -> str | None:
        raise NotImplementedError

    @staticmethod
    def _clean(raw: str) -> str:
        return raw.strip()

    def __post_init__(self) -> None:
        _refuse(self._field, self._problem(self.value))

    @classmethod
    def parse(cls, raw: str, field: str = "") -> Self:
        value = cls._clean(raw)
        missing = cls._blank_refused and not value
        _refuse(field or cls._field, "is required" if missing else cls._problem(value))
        return cls(value)


@dataclass(frozen=True)
class Email(_CheckedText):
    """An e-mail address someone may be written to at (surrounding blanks dropped)."""

    _field = "email"
    _blank_refused = True
    _problem = staticmethod(email_error)


@dataclass(frozen=True)
class Phone(_CheckedText):
    """A phone number as written (surrounding blanks dropped)."""

    _field = "phone"
    _blank_refused = True
    _problem = staticmethod(phone_error)

    @property
    def key(self) -> str:
        """The last nine digits: the same number written with or without a country code."""
        return "".join(ch for ch in self.value if ch.isdigit())[-9:]


@dataclass(frozen=True)
class PersonName(_CheckedText):
    """A given or family name: one line of text, not blank, at most 200 characters."""

    _field = "name"
    _problem = staticmethod(person_name_error)


@dataclass(frozen=True)
class DateOfBirth:
    """A day of birth: a date that has passed, not before 1900."""

    value: date

    @classmethod
    def parse(cls, raw: str, today: date, field: str = "date_of_birth") -> DateOfBirth:
        """From ISO text (YYYY-MM-DD); the field is named when it is missing or wrong."""
        born, problem = birth_date_from(raw, today)
        _refuse(field, problem)
        assert born is not None
        return cls(born)

    @classmethod
    def of(cls, born: date, today: date, field: str = "date_of_birth") -> DateOfBirth:
        _refuse(field, birth_date_error(born, today))
        return cls(born)


@dataclass(frozen=True)
class Address(_CheckedText):
    """A postal address as one line (runs of blanks and line breaks become one space)."""

    _field = "address"
    _problem = staticmethod(address_error)

    @staticmethod
    def _clean(raw: str) -> str:
        return " ".join(raw.split())


def iso_day(raw: str) -> date | None:
    """The day `raw` writes as YYYY-MM-DD, or None (other ISO forms are refused too:
    one way to write a day on every wire)."""
    if len(raw) != 10:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def birth_date_from(raw: str, today: date) -> tuple[date | None, str | None]:
    """The date of birth `raw` writes, or why it is not one."""
    if not raw:
        return None, "is required (YYYY-MM-DD)"
    born = iso_day(raw)
    if born is None:
        return None, "must be a date YYYY-MM-DD"
    problem = birth_date_error(born, today)
    return (None, problem) if problem else (born, None)


def collect(*checks: tuple[str, str | None]) -> list[FieldError]:
    """FieldErrors of (field, problem) pairs whose problem is not None: a command
    refuses all its bad fields at once."""
    return [FieldError(field, problem) for field, problem in checks if problem]
