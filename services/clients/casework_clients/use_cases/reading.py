"""Reading a card, and the audit trail of who read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from casework_clients.adapters.plan_states import plan_state_of
from casework_clients.adapters.repository import (
    AuditEntry,
    ClientRepository,
)
from casework_clients.domain import proposals
from casework_clients.domain.cards import (
    ClientCard,
)
from casework_clients.domain.colour import (
    Colour,
    ColourVerdict,
    PlanState,
    derive_colour,
)
from casework_clients.domain.commands import required
from casework_clients.use_cases._shared import _follow, _require
from casework_common.errors import (
    NotFound,
)
from casework_common.unit_of_work import UnitOfWork


def read_client(client_id: str, uow: UnitOfWork, repository: ClientRepository) -> ClientCard:
    """The card (a merged card answers its survivor: see ``redirected_from``)."""
    required("client_id", client_id)
    principal, now, trace_id = uow.principal, uow.now, uow.trace.trace_id
    card = repository.get(client_id)
    repository.audit(card.client_id, principal.subject, "read", now, trace_id)
    if card.merged_into:
        survivor = _follow(repository, card)
        if survivor is None:
            raise NotFound(f"client {client_id} not found")
        repository.audit(survivor.client_id, principal.subject, "read", now, trace_id)
        return survivor
    return card


def colour_of(card: ClientCard, today: date, plan: PlanState | None = None) -> ColourVerdict:
    """Derived from status, contract and plan; the plan as plans last announced it
    (adapters.plan_states), no plan until plans announces one."""
    if plan is None:
        plan = plan_state_of(card.organisation, card.client_id)
    return derive_colour(card.status_history.current, card.contract_state, plan, today)


def list_audit_entries(
    client_id: str,
    uow: UnitOfWork,
    cards_repo: ClientRepository,
    system_cards: ClientRepository,
    *,
    offset: int,
    limit: int,
) -> list[AuditEntry]:
    """Who read or changed a card, newest first. A data-protection officer may ask
    about any card of the organisation, a manager about cards of their centres;
    anyone else is refused (NOT_FOUND for a card they cannot see, as always). Reading
    the trail is itself written to it."""
    required("client_id", client_id)
    principal, now, trace_id = uow.principal, uow.now, uow.trace.trace_id
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


T = TypeVar("T")
#: How many records one list call reads at most while filtering by colour.
SCAN_LIMIT = 2000


def filtered_page(
    fetch: Callable[[int, int], list[T]],
    keep: Callable[[T], bool],
    offset: int,
    limit: int,
    scan_limit: int = SCAN_LIMIT,
) -> tuple[list[T], int | None]:
    """A page of the records ``keep`` accepts, read from ``offset`` on, and the offset
    the next page starts at (None when nothing is left). Colour is derived (it moves
    with the date), so it is filtered as the records are read; at most ``scan_limit``
    are read per call, and a shorter page with a next offset may come back."""
    out: list[T] = []
    position = offset
    chunk_size = max(limit, 100)
    while position - offset < scan_limit:
        chunk = fetch(position, chunk_size)
        for item in chunk:
            position += 1
            if keep(item):
                out.append(item)
                if len(out) == limit:
                    return out, position
        if len(chunk) < chunk_size:
            return out, None
    return out, position


@dataclass(frozen=True)
class ListFilter:
    """What a list of cards or families may be narrowed to (empty: everything)."""

    centre_id: str = ""
    statuses: tuple[str, ...] = ()
    colours: frozenset[Colour] = frozenset()
    responsible_worker_id: str = ""
    mine: bool = False
    #: Cards with an open enrolment in this project (cards only).
    project_id: str = ""


def list_clients(
    wanted: ListFilter,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    offset: int,
    limit: int,
) -> tuple[list[ClientCard], int | None]:
    """A page of the cards the caller may see (of one of their centres, if named; in
    some statuses, of some colours, of one responsible worker or the caller's own) and
    where the next page starts; each card listed is audited as read."""
    principal, now, trace_id = uow.principal, uow.now, uow.trace.trace_id
    if wanted.centre_id:
        principal.require_centre(wanted.centre_id)
    worker = principal.subject if wanted.mine else wanted.responsible_worker_id
    today = now.date()

    def fetch(at: int, count: int) -> list[ClientCard]:
        return repository.page(
            centre_id=wanted.centre_id or None, offset=at, limit=count,
            statuses=wanted.statuses, worker_id=worker, project_id=wanted.project_id,
        )  # fmt: skip

    if wanted.colours:
        page, following = filtered_page(
            fetch, lambda c: colour_of(c, today).colour in wanted.colours, offset, limit
        )
    else:
        page = fetch(offset, limit)
        following = offset + limit if len(page) == limit else None
    for card in page:
        repository.audit(card.client_id, principal.subject, "list", now, trace_id)
    return page, following
