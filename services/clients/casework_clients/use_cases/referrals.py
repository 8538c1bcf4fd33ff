"""A referral reaches clients: a new card, a match to a known one, or a proposal for a worker."""

from __future__ import annotations

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
    ConsultationRepository,
    MatchProposalRepository,
)
from casework_clients.domain import cards, details, proposals, search
from casework_clients.domain.cards import (
    ClientCard,
    Consultation,
    Outcome,
    ReferralFacts,
)
from casework_clients.domain.identity import identity_key
from casework_clients.domain.projects import SettingsSource, default_of
from casework_clients.domain.proposals import (
    Disclosure,
    MatchProposal,
)
from casework_clients.domain.status import (
    SYSTEM_ACTOR,
)
from casework_clients.use_cases._shared import (
    CLIENT_EVENT,
    INITIAL_STATUS,
    _event,
    _follow,
    confident_match,
)
from casework_clients.use_cases.consultations import (
    _consultation_joined,
    _join_waiting_consultations,
)
from casework_common.envelope import Actor
from casework_common.errors import Conflict
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork


def register_from_referral(
    facts: ReferralFacts,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    proposals_repo: MatchProposalRepository,
    settings: SettingsSource | None = None,
    consultations: ConsultationRepository | None = None,
    disclosure: Disclosure = Disclosure.NONE,
) -> tuple[ClientCard, Outcome]:
    """Create the referred person's card, or propose the referral to the workers of the
    card it matches, and emit what happened (in the events' unit of work: the service
    acting, its moment and trace).

    A referral comes from outside (the anonymous web form, a partner, any worker) and
    never changes an existing card by itself: exact identity (names without diacritics
    or case, date of birth) or one confident fuzzy match (same date of birth, names
    alike modulo spelling and transliteration) becomes a match proposal for the
    workers of the card's own centres, and the card is answered unchanged (outcome
    PROPOSED). Several confident matches are left to a person: a new card is created
    and its history names the possible duplicates.

    When another consumer registered the same person a moment earlier, the unique
    identity key refuses the second card and the referral is looked at once more: it
    then finds that card and becomes a proposal instead.
    """
    facts = details.with_acceptable_contact(facts)

    def register(thorough: bool) -> tuple[ClientCard, Outcome]:
        return _register_or_propose(
            facts, uow, repository, proposals_repo=proposals_repo, settings=settings,
            consultations=consultations, disclosure=disclosure, thorough=thorough,
        )  # fmt: skip

    try:
        return register(thorough=False)
    except DuplicateAggregate:
        # The person's card was stored meanwhile, or is one the day's cards did not
        # show (merged away): looked up by its identity, it is found.
        pass
    try:
        return register(thorough=True)
    except DuplicateAggregate:
        # The card holding this identity cannot be read back yet: the events process
        # tries the referral again a moment later.
        raise Conflict(
            f"referral {facts.referral_id}: its person was registered meanwhile"
        ) from None


def _register_or_propose(
    facts: ReferralFacts,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    proposals_repo: MatchProposalRepository,
    settings: SettingsSource | None,
    consultations: ConsultationRepository | None,
    disclosure: Disclosure,
    thorough: bool,
) -> tuple[ClientCard, Outcome]:
    now = uow.now
    key = identity_key(facts.organisation, facts.given_name, facts.family_name, facts.date_of_birth)
    born: list[search.CandidateFacts] | None = None
    if thorough or facts.date_of_birth is None:
        existing = _follow(repository, repository.by_identity(key))
    else:
        # The card holding this identity was born that day: the day's cards, which
        # matching reads anyway, show it without a lookup of its own (one database
        # command fewer on every referral). One they do not show (merged away, or past
        # the day's first cards) still holds the unique identity index: the new card
        # is refused and the referral looked at again, thoroughly.
        born = repository.born_on(facts.date_of_birth)
        holder = next((f.ref for f in born if f.identity_key == key), None)
        existing = repository.ranked(holder) if holder is not None else None
    reasons: tuple[str, ...] = ()
    how = "exact"
    ambiguous = 0
    score = 100
    if existing is None:
        query = search.SearchQuery(
            facts.given_name, facts.family_name, facts.date_of_birth, facts.phone, facts.email
        )
        existing, match, ambiguous = confident_match(repository, query, born)
        if match is not None:
            reasons, how, score = match.reasons, "confident", match.score
    if existing is not None:
        return _propose_match(
            existing, facts, uow, proposals_repo, how=how, score=score, reasons=reasons,
            disclosure=disclosure,
        )  # fmt: skip
    card, outcome = cards.register_from_referral(
        None,
        facts,
        new_client_id=uow.new_id(),
        initial_status=INITIAL_STATUS,
        now=now,
        settings=default_of(settings) if settings is not None else None,
    )
    if ambiguous > 1:
        card = cards.note_history(
            card,
            now,
            f"{ambiguous} existing cards match this person equally well; a worker "
            "should check them and merge if they are the same person",
            SYSTEM_ACTOR,
        )
    saved = _save_referred_card(card, facts, uow, repository, consultations, actor=uow.actor)
    return saved, outcome


def _save_referred_card(
    card: ClientCard,
    facts: ReferralFacts,
    uow: UnitOfWork,
    repository: ClientRepository,
    consultations: ConsultationRepository | None,
    *,
    actor: Actor,
) -> ClientCard:
    """A new card from a referral, with its waiting consultations and
    ``clients.client.registered.v1`` naming `actor`: what an unknown person produces."""
    now, trace = uow.now, uow.trace.carrier
    joined: list[Consultation] = []
    if consultations is not None:
        card, joined = _join_waiting_consultations(card, consultations, now)
    payload = {**cards.event_payload(card, facts), "match": "none", "score": 0}
    events = [_event(CLIENT_EVENT[Outcome.REGISTERED], facts.organisation, actor, payload, trace)]
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
    uow: UnitOfWork,
    proposals_repo: MatchProposalRepository,
    *,
    how: str,
    score: int,
    reasons: tuple[str, ...],
    disclosure: Disclosure,
) -> tuple[ClientCard, Outcome]:
    if facts.referral_id in card.referral_ids:
        return card, Outcome.UNCHANGED
    proposal = proposals.propose(card, facts, match=how, score=score, reasons=reasons, now=uow.now)
    tell = proposals.tell_referring_centre(proposal, disclosure)
    event = _event(
        events_pb2.MatchProposed,
        facts.organisation,
        uow.actor,
        proposal_payload(proposal, card, tell),
        uow.trace.carrier,
    )
    try:
        proposals_repo.save(proposal, [event])
    except DuplicateAggregate:
        return card, Outcome.UNCHANGED  # the referral was delivered again
    return card, Outcome.PROPOSED
