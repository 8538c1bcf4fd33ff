"""The small due row kept per plan, against the database MONGO_URI names (the
development server unless told otherwise): plans stored before the rows were kept get
theirs once backfilled, a row lost after its plan's write is written again by the
timer, and a closed plan's row is gone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casework_common.unit_of_work import SystemActor, UnitOfWork
from casework_dev.testing.plans import create_plan_in_effect
from casework_plans.adapters.repository import (
    PlanDocument,
    PlanDueDocument,
    PlanRepository,
    write_plan,
)
from casework_plans.domain import life_cycle
from casework_plans.domain.monitoring import Cadence
from casework_plans.domain.plans import Plan
from casework_plans.use_cases import timers

pytestmark = pytest.mark.usefixtures("mongo_db")
# A month after the plans took effect: their first monitoring contact is missed.
LATER = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


def store_without_due_row(plan: Plan) -> None:
    """The plan's document as written before due rows were kept (or with its row's
    write lost)."""
    doc = PlanDocument(id=plan.plan_id, version=1)
    write_plan(doc, plan)
    PlanDocument._get_collection().insert_one(doc.to_mongo().to_dict())


def due_plan_ids(repository: PlanRepository) -> list[str]:
    return [plan.plan_id for _day, plan in repository.due_in_order(LATER.date())]


def test_plans_stored_before_due_rows_were_kept_are_due_work_once_backfilled() -> None:
    store_without_due_row(create_plan_in_effect(plan_id="plan-older"))
    repository = PlanRepository("org")
    assert due_plan_ids(repository) == []
    assert repository.backfill_due_rows() == 1
    assert due_plan_ids(repository) == ["plan-older"]
    assert repository.backfill_due_rows() == 0


def test_a_due_row_lost_after_its_plans_write_is_written_again_by_the_timer() -> None:
    store_without_due_row(create_plan_in_effect(plan_id="plan-row-lost"))
    uow = UnitOfWork(SystemActor("plans"), now=LATER)
    timers.raise_due_work("org", uow, Cadence(), lambda org, unit: PlanRepository(org, None, unit))
    assert due_plan_ids(PlanRepository("org")) == ["plan-row-lost"]


def test_a_closed_plans_due_row_is_removed() -> None:
    store_without_due_row(create_plan_in_effect(plan_id="plan-closing"))
    repository = PlanRepository("org")
    repository.backfill_due_rows()
    repository.update(
        "plan-closing",
        lambda plan: (life_cycle.close(plan, "moved away", by="worker-1", now=LATER), []),
    )
    assert PlanDueDocument.objects(id="plan-closing").first() is None
    assert due_plan_ids(repository) == []
