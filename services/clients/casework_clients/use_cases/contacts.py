"""Contacts other services record with a client move the card's inactivity clock:
intake's acknowledgement, first contact and outreach of a referral, and plans'
monitoring contacts (by the client's id). Consultations move it where they join the card
(``use_cases.consultations``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from casework_clients.adapters.repository import ClientRepository
from casework_clients.domain import card_contacts
from casework_clients.domain.cards import ClientCard
from casework_clients.use_cases._shared import _follow, card_changed
from casework_common.unit_of_work import UnitOfWork


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
    contact: ContactElsewhere, uow: UnitOfWork, repository: ClientRepository
) -> ClientCard | None:
    """Join the contact to its card; None when no card is known (a referral whose card
    is still a proposal, say: nothing to move)."""
    if contact.client_id:
        found = _follow(repository, repository.find(contact.client_id))
    else:
        found = _follow(repository, repository.by_referral(contact.referral_id))
    if found is None:
        return None

    def note(card: ClientCard) -> ClientCard:
        updated, added = card_contacts.note_contact_elsewhere(
            card,
            contact_id=contact.contact_id,
            on=contact.on,
            channel=card_contacts.contact_channel_of(contact.channel),
            worker_id=contact.worker_id,
            summary=contact.summary,
            by=contact.source,
            now=uow.now,
        )
        return repository.save(updated, []) if added else card

    return card_changed(repository, found.client_id, note, as_read=found)
