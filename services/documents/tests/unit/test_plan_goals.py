"""Which plan's goals a document prints, and how a goal's actions read in a table cell:
only the plan in effect of a centre the caller serves, or the plan named; none is a
precondition naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from casework_common.errors import FailedPrecondition, NotFound
from casework_documents.domain.context import (
    ClientPlan,
    PlannedAction,
    PlannedGoal,
    needs_goals,
    plan_in_effect,
)

NORTH, SOUTH = "ctr-north-town", "ctr-south-city"


def create_action(**overrides: Any) -> PlannedAction:
    values: dict[str, Any] = {
        "description": "hot meals brought home",
        "provider": "partner",
        "provider_name": "Charity kitchen",
        "frequency": "3 per day",
        "deadline": "2027-01-01",
    }
    values.update(overrides)
    return PlannedAction(**values)


def create_client_plan(**overrides: Any) -> ClientPlan:
    values: dict[str, Any] = {
        "plan_id": "plan-1",
        "centre_ids": (NORTH,),
        "version": 1,
        "goals": (
            PlannedGoal("eats three warm meals every day", "2027-01-01", (create_action(),)),
        ),
    }
    values.update(overrides)
    return ClientPlan(**values)


def test_a_goal_row_prints_its_date_and_each_action_with_provider_frequency_deadline() -> None:
    goal = PlannedGoal(
        "Vybaviť občiansky preukaz",
        "2027-02-15",
        (create_action(), create_action(description="escort", provider="worker",
                                        provider_name="Анна", frequency="", deadline="")),
    )  # fmt: skip

    assert goal.row() == {
        "description": "Vybaviť občiansky preukaz",
        "deadline": "2027-02-15",
        "target_date": "2027-02-15",
        "actions": "hot meals brought home (partner Charity kitchen, 3 per day, by 2027-01-01); "
        "escort (worker Анна)",
    }


def test_only_templates_printing_goals_need_a_plan() -> None:
    assert needs_goals({"goals", "goals[].description"})
    assert needs_goals({"goals[].deadline"})
    assert not needs_goals({"client.full_name", "contract.valid_until"})


def test_the_plan_in_effect_is_chosen_over_a_draft() -> None:
    draft = create_client_plan(plan_id="plan-draft", goals=None, version=0)
    effective = create_client_plan(plan_id="plan-effective")

    assert plan_in_effect([draft, effective], [NORTH], "cl-1").plan_id == "plan-effective"


def test_no_plan_in_effect_is_a_precondition_naming_goals() -> None:
    with pytest.raises(FailedPrecondition) as caught:
        plan_in_effect([create_client_plan(goals=None)], [NORTH], "cl-1")

    assert caught.value.field == "goals" and "no plan in effect" in str(caught.value)


def test_another_centres_plan_is_never_chosen_nor_found_by_name() -> None:
    southern = create_client_plan(plan_id="plan-south", centre_ids=(SOUTH,))

    with pytest.raises(FailedPrecondition):
        plan_in_effect([southern], [NORTH], "cl-1")
    with pytest.raises(NotFound):
        plan_in_effect([southern], [NORTH], "cl-1", "plan-south")


def test_a_named_plan_is_printed_and_one_not_in_effect_names_plan_id() -> None:
    first, second = create_client_plan(plan_id="p-1"), create_client_plan(plan_id="p-2")

    assert plan_in_effect([first, second], [NORTH], "cl-1", "p-2") is second
    with pytest.raises(FailedPrecondition) as caught:
        plan_in_effect([create_client_plan(goals=None)], [NORTH], "cl-1", "plan-1")
    assert caught.value.field == "plan_id"
