"""Due work as a screen lists it: filtered by kind, caseload and due date, in one order
that pages can follow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import InvalidArgument
from casework_plans.domain import monitoring
from casework_plans.domain.monitoring import DueItem, DueKind, DueWorkFilter


def create_due_item(**overrides: object) -> DueItem:
    values: dict[str, object] = {
        "kind": DueKind.MONITORING_DUE,
        "plan_id": "plan-1",
        "client_id": "client-1",
        "worker_id": "worker-1",
        "centre_ids": ("centre-a",),
        "due_on": date(2026, 3, 2),
        "version": 1,
    }
    values.update(overrides)
    return DueItem(**values)  # type: ignore[arg-type]


def test_due_work_comes_soonest_first_then_by_plan() -> None:
    items = [
        create_due_item(plan_id="plan-b", due_on=date(2026, 3, 2)),
        create_due_item(plan_id="plan-c", due_on=date(2026, 3, 1)),
        create_due_item(plan_id="plan-a", due_on=date(2026, 3, 2)),
        create_due_item(plan_id="plan-a", due_on=date(2026, 3, 2), kind=DueKind.REVIEW_DUE),
    ]
    ordered = monitoring.in_order(items, DueWorkFilter())
    assert [(i.plan_id, i.kind) for i in ordered] == [
        ("plan-c", DueKind.MONITORING_DUE),
        ("plan-a", DueKind.MONITORING_DUE),
        ("plan-a", DueKind.REVIEW_DUE),
        ("plan-b", DueKind.MONITORING_DUE),
    ]
    assert monitoring.in_order(reversed(items), DueWorkFilter()) == ordered


def test_the_filter_keeps_the_kinds_named_only() -> None:
    items = [
        create_due_item(kind=DueKind.MONITORING_MISSED),
        create_due_item(kind=DueKind.REVIEW_OVERDUE),
    ]
    wanted = DueWorkFilter(kinds=frozenset({DueKind.REVIEW_OVERDUE}))
    assert [i.kind for i in monitoring.in_order(items, wanted)] == [DueKind.REVIEW_OVERDUE]


def test_the_filter_keeps_one_workers_caseload() -> None:
    items = [create_due_item(worker_id="worker-1"), create_due_item(worker_id="worker-2")]
    kept = monitoring.in_order(items, DueWorkFilter(worker_id="worker-2"))
    assert [i.worker_id for i in kept] == ["worker-2"]


def test_due_before_leaves_out_the_day_itself_and_later() -> None:
    items = [create_due_item(due_on=date(2026, 3, d)) for d in (1, 2, 3)]
    kept = monitoring.in_order(items, DueWorkFilter(due_before=date(2026, 3, 2)))
    assert [i.due_on for i in kept] == [date(2026, 3, 1)]


def test_kinds_are_read_by_their_names() -> None:
    assert monitoring.due_kinds(["review_requested", "monitoring_due"]) == {
        DueKind.REVIEW_REQUESTED,
        DueKind.MONITORING_DUE,
    }
    assert monitoring.due_kinds([]) == frozenset()


def test_an_unknown_kind_is_refused_by_its_index() -> None:
    with pytest.raises(InvalidArgument) as caught:
        monitoring.due_kinds(["review_due", "coffee", "REVIEW_DUE"])
    assert [e.field for e in caught.value.errors] == ["kinds[1]", "kinds[2]"]


@st.composite
def plans_in_order(draw: st.DrawFn) -> list[tuple[date, list[DueItem]]]:
    """Plans sorted by their first due day, each with items due on it or later."""
    plans = []
    for n in range(draw(st.integers(min_value=0, max_value=12))):
        first = date(2026, 3, 1) + timedelta(days=draw(st.integers(min_value=0, max_value=20)))
        items = [
            create_due_item(plan_id=f"plan-{n:02d}", kind=kind,
                            due_on=first + timedelta(days=draw(st.integers(0, 15))))
            for kind in draw(st.lists(st.sampled_from(list(DueKind)), max_size=3, unique=True))
        ]  # fmt: skip
        plans.append((first, items))
    return sorted(plans, key=lambda p: (p[0], p[1][0].plan_id if p[1] else ""))


@given(
    plans_in_order(),
    st.integers(min_value=1, max_value=20),
    st.frozensets(st.sampled_from(list(DueKind))),
    st.none() | st.integers(min_value=0, max_value=40),
)
def test_reading_plans_by_their_first_due_day_gives_the_first_items_of_the_whole_list(
    plans: list[tuple[date, list[DueItem]]], count: int, kinds: frozenset[DueKind],
    before: int | None,
) -> None:  # fmt: skip
    due_before = None if before is None else date(2026, 3, 1) + timedelta(days=before)
    wanted = DueWorkFilter(kinds=kinds, due_before=due_before)
    everything = [item for _day, items in plans for item in items]
    assert (
        monitoring.first_in_order(plans, wanted, count)
        == (monitoring.in_order(everything, wanted)[:count])
    )


def test_a_first_page_stops_reading_plans_once_no_later_one_can_come_first() -> None:
    read: list[str] = []

    def plans() -> Iterator[tuple[date, list[DueItem]]]:
        for n in range(1000):
            read.append(f"plan-{n:03d}")
            day = date(2026, 3, 1) + timedelta(days=n)
            yield day, [create_due_item(plan_id=f"plan-{n:03d}", due_on=day)]

    page = monitoring.first_in_order(plans(), DueWorkFilter(), 3)
    assert [i.plan_id for i in page] == ["plan-000", "plan-001", "plan-002"]
    assert len(read) == 4


def test_a_first_page_stops_reading_plans_due_on_one_day_past_the_page() -> None:
    read: list[str] = []

    def plans() -> Iterator[tuple[date, list[DueItem]]]:
        for n in range(1000):
            read.append(f"plan-{n:03d}")
            yield (
                date(2026, 3, 1),
                [create_due_item(plan_id=f"plan-{n:03d}", due_on=date(2026, 3, 1))],
            )

    page = monitoring.first_in_order(plans(), DueWorkFilter(), 3)
    assert [i.plan_id for i in page] == ["plan-000", "plan-001", "plan-002"]
    assert len(read) == 4
