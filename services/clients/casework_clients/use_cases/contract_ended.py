"""documents.contract.ended.v1 on the card: the contract stops counting as valid."""

from __future__ import annotations

from datetime import date, datetime

from casework_clients.adapters.repository import ClientRepository
from casework_clients.domain.contract_end import end_contract
from casework_clients.use_cases._shared import _follow
from casework_common.errors import Conflict, NotFound


def record_contract_ended(
    client_id: str,
    contract_id: str,
    ended_on: date,
    reason: str,
    repository: ClientRepository,
    *,
    by: str,
    now: datetime,
) -> bool:
    """True when the card changed (False: it already knew)."""
    for _ in range(5):
        card = _follow(repository, repository.get(client_id))
        if card is None:
            raise NotFound(f"client {client_id} not found")
        changed, ended = end_contract(card, contract_id, ended_on, reason, now, by)
        if not ended:
            return False
        try:
            repository.save(changed, [])
        except Conflict:
            continue
        return True
    raise Conflict(f"could not end contract {contract_id}: too much contention")
