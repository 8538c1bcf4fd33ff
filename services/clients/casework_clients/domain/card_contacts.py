"""What reaches a card from elsewhere: a one-time consultation joined to it, and the
contacts other services recorded (intake's acknowledgement, first contact and
outreach, plans' monitoring contacts), each moving the inactivity clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from casework_clients.domain.cards import (
    AttachedConsultation,
    ClientCard,
    Consultation,
    HistoryEntry,
    later_day,
)
from casework_clients.domain.records import (
    ContactChannel,
    ContactRecord,
)


def attach_consultation(
    card: ClientCard, consultation: Consultation, now: datetime, how: str, by: str = "system"
) -> tuple[ClientCard, bool]:
    """The card with the consultation joined; False when it already was."""
    if consultation.consultation_id in card.consultation_ids:
        return card, False
    return (
        replace(
            card,
            consultation_ids=(*card.consultation_ids, consultation.consultation_id),
            consultations=(
                *card.consultations,
                AttachedConsultation(consultation, now, by, how),
            ),
            last_contact_on=later_day(card.last_contact_on, consultation.recorded_at.date()),
            history=(
                *card.history,
                HistoryEntry(
                    now,
                    f"one-time consultation {consultation.consultation_id} of "
                    f"{consultation.recorded_at.date().isoformat()} "
                    f"({consultation.topic or 'no topic'}, {consultation.duration_minutes} min, "
                    f"{consultation.channel or 'channel unknown'}, by "
                    f"{consultation.worker_id or 'unknown worker'}) joined to the card: {how}",
                    by,
                ),
            ),
        ),
        True,
    )


# ------------------------------------------------------------------ contacts elsewhere

#: Intake's channels as the card's contact records name them.
_CONTACT_CHANNEL_OF_INTAKE = {
    "phone": ContactChannel.PHONE,
    "email": ContactChannel.EMAIL,
    "web_form": ContactChannel.MESSAGE,
    "desk": ContactChannel.IN_PERSON,
    "outreach": ContactChannel.IN_PERSON,
    "group_event": ContactChannel.IN_PERSON,
    "in_person": ContactChannel.IN_PERSON,  # plans' monitoring contacts
}


def contact_channel_of(intake_channel: str) -> ContactChannel:
    return _CONTACT_CHANNEL_OF_INTAKE.get(intake_channel, ContactChannel.OTHER)


def note_contact_elsewhere(
    card: ClientCard,
    *,
    contact_id: str,
    on: date,
    channel: ContactChannel,
    worker_id: str,
    summary: str,
    by: str,
    now: datetime,
) -> tuple[ClientCard, bool]:
    """A contact another service recorded (intake's acknowledgement and first contact,
    plans' monitoring contacts): it joins the card's contacts and moves the
    last-contact date the inactivity rule counts from (never back). ``contact_id`` is
    derived from the source, so a redelivered event adds nothing (False)."""
    if any(c.contact_id == contact_id for c in card.contact_records):
        return card, False
    record = ContactRecord(
        contact_id=contact_id,
        on=min(on, now.date()),
        channel=channel,
        worker_id=worker_id,
        summary=summary,
        recorded_at=now,
        recorded_by=by,
    )
    return (
        replace(
            card,
            contact_records=(*card.contact_records, record),
            last_contact_on=later_day(card.last_contact_on, record.on),
        ),
        True,
    )
