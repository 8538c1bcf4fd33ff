"""A plan stored as a document body reads back as the same plan, whatever it holds."""

from __future__ import annotations

from datetime import timedelta

from casework_dev.testing.plans import NOW, TODAY, create_plan_in_effect
from casework_plans.adapters.codec import dump, load_as
from casework_plans.domain import decisions, deliveries, life_cycle, plans
from casework_plans.domain import records as plan_records
from casework_plans.domain.plans import (
    BudgetHolder,
    Contact,
    ContactMode,
    Delivery,
    OfferedService,
    OfferPack,
    Plan,
    Progress,
)


def test_a_plan_with_every_part_reads_back_unchanged() -> None:
    plan = create_plan_in_effect()
    plan = plan_records.hand_over_offer(
        plan, OfferPack((OfferedService("meals", "Meals", "ask"),), "Anna", "+421 1", TODAY, "w")
    )
    plan = decisions.set_budget(plan, BudgetHolder.CARER, "Petra", {"meals": 5000})
    plan = plan_records.record_delivery(
        plan, Delivery("d-1", plan.plan_id, "meals", TODAY, 2, "Kitchen", "R-1", 100, "w", NOW)
    )
    plan = plan_records.record_contact(
        plan,
        Contact("c-1", plan.plan_id, TODAY, ContactMode.IN_PERSON, "w", "ok", ("eat-well",), NOW),
    )
    found = deliveries.check(
        plans.planned_services(plan.current.content)
        and {"meals": plans.Frequency(3, plans.Period.DAY)},
        plan.deliveries,
        start=TODAY,
        end=TODAY,
    )
    plan, _ = plan_records.raise_discrepancies(plan, found, now=NOW)
    plan = life_cycle.record_progress(plan, "eat-well", Progress.IN_PROGRESS, "", by="w", now=NOW)
    plan = plan_records.mark_raised(plan, ["monitoring_due:1:2026-03-16"])
    plan = life_cycle.close(plan, "moved away", by="w", now=NOW + timedelta(days=1))
    assert load_as(Plan, dump(plan)) == plan


def test_an_open_plan_holds_the_clients_one_open_place_and_a_closed_one_gives_it_up() -> None:
    from casework_plans.adapters.repository import PlanDocument, write_plan

    open_plan, closed_plan = PlanDocument(), PlanDocument()
    plan = create_plan_in_effect()
    write_plan(open_plan, plan)
    write_plan(closed_plan, life_cycle.close(plan, "moved away", by="w", now=NOW))
    assert open_plan.open_key == f"{plan.organisation}:{plan.client_id}"
    assert closed_plan.open_key == plan.plan_id
