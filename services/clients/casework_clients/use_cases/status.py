"""A client's status: manual entries, contracts, new episodes and the archive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
)
from casework_clients.domain import cards, proposals, rules
from casework_clients.domain.cards import (
    ClientCard,
    Contract,
)
from casework_clients.domain.commands import required
from casework_clients.domain.projects import SettingsSource, settings_for
from casework_clients.domain.status import (
    SYSTEM_ACTOR,
    StatusChange,
    StatusHistory,
    StatusMode,
    StatusRuleViolation,
    StatusSettings,
    apply_contract_signed,
    record_manual_status,
    reopen_episode,
)
from casework_clients.use_cases._shared import (
    STATUS_FIELDS,
    _changed,
    _event,
    _require,
    card_changed,
    live_card,
    save_change,
    status_error,
    worker_actor,
)
from casework_common.envelope import Actor
from casework_common.errors import (
    Conflict,
    raise_if_any,
)
from casework_common.unit_of_work import UnitOfWork


def _worker_status_change(
    client_id: str,
    on: date,
    rule: Callable[[StatusHistory, StatusSettings], StatusChange],
    action: str,
    uow: UnitOfWork,
    repository: ClientRepository,
    settings: SettingsSource,
    *,
    unarchive: bool = False,
) -> ClientCard:
    """A worker's change to the card's status under the project's settings on `on`:
    saved with its event, then audited as `action`."""
    principal, now = uow.principal, uow.now
    card = live_card(repository, client_id)
    try:
        change = rule(card.status_history, settings_for(settings, card.project_id, on))
    except StatusRuleViolation as exc:
        raise status_error(exc, STATUS_FIELDS) from None
    extra = replace(card, archived=False) if unarchive else None
    saved = _changed(
        card, change, repository, worker_actor(principal), now, uow.trace.carrier, extra=extra
    )
    repository.audit(saved.client_id, principal.subject, action, now, uow.trace.trace_id)
    return saved


def record_status(
    client_id: str,
    status: str,
    reason: str,
    on: date,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    settings: SettingsSource,
) -> ClientCard:
    """A worker's status entry (both modes); closing statuses need a configured reason."""

    def entry(history: StatusHistory, rules_then: StatusSettings) -> StatusChange:
        return record_manual_status(
            history, rules_then, status, reason or None, on, uow.principal.subject, uow.now
        )

    return _worker_status_change(client_id, on, entry, "status", uow, repository, settings)


@dataclass(frozen=True)
class ContractOutcome:
    card: ClientCard
    recorded: bool
    status_changed: bool
    explanation: str


def record_contract_signed(
    client_id: str,
    contract: Contract,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    settings: SettingsSource,
    by: Actor | None = None,
) -> ContractOutcome:
    """Keep the signed contract on the card; in automatic mode it makes the client a
    service user. The contract is kept even when the status cannot move (a closed
    episode, say): the contradiction then shows in the card's colour and history
    instead of being lost. `by`: who signed it, when not the unit's caller (documents'
    event names its own actor)."""
    actor, now, trace = by or uow.actor, uow.now, uow.trace.carrier
    raise_if_any(rules.contract_date_errors(contract.signed_on, contract.valid_until, now.date()))

    def record(card: ClientCard) -> ContractOutcome:
        rules_then = settings_for(settings, card.project_id, contract.signed_on)
        with_contract, recorded = cards.record_contract(card, contract, actor.subject)
        if not recorded:
            return ContractOutcome(card, False, False, "this contract was already recorded")
        why = ""
        try:
            change = apply_contract_signed(card.status_history, rules_then, contract.signed_on, now)
        except StatusRuleViolation as exc:
            change = StatusChange(card.status_history, None)
            why = f"status not changed by contract {contract.contract_id}: {exc.message}"
            with_contract = cards.note_history(with_contract, now, why, SYSTEM_ACTOR)
        if change.entry is None and not why:
            why = (
                "status kept: manual status mode"
                if rules_then.mode is StatusMode.MANUAL
                else "status kept: already a service user or a manual entry decides that day"
            )
        recorded_event = _event(
            events_pb2.ClientContractRecorded,
            card.organisation,
            actor,
            {
                "client_id": card.client_id,
                "contract_id": contract.contract_id,
                "signed_on": contract.signed_on.isoformat(),
                "valid_until": contract.valid_until.isoformat() if contract.valid_until else "",
            },
            trace,
        )
        saved = _changed(
            card,
            change,
            repository,
            actor,
            now,
            trace,
            extra=with_contract,
            events=(recorded_event,),
        )
        explanation = change.entry.explanation if change.entry else why
        return ContractOutcome(saved, True, change.entry is not None, explanation)

    return card_changed(repository, client_id, record)


def record_worker_contract(
    client_id: str,
    contract: Contract,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    settings: SettingsSource,
) -> ContractOutcome:
    """A worker records a signed contract (documents' event does the same without a
    worker); audited."""
    principal, now, trace_id = uow.principal, uow.now, uow.trace.trace_id
    required("client_id", client_id)
    outcome = record_contract_signed(client_id, contract, uow, repository, settings=settings)
    repository.audit(outcome.card.client_id, principal.subject, "contract", now, trace_id)
    return outcome


def reopen_client_episode(
    client_id: str,
    on: date,
    status: str,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    settings: SettingsSource,
) -> ClientCard:
    """A returning ("old-new") client: a new episode on the same card, history kept."""

    def new_episode(history: StatusHistory, rules_then: StatusSettings) -> StatusChange:
        return reopen_episode(
            history, rules_then, on, uow.principal.subject, uow.now, status or None
        )

    return _worker_status_change(
        client_id, on, new_episode, "reopen", uow, repository, settings, unarchive=True
    )


def archive_client(
    client_id: str,
    uow: UnitOfWork,
    repository: ClientRepository,
) -> ClientCard:
    principal, now = uow.principal, uow.now
    required("client_id", client_id)
    card = repository.get(client_id)
    _require(principal, proposals.MAY_ARCHIVE, "archive a card")
    rules.require_archivable(card)
    if card.archived:
        return card
    archived = cards.archive(card, principal.subject, now)
    return save_change(
        card, archived, events_pb2.ClientArchived, {"episode": card.episode}, "archive",
        uow, repository,
    )  # fmt: skip


def apply_waiting_contracts(
    uow: UnitOfWork,
    repository: ClientRepository,
    settings: SettingsSource,
    *,
    batch: int = 500,
) -> int:
    """Contracts signed on a day a worker's own status entry decided take effect on the
    first later day without one (seed 001: the manual entry wins its day, the contract
    is not lost). Run with the inactivity rule; idempotent."""
    now, trace = uow.now, uow.trace.carrier

    def apply(card: ClientCard) -> bool:
        contract = card.latest_contract
        if contract is None or card.merged_into:
            return False
        rules_then = settings_for(settings, card.project_id, contract.signed_on)
        try:
            change = apply_contract_signed(card.status_history, rules_then, contract.signed_on, now)
        except StatusRuleViolation:
            return False  # the contradiction stays visible in the card's colour and history
        if change.entry is None:
            return False
        _changed(card, change, repository, uow.actor, now, trace)
        return True

    changed = 0
    for card in repository.with_contract_awaiting_status(limit=batch):
        try:
            changed += card_changed(repository, card.client_id, apply, as_read=card)
        except Conflict:
            continue  # still contended: the next run looks again
    return changed
