"""Clients' use cases, called by both entry points."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from casework_clients.adapters.repository import ClientRepository
from casework_clients.domain import cards
from casework_clients.domain.cards import ClientCard, Outcome, ReferralFacts
from casework_clients.domain.identity import identity_key
from casework_common.auth import Principal
from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import Conflict
from casework_common.storage import DuplicateAggregate

INITIAL_STATUS = "applicant"
CLIENT_EVENT = {
    Outcome.REGISTERED: "clients.client.registered",
    Outcome.MATCHED: "clients.client.matched",
}


def register_from_referral(
    facts: ReferralFacts,
    repository: ClientRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> tuple[ClientCard, Outcome]:
    """Find the referred person's card or create it, and emit what happened.

    Retried when another consumer registered the same person a moment earlier: the
    unique identity key turns that race into a match instead of a second card.
    """
    key = identity_key(facts.organisation, facts.given_name, facts.family_name, facts.date_of_birth)
    for _ in range(5):
        existing = repository.by_identity(key)
        card, outcome = cards.register_from_referral(
            existing, facts, new_client_id=new_id(), initial_status=INITIAL_STATUS, now=now
        )
        if outcome is Outcome.UNCHANGED:
            return card, outcome
        event = EventEnvelope(
            type=CLIENT_EVENT[outcome],
            version=1,
            organisation=facts.organisation,
            actor=Actor.system("clients"),
            payload=cards.event_payload(card, facts),
            trace=dict(trace),
        )
        try:
            return repository.save(card, [event]), outcome
        except (DuplicateAggregate, Conflict):
            continue
    raise Conflict(f"could not register referral {facts.referral_id}: too much contention")


def read_client(
    client_id: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace_id: str,
) -> ClientCard:
    card = repository.get(client_id)
    repository.audit(card.client_id, principal.subject, "read", now, trace_id)
    return card
