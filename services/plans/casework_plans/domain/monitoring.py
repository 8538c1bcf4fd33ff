"""Monitoring contacts and reviews: when the next one is due, and which are due or
missed today.

In the first two months of a plan a worker contacts the client every one to two weeks
(the organisation chooses); after that as often as the plan says. The plan is reviewed
with the client once or twice a year (the organisation chooses) and on the next review
date the plan names, whichever comes first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum

from casework_common.errors import FieldError, raise_if_any
from casework_common.values import text_errors
from casework_plans.domain.plans import Contact, ContactMode, Plan

__all__ = ["Contact", "ContactMode"]


@dataclass(frozen=True)
class Cadence:
    """The organisation's monitoring rules."""

    early_days: int = 61  # "the first two months"
    early_interval_days: int = 14  # one to two weeks
    reviews_per_year: int = 1
    reminder_days: int = 2  # a contact is due this many days before its date
    review_notice_days: int = 14

    def __post_init__(self) -> None:
        if not 7 <= self.early_interval_days <= 14:
            raise ValueError("early contacts are one to two weeks apart")
        if self.reviews_per_year not in (1, 2):
            raise ValueError("a plan is reviewed once or twice a year")


class DueKind(Enum):
    MONITORING_DUE = "monitoring_due"
    MONITORING_MISSED = "monitoring_missed"
    REVIEW_DUE = "review_due"
    REVIEW_OVERDUE = "review_overdue"
    # Feedback asked for a review (review_requests.due_items); never raised by the timer:
    # feedback's own event already opened the worker's task.
    REVIEW_REQUESTED = "review_requested"


@dataclass(frozen=True)
class DueItem:
    kind: DueKind
    plan_id: str
    client_id: str
    worker_id: str
    centre_ids: tuple[str, ...]
    due_on: date
    version: int

    @property
    def key(self) -> str:
        """Raised once: one event per kind, plan version and due date."""
        return f"{self.kind.value}:{self.version}:{self.due_on.isoformat()}"


@dataclass(frozen=True)
class DueWorkFilter:
    """What a screen of due work asks for: some kinds only (empty: every kind), one
    worker's caseload (None: every plan the caller may see), items due before a day."""

    kinds: frozenset[DueKind] = frozenset()
    worker_id: str | None = None
    due_before: date | None = None

    def keeps(self, item: DueItem) -> bool:
        return (
            (not self.kinds or item.kind in self.kinds)
            and (self.worker_id is None or item.worker_id == self.worker_id)
            and (self.due_before is None or item.due_on < self.due_before)
        )


def due_kinds(names: Sequence[str]) -> frozenset[DueKind]:
    """The kinds named, each a DueItem kind; an unknown one is refused by its index."""
    known = {kind.value: kind for kind in DueKind}
    errors = [
        FieldError(f"kinds[{i}]", f"is not one of {', '.join(sorted(known))}")
        for i, name in enumerate(names)
        if name not in known
    ]
    raise_if_any(errors)
    return frozenset(known[name] for name in names)


def in_order(items: Iterable[DueItem], wanted: DueWorkFilter) -> list[DueItem]:
    """The items the filter keeps, soonest first, then by plan: the order pages follow,
    the same on every call while the plans do not change."""
    kept = (item for item in items if wanted.keeps(item))
    return sorted(kept, key=lambda i: (i.due_on, i.plan_id, i.kind.value))


def first_in_order(
    plans: Iterable[tuple[date, Sequence[DueItem]]], wanted: DueWorkFilter, count: int
) -> list[DueItem]:
    """The first `count` items the filter keeps, in order, from each plan's items given
    plan by plan in order of the first day anything of the plan is due (no item of a
    plan is due before it: see due_from). Reading stops as soon as no later plan can
    come before the items kept, so a first page reads a few plans, not all of them."""
    kept: list[DueItem] = []
    for first_day, items in plans:
        if wanted.due_before is not None and first_day >= wanted.due_before:
            break
        if len(kept) >= count:
            kept = in_order(kept, wanted)[:count]
            # Plans come by (day, id): one of the last kept item's day with a later id
            # comes after it too (many plans share a day).
            plan_id = items[0].plan_id if items else ""
            if (first_day, plan_id) > (kept[-1].due_on, kept[-1].plan_id):
                break
        kept += [item for item in items if wanted.keeps(item)]
    return in_order(kept, wanted)[:count]


def next_contact_on(
    start: date, last_contact: date | None, plan_interval_days: int, cadence: Cadence
) -> date:
    """The day the next monitoring contact is due, counted from the last contact (or
    from the day the plan took effect)."""
    since = last_contact or start
    early = since < start + timedelta(days=cadence.early_days)
    interval = cadence.early_interval_days if early else plan_interval_days
    return since + timedelta(days=interval)


def next_review_on(start: date, planned: date, cadence: Cadence) -> date:
    """The plan's own review date, or sooner when the organisation reviews more often."""
    by_cadence = start + timedelta(days=365 // cadence.reviews_per_year)
    return min(planned, by_cadence)


def due_work(
    plan: Plan, contacts: Sequence[Contact], today: date, cadence: Cadence
) -> list[DueItem]:
    """What is due for a plan in effect today: at most one monitoring item and one
    review item."""
    effective = plan.in_effect
    if effective is None or plan.closure is not None or effective.in_effect_from is None:
        return []
    start = effective.in_effect_from.date()
    mine = [c.contacted_on for c in contacts if c.plan_id == plan.plan_id]
    last = max(mine) if mine else None
    items = []
    contact_on = next_contact_on(start, last, effective.content.monitoring_interval_days, cadence)

    def item(kind: DueKind, due_on: date) -> DueItem:
        return DueItem(
            kind,
            plan.plan_id,
            plan.client_id,
            plan.worker_id,
            plan.centre_ids,
            due_on,
            effective.number,
        )

    if today > contact_on:
        items.append(item(DueKind.MONITORING_MISSED, contact_on))
    elif today >= contact_on - timedelta(days=cadence.reminder_days):
        items.append(item(DueKind.MONITORING_DUE, contact_on))
    review_on = next_review_on(start, effective.content.next_review_on, cadence)
    if today > review_on:
        items.append(item(DueKind.REVIEW_OVERDUE, review_on))
    elif today >= review_on - timedelta(days=cadence.review_notice_days):
        items.append(item(DueKind.REVIEW_DUE, review_on))
    return items


def _next_contact_and_review(plan: Plan, cadence: Cadence) -> tuple[date, date] | None:
    effective = plan.in_effect
    if effective is None or plan.closure is not None or effective.in_effect_from is None:
        return None
    start = effective.in_effect_from.date()
    mine = [c.contacted_on for c in plan.contacts if c.plan_id == plan.plan_id]
    contact_on = next_contact_on(
        start, max(mine) if mine else None, effective.content.monitoring_interval_days, cadence
    )
    return contact_on, next_review_on(start, effective.content.next_review_on, cadence)


def due_from(plan: Plan, cadence: Cadence) -> date | None:
    """The first day on which `due_work` lists anything for the plan (None: no plan in
    effect), stored beside the plan so due work is found without reading every plan."""
    next_days = _next_contact_and_review(plan, cadence)
    if next_days is None:
        return None
    contact_on, review_on = next_days
    return min(
        contact_on - timedelta(days=cadence.reminder_days),
        review_on - timedelta(days=cadence.review_notice_days),
    )


def first_due_on(plan: Plan, cadence: Cadence) -> date | None:
    """The earliest day any item `due_work` lists for the plan is due on (None: no plan
    in effect): the order plans are read in, so a page stops at the first plan whose
    items must all come after it."""
    next_days = _next_contact_and_review(plan, cadence)
    return min(next_days) if next_days is not None else None


def contact_errors(
    *, contacted_on: date | None, notes: str, goal_ids: Sequence[str], plan: Plan, today: date
) -> list[FieldError]:
    errors = text_errors({"notes": notes}, free_text={"notes"})
    if len(notes) > 4000:
        errors.append(FieldError("notes", "at most 4000 characters"))
    if contacted_on is None:
        errors.append(FieldError("contacted_on", "is required (YYYY-MM-DD)"))
    elif contacted_on > today:
        errors.append(FieldError("contacted_on", "is in the future"))
    effective = plan.in_effect
    goals = {g.goal_id for g in effective.content.goals} if effective else set()
    for i, goal_id in enumerate(goal_ids):
        if goal_id not in goals:
            errors.append(FieldError(f"goal_ids[{i}]", "is not a goal of the plan in effect"))
    return errors


def check_contact(
    *, contacted_on: date | None, notes: str, goal_ids: Sequence[str], plan: Plan, today: date
) -> None:
    raise_if_any(
        contact_errors(
            contacted_on=contacted_on, notes=notes, goal_ids=goal_ids, plan=plan, today=today
        )
    )
