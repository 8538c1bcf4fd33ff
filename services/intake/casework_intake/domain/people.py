"""A person as intake is told about them, by a referral or a consultation: their date
of birth and the ways to reach them are checked by the same rules for both, and a
retried command about them is recognised the same way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import date
from typing import Any

from casework_common import idempotency
from casework_common.errors import FieldError
from casework_common.values import email_error, phone_error

OLDEST_AGE_YEARS = 130


def birth_date(raw: str, today: date) -> tuple[date | None, list[FieldError]]:
    """The date of birth as sent (None when it is no date), and what is wrong with it."""
    field = "person.date_of_birth"
    try:
        born = date.fromisoformat(raw)
    except ValueError:
        return None, [FieldError(field, "must be a date as YYYY-MM-DD")]
    if born > today:
        return born, [FieldError(field, "is in the future")]
    if today.year - born.year > OLDEST_AGE_YEARS:
        return born, [FieldError(field, f"more than {OLDEST_AGE_YEARS} years ago")]
    return born, []


def contact_errors(phone: str, email: str) -> list[FieldError]:
    """What is wrong with the phone number and the e-mail address given (either may
    be left empty)."""
    errors = []
    phone_problem = phone_error(phone.strip()) if phone.strip() else None
    if phone_problem:
        errors.append(FieldError("contact.phone", phone_problem))
    email_problem = email_error(email.strip()) if email.strip() else None
    if email_problem:
        errors.append(FieldError("contact.email", email_problem))
    return errors


def command_fingerprint(command: Any, trimmed: Iterable[str]) -> str:
    """What makes two commands about a person 'the same one' for an idempotent retry:
    their fields as sent, the channel by its value, and the `trimmed` fields without
    their surrounding blanks (as they are stored: two commands stored as the same
    record must count as the same retry)."""
    content = asdict(command)
    content["channel"] = command.channel.value if command.channel else None
    for key in trimmed:
        content[key] = content[key].strip()
    return idempotency.fingerprint(content)
