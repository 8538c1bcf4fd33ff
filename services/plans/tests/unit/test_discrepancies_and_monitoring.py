"""Delivered against planned, a provider's CSV, and when monitoring and reviews fall due."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_dev.testing.plans import NOW, create_content, create_plan_in_effect
from casework_plans.domain import deliveries, monitoring
from casework_plans.domain.deliveries import Delivery, DiscrepancyKind, UnreadableCsv
from casework_plans.domain.monitoring import Cadence, Contact, ContactMode, DueKind
from casework_plans.domain.plans import Frequency, Period

MEALS = {"meals": Frequency(3, Period.DAY)}
VISITS = {"visits": Frequency(2, Period.WEEK)}


def create_delivery(**overrides: object) -> Delivery:
    values: dict[str, object] = {
        "delivery_id": "d-1",
        "plan_id": "plan-1",
        "service_code": "meals",
        "delivered_on": date(2026, 3, 2),
        "quantity": 3,
        "delivered_by": "Charity kitchen",
        "receipt": "R-1",
    }
    values.update(overrides)
    return Delivery(**values)  # type: ignore[arg-type]


def test_three_meals_planned_and_two_delivered_is_a_shortfall() -> None:
    found = deliveries.check(
        MEALS, [create_delivery(quantity=2)], start=date(2026, 3, 2), end=date(2026, 3, 2)
    )
    assert [(d.kind, d.planned, d.delivered) for d in found] == [(DiscrepancyKind.SHORT, 3, 2)]


def test_meals_delivered_as_planned_raise_nothing() -> None:
    day = [create_delivery(quantity=1, delivery_id=str(i)) for i in range(3)]
    assert deliveries.check(MEALS, day, start=date(2026, 3, 2), end=date(2026, 3, 2)) == []


def test_a_missed_visit_in_a_whole_week_is_found_and_a_cut_week_is_not_counted() -> None:
    visit = create_delivery(service_code="visits", quantity=1, delivered_on=date(2026, 3, 3))
    # 2026-03-02 is a Monday: the week 2..8 is whole, 9..10 is cut off by the end.
    found = deliveries.check(VISITS, [visit], start=date(2026, 3, 2), end=date(2026, 3, 10))
    assert [(d.kind, d.period_start, d.period_end) for d in found] == [
        (DiscrepancyKind.SHORT, date(2026, 3, 2), date(2026, 3, 8))
    ]


def test_a_delivery_of_an_unplanned_service_is_found() -> None:
    found = deliveries.check(
        MEALS,
        [create_delivery(), create_delivery(service_code="laundry", quantity=1)],
        start=date(2026, 3, 2),
        end=date(2026, 3, 2),
    )
    assert [d.kind for d in found] == [DiscrepancyKind.UNPLANNED]


def test_deliveries_after_the_client_left_service_user_are_flagged_not_counted_short() -> None:
    given_meals = [
        create_delivery(delivered_on=date(2026, 3, 2)),
        create_delivery(delivered_on=date(2026, 3, 4)),
    ]
    found = deliveries.check(
        MEALS,
        given_meals,
        start=date(2026, 3, 2),
        end=date(2026, 3, 5),
        service_user_until=date(2026, 3, 2),
    )
    assert [(d.kind, d.period_start, d.delivered) for d in found] == [
        (DiscrepancyKind.AFTER_SERVICE_END, date(2026, 3, 4), 3)
    ]


def test_whole_months_are_the_periods_of_a_monthly_service() -> None:
    assert deliveries.periods(Period.MONTH, date(2026, 1, 15), date(2026, 4, 30)) == [
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 31)),
        (date(2026, 4, 1), date(2026, 4, 30)),
    ]


@given(
    amount=st.integers(1, 5),
    delivered=st.lists(st.integers(0, 6), min_size=1, max_size=14),
)
def test_each_day_is_a_discrepancy_exactly_when_its_count_differs_from_the_plan(
    amount: int, delivered: list[int]
) -> None:
    start = date(2026, 3, 2)
    records = [
        create_delivery(delivery_id=str(i), delivered_on=start + timedelta(days=i), quantity=q)
        for i, q in enumerate(delivered)
        if q
    ]
    found = deliveries.check(
        {"meals": Frequency(amount, Period.DAY)},
        records,
        start=start,
        end=start + timedelta(days=len(delivered) - 1),
    )
    expected = [
        (start + timedelta(days=i), DiscrepancyKind.SHORT if q < amount else DiscrepancyKind.OVER)
        for i, q in enumerate(delivered)
        if q != amount
    ]
    assert [(d.period_start, d.kind) for d in found] == expected
    assert len({d.key for d in found}) == len(found)


CSV_HEADER = b"plan_id,service_code,delivered_on,quantity,delivered_by,receipt\n"


def test_a_csv_lists_its_bad_lines_by_number_and_field_and_keeps_the_good_ones() -> None:
    data = CSV_HEADER + (
        b"plan-1,meals,2026-03-01,3,Kitchen,R-1\n"
        b"plan-1,meals,2026-13-01,3,Kitchen,R-2\n"
        b"plan-1,meals,2026-03-01,0,Kitchen,R-3\n"
        b"plan-1,meals,2026-03-01,3\n"
    )
    parsed = deliveries.parse_csv(data, today=date(2026, 3, 2))
    assert [r.line for r in parsed.rows] == [2]
    assert [(e.line, e.field) for e in parsed.errors] == [
        (3, "delivered_on"),
        (4, "quantity"),
        (5, ""),
    ]


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe\x00bad", b"plan_id,quantity\nx,1\n", b'plan_id,"unclosed\n'],
)
def test_a_csv_that_does_not_parse_is_refused_as_a_whole(data: bytes) -> None:
    with pytest.raises(UnreadableCsv):
        deliveries.parse_csv(data, today=date(2026, 3, 2))


@given(st.binary(max_size=300))
def test_any_bytes_either_parse_or_are_refused_as_unreadable(data: bytes) -> None:
    with contextlib.suppress(UnreadableCsv):
        deliveries.parse_csv(CSV_HEADER + data, today=date(2026, 3, 2))


def contact(on: date) -> Contact:
    return Contact("c", "plan-1", on, ContactMode.PHONE, "worker-1", "", (), NOW)


def test_early_contacts_fall_due_at_the_organisations_interval_then_at_the_plans() -> None:
    start = date(2026, 3, 2)
    cadence = Cadence(early_interval_days=7)
    assert monitoring.next_contact_on(start, None, 30, cadence) == date(2026, 3, 9)
    assert monitoring.next_contact_on(start, date(2026, 5, 10), 30, cadence) == date(2026, 6, 9)


def test_a_contact_is_due_shortly_before_its_day_and_missed_after_it() -> None:
    plan = create_plan_in_effect()
    cadence = Cadence(early_interval_days=14, reminder_days=2)
    start = NOW.date()
    assert monitoring.due_work(plan, [], start + timedelta(days=11), cadence) == []
    due = monitoring.due_work(plan, [], start + timedelta(days=12), cadence)
    assert [d.kind for d in due] == [DueKind.MONITORING_DUE]
    missed = monitoring.due_work(plan, [], start + timedelta(days=15), cadence)
    assert [(d.kind, d.due_on) for d in missed] == [
        (DueKind.MONITORING_MISSED, start + timedelta(days=14))
    ]
    recorded = monitoring.due_work(
        plan, [contact(start + timedelta(days=13))], start + timedelta(days=15), cadence
    )
    assert recorded == []


def test_reviews_fall_due_by_the_plans_date_or_sooner_when_reviewed_twice_a_year() -> None:
    plan = create_plan_in_effect(content=create_content(next_review_on=date(2027, 3, 1)))
    yearly = monitoring.due_work(plan, [contact(date(2026, 9, 15))], date(2026, 9, 20), Cadence())
    assert [d.kind for d in yearly] == []
    twice = Cadence(reviews_per_year=2)
    overdue = monitoring.due_work(plan, [contact(date(2026, 9, 15))], date(2026, 9, 20), twice)
    assert [(d.kind, d.due_on) for d in overdue] == [(DueKind.REVIEW_OVERDUE, date(2026, 8, 31))]


def test_the_organisation_cannot_choose_an_early_interval_outside_one_to_two_weeks() -> None:
    with pytest.raises(ValueError):
        Cadence(early_interval_days=30)


def test_a_missed_contact_is_raised_once_per_due_date_and_version() -> None:
    plan = create_plan_in_effect(signed_at=datetime(2026, 3, 2, tzinfo=UTC))
    one = monitoring.due_work(plan, [], date(2026, 3, 20), Cadence())
    two = monitoring.due_work(plan, [], date(2026, 3, 25), Cadence())
    assert [d.key for d in one] == [d.key for d in two]
