"""Match proposals: a worker confirms or rejects what a referral may have matched."""

from __future__ import annotations

import uuid
from dataclasses import replace

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
    ConsultationRepository,
    MatchProposalRepository,
)
from casework_clients.domain import cards, proposals
from casework_clients.domain.cards import (
    ClientCard,
    Outcome,
)
from casework_clients.domain.commands import required
from casework_clients.domain.identity import other_card_key
from casework_clients.domain.projects import SettingsSource, default_of
from casework_clients.domain.proposals import (
    MatchProposal,
)
from casework_clients.use_cases._shared import (
    CLIENT_EVENT,
    INITIAL_STATUS,
    _event,
    _follow,
    worker_actor,
)
from casework_clients.use_cases.consultations import (
    _consultation_joined,
    _join_waiting_consultations,
)
from casework_clients.use_cases.referrals import _save_referred_card
from casework_common.envelope import Actor
from casework_common.errors import (
    NotFound,
)
from casework_common.unit_of_work import UnitOfWork


def list_match_proposals(
    uow: UnitOfWork,
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
    uow: UnitOfWork,
    proposals_repo: MatchProposalRepository,
    cards_repo: ClientRepository,
) -> MatchProposal:
    """One proposal of a card the caller serves; reading it is reading the card."""
    principal, now, trace_id = uow.principal, uow.now, uow.trace.trace_id
    required("proposal_id", proposal_id)
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
    uow: UnitOfWork,
    proposals_repo: MatchProposalRepository,
    cards_repo: ClientRepository,
    *,
    consultations: ConsultationRepository,
) -> tuple[MatchProposal, ClientCard]:
    """A worker of the card's centre confirms the referral is this client's: the
    referral joins the card with the details they chose to trust; the card is shared
    with the referring centre only when they say so."""
    principal, now, trace, trace_id = uow.principal, uow.now, uow.trace.carrier, uow.trace.trace_id
    required("proposal_id", proposal_id)
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
    uow: UnitOfWork,
    proposals_repo: MatchProposalRepository,
    cards_repo: ClientRepository,
    system_cards: ClientRepository,
    *,
    settings: SettingsSource,
    consultations: ConsultationRepository,
) -> MatchProposal:
    """A worker of the card's centre says the referral is someone else: the referral's
    person gets a card of their own at the referring centre, exactly as an unknown
    person would (``clients.client.registered.v1``, so the referring centre's workers
    are told as for any new client)."""
    principal, now, trace, trace_id = uow.principal, uow.now, uow.trace.carrier, uow.trace.trace_id
    required("proposal_id", proposal_id)
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
            now=now, settings=default_of(settings),
        )  # fmt: skip
        if system_cards.holder_of(new_card.identity_key) is not None:
            # A namesake born the same day: the one the identity already names keeps
            # the key, this person's card stands apart under its own.
            new_card = replace(
                new_card, identity_key=other_card_key(new_card.identity_key, new_client_id)
            )
        # Registered by the service, exactly as the referral of an unknown person is.
        _save_referred_card(
            new_card, facts, uow, system_cards, consultations, actor=Actor.system("clients")
        )
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
