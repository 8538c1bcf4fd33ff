"""Rules every service applies to the text, e-mail addresses and dates people send.

Pure Python (domain modules import it). Each check answers a description for a
FieldError, or None when the value is acceptable; the caller names the field.

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
from datetime import date

from casework_common.errors import FieldError

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
