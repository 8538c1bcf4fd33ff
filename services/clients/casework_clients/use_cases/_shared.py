"""Helpers the use cases of clients share: events, actors, status errors, saving a
status change, the match that joins a referral to a card."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
)
from casework_clients.domain import cards, proposals, rules, search
from casework_clients.domain.cards import (
    ClientCard,
    Outcome,
)
from casework_clients.domain.status import (
    ForbiddenTransition,
    OutOfOrderDate,
    StatusChange,
    StatusEntry,
    StatusRuleViolation,
)
from casework_common import contracts
from casework_common.auth import Principal
from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import (
    CaseworkError,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from casework_common.repository import retry_lost_race
from casework_common.unit_of_work import UnitOfWork

INITIAL_STATUS = "applicant"
CLIENT_EVENT = {
    Outcome.REGISTERED: events_pb2.ClientRegistered,
    Outcome.MATCHED: events_pb2.ClientMatched,
}
NewId = Callable[[], str]
R = TypeVar("R")


def _new_id() -> str:
    return str(uuid.uuid4())


def _event(
    message_type: type[Message],
    organisation: str,
    actor: Actor,
    payload: Mapping[str, object],
    trace: Mapping[str, str],
) -> EventEnvelope:
    """The event whose payload is `message_type` built from the use case's facts (plain
    values, dates as ISO strings): strictly, so a fact the schema lacks fails here in
    the producer, never in a consumer; the codec encodes it. The domain stays free of
    generated code."""
    message = contracts.from_facts(message_type, payload)
    return contracts.envelope(message, organisation=organisation, actor=actor, trace=trace)


def live_card(repository: ClientRepository, client_id: str) -> ClientCard:
    # Read through the caller's centres first: another centre's card is NOT_FOUND
    # before anything about the request is judged.
    card = repository.get(client_id)
    rules.require_not_merged(card)
    return card


def save_change(
    card: ClientCard,
    updated: ClientCard,
    event_type: type[Message],
    payload: Mapping[str, object],
    action: str,
    uow: UnitOfWork,
    repository: ClientRepository,
) -> ClientCard:
    """Save the changed card with its event (one write), then audit the change."""
    event = _event(
        event_type,
        card.organisation,
        uow.actor,
        {"client_id": card.client_id, **payload},
        uow.trace.carrier,
    )
    saved = repository.save(updated, [event])
    repository.audit(saved.client_id, uow.principal.subject, action, uow.now, uow.trace.trace_id)
    return saved


def worker_actor(principal: Principal) -> Actor:
    return Actor(kind=principal.kind, subject=principal.subject)


def status_error(exc: StatusRuleViolation, fields: Mapping[str, str]) -> CaseworkError:
    """A status rule violation as the caller sees it, with the request's field name."""
    field = fields.get(exc.field, exc.field)
    if isinstance(exc, ForbiddenTransition | OutOfOrderDate):
        return FailedPrecondition(f"{field}: {exc.message}")
    return InvalidArgument([FieldError(field, exc.message)])


def status_changed_payload(
    card: ClientCard, entry: StatusEntry, previous: str
) -> dict[str, object]:
    """Payload of clients.client.status_changed.v1."""
    return {
        "client_id": card.client_id,
        "from_status": previous,
        "status": entry.status.value,
        "reason": entry.reason or "",
        "effective_on": entry.effective_on.isoformat(),
        "source": entry.source.value,
        "actor": entry.actor,
        "episode": entry.episode,
        "explanation": entry.explanation,
        "region_id": card.region_id,
        "centre_ids": list(card.centre_ids),
    }


def _follow(repository: ClientRepository, card: ClientCard | None) -> ClientCard | None:
    """A merged card answers its survivor (a few hops at most)."""
    for _ in range(5):
        if card is None or not card.merged_into:
            return card
        card = repository.find(card.merged_into)
    return card


def card_changed(
    repository: ClientRepository,
    client_id: str,
    store: Callable[[ClientCard], R],
    *,
    as_read: ClientCard | None = None,
) -> R:
    """Run `store` (work a change of the card out and save it) on the card, a merged
    card's survivor, as stored; when a concurrent write wins it is worked out again on
    the winner's card (casework_common.repository.retry_lost_race). `as_read`: the card
    as the caller already read it."""

    def read() -> ClientCard:
        card = _follow(repository, repository.get(client_id))
        if card is None:
            raise NotFound(f"client {client_id} not found")
        return card

    return retry_lost_race(read, store, first=as_read)


def _require(principal: Principal, allowed: frozenset[str], what: str) -> None:
    """PERMISSION_DENIED for a record the caller can see but may not act on (call this
    only after the record was read through the caller's scoped repository, so that a
    record they cannot see stays NOT_FOUND)."""
    if not proposals.has_any(principal.roles, allowed):
        raise PermissionDenied(
            f"{principal.subject} may not {what}: needs the role {' or '.join(sorted(allowed))}"
        )


STATUS_FIELDS = {"on": "effective_on", "status": "status", "reason": "reason"}


def _changed(
    card: ClientCard,
    change: StatusChange,
    repository: ClientRepository,
    actor: Actor,
    now: datetime,
    trace: Mapping[str, str],
    extra: ClientCard | None = None,
    events: tuple[EventEnvelope, ...] = (),
) -> ClientCard:
    base = extra or card
    if change.entry is None:
        if extra is not None and extra != card:
            return repository.save(extra, list(events))
        return card
    updated = cards.with_status_change(base, change, now, actor.subject)
    updated = replace(updated, last_contact_on=cards.later_day(updated.last_contact_on, now.date()))
    event = _event(
        events_pb2.ClientStatusChanged,
        card.organisation,
        actor,
        status_changed_payload(updated, change.entry, card.status),
        trace,
    )
    return repository.save(updated, [*events, event])


def confident_match(
    repository: ClientRepository,
    query: search.SearchQuery,
    born: list[search.CandidateFacts] | None = None,
) -> tuple[ClientCard | None, search.Match | None, int]:
    """The one card confidently matching the query (None when none or several), the
    match, and how many confident matches there were. Candidates are ranked on the few
    details matching needs (`born`: the cards born on the query's day, when the caller
    has read them already)."""
    if query.date_of_birth is None:
        # A person without papers: the same names and the same phone or e-mail.
        if not (search.phone_key(query.phone) or query.email.strip()):
            return None, None, 0
        ranked = search.rank(query, repository.candidate_facts(query), 0)
        sure = [m for m in ranked if search.is_confident_without_papers(m)]
    else:
        # Only cards born that very day can be confident matches: one indexed lookup
        # instead of the broad look-alike search, which stays for SearchClients.
        facts = born if born is not None else repository.born_on(query.date_of_birth)
        ranked = search.rank(query, facts, search.CONFIDENT_SCORE)
        sure = [m for m in ranked if search.is_confident(m)]
    if len(sure) != 1:
        return None, None, len(sure)
    card = repository.ranked(sure[0].ref)
    return (card, sure[0], 1) if card is not None else (None, None, 0)


def candidate_facts(card: ClientCard) -> search.CandidateFacts:
    return search.CandidateFacts(
        ref=card.client_id,
        given_name=card.given_name,
        family_name=card.family_name,
        date_of_birth=card.date_of_birth,
        phone=card.phone,
        email=card.email,
    )
