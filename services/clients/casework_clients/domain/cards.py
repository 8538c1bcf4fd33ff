"""The client's card, and how a referral finds or creates one.

A card exists once per person per organisation. A referral either creates the card
(status Applicant) or is attached to the card of the same person; attaching the same
referral twice changes nothing, which is what makes redelivered events harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum

from casework_clients.domain.identity import identity_key


class Outcome(Enum):
    REGISTERED = "registered"
    MATCHED = "matched"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ReferralFacts:
    """What clients needs of intake's referral.submitted event."""

    referral_id: str
    organisation: str
    given_name: str
    family_name: str
    date_of_birth: date
    phone: str
    email: str
    address: str
    region_id: str
    centre_id: str
    client_type: str
    problem_type: str
    channel: str
    submitted_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    what: str
    by: str


@dataclass(frozen=True)
class ClientCard:
    client_id: str
    organisation: str
    identity_key: str
    given_name: str
    family_name: str
    date_of_birth: date
    phone: str
    email: str
    address: str
    region_id: str
    centre_ids: tuple[str, ...]
    client_type: str
    problem_types: tuple[str, ...]
    status: str
    referral_ids: tuple[str, ...]
    registered_at: datetime
    history: tuple[HistoryEntry, ...] = field(default=())
    version: int = 0


def _merged(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return values if not value or value in values else (*values, value)


def register_from_referral(
    existing: ClientCard | None,
    facts: ReferralFacts,
    *,
    new_client_id: str,
    initial_status: str,
    now: datetime,
) -> tuple[ClientCard, Outcome]:
    """Find-or-create: the card this referral belongs to, and what happened to it."""
    if existing is None:
        card = ClientCard(
            client_id=new_client_id,
            organisation=facts.organisation,
            identity_key=identity_key(
                facts.organisation, facts.given_name, facts.family_name, facts.date_of_birth
            ),
            given_name=facts.given_name,
            family_name=facts.family_name,
            date_of_birth=facts.date_of_birth,
            phone=facts.phone,
            email=facts.email,
            address=facts.address,
            region_id=facts.region_id,
            centre_ids=(facts.centre_id,),
            client_type=facts.client_type,
            problem_types=(facts.problem_type,),
            status=initial_status,
            referral_ids=(facts.referral_id,),
            registered_at=now,
            history=(
                HistoryEntry(
                    now,
                    f"card created from referral {facts.referral_id} ({facts.channel})",
                    "system",
                ),
            ),
        )
        return card, Outcome.REGISTERED
    if facts.referral_id in existing.referral_ids:
        return existing, Outcome.UNCHANGED
    card = replace(
        existing,
        # Newer contact details win: the referral is the latest word from the person.
        phone=facts.phone or existing.phone,
        email=facts.email or existing.email,
        address=facts.address or existing.address,
        centre_ids=_merged(existing.centre_ids, facts.centre_id),
        problem_types=_merged(existing.problem_types, facts.problem_type),
        referral_ids=(*existing.referral_ids, facts.referral_id),
        history=(
            *existing.history,
            HistoryEntry(
                now, f"referral {facts.referral_id} ({facts.channel}) joined to the card", "system"
            ),
        ),
    )
    return card, Outcome.MATCHED


def event_payload(card: ClientCard, facts: ReferralFacts) -> dict[str, object]:
    """Payload of clients.client.registered.v1 / clients.client.matched.v1."""
    return {
        "client_id": card.client_id,
        "referral_id": facts.referral_id,
        "display_name": f"{card.given_name} {card.family_name}",
        "region_id": facts.region_id,
        "centre_id": facts.centre_id,
        "client_type": facts.client_type,
        "problem_type": facts.problem_type,
        "status": card.status,
    }
