"""One-time consultations: someone who only needs information, recorded as one
activity without a full client profile. Identifying data is optional; when the person
later becomes a client, clients joins the consultations recorded for them to the card
(it consumes intake.consultation.recorded.v1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from casework_common import idempotency
from casework_common.errors import FieldError, raise_if_any
from casework_common.organisation import Organisation
from casework_common.values import text_errors
from casework_intake.domain.people import birth_date, command_fingerprint, contact_errors
from casework_intake.domain.referrals import MAX_FREE_TEXT, MAX_NAME, Channel

MAX_TOPIC = 200
MAX_DURATION_MINUTES = 600


@dataclass(frozen=True)
class RecordConsultation:
    """Command, fields as the caller sent them."""

    idempotency_key: str
    given_name: str
    family_name: str
    date_of_birth: str
    phone: str
    email: str
    topic: str
    duration_minutes: int
    worker_id: str
    channel: Channel | None
    centre_id: str
    notes: str


@dataclass(frozen=True)
class Consultation:
    consultation_id: str
    organisation: str
    idempotency_key: str
    fingerprint: str
    given_name: str
    family_name: str
    date_of_birth: date | None
    phone: str
    email: str
    topic: str
    duration_minutes: int
    worker_id: str
    channel: Channel
    centre_id: str
    notes: str
    recorded_by: str
    recorded_at: datetime

    @property
    def anonymous(self) -> bool:
        return not self.given_name and not self.family_name


def validate(
    command: RecordConsultation, organisation: Organisation, today: date
) -> list[FieldError]:
    errors: list[FieldError] = []
    if not idempotency.KEY.match(command.idempotency_key):
        errors.append(FieldError(idempotency.FIELD, idempotency.KEY_RULE))
    given, family = command.given_name.strip(), command.family_name.strip()
    # Anonymous (no names) or identified (both): half a name cannot be joined to a card.
    if given and not family:
        errors.append(FieldError("person.family_name", "is required when a given name is"))
    if family and not given:
        errors.append(FieldError("person.given_name", "is required when a family name is"))
    for field, value in (("person.given_name", given), ("person.family_name", family)):
        if len(value) > MAX_NAME:
            errors.append(FieldError(field, f"at most {MAX_NAME} characters"))
    if command.date_of_birth:
        born, problems = birth_date(command.date_of_birth, today)
        errors += problems
        if born is not None and not given:
            errors.append(
                FieldError("person.date_of_birth", "is only kept with the person's names")
            )
    errors += contact_errors(command.phone, command.email)
    errors += text_errors(
        {
            "person.given_name": command.given_name,
            "person.family_name": command.family_name,
            "topic": command.topic,
            "notes": command.notes,
        },
        free_text=("notes",),
    )
    if not command.topic.strip():
        errors.append(FieldError("topic", "is required"))
    elif len(command.topic) > MAX_TOPIC:
        errors.append(FieldError("topic", f"at most {MAX_TOPIC} characters"))
    if not 1 <= command.duration_minutes <= MAX_DURATION_MINUTES:
        errors.append(
            FieldError("duration_minutes", f"between 1 and {MAX_DURATION_MINUTES} minutes")
        )
    centre = organisation.centre(command.centre_id)
    if centre is None:
        errors.append(FieldError("centre_id", f"unknown centre {command.centre_id!r}"))
    worker = organisation.workers.get(command.worker_id)
    if worker is None:
        errors.append(FieldError("worker_id", f"unknown worker {command.worker_id!r}"))
    elif centre is not None and centre.id not in worker.centres:
        errors.append(FieldError("worker_id", f"{worker.id} does not work for {centre.id}"))
    if command.channel is None:
        errors.append(FieldError("channel", "is required"))
    if len(command.notes) > MAX_FREE_TEXT:
        errors.append(FieldError("notes", f"at most {MAX_FREE_TEXT} characters"))
    return errors


def fingerprint(command: RecordConsultation) -> str:
    return command_fingerprint(
        command, trimmed=("given_name", "family_name", "phone", "email", "topic")
    )


def accept(
    command: RecordConsultation,
    organisation: Organisation,
    *,
    consultation_id: str,
    recorded_by: str,
    now: datetime,
) -> Consultation:
    raise_if_any(validate(command, organisation, now.date()))
    assert command.channel is not None
    return Consultation(
        consultation_id=consultation_id,
        organisation=organisation.id,
        idempotency_key=command.idempotency_key,
        fingerprint=fingerprint(command),
        given_name=command.given_name.strip(),
        family_name=command.family_name.strip(),
        date_of_birth=date.fromisoformat(command.date_of_birth) if command.date_of_birth else None,
        phone=command.phone.strip(),
        email=command.email.strip(),
        topic=command.topic.strip(),
        duration_minutes=command.duration_minutes,
        worker_id=command.worker_id,
        channel=command.channel,
        centre_id=command.centre_id,
        notes=command.notes,
        recorded_by=recorded_by,
        recorded_at=now,
    )


def check_replay(existing: Consultation, command: RecordConsultation) -> Consultation:
    idempotency.check(
        existing.fingerprint, command.idempotency_key, fingerprint(command), "a consultation"
    )
    return existing


def recorded_event_payload(consultation: Consultation) -> dict[str, object]:
    """Payload of intake.consultation.recorded.v1, exactly as agreed with clients."""
    return {
        "consultation_id": consultation.consultation_id,
        "person": {
            "given_name": consultation.given_name,
            "family_name": consultation.family_name,
            "date_of_birth": (
                consultation.date_of_birth.isoformat() if consultation.date_of_birth else ""
            ),
        },
        "contact": {"phone": consultation.phone, "email": consultation.email},
        "topic": consultation.topic,
        "duration_minutes": consultation.duration_minutes,
        "worker_id": consultation.worker_id,
        "channel": consultation.channel.value,
        "centre_id": consultation.centre_id,
        "recorded_at": consultation.recorded_at.isoformat(),
    }
