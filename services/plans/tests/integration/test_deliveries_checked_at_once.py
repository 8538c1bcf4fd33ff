"""A delivery is checked against the plan as it is recorded, through the running
processes: a shortfall in a period that is over is raised in the answer at once. The
events process's timer here ticks at its usual pace, so the finding is the delivery's
own and not one the timer raised first for the same period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from casework.plans.v1 import plans_pb2 as pb
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually
from casework_dev.testing.plans import create_content_message, create_plan_request, sign_both

ANNA = auth(create_token())
TODAY = datetime.now(UTC).date()


def in_effect(plans: Any, **overrides: Any) -> pb.Plan:
    plan = plans.CreatePlan(create_plan_request(**overrides), metadata=ANNA).plan
    return sign_both(plans, plan, ANNA)


def test_two_meals_delivered_of_three_planned_raise_a_discrepancy_at_once(
    plans: Any, captured: Any
) -> None:
    # The plan covers the days from its date: yesterday is a whole day of it, over.
    plan_date = (TODAY - timedelta(days=2)).isoformat()
    plan = in_effect(plans, content=create_content_message(plan_date=plan_date))
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    answer = plans.RecordDelivery(
        pb.RecordDeliveryRequest(plan_id=plan.plan_id, service_code="meals",
                                 delivered_on=yesterday, quantity=2,
                                 delivered_by="Charity kitchen", receipt="R-100"),
        metadata=ANNA,
    )  # fmt: skip
    assert [d.receipt for d in answer.plan.deliveries] == ["R-100"]
    assert [(d.kind, d.period_start, d.planned, d.delivered) for d in answer.raised] == [
        ("short", yesterday, 3, 2)
    ]
    event = eventually(
        lambda: captured.of(
            "plans.discrepancy.raised", plan_id=plan.plan_id, period_start=yesterday
        )
    )[0]
    assert event["payload"]["worker_id"] == "w-anna"
    # Acknowledged by the worker, it stays one discrepancy.
    resolved = plans.ResolveDiscrepancy(
        pb.ResolveDiscrepancyRequest(plan_id=plan.plan_id,
                                     discrepancy_id=answer.raised[0].discrepancy_id,
                                     resolution=pb.RESOLUTION_EXPLAINED,
                                     note="the client was at her daughter's"),
        metadata=ANNA,
    ).plan  # fmt: skip
    explained = [d for d in resolved.discrepancies if d.period_start == yesterday]
    assert [d.state for d in explained] == ["explained"]
    eventually(lambda: captured.of("plans.delivery.recorded", plan_id=plan.plan_id))
