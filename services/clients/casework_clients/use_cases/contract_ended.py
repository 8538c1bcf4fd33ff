"""documents.contract.ended.v1 on the card: the contract stops counting as valid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from casework_clients.adapters.repository import ClientRepository
from casework_clients.domain.cards import ClientCard
from casework_clients.domain.contract_end import end_contract
from casework_clients.use_cases._shared import card_changed
from casework_common.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ContractEnded:
    """documents ended a contract: from `ended_on` on it is not in force."""

    client_id: str
    contract_id: str
    ended_on: date
    reason: str
    by: str  # who ended it in documents


def record_contract_ended(
    ended: ContractEnded, uow: UnitOfWork, repository: ClientRepository
) -> bool:
    """True when the card changed (False: it already knew). NotFound for an unknown
    card, UnknownContract for a contract the card never had."""

    def end(card: ClientCard) -> bool:
        changed, done = end_contract(
            card, ended.contract_id, ended.ended_on, ended.reason, uow.now, ended.by
        )
        if done:
            repository.save(changed, [])
        return done

    return card_changed(repository, ended.client_id, end)
