"""What arrives from outside never changes a card by itself.

A referral (public web form, partner, any worker's SubmitReferral) that matches an
existing card becomes a *match proposal* for the workers of the card's own centres:
the referral's contact details are kept beside the card's as unverified, and a worker
of the card's centre confirms (choosing which of them to trust, and whether to share
the card with the referring centre) or rejects (the referral's person then gets a card
of their own at the referring centre, as an unknown person would).

A worker who registers, or renames a card into, a person whose card lives in a centre
they do not serve is answered exactly as for an unknown person; their card is kept,
flagged, and a *sharing request* goes to the manager of the other card's centre, who
alone sees both ids and may merge them.

Pure: no I/O. The use cases in ``services`` store these and emit their events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from casework_clients.domain.cards import ClientCard, ReferralFacts
from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument

#: The details of a referral a worker may choose to merge into the card on confirming.
MERGEABLE_DETAILS = ("phone", "email", "address")


class ProposalStatus(Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Disclosure(Enum):
    """What the referring centre is told when the person already has a card in a
    centre it does not serve (organisation setting ``known_elsewhere_disclosure``)."""

    #: Nothing: the referral looks to the referring centre as if it were still
    #: waiting for a worker, the same whether or not the person is known elsewhere.
    NONE = "none"
    #: The referring centre's workers are told the person is already a client of
    #: another centre, which decides (no card id, no data of the card).
    TELL_KNOWN_ELSEWHERE = "tell_known_elsewhere"


@dataclass(frozen=True)
class UnverifiedDetails:
    """Contact details as the referral gave them: kept beside the card's, never
    replacing them, until a worker of the card's centre chooses to trust them."""

    phone: str
    email: str
    address: str

    def value(self, name: str) -> str:
        return str(getattr(self, name))


@dataclass(frozen=True)
class MatchProposal:
    proposal_id: str
    organisation: str
    #: The matched card, and its centres when the proposal was made: only workers of
    #: these centres see and decide the proposal.
    client_id: str
    centre_ids: tuple[str, ...]
    referral: ReferralFacts
    unverified: UnverifiedDetails
    #: "exact" (same identity) or "confident" (same date of birth, names alike).
    match: str
    score: int
    reasons: tuple[str, ...]
    proposed_at: datetime
    status: ProposalStatus = ProposalStatus.PENDING
    decided_by: str = ""
    decided_at: datetime | None = None
    #: On confirm: the unverified details merged into the card, and whether the card
    #: was shared with the referring centre.
    merged_details: tuple[str, ...] = ()
    shared_with_referring_centre: bool = False
    #: On reject: the card created for the referral's person at the referring centre.
    new_client_id: str = ""
    reason: str = ""
    version: int = 0

    @property
    def referring_centre_id(self) -> str:
        return self.referral.centre_id

    @property
    def from_own_centre(self) -> bool:
        """The referral was sent to one of the card's own centres."""
        return self.referral.centre_id in self.centre_ids


def proposal_id_for(referral_id: str) -> str:
    """One proposal per referral: a redelivered referral finds the proposal it made."""
    return f"mp-{referral_id}"


def propose(
    card: ClientCard,
    facts: ReferralFacts,
    *,
    match: str,
    score: int,
    reasons: tuple[str, ...],
    now: datetime,
) -> MatchProposal:
    return MatchProposal(
        proposal_id=proposal_id_for(facts.referral_id),
        organisation=card.organisation,
        client_id=card.client_id,
        centre_ids=card.centre_ids,
        referral=facts,
        unverified=UnverifiedDetails(facts.phone, facts.email, facts.address),
        match=match,
        score=score,
        reasons=reasons,
        proposed_at=now,
    )


def _pending(proposal: MatchProposal) -> None:
    if proposal.status is not ProposalStatus.PENDING:
        raise FailedPrecondition(
            f"proposal_id: the proposal was already {proposal.status.value} by "
            f"{proposal.decided_by}",
            field="proposal_id",
        )


def confirm(
    proposal: MatchProposal,
    *,
    merge: tuple[str, ...],
    share_with_referring_centre: bool,
    by: str,
    now: datetime,
) -> MatchProposal:
    """The card's worker says the referral is this client's. ``merge`` names the
    unverified details they trust (each must be one the referral gave)."""
    errors = []
    for i, name in enumerate(merge):
        if name not in MERGEABLE_DETAILS:
            errors.append(
                FieldError(f"merge_details[{i}]", f"one of: {', '.join(MERGEABLE_DETAILS)}")
            )
        elif not proposal.unverified.value(name):
            errors.append(FieldError(f"merge_details[{i}]", f"the referral gave no {name}"))
    if len(set(merge)) != len(merge):
        errors.append(FieldError("merge_details", "names a detail twice"))
    if errors:
        raise InvalidArgument(errors)
    _pending(proposal)
    return replace(
        proposal,
        status=ProposalStatus.CONFIRMED,
        decided_by=by,
        decided_at=now,
        merged_details=tuple(merge),
        shared_with_referring_centre=share_with_referring_centre and not proposal.from_own_centre,
    )


def reject(
    proposal: MatchProposal, *, new_client_id: str, reason: str, by: str, now: datetime
) -> MatchProposal:
    """The card's worker says the referral is someone else: the referral's person gets
    a card of their own (``new_client_id``) at the referring centre."""
    if len(reason) > 1000:
        raise InvalidArgument([FieldError("reason", "at most 1000 characters")])
    _pending(proposal)
    return replace(
        proposal,
        status=ProposalStatus.REJECTED,
        decided_by=by,
        decided_at=now,
        new_client_id=new_client_id,
        reason=reason.strip(),
    )


def tell_referring_centre(proposal: MatchProposal, disclosure: Disclosure) -> bool:
    """Whether the referring centre's workers are told the person is known elsewhere.
    A referral to one of the card's own centres is the card's own business: its
    workers get the proposal itself."""
    return disclosure is Disclosure.TELL_KNOWN_ELSEWHERE and not proposal.from_own_centre


# ------------------------------------------------------------------ sharing requests


class SharingStatus(Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


@dataclass(frozen=True)
class SharingRequest:
    """A worker registered (or renamed a card into) a person whose card lives in a
    centre they do not serve. Seen only by managers of that card's centres."""

    request_id: str
    organisation: str
    #: The existing card and its centres (the request's scope).
    client_id: str
    centre_ids: tuple[str, ...]
    #: The requester's card, flagged as a possible duplicate of ``client_id``.
    requester_client_id: str
    requesting_centre_ids: tuple[str, ...]
    requested_by: str
    #: "registration" or "update".
    cause: str
    requested_at: datetime
    status: SharingStatus = SharingStatus.PENDING
    decided_by: str = ""
    decided_at: datetime | None = None
    version: int = 0


def decide_sharing(
    request: SharingRequest, *, accept: bool, by: str, now: datetime
) -> SharingRequest:
    """Accepting merges the requester's card into the existing one (which so becomes
    visible to the requesting centre); declining keeps the two cards apart."""
    if request.status is not SharingStatus.PENDING:
        raise FailedPrecondition(
            f"request_id: the request was already {request.status.value} by {request.decided_by}",
            field="request_id",
        )
    return replace(
        request,
        status=SharingStatus.ACCEPTED if accept else SharingStatus.DECLINED,
        decided_by=by,
        decided_at=now,
    )


# ------------------------------------------------------------------ roles on records


class Role:
    FRONT_LINE = "front_line"
    CASE_WORKER = "case_worker"
    MANAGER = "manager"
    ADMIN = "admin"
    DATA_PROTECTION_OFFICER = "data_protection_officer"


#: Who may do what to a record they can see (the call itself is gated by the
#: interceptor's role map; these are the rules that depend on the record).
MAY_MERGE = frozenset({Role.CASE_WORKER, Role.MANAGER})
MAY_ARCHIVE = frozenset({Role.MANAGER})
MAY_WITHDRAW_CONSENT = frozenset({Role.CASE_WORKER, Role.MANAGER, Role.DATA_PROTECTION_OFFICER})
MAY_DECIDE_SHARING = frozenset({Role.MANAGER})
ORG_WIDE_STATISTICS = frozenset({Role.ADMIN, Role.DATA_PROTECTION_OFFICER})
CENTRE_STATISTICS = frozenset({Role.MANAGER})
ORG_WIDE_AUDIT = frozenset({Role.DATA_PROTECTION_OFFICER})
CENTRE_AUDIT = frozenset({Role.MANAGER})


def has_any(roles: frozenset[str], allowed: frozenset[str]) -> bool:
    return bool(roles & allowed)
