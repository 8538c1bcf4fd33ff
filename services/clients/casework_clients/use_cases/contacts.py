"""Contacts other services record with a client move the card's inactivity clock:
intake's acknowledgement, first contact and outreach of a referral, and plans'
monitoring contacts (by the client's id). Consultations move it where they join the card
(``use_cases.consultations``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from casework_clients.adapters.repository import ClientRepository
from casework_clients.domain import card_contacts
from casework_clients.domain.cards import ClientCard
from casework_clients.use_cases._shared import _follow
from casework_common.errors import Conflict


@dataclass(frozen=True)
class ContactElsewhere:
    """A contact another service recorded, about a card found by client or referral id."""

    contact_id: str  # derived from the source event, so redelivery adds nothing
    client_id: str
    referral_id: str
    on: date
    channel: str  # intake's channel words
    worker_id: str
    summary: str
    source: str  # who recorded it, e.g. "intake"


def contact_recorded_elsewhere(
    contact: ContactElsewhere, repository: ClientRepository, *, now: datetime
) -> ClientCard | None:
    """Join the contact to its card; None when no card is known (a referral whose card
    is still a proposal, say: nothing to move)."""
    for _ in range(5):
        if contact.client_id:
            card = _follow(repository, repository.find(contact.client_id))
        else:
            card = _follow(repository, repository.by_referral(contact.referral_id))
        if card is None:
            return None
        updated, added = card_contacts.note_contact_elsewhere(
            card,
            contact_id=contact.contact_id,
            on=contact.on,
            channel=card_contacts.contact_channel_of(contact.channel),
            worker_id=contact.worker_id,
            summary=contact.summary,
            by=contact.source,
            now=now,
        )
        if not added:
            return card
        try:
            return repository.save(updated, [])
        except Conflict:
            continue
    raise Conflict(f"could not record contact {contact.contact_id}: too much contention")
