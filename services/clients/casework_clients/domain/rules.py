"""The card's preconditions, written once: the contract-date rule, when a card may be
archived, and when two cards may be merged. Every path that records a contract,
archives or merges (a worker's request, an event, a sharing decision) asks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from casework_clients.domain.cards import ClientCard
from casework_clients.domain.status import CLOSED_STATUSES
from casework_common.errors import FailedPrecondition, FieldError, raise_if_any

MAX_MERGE_REASON = 1000


def contract_date_errors(
    signed_on: date, valid_until: date | None, today: date
) -> list[FieldError]:
    """A contract is signed on a day that has passed, and valid until no earlier than
    that day (None: open-ended)."""
    errors = []
    if signed_on > today:
        errors.append(FieldError("signed_on", "is in the future"))
    if valid_until is not None and valid_until < signed_on:
        errors.append(FieldError("valid_until", "is before signed_on"))
    return errors


def require_not_merged(card: ClientCard) -> None:
    """A merged card only redirects: changes go to its survivor."""
    if card.merged_into:
        raise FailedPrecondition(
            f"client_id: card {card.client_id} was merged into {card.merged_into}; use that card"
        )


def require_archivable(card: ClientCard) -> None:
    """Only a card whose episode is closed may be archived."""
    require_not_merged(card)
    if card.status_history.current not in CLOSED_STATUSES:
        raise FailedPrecondition(
            "client_id: only a card whose episode is closed (rejected or terminated) "
            "can be archived"
        )


def check_merge_request(survivor_id: str, absorbed_id: str, reason: str) -> None:
    """Two different cards, and why they are one person."""
    errors = []
    if not survivor_id:
        errors.append(FieldError("survivor_client_id", "is required"))
    if not absorbed_id:
        errors.append(FieldError("absorbed_client_id", "is required"))
    if survivor_id and survivor_id == absorbed_id:
        errors.append(FieldError("absorbed_client_id", "a card cannot be merged with itself"))
    if not reason.strip():
        errors.append(FieldError("reason", "say why these cards are the same person"))
    if len(reason) > MAX_MERGE_REASON:
        errors.append(FieldError("reason", f"at most {MAX_MERGE_REASON} characters"))
    raise_if_any(errors)


@dataclass(frozen=True)
class MergeState:
    """How far a merge of these two cards has come: ``resumed`` when the absorbed card
    already redirects to the survivor (a merge cut short between its two writes),
    ``finished`` when the survivor knows it too."""

    resumed: bool
    finished: bool


def merge_state(survivor: ClientCard, absorbed: ClientCard) -> MergeState:
    """Whether these cards may be merged; refuses a survivor that itself redirects and
    an absorbed card already merged into another."""
    if survivor.merged_into:
        raise FailedPrecondition(
            f"survivor_client_id: card {survivor.client_id} was itself merged into "
            f"{survivor.merged_into}"
        )
    resumed = absorbed.merged_into == survivor.client_id
    if absorbed.merged_into and not resumed:
        raise FailedPrecondition(
            f"absorbed_client_id: card {absorbed.client_id} is already merged into "
            f"{absorbed.merged_into}"
        )
    return MergeState(resumed, resumed and absorbed.client_id in survivor.merged_from)
