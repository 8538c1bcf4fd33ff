"""Referrals: the first contact of a person asking for help, from any channel.

Pure rules: what a valid referral is, and when a retried submission is the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from casework_common import idempotency
from casework_common.errors import FieldError, raise_if_any
from casework_common.organisation import Organisation
from casework_common.values import MAX_ADDRESS, MAX_PERSON_NAME, person_name_error, text_errors
from casework_intake.domain.people import birth_date, command_fingerprint, contact_errors

MAX_FREE_TEXT = 4000
MAX_NAME = MAX_PERSON_NAME


class Channel(Enum):
    PHONE = "phone"
    EMAIL = "email"
    WEB_FORM = "web_form"
    PARTNER_REFERRAL = "partner_referral"
    CLIENT_REFERRAL = "client_referral"
    GROUP_EVENT = "group_event"
    OUTREACH = "outreach"


@dataclass(frozen=True)
class SubmitReferral:
    """Command: take in one referral. Fields are as the caller sent them."""

    idempotency_key: str
    given_name: str
    family_name: str
    date_of_birth: str
    phone: str
    email: str
    address: str
    region_id: str
    centre_id: str
    client_type: str
    problem_type: str
    channel: Channel | None
    free_text: str


@dataclass(frozen=True)
class Referral:
    referral_id: str
    reference_number: str
    organisation: str
    idempotency_key: str
    fingerprint: str
    given_name: str
    family_name: str
    #: None for a person without papers who cannot give it (seed 004).
    date_of_birth: date | None
    phone: str
    email: str
    address: str
    region_id: str
    centre_id: str
    client_type: str
    problem_type: str
    channel: Channel
    free_text: str
    submitted_by: str
    submitted_at: datetime
    # First response (see first_response.py): the deadline, who took the referral on,
    # when the person was first reached, and whether the centre manager was told.
    first_response_due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""
    first_contact_at: datetime | None = None
    first_contact_by: str = ""
    first_contact_channel: Channel | None = None
    first_contact_note: str = ""
    escalated_at: datetime | None = None


def validate(command: SubmitReferral, organisation: Organisation, today: date) -> list[FieldError]:
    """Every problem with the command at once, each naming its field."""
    errors: list[FieldError] = text_errors(
        {
            "contact.address": command.address,
            "free_text": command.free_text,
        },
        free_text=("contact.address", "free_text"),
    )
    if not idempotency.KEY.match(command.idempotency_key):
        errors.append(FieldError(idempotency.FIELD, idempotency.KEY_RULE))
    for field, value in (
        ("person.given_name", command.given_name),
        ("person.family_name", command.family_name),
    ):
        name_problem = person_name_error(value.strip())
        if name_problem:
            errors.append(FieldError(field, name_problem))
    # Empty for a person without papers (seed 004): clients marks the card and matches
    # it by the other details.
    if command.date_of_birth:
        errors += birth_date(command.date_of_birth, today)[1]
    if not command.phone.strip() and not command.email.strip():
        errors.append(FieldError("contact", "a phone number or an e-mail address is required"))
    errors += contact_errors(command.phone, command.email)
    if len(command.address) > MAX_ADDRESS:
        errors.append(FieldError("contact.address", f"at most {MAX_ADDRESS} characters"))
    centre = organisation.centre(command.centre_id)
    if centre is None:
        errors.append(FieldError("centre_id", f"unknown centre {command.centre_id!r}"))
    if command.region_id and command.region_id not in organisation.regions:
        errors.append(FieldError("region_id", f"unknown region {command.region_id!r}"))
    elif centre is not None and command.region_id and command.region_id != centre.region:
        errors.append(FieldError("region_id", f"centre {centre.id} is in region {centre.region}"))
    if command.client_type not in organisation.client_types:
        errors.append(FieldError("client_type", f"one of {', '.join(organisation.client_types)}"))
    if command.problem_type not in organisation.problem_types:
        errors.append(FieldError("problem_type", f"one of {', '.join(organisation.problem_types)}"))
    if command.channel is None:
        errors.append(FieldError("channel", "is required"))
    if len(command.free_text) > MAX_FREE_TEXT:
        errors.append(FieldError("free_text", f"at most {MAX_FREE_TEXT} characters"))
    return errors


def fingerprint(command: SubmitReferral) -> str:
    """What makes two submissions 'the same referral' for an idempotent retry."""
    return command_fingerprint(
        command, trimmed=("given_name", "family_name", "phone", "email", "address")
    )


def accept(
    command: SubmitReferral,
    organisation: Organisation,
    *,
    referral_id: str,
    reference_number: str,
    submitted_by: str,
    now: datetime,
) -> Referral:
    """Turn a valid command into a referral (raises InvalidArgument otherwise)."""
    raise_if_any(validate(command, organisation, now.date()))
    centre = organisation.centres[command.centre_id]
    assert command.channel is not None
    return Referral(
        referral_id=referral_id,
        reference_number=reference_number,
        organisation=organisation.id,
        idempotency_key=command.idempotency_key,
        fingerprint=fingerprint(command),
        given_name=command.given_name.strip(),
        family_name=command.family_name.strip(),
        date_of_birth=(
            date.fromisoformat(command.date_of_birth) if command.date_of_birth else None
        ),
        phone=command.phone.strip(),
        email=command.email.strip(),
        address=command.address.strip(),
        region_id=centre.region,
        centre_id=centre.id,
        client_type=command.client_type,
        problem_type=command.problem_type,
        channel=command.channel,
        free_text=command.free_text,
        submitted_by=submitted_by,
        submitted_at=now,
    )


def check_replay(existing: Referral, command: SubmitReferral) -> Referral:
    """A retried submission answers the stored referral; a reused key with other
    content is refused, so a retry can never overwrite what was first sent."""
    idempotency.check(
        existing.fingerprint,
        command.idempotency_key,
        fingerprint(command),
        "a referral",
        shown=f"referral {existing.reference_number}",
    )
    return existing


def reference_number(year: int, sequence: int) -> str:
    return f"R-{year}-{sequence:06d}"


def submitted_event_payload(referral: Referral) -> dict[str, object]:
    """Payload of intake.referral.submitted.v1."""
    return {
        "referral_id": referral.referral_id,
        "reference_number": referral.reference_number,
        "person": {
            "given_name": referral.given_name,
            "family_name": referral.family_name,
            "date_of_birth": (referral.date_of_birth.isoformat() if referral.date_of_birth else ""),
        },
        "contact": {"phone": referral.phone, "email": referral.email, "address": referral.address},
        "region_id": referral.region_id,
        "centre_id": referral.centre_id,
        "client_type": referral.client_type,
        "problem_type": referral.problem_type,
        "channel": referral.channel.value,
        "submitted_at": referral.submitted_at.isoformat(),
    }
