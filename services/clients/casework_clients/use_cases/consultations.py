"""Consultations recorded by intake join the card of the person they were about."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
    ConsultationRepository,
)
from casework_clients.domain import card_contacts, rules, search
from casework_clients.domain.cards import (
    ClientCard,
    Consultation,
)
from casework_clients.domain.commands import required
from casework_clients.domain.identity import identity_key
from casework_clients.use_cases._shared import (
    _event,
    _follow,
    candidate_facts,
    card_changed,
    confident_match,
)
from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import (
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
)
from casework_common.unit_of_work import UnitOfWork


def _consultation_joined(
    card: ClientCard, consultation: Consultation, trace: Mapping[str, str]
) -> EventEnvelope:
    return _event(
        events_pb2.ConsultationJoined,
        card.organisation,
        Actor.system("clients"),
        {"client_id": card.client_id, "consultation_id": consultation.consultation_id},
        trace,
    )


def _consultation_query(c: Consultation) -> search.SearchQuery:
    return search.SearchQuery(c.given_name, c.family_name, c.date_of_birth, c.phone, c.email)


def _join_waiting_consultations(
    card: ClientCard, consultations: ConsultationRepository, now: datetime
) -> tuple[ClientCard, list[Consultation]]:
    """The card with every waiting consultation that confidently is this person."""
    joined: list[Consultation] = []
    if card.date_of_birth is None:
        return card, []  # consultations join by date of birth; a worker joins the rest
    for consultation in consultations.waiting_for(card.date_of_birth):
        match = search.score(_consultation_query(consultation), candidate_facts(card))
        if not search.is_confident(match):
            continue
        card, added = card_contacts.attach_consultation(
            card, consultation, now, "joined when the card was created or matched"
        )
        if added:
            joined.append(consultation)
    return card, joined


def consultation_recorded(
    consultation: Consultation,
    uow: UnitOfWork,
    repository: ClientRepository,
    consultations: ConsultationRepository,
) -> ClientCard | None:
    """Join the consultation to its person's card when the person is identified
    (exact identity or one confident match); else keep it until the card appears."""
    now, trace = uow.now, uow.trace.carrier
    card: ClientCard | None = None
    how = ""
    c = consultation
    if not c.anonymous and c.date_of_birth is not None:
        key = identity_key(c.organisation, c.given_name, c.family_name, c.date_of_birth)
        card = _follow(repository, repository.by_identity(key))
        how = "same names and date of birth"
        if card is None:
            card, match, _ = confident_match(repository, _consultation_query(c))
            how = f"confident match ({', '.join(match.reasons)})" if match else ""
    if card is None:
        consultations.keep(c, now)
        return None

    def join(card: ClientCard) -> ClientCard:
        updated, added = card_contacts.attach_consultation(card, c, now, how)
        if not added:
            return card
        return repository.save(updated, [_consultation_joined(updated, c, trace)])

    return card_changed(repository, card.client_id, join, as_read=card)


def attach_consultation_by_worker(
    client_id: str,
    consultation_id: str,
    uow: UnitOfWork,
    repository: ClientRepository,
    consultations: ConsultationRepository,
) -> ClientCard:
    """A worker joins a consultation no rule could (anonymous, or without a date of
    birth) to the card of the person it was: seed 000, a one-time client who becomes a
    regular one keeps every earlier consultation. Only a consultation of a centre the
    worker serves (else NOT_FOUND); one already joined to another card is
    FAILED_PRECONDITION; joining it again to the same card changes nothing."""
    principal, now, trace, trace_id = uow.principal, uow.now, uow.trace.carrier, uow.trace.trace_id
    required("client_id", client_id)
    required("consultation_id", consultation_id)
    if len(consultation_id) > 100:
        raise InvalidArgument([FieldError("consultation_id", "is not a consultation id")])
    found = consultations.waiting(consultation_id)
    if found is None or found[0].centre_id not in principal.centres:
        raise NotFound("no such consultation in your centres")
    consultation, attached_to = found
    card = _follow(repository, repository.get(client_id))
    if card is None:
        raise NotFound(f"client {client_id} not found")
    rules.require_not_merged(card)
    if attached_to and attached_to != card.client_id:
        raise FailedPrecondition(
            "the consultation is joined to another card", field="consultation_id"
        )
    updated, added = card_contacts.attach_consultation(
        card, consultation, now, f"joined by {principal.subject}", principal.subject
    )
    saved = (
        repository.save(updated, [_consultation_joined(updated, consultation, trace)])
        if added
        else card
    )
    consultations.mark_attached(consultation_id, saved.client_id, now)
    repository.audit(saved.client_id, principal.subject, "consultation", now, trace_id)
    return saved
