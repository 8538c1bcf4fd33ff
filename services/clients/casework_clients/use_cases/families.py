"""Families: their members, their status and their colour."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from functools import partial

from casework.clients.v1 import events_pb2
from casework_clients.adapters.plan_states import plan_state_of
from casework_clients.adapters.repository import (
    ClientRepository,
    FamilyRepository,
)
from casework_clients.domain import cards, families
from casework_clients.domain.cards import (
    ClientCard,
)
from casework_clients.domain.colour import (
    ColourVerdict,
)
from casework_clients.domain.commands import required
from casework_clients.domain.families import Family, FamilyMember
from casework_clients.domain.projects import SettingsSource, default_of
from casework_clients.domain.status import (
    FamilyStatusVerdict,
    StatusRuleViolation,
    record_first_contact,
    record_manual_status,
)
from casework_clients.use_cases._shared import (
    STATUS_FIELDS,
    _event,
    status_error,
    worker_actor,
)
from casework_clients.use_cases.reading import ListFilter, filtered_page
from casework_common.errors import (
    FieldError,
    InvalidArgument,
    NotFound,
)
from casework_common.organisation import Organisation
from casework_common.repository import retry_lost_race
from casework_common.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class FamilyView:
    family: Family
    members: list[ClientCard]  # the members the caller may see
    hidden_members: int
    status: FamilyStatusVerdict
    colour: ColourVerdict


def view_family(
    family: Family,
    repository: ClientRepository,
    source: SettingsSource,
    today: date,
    all_cards: ClientRepository | None = None,
) -> FamilyView:
    """The family as the caller sees it. A shared status is the family's from *all*
    its members (``all_cards``: the organisation's cards), the same whoever looks; only
    the members shown depend on the caller's centres."""
    settings = default_of(source)
    visible = {c.client_id: c for c in repository.by_ids(list(family.member_ids))}
    members = [visible[i] for i in family.member_ids if i in visible]
    everyone = all_cards.by_ids(list(family.member_ids)) if all_cards is not None else members
    status = families.family_verdict(family, [m.status_history for m in everyone], settings)
    colour = families.family_colour(
        status.status,
        [m.contract_state for m in everyone],
        today,
        [plan_state_of(m.organisation, m.client_id) for m in everyone],
    )
    return FamilyView(family, members, len(family.members) - len(members), status, colour)


def read_family(
    family: Family | str,
    uow: UnitOfWork,
    families_repo: FamilyRepository,
    repository: ClientRepository,
    settings: SettingsSource,
    *,
    all_cards: ClientRepository | None = None,
) -> FamilyView:
    """The family (or the one with that id) as the caller may see it; each visible
    member's card is audited as read."""
    principal, now, trace_id = uow.principal, uow.now, uow.trace.trace_id
    if isinstance(family, str):
        required("family_id", family)
        family = families_repo.get(family)
    view = view_family(family, repository, settings, now.date(), all_cards)
    for client_id in sorted(m.client_id for m in view.members):
        repository.audit(client_id, principal.subject, "family-read", now, trace_id)
    return view


def create_family(
    name: str,
    centre_id: str,
    members: tuple[FamilyMember, ...],
    uow: UnitOfWork,
    cards_repo: ClientRepository,
    families_repo: FamilyRepository,
    *,
    region_id: str = "",
    org: Organisation | None = None,
) -> Family:
    """A family at one of the caller's centres. Given the organisation, the centre is
    looked up there (its region is the family's); else ``region_id`` says it."""
    principal, now, trace, trace_id, new_id = (
        uow.principal,
        uow.now,
        uow.trace.carrier,
        uow.trace.trace_id,
        uow.new_id,
    )
    if org is not None:
        centre = org.centre(centre_id)
        if centre is None:
            raise InvalidArgument([FieldError("centre_id", "is required: a centre you serve")])
        principal.require_centre(centre.id)
        region_id = centre.region
    family = families.new_family(
        family_id=new_id(),
        organisation=principal.organisation,
        name=name,
        region_id=region_id,
        centre_id=centre_id,
        members=members,
        actor=principal.subject,
        now=now,
    )
    _check_members_visible(family.member_ids, cards_repo, "members")
    event = _event(
        events_pb2.FamilyCreated,
        family.organisation,
        worker_actor(principal),
        {
            "family_id": family.family_id,
            "name": family.name,
            "centre_id": centre_id,
            "members": [{"client_id": m.client_id, "role": m.role} for m in family.members],
        },
        trace,
    )
    saved = families_repo.save(family, [event])
    for client_id in family.member_ids:
        cards_repo.audit(client_id, principal.subject, "family-create", now, trace_id)
    return saved


def _check_members_visible(ids: tuple[str, ...], cards_repo: ClientRepository, field: str) -> None:
    found = {c.client_id: c for c in cards_repo.by_ids(list(ids))}
    errors = []
    for i, client_id in enumerate(ids):
        card = found.get(client_id)
        if card is None:
            errors.append(
                FieldError(f"{field}[{i}].client_id", f"no client {client_id} in your centres")
            )
        elif card.merged_into:
            errors.append(
                FieldError(
                    f"{field}[{i}].client_id", f"merged into {card.merged_into}; use that card"
                )
            )
    if errors:
        raise InvalidArgument(errors)


def add_family_member(
    family_id: str,
    member: FamilyMember,
    uow: UnitOfWork,
    cards_repo: ClientRepository,
    families_repo: FamilyRepository,
) -> Family:
    principal, now, trace, trace_id = uow.principal, uow.now, uow.trace.carrier, uow.trace.trace_id
    required("family_id", family_id)
    family = families_repo.get(family_id)
    updated, changed = families.add_member(family, member, principal.subject, now)
    if not changed:
        return family
    card = cards_repo.find(member.client_id)
    if card is None:
        raise InvalidArgument(
            [FieldError("member.client_id", f"no client {member.client_id} in your centres")]
        )
    if card.merged_into:
        raise InvalidArgument(
            [FieldError("member.client_id", f"merged into {card.merged_into}; use that card")]
        )
    updated = families.with_centre(updated, card.centre_ids[:1])
    event = _event(
        events_pb2.FamilyMemberAdded,
        family.organisation,
        worker_actor(principal),
        {
            "family_id": family.family_id,
            "client_id": member.client_id,
            "role": member.role,
            "parent_client_ids": list(member.parent_ids),
        },
        trace,
    )
    saved = families_repo.save(updated, [event])
    cards_repo.audit(member.client_id, principal.subject, "family-member", now, trace_id)
    return saved


def record_family_status(
    family_id: str,
    status: str,
    reason: str,
    on: date,
    uow: UnitOfWork,
    families_repo: FamilyRepository,
    *,
    settings: SettingsSource,
) -> Family:
    """A worker's entry in the family's own status history. Where status is shared
    with the members it stands from its day until a member's status changes after it
    (``families.family_verdict``)."""
    principal, now, trace = uow.principal, uow.now, uow.trace.carrier
    settings = default_of(settings)
    family = families_repo.get(family_id)
    history = family.status_history
    try:
        if history.current is None:
            starting = status in ("approached", "applicant")
            change = record_first_contact(
                history, settings, on, principal.subject, now, status if starting else None
            )
            if status and change.entry and change.entry.status.value != status:
                change = record_manual_status(
                    change.history, settings, status, reason or None, on, principal.subject, now
                )
        else:
            change = record_manual_status(
                history, settings, status, reason or None, on, principal.subject, now
            )
    except StatusRuleViolation as exc:
        raise status_error(exc, STATUS_FIELDS) from None
    entry = change.entry
    assert entry is not None
    updated = replace(
        family,
        status_entries=change.history.entries,
        history=(*family.history, cards.HistoryEntry(now, entry.explanation, principal.subject)),
    )
    event = _event(
        events_pb2.FamilyStatusChanged,
        family.organisation,
        worker_actor(principal),
        {
            "family_id": family.family_id,
            "status": entry.status.value,
            "reason": entry.reason or "",
            "effective_on": entry.effective_on.isoformat(),
        },
        trace,
    )
    return families_repo.save(updated, [event])


@dataclass(frozen=True)
class SharedStatusInput:
    """What may change families' shared status: a member's status (`client_id`: each
    of the client's families) or a family's membership or own status (`family_id`)."""

    client_id: str = ""
    family_id: str = ""


def refresh_shared_status(
    changed: SharedStatusInput,
    uow: UnitOfWork,
    families_repo: FamilyRepository,
    cards_repo: ClientRepository,
    settings: SettingsSource,
) -> int:
    """Store the shared status and its statistics facts of the client's families (or
    of one family) from all their members; run whenever a member's status or the
    membership changes. Idempotent; answers how many families changed. No event: the
    shared status is derived, and the repositories write through `uow`."""
    shared = default_of(settings)
    if changed.client_id:
        found = families_repo.of_client(changed.client_id)
    else:
        try:
            found = [families_repo.get(changed.family_id)]
        except NotFound:
            return 0

    def refresh(family: Family) -> bool:
        members = cards_repo.by_ids(list(family.member_ids))
        updated = families.with_shared_status(family, [m.status_history for m in members], shared)
        if (updated.shared_status, updated.shared_facts) == (
            family.shared_status,
            family.shared_facts,
        ):
            return False
        families_repo.save(updated, [])
        return True

    count = 0
    for family in found:
        count += retry_lost_race(
            partial(families_repo.get, family.family_id), refresh, first=family
        )
    return count


def list_families(
    wanted: ListFilter,
    uow: UnitOfWork,
    families_repo: FamilyRepository,
    repository: ClientRepository,
    all_cards: ClientRepository,
    settings: SettingsSource,
    *,
    offset: int,
    limit: int,
) -> tuple[list[FamilyView], int | None]:
    """A page of the caller's centres' families (of one centre, if named; in some
    statuses, of some colours) and where the next page starts. Status and colour are
    the family's whoever looks; each visible member is audited as read."""
    principal, now, trace_id = uow.principal, uow.now, uow.trace.trace_id
    if wanted.centre_id:
        principal.require_centre(wanted.centre_id)
    shared = default_of(settings).shared_with_family
    today = now.date()

    def fetch(at: int, count: int) -> list[FamilyView]:
        found = families_repo.page(
            centre_id=wanted.centre_id or None, offset=at, limit=count,
            statuses=wanted.statuses, shared=shared,
        )  # fmt: skip
        return [view_family(f, repository, settings, today, all_cards) for f in found]

    page, following = filtered_page(
        fetch, lambda v: not wanted.colours or v.colour.colour in wanted.colours, offset, limit
    )
    for view in page:
        for member in view.members:
            repository.audit(member.client_id, principal.subject, "family-list", now, trace_id)
    return page, following
