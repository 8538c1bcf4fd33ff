"""Clients' use cases, called by both entry points.

Every change of a card or family is saved together with its events (outbox). Status
rule violations of the domain are turned here, in one place, into the errors callers
see: bad input is INVALID_ARGUMENT with the request field named, a move the rules do
not allow from the current state is FAILED_PRECONDITION.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from google.protobuf.message import Message

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    AuditEntry,
    ClientRepository,
    ConsultationRepository,
    FamilyRepository,
    MatchProposalRepository,
    SharingRequestRepository,
)
from casework_clients.domain import cards, details, families, proposals, search
from casework_clients.domain.cards import (
    ClientCard,
    Consultation,
    Contract,
    NewPerson,
    Outcome,
    ReferralFacts,
)
from casework_clients.domain.colour import (
    ColourVerdict,
    PlanState,
    derive_colour,
    derive_family_colour,
)
from casework_clients.domain.families import Family, FamilyMember
from casework_clients.domain.identity import identity_key, other_card_key, person_key
from casework_clients.domain.proposals import (
    Disclosure,
    MatchProposal,
    SharingRequest,
)
from casework_clients.domain.records import ConsentPurpose, ConsentRecord, ContactChannel
from casework_clients.domain.statistics import StatusReport, client_report, family_report
from casework_clients.domain.status import (
    SYSTEM_ACTOR,
    ClientStatus,
    FamilyStatusVerdict,
    ForbiddenTransition,
    OutOfOrderDate,
    StatusChange,
    StatusEntry,
    StatusHistory,
    StatusMode,
    StatusRuleViolation,
    StatusSettings,
    apply_contract_signed,
    apply_inactivity,
    family_status,
    record_first_contact,
    record_manual_status,
    reopen_episode,
)
from casework_common import contracts
from casework_common.auth import Principal
from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import (
    AlreadyExists,
    CaseworkError,
    Conflict,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from casework_common.organisation import Organisation
from casework_common.storage import DuplicateAggregate

INITIAL_STATUS = "applicant"
CLIENT_EVENT = {
    Outcome.REGISTERED: events_pb2.ClientRegistered,
    Outcome.MATCHED: events_pb2.ClientMatched,
}
NewId = Callable[[], str]


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


# ------------------------------------------------------------------ referrals


def confident_match(
    repository: ClientRepository, query: search.SearchQuery
) -> tuple[ClientCard | None, search.Match | None, int]:
    """The one card confidently matching the query (None when none or several), the
    match, and how many confident matches there were."""
    if query.date_of_birth is None:
        return None, None, 0  # confidence needs the exact date of birth
    # Only cards born that very day can be confident matches: one indexed equality
    # instead of the broad look-alike search, which stays for SearchClients.
    candidates = repository.born_on(query.date_of_birth)
    facts = {c.client_id: c for c in candidates}
    ranked = search.rank(query, (candidate_facts(c) for c in candidates), search.CONFIDENT_SCORE)
    confident = [m for m in ranked if search.is_confident(m)]
    if len(confident) == 1:
        return facts[confident[0].ref], confident[0], 1
    return None, None, len(confident)


def candidate_facts(card: ClientCard) -> search.CandidateFacts:
    return search.CandidateFacts(
        ref=card.client_id,
        given_name=card.given_name,
        family_name=card.family_name,
        date_of_birth=card.date_of_birth,
        phone=card.phone,
        email=card.email,
    )


def register_from_referral(
    facts: ReferralFacts,
    repository: ClientRepository,
    *,
    proposals_repo: MatchProposalRepository,
    now: datetime,
    trace: Mapping[str, str],
    new_id: NewId = _new_id,
    settings: StatusSettings | None = None,
    consultations: ConsultationRepository | None = None,
    disclosure: Disclosure = Disclosure.NONE,
) -> tuple[ClientCard, Outcome]:
    """Create the referred person's card, or propose the referral to the workers of the
    card it matches, and emit what happened.

    A referral comes from outside (the anonymous web form, a partner, any worker) and
    never changes an existing card by itself: exact identity (names without diacritics
    or case, date of birth) or one confident fuzzy match (same date of birth, names
    alike modulo spelling and transliteration) becomes a match proposal for the
    workers of the card's own centres, and the card is answered unchanged (outcome
    PROPOSED). Several confident matches are left to a person: a new card is created
    and its history names the possible duplicates.

    Retried when another consumer registered the same person a moment earlier: the
    unique identity key turns that race into a proposal instead of a second card.
    """
    key = identity_key(facts.organisation, facts.given_name, facts.family_name, facts.date_of_birth)
    for _ in range(5):
        existing = _follow(repository, repository.by_identity(key))
        reasons: tuple[str, ...] = ()
        how = "exact"
        ambiguous = 0
        score = 100
        if existing is None:
            query = search.SearchQuery(facts.given_name, facts.family_name, facts.date_of_birth)
            existing, match, ambiguous = confident_match(repository, query)
            if match is not None:
                reasons, how, score = match.reasons, "confident", match.score
        if existing is not None:
            return _propose_match(
                existing, facts, proposals_repo, how=how, score=score, reasons=reasons,
                now=now, trace=trace, disclosure=disclosure,
            )  # fmt: skip
        card, outcome = cards.register_from_referral(
            None,
            facts,
            new_client_id=new_id(),
            initial_status=INITIAL_STATUS,
            now=now,
            settings=settings,
        )
        if ambiguous > 1:
            card = cards.note_history(
                card,
                now,
                f"{ambiguous} existing cards match this person equally well; a worker "
                "should check them and merge if they are the same person",
                SYSTEM_ACTOR,
            )
        try:
            saved = _save_referred_card(card, facts, repository, consultations, now, trace)
        except (DuplicateAggregate, Conflict):
            continue
        return saved, outcome
    raise Conflict(f"could not register referral {facts.referral_id}: too much contention")


def _save_referred_card(
    card: ClientCard,
    facts: ReferralFacts,
    repository: ClientRepository,
    consultations: ConsultationRepository | None,
    now: datetime,
    trace: Mapping[str, str],
) -> ClientCard:
    """A new card from a referral, with its waiting consultations and
    ``clients.client.registered.v1``: what an unknown person produces."""
    joined: list[Consultation] = []
    if consultations is not None:
        card, joined = _join_waiting_consultations(card, consultations, now)
    payload = {**cards.event_payload(card, facts), "match": "none", "score": 0}
    events = [
        _event(
            CLIENT_EVENT[Outcome.REGISTERED], facts.organisation, Actor.system("clients"),
            payload, trace,
        )
    ]  # fmt: skip
    events += [_consultation_joined(card, c, trace) for c in joined]
    saved = repository.save(card, events)
    if consultations is not None:
        for consultation in joined:
            consultations.mark_attached(consultation.consultation_id, saved.client_id, now)
    return saved


def proposal_payload(proposal: MatchProposal, card: ClientCard, tell: bool) -> dict[str, object]:
    """Payload of clients.match.proposed.v1: ids and routing facts, no contact details.
    ``tell_referring_centre``: the organisation lets the referring centre know the
    person is known elsewhere (never which card)."""
    f = proposal.referral
    return {
        "proposal_id": proposal.proposal_id,
        "client_id": card.client_id,
        "referral_id": f.referral_id,
        "display_name": f"{card.given_name} {card.family_name}",
        "centre_ids": list(card.centre_ids),
        "region_id": card.region_id,
        "referring_centre_id": f.centre_id,
        "client_type": f.client_type,
        "problem_type": f.problem_type,
        "match": proposal.match,
        "score": proposal.score,
        "tell_referring_centre": tell,
    }


def _propose_match(
    card: ClientCard,
    facts: ReferralFacts,
    proposals_repo: MatchProposalRepository,
    *,
    how: str,
    score: int,
    reasons: tuple[str, ...],
    now: datetime,
    trace: Mapping[str, str],
    disclosure: Disclosure,
) -> tuple[ClientCard, Outcome]:
    if facts.referral_id in card.referral_ids:
        return card, Outcome.UNCHANGED
    proposal = proposals.propose(card, facts, match=how, score=score, reasons=reasons, now=now)
    tell = proposals.tell_referring_centre(proposal, disclosure)
    event = _event(
        events_pb2.MatchProposed,
        facts.organisation,
        Actor.system("clients"),
        proposal_payload(proposal, card, tell),
        trace,
    )
    try:
        proposals_repo.save(proposal, [event])
    except DuplicateAggregate:
        return card, Outcome.UNCHANGED  # the referral was delivered again
    return card, Outcome.PROPOSED


# ------------------------------------------------------------------ match proposals


def list_match_proposals(
    principal: Principal,
    proposals_repo: MatchProposalRepository,
    *,
    status: str | None,
    offset: int,
    limit: int,
) -> list[MatchProposal]:
    """Proposals about cards of the caller's centres (the repository is scoped)."""
    return proposals_repo.page(status=status, offset=offset, limit=limit)


def read_match_proposal(
    proposal_id: str,
    principal: Principal,
    proposals_repo: MatchProposalRepository,
    cards_repo: ClientRepository,
    *,
    now: datetime,
    trace_id: str,
) -> MatchProposal:
    """One proposal of a card the caller serves; reading it is reading the card."""
    proposal = proposals_repo.get(proposal_id)
    cards_repo.audit(proposal.client_id, principal.subject, "proposal-read", now, trace_id)
    return proposal


def _proposal_card(proposal: MatchProposal, cards_repo: ClientRepository) -> ClientCard:
    card = _follow(cards_repo, cards_repo.find(proposal.client_id))
    if card is None:
        # The card left the caller's centres since the proposal was made.
        raise NotFound(f"match proposal {proposal.proposal_id} not found")
    return card


def confirm_match_proposal(
    proposal_id: str,
    merge: tuple[str, ...],
    share_with_referring_centre: bool,
    principal: Principal,
    proposals_repo: MatchProposalRepository,
    cards_repo: ClientRepository,
    *,
    consultations: ConsultationRepository,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> tuple[MatchProposal, ClientCard]:
    """A worker of the card's centre confirms the referral is this client's: the
    referral joins the card with the details they chose to trust; the card is shared
    with the referring centre only when they say so."""
    proposal = proposals_repo.get(proposal_id)
    card = _proposal_card(proposal, cards_repo)
    decided = proposals.confirm(
        proposal, merge=merge, share_with_referring_centre=share_with_referring_centre,
        by=principal.subject, now=now,
    )  # fmt: skip
    facts = decided.referral
    actor = worker_actor(principal)
    if facts.referral_id not in card.referral_ids:
        updated = cards.join_referral(
            card, facts, now=now, match_reasons=decided.reasons, merge=decided.merged_details,
            share=decided.shared_with_referring_centre, by=principal.subject,
        )  # fmt: skip
        updated, joined = _join_waiting_consultations(updated, consultations, now)
        events = []
        if facts.centre_id in updated.centre_ids:
            # The referring centre serves the card (its own, or now shared): its
            # workers are told a referral arrived for their client, as before.
            payload = {**cards.event_payload(updated, facts), "match": decided.match,
                       "score": decided.score}  # fmt: skip
            events.append(_event(CLIENT_EVENT[Outcome.MATCHED], card.organisation, actor,
                                 payload, trace))  # fmt: skip
        changed = [*(["centre_ids"] if updated.centre_ids != card.centre_ids else []),
                   *(["contacts"] if {"phone", "email"} & set(decided.merged_details) else []),
                   *(["address"] if "address" in decided.merged_details else [])]  # fmt: skip
        if changed:
            events.append(_event(events_pb2.ClientUpdated, card.organisation, actor, {
                "client_id": card.client_id, "changed_fields": changed,
                "region_id": updated.region_id, "centre_ids": list(updated.centre_ids),
                "client_type": updated.client_type,
                "problem_types": list(updated.problem_types),
            }, trace))  # fmt: skip
        events += [_consultation_joined(updated, c, trace) for c in joined]
        card = cards_repo.save(updated, events)
        for consultation in joined:
            consultations.mark_attached(consultation.consultation_id, card.client_id, now)
    saved = proposals_repo.save(
        decided,
        [_event(events_pb2.MatchConfirmed, card.organisation, actor, {
            "proposal_id": decided.proposal_id, "client_id": card.client_id,
            "referral_id": facts.referral_id, "merged_details": list(decided.merged_details),
            "shared_with_centre_id": facts.centre_id if decided.shared_with_referring_centre
            else "",
            "confirmed_by": principal.subject,
        }, trace)],
    )  # fmt: skip
    cards_repo.audit(card.client_id, principal.subject, "match-confirm", now, trace_id)
    return saved, card


def reject_match_proposal(
    proposal_id: str,
    reason: str,
    principal: Principal,
    proposals_repo: MatchProposalRepository,
    cards_repo: ClientRepository,
    system_cards: ClientRepository,
    *,
    settings: StatusSettings,
    consultations: ConsultationRepository,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> MatchProposal:
    """A worker of the card's centre says the referral is someone else: the referral's
    person gets a card of their own at the referring centre, exactly as an unknown
    person would (``clients.client.registered.v1``, so the referring centre's workers
    are told as for any new client)."""
    proposal = proposals_repo.get(proposal_id)
    card = _proposal_card(proposal, cards_repo)
    # Derived from the proposal: a rejection repeated after a cut-short first attempt
    # finds the card it already made instead of making a second one.
    new_client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"casework:{proposal.proposal_id}"))
    decided = proposals.reject(
        proposal, new_client_id=new_client_id, reason=reason, by=principal.subject, now=now
    )
    facts = decided.referral
    if system_cards.find(new_client_id) is None:
        new_card, _ = cards.register_from_referral(
            None, facts, new_client_id=new_client_id, initial_status=INITIAL_STATUS,
            now=now, settings=settings,
        )  # fmt: skip
        if system_cards.holder_of(new_card.identity_key) is not None:
            # A namesake born the same day: the one the identity already names keeps
            # the key, this person's card stands apart under its own.
            new_card = replace(
                new_card, identity_key=other_card_key(new_card.identity_key, new_client_id)
            )
        _save_referred_card(new_card, facts, system_cards, consultations, now, trace)
    saved = proposals_repo.save(
        decided,
        [_event(events_pb2.MatchRejected, card.organisation, worker_actor(principal), {
            "proposal_id": decided.proposal_id, "client_id": card.client_id,
            "referral_id": facts.referral_id, "new_client_id": new_client_id,
            "rejected_by": principal.subject,
        }, trace)],
    )  # fmt: skip
    cards_repo.audit(card.client_id, principal.subject, "match-reject", now, trace_id)
    return saved


# ------------------------------------------------------------------ reading


def read_client(
    client_id: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace_id: str,
) -> ClientCard:
    """The card (a merged card answers its survivor: see ``redirected_from``)."""
    card = repository.get(client_id)
    repository.audit(card.client_id, principal.subject, "read", now, trace_id)
    if card.merged_into:
        survivor = _follow(repository, card)
        if survivor is None:
            raise NotFound(f"client {client_id} not found")
        repository.audit(survivor.client_id, principal.subject, "read", now, trace_id)
        return survivor
    return card


def colour_of(card: ClientCard, today: date) -> ColourVerdict:
    """Derived from status, contract and plan. plans does not publish plan state yet,
    so every card counts as having no active plan until it does."""
    return derive_colour(card.status_history.current, card.contract_state, PlanState(), today)


# ------------------------------------------------------------------ search and registration


@dataclass(frozen=True)
class Candidate:
    card: ClientCard
    match: search.Match


def search_clients(
    query: search.SearchQuery,
    principal: Principal,
    repository: ClientRepository,
    *,
    min_score: int,
    limit: int,
    now: datetime,
    trace_id: str,
) -> list[Candidate]:
    """Likely existing cards of the caller's centres, best first. Each card shown is
    audited as read by the caller."""
    if query.empty:
        raise InvalidArgument(
            [FieldError("query", "give at least a name, a date of birth, a phone or an e-mail")]
        )
    candidates = repository.candidates(query)
    by_id = {c.client_id: c for c in candidates}
    ranked = search.rank(query, (candidate_facts(c) for c in candidates), min_score)[:limit]
    for match in ranked:
        repository.audit(match.ref, principal.subject, "search-result", now, trace_id)
    return [Candidate(by_id[m.ref], m) for m in ranked]


@dataclass(frozen=True)
class Registration:
    card: ClientCard | None
    candidates: list[Candidate]


def register_client(
    person: NewPerson,
    dismissed: frozenset[str],
    principal: Principal,
    repository: ClientRepository,
    *,
    settings: StatusSettings,
    consultations: ConsultationRepository,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
    new_id: NewId = _new_id,
    sharing: SharingRequestRepository | None = None,
) -> Registration:
    """Register a person, unless existing cards may be them.

    Candidates at or above the registration threshold that the caller has not
    dismissed (looked at and confirmed are someone else) are answered instead, and
    nothing is stored. A card with the very same identity can never be dismissed.
    """
    query = search.SearchQuery(
        person.given_name, person.family_name, person.date_of_birth, person.phone, person.email
    )
    found = search_clients(
        query,
        principal,
        repository,
        min_score=search.REGISTRATION_THRESHOLD,
        limit=20,
        now=now,
        trace_id=trace_id,
    )
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
        card = cards.new_card(person, client_id=new_id(), settings=settings, actor=actor, now=now)
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


# ------------------------------------------------------------------ sharing requests


def request_sharing(
    existing: ClientCard,
    requester_card: ClientCard,
    cause: str,
    principal: Principal,
    sharing: SharingRequestRepository,
    cards_repo: ClientRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
    new_id: NewId = _new_id,
) -> SharingRequest:
    """A sharing request to the managers of ``existing``'s centres (``clients.sharing
    .requested.v1``), audited on the existing card; nothing of that card goes back."""
    request = SharingRequest(
        request_id=new_id(),
        organisation=existing.organisation,
        client_id=existing.client_id,
        centre_ids=existing.centre_ids,
        requester_client_id=requester_card.client_id,
        requesting_centre_ids=requester_card.centre_ids,
        requested_by=principal.subject,
        cause=cause,
        requested_at=now,
    )
    saved = sharing.save(
        request,
        [_event(events_pb2.SharingRequested, existing.organisation, worker_actor(principal), {
            "request_id": request.request_id, "client_id": existing.client_id,
            "centre_ids": list(existing.centre_ids),
            "requester_client_id": requester_card.client_id,
            "requesting_centre_ids": list(requester_card.centre_ids),
            "requested_by": principal.subject, "cause": cause,
        }, trace)],
    )  # fmt: skip
    cards_repo.audit(existing.client_id, principal.subject, "sharing-request", now, trace_id)
    return saved


def list_sharing_requests(
    principal: Principal,
    sharing: SharingRequestRepository,
    *,
    status: str | None,
    offset: int,
    limit: int,
) -> list[SharingRequest]:
    """Requests about cards of the caller's centres; a manager's business only."""
    _require(principal, proposals.MAY_DECIDE_SHARING, "see sharing requests")
    return sharing.page(status=status, offset=offset, limit=limit)


def decide_sharing_request(
    request_id: str,
    accept: bool,
    principal: Principal,
    sharing: SharingRequestRepository,
    cards_repo: ClientRepository,
    system_cards: ClientRepository,
    *,
    families_repo: FamilyRepository,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> tuple[SharingRequest, ClientCard]:
    """A manager of the existing card's centre accepts (the requester's card is merged
    into theirs, which so becomes visible to the requesting centre) or declines (the
    cards stay apart, the flag is lifted)."""
    request = sharing.get(request_id)
    _require(principal, proposals.MAY_DECIDE_SHARING, "decide sharing requests")
    existing = _follow(cards_repo, cards_repo.find(request.client_id))
    if existing is None:
        raise NotFound(f"sharing request {request_id} not found")
    decided = proposals.decide_sharing(request, accept=accept, by=principal.subject, now=now)
    requester = _follow(system_cards, system_cards.find(request.requester_client_id))
    result = existing
    if requester is not None and requester.client_id != existing.client_id:
        if accept:
            result = merge_clients(
                existing.client_id, requester.client_id,
                f"sharing request {request_id} accepted: the same person",
                principal, system_cards, now=now, trace=trace, trace_id=trace_id,
                families_repo=families_repo,
            )  # fmt: skip
        elif requester.duplicate_of:
            system_cards.save(replace(requester, duplicate_of=""), [])
    saved = sharing.save(
        decided,
        [_event(events_pb2.SharingDecided, request.organisation, worker_actor(principal), {
            "request_id": request_id, "client_id": request.client_id,
            "requester_client_id": request.requester_client_id,
            "accepted": accept, "decided_by": principal.subject,
        }, trace)],
    )  # fmt: skip
    return saved, result


# ------------------------------------------------------------------ roles on records


def _require(principal: Principal, allowed: frozenset[str], what: str) -> None:
    """PERMISSION_DENIED for a record the caller can see but may not act on (call this
    only after the record was read through the caller's scoped repository, so that a
    record they cannot see stays NOT_FOUND)."""
    if not proposals.has_any(principal.roles, allowed):
        raise PermissionDenied(
            f"{principal.subject} may not {what}: needs the role {' or '.join(sorted(allowed))}"
        )


# ------------------------------------------------------------------ status


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
    updated = replace(updated, last_contact_on=cards._later(updated.last_contact_on, now.date()))
    event = _event(
        events_pb2.ClientStatusChanged,
        card.organisation,
        actor,
        status_changed_payload(updated, change.entry, card.status),
        trace,
    )
    return repository.save(updated, [*events, event])


def record_status(
    client_id: str,
    status: str,
    reason: str,
    on: date,
    principal: Principal,
    repository: ClientRepository,
    *,
    settings: StatusSettings,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> ClientCard:
    """A worker's status entry (both modes); closing statuses need a configured reason."""
    card = repository.get(client_id)
    _not_merged(card)
    try:
        change = record_manual_status(
            card.status_history, settings, status, reason or None, on, principal.subject, now
        )
    except StatusRuleViolation as exc:
        raise status_error(exc, STATUS_FIELDS) from None
    saved = _changed(card, change, repository, worker_actor(principal), now, trace)
    repository.audit(saved.client_id, principal.subject, "status", now, trace_id)
    return saved


def _not_merged(card: ClientCard) -> None:
    if card.merged_into:
        raise FailedPrecondition(
            f"client_id: card {card.client_id} was merged into {card.merged_into}; use that card"
        )


@dataclass(frozen=True)
class ContractOutcome:
    card: ClientCard
    recorded: bool
    status_changed: bool
    explanation: str


def record_contract_signed(
    client_id: str,
    contract: Contract,
    repository: ClientRepository,
    *,
    settings: StatusSettings,
    actor: Actor,
    now: datetime,
    trace: Mapping[str, str],
) -> ContractOutcome:
    """Keep the signed contract on the card; in automatic mode it makes the client a
    service user. The contract is kept even when the status cannot move (a closed
    episode, say): the contradiction then shows in the card's colour and history
    instead of being lost."""
    if contract.signed_on > now.date():
        raise InvalidArgument([FieldError("signed_on", "is in the future")])
    if contract.valid_until is not None and contract.valid_until < contract.signed_on:
        raise InvalidArgument([FieldError("valid_until", "is before signed_on")])
    for _ in range(5):
        card = _follow(repository, repository.get(client_id))
        if card is None:
            raise NotFound(f"client {client_id} not found")
        with_contract, recorded = cards.record_contract(card, contract, actor.subject)
        if not recorded:
            return ContractOutcome(card, False, False, "this contract was already recorded")
        why = ""
        try:
            change = apply_contract_signed(card.status_history, settings, contract.signed_on, now)
        except StatusRuleViolation as exc:
            change = StatusChange(card.status_history, None)
            why = f"status not changed by contract {contract.contract_id}: {exc.message}"
            with_contract = cards.note_history(with_contract, now, why, SYSTEM_ACTOR)
        if change.entry is None and not why:
            why = (
                "status kept: manual status mode"
                if settings.mode is StatusMode.MANUAL
                else "status kept: already a service user or a manual entry decides that day"
            )
        recorded_event = _event(
            events_pb2.ClientContractRecorded,
            card.organisation,
            actor,
            {
                "client_id": card.client_id,
                "contract_id": contract.contract_id,
                "signed_on": contract.signed_on.isoformat(),
                "valid_until": contract.valid_until.isoformat() if contract.valid_until else "",
            },
            trace,
        )
        try:
            saved = _changed(
                card,
                change,
                repository,
                actor,
                now,
                trace,
                extra=with_contract,
                events=(recorded_event,),
            )
        except Conflict:
            continue
        explanation = change.entry.explanation if change.entry else why
        return ContractOutcome(saved, True, change.entry is not None, explanation)
    raise Conflict(f"could not record contract {contract.contract_id}: too much contention")


def reopen_client_episode(
    client_id: str,
    on: date,
    status: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    settings: StatusSettings,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> ClientCard:
    """A returning ("old-new") client: a new episode on the same card, history kept."""
    card = repository.get(client_id)
    _not_merged(card)
    try:
        change = reopen_episode(
            card.status_history, settings, on, principal.subject, now, status or None
        )
    except StatusRuleViolation as exc:
        raise status_error(exc, STATUS_FIELDS) from None
    unarchived = replace(card, archived=False)
    saved = _changed(
        card, change, repository, worker_actor(principal), now, trace, extra=unarchived
    )
    repository.audit(saved.client_id, principal.subject, "reopen", now, trace_id)
    return saved


def archive_client(
    client_id: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> ClientCard:
    card = repository.get(client_id)
    _require(principal, proposals.MAY_ARCHIVE, "archive a card")
    _not_merged(card)
    if card.status_history.current not in (ClientStatus.REJECTED, ClientStatus.TERMINATED):
        raise FailedPrecondition(
            "client_id: only a card whose episode is closed (rejected or terminated) "
            "can be archived"
        )
    if card.archived:
        return card
    archived = cards.archive(card, principal.subject, now)
    event = _event(
        events_pb2.ClientArchived,
        card.organisation,
        worker_actor(principal),
        {"client_id": card.client_id, "episode": card.episode},
        trace,
    )
    saved = repository.save(archived, [event])
    repository.audit(saved.client_id, principal.subject, "archive", now, trace_id)
    return saved


# ------------------------------------------------------------------ inactivity


def sweep_inactivity(
    repository: ClientRepository,
    settings: StatusSettings,
    *,
    today: date,
    now: datetime,
    trace: Mapping[str, str],
    batch: int = 500,
) -> int:
    """Close every open episode without contact for the configured days ("did not
    come"). Idempotent: a closed episode is never selected again, and a card changed
    meanwhile by someone else is simply left to the next run."""
    days = settings.inactivity_days
    if settings.mode is not StatusMode.AUTOMATIC or days is None:
        return 0
    closed = 0
    while True:
        due = repository.due_for_inactivity(today - timedelta(days=days), limit=batch)
        changed_now = 0
        for card in due:
            change = apply_inactivity(
                card.status_history, settings, card.last_contact_on, today, now
            )
            if change.entry is None:
                continue
            updated = cards.with_status_change(card, change, now, SYSTEM_ACTOR)
            event = _event(
                events_pb2.ClientStatusChanged,
                card.organisation,
                Actor.system("clients.inactivity"),
                status_changed_payload(updated, change.entry, card.status),
                trace,
            )
            try:
                repository.save(updated, [event])
            except Conflict:
                continue
            changed_now += 1
        closed += changed_now
        if len(due) < batch or changed_now == 0:
            return closed


# ------------------------------------------------------------------ merge


def merge_clients(
    survivor_id: str,
    absorbed_id: str,
    reason: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
    families_repo: FamilyRepository | None = None,
) -> ClientCard:
    """Two cards of one person become one; audited, and ``clients.client.merged.v1``.

    With ``families_repo`` (the organisation's, unscoped: a family in another centre
    must not keep pointing at a redirecting card) every family holding the absorbed
    card then holds the survivor instead."""
    errors = []
    if not survivor_id:
        errors.append(FieldError("survivor_client_id", "is required"))
    if not absorbed_id:
        errors.append(FieldError("absorbed_client_id", "is required"))
    if survivor_id and survivor_id == absorbed_id:
        errors.append(FieldError("absorbed_client_id", "a card cannot be merged with itself"))
    if not reason.strip():
        errors.append(FieldError("reason", "say why these cards are the same person"))
    if len(reason) > 1000:
        errors.append(FieldError("reason", "at most 1000 characters"))
    if errors:
        raise InvalidArgument(errors)
    # Both cards must be in the caller's centres (else NOT_FOUND), then the role.
    survivor = repository.get(survivor_id)
    absorbed = repository.get(absorbed_id)
    _require(principal, proposals.MAY_MERGE, "merge cards")
    if survivor.merged_into:
        raise FailedPrecondition(
            f"survivor_client_id: card {survivor_id} was itself merged into {survivor.merged_into}"
        )
    # Repeating a merge that was cut short between its two writes finishes it; repeating
    # a finished one changes nothing more than re-pointing families.
    resumed = absorbed.merged_into == survivor.client_id
    if resumed and absorbed.client_id in survivor.merged_from:
        if families_repo is not None:
            repoint_families(
                absorbed.client_id, survivor.client_id, families_repo, repository,
                actor=worker_actor(principal), now=now, trace=trace, trace_id=trace_id,
            )  # fmt: skip
        return survivor
    if absorbed.merged_into and not resumed:
        raise FailedPrecondition(
            f"absorbed_client_id: card {absorbed_id} is already merged into {absorbed.merged_into}"
        )
    survivor_after, absorbed_after = cards.merge_cards(
        survivor, absorbed, reason.strip(), principal.subject, now
    )
    payload = {
        "survivor_client_id": survivor.client_id,
        "absorbed_client_id": absorbed.client_id,
        "reason": reason.strip(),
        "merged_by": principal.subject,
    }
    # The absorbed card first: if the second write fails the call can simply be
    # repeated, and a redirecting card is never left without its survivor knowing.
    if not resumed:
        repository.save(absorbed_after, [])
    saved = repository.save(
        survivor_after,
        [
            _event(
                events_pb2.ClientMerged,
                survivor.organisation,
                worker_actor(principal),
                payload,
                trace,
            )
        ],
    )
    for client_id in (survivor.client_id, absorbed.client_id):
        repository.audit(client_id, principal.subject, "merge", now, trace_id)
    if families_repo is not None:
        repoint_families(
            absorbed.client_id,
            survivor.client_id,
            families_repo,
            repository,
            actor=worker_actor(principal),
            now=now,
            trace=trace,
            trace_id=trace_id,
        )
    return saved


def repoint_families(
    absorbed_id: str,
    survivor_id: str,
    families_repo: FamilyRepository,
    cards_repo: ClientRepository,
    *,
    actor: Actor,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> list[Family]:
    """Every family holding the absorbed card holds the survivor instead (idempotent:
    a second run finds no family of the absorbed card). Each change is audited and
    emits ``clients.family.member_merged.v1``."""
    changed: list[Family] = []
    for family in families_repo.of_client(absorbed_id):
        for _ in range(5):
            updated, dropped = families.replace_member(
                family, absorbed_id, survivor_id, actor.subject, now
            )
            if updated is family:
                break
            event = _event(
                events_pb2.FamilyMemberMerged,
                family.organisation,
                actor,
                {
                    "family_id": family.family_id,
                    "absorbed_client_id": absorbed_id,
                    "survivor_client_id": survivor_id,
                    "dropped_parent_links": [
                        {"client_id": c, "parent_client_id": p} for c, p in dropped
                    ],
                },
                trace,
            )
            try:
                changed.append(families_repo.save(updated, [event]))
            except Conflict:
                family = families_repo.get(family.family_id)
                continue
            for client_id in (absorbed_id, survivor_id):
                cards_repo.audit(client_id, actor.subject, "family-merge", now, trace_id)
            break
    return changed


# ------------------------------------------------------------------ consultations


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
    for consultation in consultations.waiting_for(card.date_of_birth):
        match = search.score(_consultation_query(consultation), candidate_facts(card))
        if not search.is_confident(match):
            continue
        card, added = cards.attach_consultation(
            card, consultation, now, "joined when the card was created or matched"
        )
        if added:
            joined.append(consultation)
    return card, joined


def consultation_recorded(
    consultation: Consultation,
    repository: ClientRepository,
    consultations: ConsultationRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
) -> ClientCard | None:
    """Join the consultation to its person's card when the person is identified
    (exact identity or one confident match); else keep it until the card appears."""
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
    for _ in range(5):
        updated, added = cards.attach_consultation(card, c, now, how)
        if not added:
            return card
        try:
            return repository.save(updated, [_consultation_joined(updated, c, trace)])
        except Conflict:
            refreshed = _follow(repository, repository.find(card.client_id))
            if refreshed is None:
                break
            card = refreshed
    raise Conflict(f"could not join consultation {c.consultation_id}: too much contention")


# ------------------------------------------------------------------ families


@dataclass(frozen=True)
class FamilyView:
    family: Family
    members: list[ClientCard]  # the members the caller may see
    hidden_members: int
    status: FamilyStatusVerdict
    colour: ColourVerdict


def view_family(
    family: Family,
    repository: ClientRepository,
    settings: StatusSettings,
    today: date,
) -> FamilyView:
    visible = {c.client_id: c for c in repository.by_ids(list(family.member_ids))}
    members = [visible[i] for i in family.member_ids if i in visible]
    if settings.shared_with_family:
        status = family_status([m.status_history for m in members], settings)
    else:
        own = family.status_history.current_entry
        status = FamilyStatusVerdict(
            own.status if own else None,
            own.explanation if own else "No status has been recorded for the family yet.",
        )
    colour = derive_family_colour(
        {f"{m.given_name} {m.family_name}": colour_of(m, today) for m in members}
    )
    return FamilyView(family, members, len(family.members) - len(members), status, colour)


def create_family(
    name: str,
    centre_id: str,
    members: tuple[FamilyMember, ...],
    principal: Principal,
    cards_repo: ClientRepository,
    families_repo: FamilyRepository,
    *,
    region_id: str,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
    new_id: NewId = _new_id,
) -> Family:
    family = families.new_family(
        family_id=new_id(),
        organisation=principal.organisation,
        name=name,
        region_id=region_id,
        centre_id=centre_id,
        members=members,
        actor=principal.subject,
        now=now,
    )
    _check_members_visible(family.member_ids, cards_repo, "members")
    event = _event(
        events_pb2.FamilyCreated,
        family.organisation,
        worker_actor(principal),
        {
            "family_id": family.family_id,
            "name": family.name,
            "centre_id": centre_id,
            "members": [{"client_id": m.client_id, "role": m.role} for m in family.members],
        },
        trace,
    )
    saved = families_repo.save(family, [event])
    for client_id in family.member_ids:
        cards_repo.audit(client_id, principal.subject, "family-create", now, trace_id)
    return saved


def _check_members_visible(ids: tuple[str, ...], cards_repo: ClientRepository, field: str) -> None:
    found = {c.client_id: c for c in cards_repo.by_ids(list(ids))}
    errors = []
    for i, client_id in enumerate(ids):
        card = found.get(client_id)
        if card is None:
            errors.append(
                FieldError(f"{field}[{i}].client_id", f"no client {client_id} in your centres")
            )
        elif card.merged_into:
            errors.append(
                FieldError(
                    f"{field}[{i}].client_id", f"merged into {card.merged_into}; use that card"
                )
            )
    if errors:
        raise InvalidArgument(errors)


def add_family_member(
    family_id: str,
    member: FamilyMember,
    principal: Principal,
    cards_repo: ClientRepository,
    families_repo: FamilyRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> Family:
    family = families_repo.get(family_id)
    updated, changed = families.add_member(family, member, principal.subject, now)
    if not changed:
        return family
    card = cards_repo.find(member.client_id)
    if card is None:
        raise InvalidArgument(
            [FieldError("member.client_id", f"no client {member.client_id} in your centres")]
        )
    if card.merged_into:
        raise InvalidArgument(
            [FieldError("member.client_id", f"merged into {card.merged_into}; use that card")]
        )
    updated = families.with_centre(updated, card.centre_ids[:1])
    event = _event(
        events_pb2.FamilyMemberAdded,
        family.organisation,
        worker_actor(principal),
        {
            "family_id": family.family_id,
            "client_id": member.client_id,
            "role": member.role,
            "parent_client_ids": list(member.parent_ids),
        },
        trace,
    )
    saved = families_repo.save(updated, [event])
    cards_repo.audit(member.client_id, principal.subject, "family-member", now, trace_id)
    return saved


def record_family_status(
    family_id: str,
    status: str,
    reason: str,
    on: date,
    principal: Principal,
    families_repo: FamilyRepository,
    *,
    settings: StatusSettings,
    now: datetime,
    trace: Mapping[str, str],
) -> Family:
    """A family's own status entry; only where status is not shared with members."""
    if settings.shared_with_family:
        raise FailedPrecondition(
            "family_id: this organisation shares status between a family and its members; "
            "record the members' status instead"
        )
    family = families_repo.get(family_id)
    history = family.status_history
    try:
        if history.current is None:
            change = record_first_contact(history, settings, on, principal.subject, now)
            if status and change.entry and change.entry.status.value != status:
                change = record_manual_status(
                    change.history, settings, status, reason or None, on, principal.subject, now
                )
        else:
            change = record_manual_status(
                history, settings, status, reason or None, on, principal.subject, now
            )
    except StatusRuleViolation as exc:
        raise status_error(exc, STATUS_FIELDS) from None
    entry = change.entry
    assert entry is not None
    updated = replace(
        family,
        status_entries=change.history.entries,
        history=(*family.history, cards.HistoryEntry(now, entry.explanation, principal.subject)),
    )
    event = _event(
        events_pb2.FamilyStatusChanged,
        family.organisation,
        worker_actor(principal),
        {
            "family_id": family.family_id,
            "status": entry.status.value,
            "reason": entry.reason or "",
            "effective_on": entry.effective_on.isoformat(),
        },
        trace,
    )
    return families_repo.save(updated, [event])


# ------------------------------------------------------------------ statistics


@dataclass(frozen=True)
class Statistics:
    clients: StatusReport
    families: StatusReport


def statistics(
    start: date,
    end: date,
    principal: Principal,
    scoped: tuple[ClientRepository, FamilyRepository],
    organisation_wide: tuple[ClientRepository, FamilyRepository],
    *,
    org: Organisation | None,
    settings: StatusSettings,
    centre_id: str | None,
    region_id: str | None,
) -> Statistics:
    """Counts per status at the end of the period, closing reasons and flows within
    it, for clients and for families. An admin or data-protection officer counts the
    whole organisation; a manager only the centres they serve (a centre or region they
    do not serve: PERMISSION_DENIED); nobody else gets statistics."""
    if proposals.has_any(principal.roles, proposals.ORG_WIDE_STATISTICS):
        cards_repo, families_repo = organisation_wide
    else:
        _require(
            principal, proposals.CENTRE_STATISTICS | proposals.ORG_WIDE_STATISTICS,
            "read statistics",
        )  # fmt: skip
        if centre_id:
            principal.require_centre(centre_id)
        if (
            region_id
            and org is not None
            and not any(
                c.region == region_id for c in org.centres.values() if c.id in principal.centres
            )
        ):
            raise PermissionDenied(f"region {region_id} has no centre the caller serves")
        cards_repo, families_repo = scoped
    histories = dict(cards_repo.status_histories(centre_id=centre_id, region_id=region_id))
    try:
        clients = client_report(list(histories.values()), start, end)
        fams = list(families_repo.all_in_scope(centre_id=centre_id, region_id=region_id))
        members: list[list[StatusHistory]] = [
            [histories[i] for i in f.member_ids if i in histories] for f in fams
        ]
        families_report = family_report(
            [f.status_history for f in fams], members, settings, start, end
        )
    except StatusRuleViolation as exc:
        raise status_error(exc, {"period_end": "period_end"}) from None
    return Statistics(clients, families_report)


# ------------------------------------------------------------------ card details


def _editable(repository: ClientRepository, client_id: str) -> ClientCard:
    card = repository.get(client_id)
    _not_merged(card)
    return card


def _save_detail(
    card: ClientCard,
    updated: ClientCard,
    event_type: type[Message],
    payload: Mapping[str, object],
    action: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> ClientCard:
    """Save the changed card with its event (one write), then audit the change."""
    event = _event(
        event_type,
        card.organisation,
        worker_actor(principal),
        {"client_id": card.client_id, **payload},
        trace,
    )
    saved = repository.save(updated, [event])
    repository.audit(saved.client_id, principal.subject, action, now, trace_id)
    return saved


def update_client(
    client_id: str,
    changes: details.CardChanges,
    principal: Principal,
    repository: ClientRepository,
    *,
    org: Organisation,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
    sharing: SharingRequestRepository | None = None,
) -> ClientCard:
    """Change the card's names, date of birth, contacts, address, centres, client type
    or problems (``clients.client.updated.v1`` names the changed details, not their
    values). A change to no effect saves nothing."""
    card = _editable(repository, client_id)
    updated, changed = details.update_card(
        card, changes, org, principal.centres, principal.subject, now
    )
    if not changed:
        return card
    elsewhere: ClientCard | None = None
    if updated.identity_key == person_key(card.identity_key):
        # Same person as before (only other details changed): the stored key stays.
        updated = replace(updated, identity_key=card.identity_key)
    else:
        holder = repository.holder_of(updated.identity_key)
        if holder is not None and holder.client_id != card.client_id:
            if repository.sees(holder.client_id):
                field = next(
                    f for f in changed if f in ("family_name", "given_name", "date_of_birth")
                )
                raise FailedPrecondition(
                    f"client {holder.client_id} of your centres has these names and date of "
                    "birth: merge the two cards instead",
                    field=f"changes.{field}",
                )
            # A card of a centre the caller does not serve: answered as if there were
            # none; this card stands apart under its own key, flagged for that
            # centre's manager, who gets a sharing request.
            elsewhere = holder
            updated = replace(
                updated,
                identity_key=other_card_key(updated.identity_key, card.client_id),
                duplicate_of=holder.client_id,
            )
        else:
            updated = replace(updated, duplicate_of="")
    try:
        saved = _save_detail(
            card,
            updated,
            events_pb2.ClientUpdated,
            {
                "changed_fields": list(changed),
                "region_id": updated.region_id,
                "centre_ids": list(updated.centre_ids),
                "client_type": updated.client_type,
                "problem_types": list(updated.problem_types),
            },
            "update",
            principal,
            repository,
            now=now,
            trace=trace,
            trace_id=trace_id,
        )
    except DuplicateAggregate:
        # Another card took these names a moment ago: try again, and the answer says
        # what the caller may know of it.
        raise Conflict("the card's names changed meanwhile elsewhere; try again") from None
    if elsewhere is not None and sharing is not None:
        request_sharing(
            elsewhere, saved, "update", principal, sharing, repository,
            now=now, trace=trace, trace_id=trace_id,
        )  # fmt: skip
    return saved


def assign_responsible_worker(
    client_id: str,
    worker_id: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    org: Organisation,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> ClientCard:
    """Make a worker responsible for the client (already responsible: no change)."""
    card = _editable(repository, client_id)
    updated, assigned = details.assign_worker(card, worker_id, org, principal.subject, now)
    if not assigned:
        return card
    return _save_detail(
        card,
        updated,
        events_pb2.ClientResponsibleWorkerAssigned,
        {"worker_id": worker_id, "assigned_by": principal.subject,
         "centre_ids": list(card.centre_ids)},
        "assign-worker",
        principal,
        repository,
        now=now,
        trace=trace,
        trace_id=trace_id,
    )  # fmt: skip


def unassign_responsible_worker(
    client_id: str,
    worker_id: str,
    reason: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
) -> ClientCard:
    card = _editable(repository, client_id)
    updated = details.unassign_worker(card, worker_id, reason, principal.subject, now)
    return _save_detail(
        card,
        updated,
        events_pb2.ClientResponsibleWorkerUnassigned,
        {"worker_id": worker_id, "unassigned_by": principal.subject},
        "unassign-worker",
        principal,
        repository,
        now=now,
        trace=trace,
        trace_id=trace_id,
    )


def _consent_payload(record: ConsentRecord) -> dict[str, object]:
    return {
        "consent_id": record.consent_id,
        "purpose": record.purpose.value,
        "partner": record.partner,
        "on": record.on.isoformat(),
        "recorded_by": record.recorded_by,
        "document_ref": record.document_ref,
    }


def record_consent(
    client_id: str,
    purpose: ConsentPurpose | None,
    partner: str,
    given_on: date | None,
    document_ref: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
    new_id: NewId = _new_id,
) -> ClientCard:
    card = _editable(repository, client_id)
    updated, record = details.record_consent(
        card,
        consent_id=new_id(),
        purpose=purpose,
        partner=partner,
        given_on=given_on,
        document_ref=document_ref,
        by=principal.subject,
        now=now,
    )
    return _save_detail(
        card, updated, events_pb2.ConsentRecorded, _consent_payload(record), "consent-record",
        principal, repository, now=now, trace=trace, trace_id=trace_id,
    )  # fmt: skip


def withdraw_consent(
    client_id: str,
    purpose: ConsentPurpose | None,
    partner: str,
    withdrawn_on: date | None,
    document_ref: str,
    reason: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
    new_id: NewId = _new_id,
) -> ClientCard:
    card = _editable(repository, client_id)
    _require(principal, proposals.MAY_WITHDRAW_CONSENT, "record a consent withdrawn")
    updated, record = details.withdraw_consent(
        card,
        consent_id=new_id(),
        purpose=purpose,
        partner=partner,
        withdrawn_on=withdrawn_on,
        document_ref=document_ref,
        note=reason,
        by=principal.subject,
        now=now,
    )
    return _save_detail(
        card, updated, events_pb2.ConsentWithdrawn, _consent_payload(record), "consent-withdraw",
        principal, repository, now=now, trace=trace, trace_id=trace_id,
    )  # fmt: skip


def add_note(
    client_id: str,
    text: str,
    corrects_note_id: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
    new_id: NewId = _new_id,
) -> ClientCard:
    """A free note (its text stays on the card: the event carries ids only)."""
    card = _editable(repository, client_id)
    updated, note = details.add_note(
        card,
        note_id=new_id(),
        text=text,
        corrects_note_id=corrects_note_id,
        author=principal.subject,
        now=now,
    )
    return _save_detail(
        card,
        updated,
        events_pb2.NoteAdded,
        {"note_id": note.note_id, "author": note.author,
         "corrects_note_id": note.corrects_note_id},
        "note",
        principal,
        repository,
        now=now,
        trace=trace,
        trace_id=trace_id,
    )  # fmt: skip


def record_contact(
    client_id: str,
    on: date | None,
    channel: ContactChannel | None,
    worker_id: str,
    summary: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    org: Organisation,
    now: datetime,
    trace: Mapping[str, str],
    trace_id: str,
    new_id: NewId = _new_id,
) -> ClientCard:
    """A contact with the client; the inactivity rule counts from the latest one."""
    card = _editable(repository, client_id)
    updated, record = details.record_contact(
        card,
        contact_id=new_id(),
        on=on,
        channel=channel,
        worker_id=worker_id,
        summary=summary,
        org=org,
        by=principal.subject,
        now=now,
    )
    return _save_detail(
        card,
        updated,
        events_pb2.ClientContactRecorded,
        {
            "contact_id": record.contact_id,
            "contacted_on": record.on.isoformat(),
            "channel": record.channel.value,
            "worker_id": record.worker_id,
            "last_contact_on": updated.last_contact_on.isoformat()
            if updated.last_contact_on
            else "",
        },
        "contact",
        principal,
        repository,
        now=now,
        trace=trace,
        trace_id=trace_id,
    )


# ------------------------------------------------------------------ audit trail


def list_audit_entries(
    client_id: str,
    principal: Principal,
    cards_repo: ClientRepository,
    system_cards: ClientRepository,
    *,
    offset: int,
    limit: int,
    now: datetime,
    trace_id: str,
) -> list[AuditEntry]:
    """Who read or changed a card, newest first. A data-protection officer may ask
    about any card of the organisation, a manager about cards of their centres;
    anyone else is refused (NOT_FOUND for a card they cannot see, as always). Reading
    the trail is itself written to it."""
    if proposals.has_any(principal.roles, proposals.ORG_WIDE_AUDIT):
        card = system_cards.get(client_id)
        repository = system_cards
    else:
        card = cards_repo.get(client_id)
        _require(
            principal, proposals.CENTRE_AUDIT | proposals.ORG_WIDE_AUDIT, "read the audit trail"
        )
        repository = cards_repo
    entries = repository.audit_entries(card.client_id, offset=offset, limit=limit)
    repository.audit(card.client_id, principal.subject, "audit-read", now, trace_id)
    return entries
