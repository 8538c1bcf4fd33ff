"""Search, and registration of a client by a worker."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from casework.clients.v1 import events_pb2
from casework_clients.adapters.plan_states import plan_states_of
from casework_clients.adapters.repository import (
    ClientRepository,
    ConsultationRepository,
    SharingRequestRepository,
)
from casework_clients.domain import cards, search
from casework_clients.domain.cards import (
    ClientCard,
    NewPerson,
)
from casework_clients.domain.colour import PlanState
from casework_clients.domain.commands import Search
from casework_clients.domain.identity import identity_key, other_card_key
from casework_clients.domain.projects import SettingsBook, SettingsSource, settings_for
from casework_clients.domain.status import (
    StatusRuleViolation,
)
from casework_clients.use_cases._shared import (
    _event,
    status_error,
    worker_actor,
)
from casework_clients.use_cases.consultations import (
    _consultation_joined,
    _join_waiting_consultations,
)
from casework_clients.use_cases.sharing import request_sharing
from casework_common.errors import (
    AlreadyExists,
    Conflict,
    FieldError,
    InvalidArgument,
)
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Candidate:
    card: ClientCard
    match: search.Match
    #: The client's plan as clients last heard of it (the colour reads it).
    plan: PlanState = field(default_factory=PlanState)


def search_clients(
    wanted: Search, uow: UnitOfWork, repository: ClientRepository
) -> list[Candidate]:
    """Likely existing cards of the caller's centres, best first. Each card shown is
    audited as read by the caller."""
    query, min_score, limit = wanted.query, wanted.min_score, wanted.limit
    if query.empty:
        raise InvalidArgument(
            [FieldError("query", "give at least a name, a date of birth, a phone or an e-mail")]
        )
    # Ranked on the few details ranking needs; only the cards answered are read, and
    # only as much of them as an answer shows.
    ranked = search.rank(query, repository.candidate_facts(query, limit), min_score)[:limit]
    by_id = {c.client_id: c for c in repository.summaries([m.ref for m in ranked])}
    ranked = [m for m in ranked if m.ref in by_id]
    shown = [m.ref for m in ranked]
    principal = uow.principal
    repository.audit_shown(shown, principal.subject, "search-result", uow.now, uow.trace.trace_id)
    plans = plan_states_of(principal.organisation, shown)
    return [Candidate(by_id[m.ref], m, plans.get(m.ref, PlanState())) for m in ranked]


@dataclass(frozen=True)
class Registration:
    card: ClientCard | None
    candidates: list[Candidate]


def register_client(
    person: NewPerson,
    dismissed: frozenset[str],
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    settings: SettingsSource,
    consultations: ConsultationRepository,
    sharing: SharingRequestRepository | None = None,
) -> Registration:
    """Register a person, unless existing cards may be them.

    Candidates at or above the registration threshold that the caller has not
    dismissed (looked at and confirmed are someone else) are answered instead, and
    nothing is stored. A card with the very same identity can never be dismissed.
    """
    principal, now, trace, trace_id = uow.principal, uow.now, uow.trace.carrier, uow.trace.trace_id
    new_id = uow.new_id
    if (
        person.project_id
        and isinstance(settings, SettingsBook)
        and person.project_id not in settings.projects
    ):
        raise InvalidArgument([FieldError("project_id", "no such project; see ListProjects")])
    query = search.SearchQuery(
        person.given_name, person.family_name, person.date_of_birth, person.phone, person.email
    )
    found = search_clients(Search(query, search.REGISTRATION_THRESHOLD, 20), uow, repository)
    key = identity_key(
        person.organisation, person.given_name, person.family_name, person.date_of_birth
    )
    open_candidates = [
        c for c in found if c.card.client_id not in dismissed or c.card.identity_key == key
    ]
    if open_candidates:
        return Registration(None, open_candidates)
    # A card of this identity in a centre the caller does not serve: answered exactly
    # as for an unknown person (anything else tells any worker who is a client where),
    # and that centre's manager gets a sharing request to merge the two.
    holder = repository.holder_of(key)
    elsewhere = holder if holder is not None and not repository.sees(holder.client_id) else None
    if holder is not None and elsewhere is None:
        raise AlreadyExists(
            f"client {holder.client_id} of your centres has these names and date of birth"
        )
    actor = principal.subject
    try:
        card = cards.new_card(
            person,
            client_id=new_id(),
            settings=settings_for(settings, person.project_id, now.date()),
            actor=actor,
            now=now,
        )
    except StatusRuleViolation as exc:
        raise status_error(exc, {}) from None
    if elsewhere is not None:
        card = replace(
            card,
            identity_key=other_card_key(key, card.client_id),
            duplicate_of=elsewhere.client_id,
        )
    card, joined = _join_waiting_consultations(card, consultations, now)
    payload = {
        "client_id": card.client_id,
        "referral_id": "",
        "display_name": f"{card.given_name} {card.family_name}",
        "region_id": card.region_id,
        "centre_id": person.centre_id,
        "client_type": card.client_type,
        "problem_type": person.problem_type,
        "status": card.status,
        "match": "none",
        "registered_by": actor,
    }
    events = [
        _event(
            events_pb2.ClientRegistered, card.organisation, worker_actor(principal), payload, trace
        )
    ]
    events += [_consultation_joined(card, c, trace) for c in joined]
    try:
        saved = repository.save(card, events)
    except DuplicateAggregate:
        # Someone registered this person a moment ago: a search now shows the card
        # when it is in the caller's centres, and nothing when it is not.
        raise Conflict("a card of this person may have been registered a moment ago; "
                       "search again") from None  # fmt: skip
    for consultation in joined:
        consultations.mark_attached(consultation.consultation_id, saved.client_id, now)
    repository.audit(saved.client_id, actor, "create", now, trace_id)
    if elsewhere is not None and sharing is not None:
        request_sharing(
            elsewhere, saved, "registration", principal, sharing, repository,
            now=now, trace=trace, trace_id=trace_id, new_id=new_id,
        )  # fmt: skip
    return Registration(saved, [])
