"""Sharing requests: a centre asks to see a card another centre holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
    FamilyRepository,
    SharingRequestRepository,
)
from casework_clients.domain import proposals
from casework_clients.domain.cards import (
    ClientCard,
)
from casework_clients.domain.commands import required
from casework_clients.domain.proposals import (
    SharingRequest,
)
from casework_clients.use_cases._shared import (
    NewId,
    _event,
    _follow,
    _new_id,
    _require,
    worker_actor,
)
from casework_clients.use_cases.merge import merge_clients
from casework_common.auth import Principal
from casework_common.errors import (
    NotFound,
)
from casework_common.unit_of_work import UnitOfWork


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
    uow: UnitOfWork,
    sharing: SharingRequestRepository,
    *,
    status: str | None,
    offset: int,
    limit: int,
) -> list[SharingRequest]:
    """Requests about cards of the caller's centres; a manager's business only."""
    _require(uow.principal, proposals.MAY_DECIDE_SHARING, "see sharing requests")
    return sharing.page(status=status, offset=offset, limit=limit)


def decide_sharing_request(
    request_id: str,
    accept: bool,
    uow: UnitOfWork,
    sharing: SharingRequestRepository,
    cards_repo: ClientRepository,
    system_cards: ClientRepository,
    *,
    families_repo: FamilyRepository,
) -> tuple[SharingRequest, ClientCard]:
    """A manager of the existing card's centre accepts (the requester's card is merged
    into theirs, which so becomes visible to the requesting centre) or declines (the
    cards stay apart, the flag is lifted)."""
    principal, now, trace = uow.principal, uow.now, uow.trace.carrier
    required("request_id", request_id)
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
                uow, system_cards, families_repo=families_repo,
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
