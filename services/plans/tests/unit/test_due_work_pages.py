"""Due work as a screen lists it: filtered by kind, caseload and due date, in one order
that pages can follow."""

from __future__ import annotations

from datetime import date

import pytest

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
