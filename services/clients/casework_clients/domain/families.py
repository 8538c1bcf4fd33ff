"""Families (households): clients linked with roles, with a card and status of their own.

Pure domain code. Within a family, members may name their parents / guardians among the
other members; those links form a family tree and never a cycle (nobody is their own
ancestor), which :func:`add_member` guarantees for every change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from casework_clients.domain.cards import HistoryEntry
from casework_clients.domain.colour import (
    ColourVerdict,
    ContractState,
    PlanState,
    derive_colour,
)
from casework_clients.domain.statistics import TimelineFacts, shared_family_facts
from casework_clients.domain.status import (
    ClientStatus,
    EntrySource,
    FamilyStatusVerdict,
    StatusEntry,
    StatusHistory,
    StatusSettings,
    family_status,
)
from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument

__all__ = [
    "ROLES",
    "Family",
    "FamilyMember",
    "add_member",
    "creates_cycle",
    "new_family",
    "replace_member",
    "with_shared_status",
]

EMPTY_FACTS = TimelineFacts((), (), ())

ROLES: tuple[str, ...] = ("head", "partner", "child", "parent", "sibling", "grandparent", "other")
MAX_MEMBERS = 50


@dataclass(frozen=True)
class FamilyMember:
    client_id: str
    role: str
    #: Members of the same family who are this member's parents or guardians.
    parent_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    family_id: str
    organisation: str
    name: str
    region_id: str
    centre_ids: tuple[str, ...]
    members: tuple[FamilyMember, ...]
    created_at: datetime
    history: tuple[HistoryEntry, ...] = ()
    #: The family's own status history, used when status is not shared with members.
    status_entries: tuple[StatusEntry, ...] = ()
    version: int = 0
    #: Where status is shared with members: the family's status from *all* its members
    #: (the same whoever looks) and its timeline's facts for statistics, refreshed
    #: whenever a member's status or the membership changes.
    shared_status: str = ""
    shared_facts: TimelineFacts = EMPTY_FACTS

    @property
    def member_ids(self) -> tuple[str, ...]:
        return tuple(m.client_id for m in self.members)

    @property
    def status_history(self) -> StatusHistory:
        return StatusHistory(self.status_entries)

    def parents(self) -> dict[str, tuple[str, ...]]:
        return {m.client_id: m.parent_ids for m in self.members}


def family_verdict(
    family: Family, member_histories: Sequence[StatusHistory], settings: StatusSettings
) -> FamilyStatusVerdict:
    """The family's status, the same whoever looks (``member_histories``: *all* its
    members). Not shared: the family's own history. Shared: derived from the members,
    except that a worker may still record the family's status (seed 001 allows both):
    their entry stands from its day until a member's status changes after it."""
    own = family.status_history.current_entry
    if not settings.shared_with_family:
        return FamilyStatusVerdict(
            own.status if own else None,
            own.explanation if own else "No status has been recorded for the family yet.",
        )
    shared = family_status(member_histories, settings)
    since = max((e.effective_on for h in member_histories for e in h.timeline), default=None)
    if (
        own is not None
        and own.source is EntrySource.MANUAL
        and (since is None or own.effective_on >= since)
    ):
        return FamilyStatusVerdict(
            own.status,
            f"{own.explanation} A worker recorded it for the family; it stands until a "
            "member's status changes after it.",
        )
    return shared


def family_colour(
    status: ClientStatus | None,
    member_contracts: Sequence[ContractState],
    today: date,
    member_plans: Sequence[PlanState] = (),
) -> ColourVerdict:
    """The family's colour from its own status, its contract (a member's valid
    contract, else any signed one) and plan (a member's active plan, the one whose
    review comes first), by the same rules as a client's colour."""
    active = sorted(
        (p for p in member_plans if p.active),
        key=lambda p: p.next_review_on or date.max,
    )
    plan = active[0] if active else PlanState()
    valid = [
        c for c in member_contracts
        if c.signed and (c.valid_until is None or c.valid_until >= today)
    ]  # fmt: skip
    signed = [c for c in member_contracts if c.signed]
    contract = (valid or signed or [ContractState()])[0]
    verdict = derive_colour(status, contract, plan, today)
    return ColourVerdict(
        verdict.colour, f"For the family: {verdict.explanation}", f"family:{verdict.rule_id}"
    )


def with_shared_status(
    family: Family, member_histories: Sequence[StatusHistory], settings: StatusSettings
) -> Family:
    """The family with its shared status and timeline facts from all its members."""
    verdict = family_verdict(family, member_histories, settings)
    return replace(
        family,
        shared_status=verdict.status.value if verdict.status else "",
        shared_facts=shared_family_facts(member_histories, settings, family.status_history),
    )


def creates_cycle(parents: Mapping[str, tuple[str, ...]]) -> bool:
    """True when following parent links from some member leads back to them."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str) -> bool:
        mark = state.get(node)
        if mark == 1:
            return True
        if mark == 2:
            return False
        state[node] = 1
        if any(visit(p) for p in parents.get(node, ())):
            return True
        state[node] = 2
        return False

    return any(visit(node) for node in list(parents))


def _check_member(
    client_id: str, role: str, parent_ids: tuple[str, ...], field: str
) -> list[FieldError]:
    errors = []
    if not client_id:
        errors.append(FieldError(f"{field}.client_id", "is required"))
    if role not in ROLES:
        errors.append(FieldError(f"{field}.role", f"must be one of: {', '.join(ROLES)}"))
    if client_id and client_id in parent_ids:
        errors.append(
            FieldError(f"{field}.parent_client_ids", "a member cannot be their own parent")
        )
    if len(set(parent_ids)) != len(parent_ids):
        errors.append(FieldError(f"{field}.parent_client_ids", "names a parent twice"))
    return errors


def new_family(
    *,
    family_id: str,
    organisation: str,
    name: str,
    region_id: str,
    centre_id: str,
    members: tuple[FamilyMember, ...],
    actor: str,
    now: datetime,
) -> Family:
    """A family with its first members; a member's parents must be among them."""
    errors: list[FieldError] = []
    if not name.strip():
        errors.append(FieldError("name", "is required"))
    if len(name) > 200:
        errors.append(FieldError("name", "at most 200 characters"))
    if not members:
        errors.append(FieldError("members", "a family needs at least one member"))
    if len(members) > MAX_MEMBERS:
        errors.append(FieldError("members", f"at most {MAX_MEMBERS} members"))
    ids = [m.client_id for m in members]
    if len(set(ids)) != len(ids):
        errors.append(FieldError("members", "names a client twice"))
    for i, member in enumerate(members):
        errors += _check_member(member.client_id, member.role, member.parent_ids, f"members[{i}]")
        for parent in member.parent_ids:
            if parent not in ids:
                errors.append(
                    FieldError(f"members[{i}].parent_client_ids", f"{parent} is not a member")
                )
    if errors:
        raise InvalidArgument(errors)
    if creates_cycle({m.client_id: m.parent_ids for m in members}):
        raise InvalidArgument(
            [FieldError("members", "parent links form a cycle: nobody can be their own ancestor")]
        )
    return Family(
        family_id=family_id,
        organisation=organisation,
        name=name.strip(),
        region_id=region_id,
        centre_ids=(centre_id,),
        members=members,
        created_at=now,
        history=(HistoryEntry(now, f"family created with {len(members)} member(s)", actor),),
    )


def add_member(
    family: Family, member: FamilyMember, actor: str, now: datetime
) -> tuple[Family, bool]:
    """Add a member, or change an existing member's role and parents.

    Refuses (INVALID_ARGUMENT, nothing changed) an unknown role, a parent who is not a
    member, and any change after which parent links would form a cycle. Answers
    ``False`` when the member is already there exactly as given.
    """
    errors = _check_member(member.client_id, member.role, member.parent_ids, "member")
    for parent in member.parent_ids:
        if parent not in family.member_ids:
            errors.append(FieldError("member.parent_client_ids", f"{parent} is not a member"))
    if errors:
        raise InvalidArgument(errors)
    existing = next((m for m in family.members if m.client_id == member.client_id), None)
    if existing == member:
        return family, False
    if existing is None and len(family.members) >= MAX_MEMBERS:
        raise FailedPrecondition(f"family {family.family_id} already has {MAX_MEMBERS} members")
    parents = family.parents()
    parents[member.client_id] = member.parent_ids
    if creates_cycle(parents):
        raise InvalidArgument(
            [
                FieldError(
                    "member.parent_client_ids",
                    "these parent links would form a cycle: nobody can be their own ancestor",
                )
            ]
        )
    if existing is None:
        members = (*family.members, member)
        what = f"client {member.client_id} joined the family as {member.role}"
    else:
        members = tuple(member if m.client_id == member.client_id else m for m in family.members)
        what = f"client {member.client_id} is now {member.role} in the family"
    if member.parent_ids:
        what += f" (parents: {', '.join(member.parent_ids)})"
    return (
        replace(family, members=members, history=(*family.history, HistoryEntry(now, what, actor))),
        True,
    )


def with_centre(family: Family, centre_ids: tuple[str, ...]) -> Family:
    merged = (*family.centre_ids, *(c for c in centre_ids if c not in family.centre_ids))
    return replace(family, centre_ids=merged)


def replace_member(
    family: Family, absorbed_id: str, survivor_id: str, actor: str, now: datetime
) -> tuple[Family, tuple[tuple[str, str], ...]]:
    """The family after card ``absorbed_id`` was merged into ``survivor_id``: the
    member points at the survivor, never twice, and parent links never form a cycle.

    When the survivor is already a member it keeps its role and parents; the absorbed
    member's parent links (its own and those naming it) are taken over one by one and
    any that would make a cycle or a self-link is dropped. Answers the family and the
    dropped (child, parent) links; an unchanged family when the absorbed card is not a
    member.
    """
    if absorbed_id not in family.member_ids or absorbed_id == survivor_id:
        return family, ()

    def mapped(ids: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(survivor_id if i == absorbed_id else i for i in ids))

    absorbed = next(m for m in family.members if m.client_id == absorbed_id)
    survivor = next((m for m in family.members if m.client_id == survivor_id), None)
    if survivor is None:
        members = tuple(
            replace(
                m,
                client_id=survivor_id if m.client_id == absorbed_id else m.client_id,
                parent_ids=mapped(m.parent_ids),
            )
            for m in family.members
        )
        # Renaming a node of an acyclic graph keeps it acyclic.
        what = f"member card {absorbed_id} merged into card {survivor_id}; the member is now"
        what += f" {survivor_id} ({absorbed.role})"
        return (
            replace(family, members=members, history=(*family.history,
                    HistoryEntry(now, what, actor))),
            (),
        )  # fmt: skip
    # Both cards were members: keep the survivor's links, then take over the absorbed
    # member's links one at a time, skipping any that would close a cycle.
    parents: dict[str, tuple[str, ...]] = {
        m.client_id: m.parent_ids for m in family.members if m.client_id != absorbed_id
    }
    candidates: list[tuple[str, str]] = [(survivor_id, p) for p in absorbed.parent_ids]
    for m in family.members:
        if m.client_id != absorbed_id and absorbed_id in m.parent_ids:
            parents[m.client_id] = tuple(p for p in m.parent_ids if p != absorbed_id)
            candidates.append((m.client_id, survivor_id))
    dropped: list[tuple[str, str]] = []
    for child, parent in candidates:
        if parent in parents.get(child, ()):
            continue
        trial = {**parents, child: (*parents.get(child, ()), parent)}
        if child == parent or creates_cycle(trial):
            dropped.append((child, parent))
            continue
        parents = trial
    members = tuple(
        replace(m, parent_ids=parents[m.client_id])
        for m in family.members
        if m.client_id != absorbed_id
    )
    what = (
        f"member card {absorbed_id} ({absorbed.role}) merged into member card {survivor_id} "
        f"({survivor.role}); one member now"
    )
    if dropped:
        what += "; parent links dropped because they would form a cycle: " + ", ".join(
            f"{c} -> {p}" for c, p in dropped
        )
    return (
        replace(family, members=members, history=(*family.history, HistoryEntry(now, what, actor))),
        tuple(dropped),
    )
