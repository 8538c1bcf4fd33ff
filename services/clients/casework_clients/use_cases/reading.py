"""Reading a card, and the audit trail of who read it."""

from __future__ import annotations

from datetime import date, datetime

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
    ColourVerdict,
    PlanState,
    derive_colour,
)
from casework_clients.domain.commands import required
from casework_clients.use_cases._shared import _follow, _require
from casework_common.auth import Principal
from casework_common.errors import (
    NotFound,
)


def read_client(
    client_id: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    now: datetime,
    trace_id: str,
) -> ClientCard:
    """The card (a merged card answers its survivor: see ``redirected_from``)."""
    required("client_id", client_id)
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
    required("client_id", client_id)
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


def list_clients(
    centre_id: str,
    principal: Principal,
    repository: ClientRepository,
    *,
    offset: int,
    limit: int,
    now: datetime,
    trace_id: str,
) -> list[ClientCard]:
    """A page of the cards the caller may see (of one of their centres, if named);
    each card listed is audited as read."""
    if centre_id:
        principal.require_centre(centre_id)
    page = repository.page(centre_id=centre_id or None, offset=offset, limit=limit)
    for card in page:
        repository.audit(card.client_id, principal.subject, "list", now, trace_id)
    return page
