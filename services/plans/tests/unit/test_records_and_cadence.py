"""Deliveries, discrepancies raised once and resolved, the offer pack, waiting lists,
and the monitoring cadence over any contact history."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import FailedPrecondition, InvalidArgument, NotFound
from casework_dev.testing.plans import NOW, TODAY, create_plan_in_effect
from casework_plans.domain import catalogue, decisions, deliveries, monitoring, plans
from casework_plans.domain import records as plan_records
from casework_plans.domain.monitoring import Cadence, DueKind
from casework_plans.domain.plans import (
    Delivery,
    DiscrepancyState,
    OfferedService,
    OfferPack,
)


def create_delivery(**overrides: object) -> Delivery:
    values: dict[str, object] = {
        "delivery_id": "d-1",
        "plan_id": "plan-1",
        "service_code": "meals",
        "delivered_on": TODAY,
        "quantity": 3,
        "delivered_by": "Charity kitchen",
        "receipt": "R-1",
    }
    values.update(overrides)
    return Delivery(**values)  # type: ignore[arg-type]


def test_a_delivery_of_a_planned_service_is_kept_on_the_plan() -> None:
    plan = plan_records.record_delivery(create_plan_in_effect(), create_delivery())
    assert [d.receipt for d in plan.deliveries] == ["R-1"]


def test_a_delivery_outside_the_plan_changes_nothing_and_names_the_service() -> None:
    plan = create_plan_in_effect()
    with pytest.raises(InvalidArgument) as refused:
        plan_records.record_delivery(plan, create_delivery(service_code="laundry"))
    assert {e.field for e in refused.value.errors} == {"service_code"}


def test_an_overspending_delivery_is_refused_naming_the_cost() -> None:
    plan = decisions.set_budget(
        create_plan_in_effect(), plans.BudgetHolder.CLIENT, "Jana", {"meals": 100}
    )
    plan = plan_records.record_delivery(plan, create_delivery(cost=60))
    with pytest.raises(FailedPrecondition) as refused:
        plan_records.record_delivery(plan, create_delivery(delivery_id="d-2", cost=60))
    assert refused.value.field == "cost"


def test_a_discrepancy_is_raised_once_however_often_it_is_found() -> None:
    found = deliveries.check(
        {"meals": plans.Frequency(3, plans.Period.DAY)},
        [create_delivery(quantity=2)],
        start=TODAY,
        end=TODAY,
    )
    plan, new = plan_records.raise_discrepancies(create_plan_in_effect(), found, now=NOW)
    assert len(new) == 1
    plan, again = plan_records.raise_discrepancies(plan, found, now=NOW)
    assert again == [] and len(plan.discrepancies) == 1


def test_an_explanation_needs_its_words_and_a_resolved_discrepancy_stays_resolved() -> None:
    found = deliveries.check(
        {"meals": plans.Frequency(3, plans.Period.DAY)}, [], start=TODAY, end=TODAY
    )
    plan, (raised,) = plan_records.raise_discrepancies(create_plan_in_effect(), found, now=NOW)
    with pytest.raises(InvalidArgument):
        plan_records.resolve_discrepancy(
            plan, raised.discrepancy_id, DiscrepancyState.EXPLAINED, " ", by="w", now=NOW
        )
    plan = plan_records.resolve_discrepancy(
        plan, raised.discrepancy_id, DiscrepancyState.EXPLAINED, "in hospital", by="w", now=NOW
    )
    assert plan.discrepancies[0].state is DiscrepancyState.EXPLAINED
    with pytest.raises(FailedPrecondition):
        plan_records.resolve_discrepancy(
            plan, raised.discrepancy_id, DiscrepancyState.ACKNOWLEDGED, "", by="w", now=NOW
        )
    with pytest.raises(NotFound):
        plan_records.resolve_discrepancy(
            plan, "nope", DiscrepancyState.ACKNOWLEDGED, "", by="w", now=NOW
        )


def test_an_offer_pack_names_the_services_and_who_to_call() -> None:
    offer = OfferPack(
        (OfferedService("meals", "Meals on wheels", "ask the centre"),),
        "Anna Worker",
        "+421 900 000 000",
        TODAY,
        "w-anna",
    )
    assert plan_records.hand_over_offer(create_plan_in_effect(), offer).offer == offer
    with pytest.raises(InvalidArgument) as refused:
        plan_records.hand_over_offer(create_plan_in_effect(), replace(offer, worker_phone=""))
    assert {e.field for e in refused.value.errors} == {"worker_phone"}


def test_a_waiting_list_keeps_the_order_of_entry_and_each_clients_position() -> None:
    waiting = catalogue.WaitingList("org", "day-care")
    later = catalogue.Waiting("c-2", "p-2", TODAY, ("centre-a",), "w")
    earlier = catalogue.Waiting("c-1", "p-1", TODAY - timedelta(days=5), ("centre-a",), "w")
    waiting = catalogue.enter(catalogue.enter(waiting, later), earlier)
    assert (waiting.position_of("c-1"), waiting.position_of("c-2")) == (1, 2)
    with pytest.raises(FailedPrecondition):
        catalogue.enter(waiting, later)


@given(
    st.integers(min_value=7, max_value=14),
    st.integers(min_value=1, max_value=120),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
    st.integers(min_value=0, max_value=500),
)
def test_monitoring_is_due_or_missed_exactly_by_the_next_contact_day(
    early: int, later: int, contact_days: list[int], today_offset: int
) -> None:
    cadence = Cadence(early_interval_days=early)
    plan = create_plan_in_effect()
    plan = replace(
        plan,
        versions=(
            replace(
                plan.current,
                content=replace(plan.current.content, monitoring_interval_days=later),
            ),
        ),
    )
    start = plan.current.in_effect_from.date()  # type: ignore[union-attr]
    contacts = [
        replace(
            _contact(start + timedelta(days=d)),
        )
        for d in contact_days
    ]
    today = start + timedelta(days=today_offset)
    last = max((c.contacted_on for c in contacts), default=None)
    due_on = monitoring.next_contact_on(start, last, later, cadence)
    since = last or start
    expected_gap = early if since < start + timedelta(days=cadence.early_days) else later
    assert due_on - since == timedelta(days=expected_gap)
    kinds = {i.kind for i in monitoring.due_work(plan, contacts, today, cadence)}
    assert (DueKind.MONITORING_MISSED in kinds) == (today > due_on)
    assert (DueKind.MONITORING_DUE in kinds) == (
        due_on - timedelta(days=cadence.reminder_days) <= today <= due_on
    )


def _contact(on: date) -> plans.Contact:
    return plans.Contact("c", "plan-1", on, plans.ContactMode.PHONE, "worker-1", "", (), NOW)


def test_an_overspend_a_manager_approved_is_delivered_and_spent() -> None:
    plan = decisions.set_budget(
        create_plan_in_effect(), plans.BudgetHolder.CLIENT, "Jana", {"meals": 100}
    )
    with pytest.raises(FailedPrecondition):
        plan_records.record_delivery(plan, create_delivery(cost=150))
    plan = decisions.request_decision(plan, "meals", by="w", now=NOW, overspend=True)
    with pytest.raises(FailedPrecondition):
        plan_records.record_delivery(plan, create_delivery(cost=150))
    plan = decisions.decide(plan, "meals", True, "winter heating", by="m", now=NOW, overspend=True)
    plan = plan_records.record_delivery(plan, create_delivery(cost=150))
    assert plan.budget is not None and plan.budget.lines[0].remaining == -50
    # The service's own decision is another one: none was asked of this service.
    assert plan.decision("meals") is None


def test_an_overspend_is_asked_only_for_a_line_of_the_budget() -> None:
    with pytest.raises(InvalidArgument) as refused:
        decisions.request_decision(
            create_plan_in_effect(), "meals", by="w", now=NOW, overspend=True
        )
    assert {e.field for e in refused.value.errors} == {"service_code"}


@given(
    st.integers(min_value=7, max_value=14),
    st.integers(min_value=1, max_value=120),
    st.lists(st.integers(min_value=0, max_value=400), max_size=5),
    st.integers(min_value=0, max_value=500),
    st.sampled_from([1, 2]),
)
def test_something_is_due_exactly_from_the_day_the_plan_stores(
    early: int, later: int, contact_days: list[int], today_offset: int, reviews: int
) -> None:
    cadence = Cadence(early_interval_days=early, reviews_per_year=reviews)
    plan = create_plan_in_effect()
    content = replace(plan.current.content, monitoring_interval_days=later)
    plan = replace(plan, versions=(replace(plan.current, content=content),))
    start = plan.current.in_effect_from.date()  # type: ignore[union-attr]
    plan = replace(plan, contacts=tuple(_contact(start + timedelta(days=d)) for d in contact_days))
    first = monitoring.due_from(plan, cadence)
    assert first is not None
    today = start + timedelta(days=today_offset)
    assert bool(monitoring.due_work(plan, plan.contacts, today, cadence)) == (today >= first)


def test_nothing_is_due_for_a_plan_not_in_effect() -> None:
    from casework_dev.testing.plans import create_plan

    assert monitoring.due_from(create_plan(), Cadence()) is None
