"""Two cards of one person become one; families follow."""

from __future__ import annotations

from functools import partial

from casework.clients.v1 import events_pb2
from casework_clients.adapters.repository import (
    ClientRepository,
    FamilyRepository,
)
from casework_clients.domain import families, merging, proposals, rules
from casework_clients.domain.cards import (
    ClientCard,
)
from casework_clients.domain.families import Family
from casework_clients.use_cases._shared import _event, _require, worker_actor
from casework_common.repository import retry_lost_race
from casework_common.unit_of_work import UnitOfWork


def merge_clients(
    survivor_id: str,
    absorbed_id: str,
    reason: str,
    uow: UnitOfWork,
    repository: ClientRepository,
    *,
    families_repo: FamilyRepository | None = None,
) -> ClientCard:
    """Two cards of one person become one; audited, and ``clients.client.merged.v1``.

    With ``families_repo`` (the organisation's, unscoped: a family in another centre
    must not keep pointing at a redirecting card) every family holding the absorbed
    card then holds the survivor instead."""
    principal, now, trace, trace_id = uow.principal, uow.now, uow.trace.carrier, uow.trace.trace_id
    rules.check_merge_request(survivor_id, absorbed_id, reason)
    # Both cards must be in the caller's centres (else NOT_FOUND), then the role.
    survivor = repository.get(survivor_id)
    absorbed = repository.get(absorbed_id)
    _require(principal, proposals.MAY_MERGE, "merge cards")
    state = rules.merge_state(survivor, absorbed)
    # Repeating a merge that was cut short between its two writes finishes it; repeating
    # a finished one changes nothing more than re-pointing families.
    resumed = state.resumed
    if state.finished:
        if families_repo is not None:
            repoint_families(absorbed.client_id, survivor.client_id, uow, families_repo, repository)
        return survivor
    survivor_after, absorbed_after = merging.merge_cards(
        survivor, absorbed, reason.strip(), principal.subject, now
    )
    payload = {
        "survivor_client_id": survivor.client_id,
        "absorbed_client_id": absorbed.client_id,
        "reason": reason.strip(),
        "merged_by": principal.subject,
    }
    # The absorbed card first: if the second write fails the call can simply be
    # repeated, and a redirecting card is never left without its survivor knowing.
    if not resumed:
        repository.save(absorbed_after, [])
    saved = repository.save(
        survivor_after,
        [
            _event(
                events_pb2.ClientMerged,
                survivor.organisation,
                worker_actor(principal),
                payload,
                trace,
            )
        ],
    )
    for client_id in (survivor.client_id, absorbed.client_id):
        repository.audit(client_id, principal.subject, "merge", now, trace_id)
    if families_repo is not None:
        repoint_families(absorbed.client_id, survivor.client_id, uow, families_repo, repository)
    return saved


def repoint_families(
    absorbed_id: str,
    survivor_id: str,
    uow: UnitOfWork,
    families_repo: FamilyRepository,
    cards_repo: ClientRepository,
) -> list[Family]:
    """Every family holding the absorbed card holds the survivor instead (idempotent:
    a second run finds no family of the absorbed card). Each change is audited and
    emits ``clients.family.member_merged.v1`` naming the unit's caller."""
    actor, now = uow.actor, uow.now

    def repoint(family: Family) -> Family | None:
        updated, dropped = families.replace_member(
            family, absorbed_id, survivor_id, actor.subject, now
        )
        if updated is family:
            return None
        event = _event(
            events_pb2.FamilyMemberMerged,
            family.organisation,
            actor,
            {
                "family_id": family.family_id,
                "absorbed_client_id": absorbed_id,
                "survivor_client_id": survivor_id,
                "dropped_parent_links": [
                    {"client_id": c, "parent_client_id": p} for c, p in dropped
                ],
            },
            uow.trace.carrier,
        )
        return families_repo.save(updated, [event])

    changed: list[Family] = []
    for family in families_repo.of_client(absorbed_id):
        saved = retry_lost_race(partial(families_repo.get, family.family_id), repoint, first=family)
        if saved is None:
            continue
        changed.append(saved)
        for client_id in (absorbed_id, survivor_id):
            cards_repo.audit(client_id, actor.subject, "family-merge", now, uow.trace.trace_id)
    return changed
