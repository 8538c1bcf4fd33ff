"""A contract documents ended (a worker's decision, or a newer contract replaced it):
the card keeps the contract with its last day moved to the day before the end, so the
derived colour stops counting it as valid from the end on (a terminated client turns
grey instead of red)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from casework_clients.domain.cards import ClientCard, HistoryEntry


class UnknownContract(ValueError):
    """The card has no contract of that id (its signed event not recorded yet)."""


def end_contract(
    card: ClientCard, contract_id: str, ended_on: date, reason: str, at: datetime, by: str
) -> tuple[ClientCard, bool]:
    """The card with the contract ended; False when it already ended by then."""
    contract = next((c for c in card.contracts if c.contract_id == contract_id), None)
    if contract is None:
        raise UnknownContract(f"client {card.client_id} has no contract {contract_id}")
    last_day = ended_on - timedelta(days=1)
    if contract.valid_until is not None and contract.valid_until <= last_day:
        return card, False
    ended = replace(contract, valid_until=last_day)
    return (
        replace(
            card,
            contracts=tuple(ended if c is contract else c for c in card.contracts),
            history=(
                *card.history,
                HistoryEntry(
                    at, f"contract {contract_id} ended on {ended_on.isoformat()}: {reason}", by
                ),
            ),
        ),
        True,
    )
