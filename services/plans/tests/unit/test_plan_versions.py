"""The plan's life: a draft, signed by both into effect, frozen once signed, reviewed
into a new version, closed with an evaluation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import FailedPrecondition, InvalidArgument
from casework_dev.testing.plans import (
    NOW,
    TODAY,
    create_action,
    create_content,
    create_goal,
    create_plan,
    create_plan_in_effect,
)
from casework_plans.domain import catalogue, decisions, life_cycle, plans
from casework_plans.domain import records as plan_records
from casework_plans.domain.plans import Progress, Signer, VersionStatus


def fields_of(error: InvalidArgument) -> set[str]:
    return {e.field for e in error.errors}


def test_a_new_plan_is_a_draft_of_version_one() -> None:
    plan = create_plan()
    assert plan.current.number == 1
    assert plan.status is VersionStatus.DRAFT
    assert plans.state_of(plan).in_effect is False


def test_an_action_deadline_before_the_plan_date_is_refused_naming_the_field() -> None:
    goal = create_goal(actions=(create_action(deadline=TODAY - timedelta(days=1)),))
    with pytest.raises(InvalidArgument) as refused:
        create_plan(content=create_content(goals=(goal,)))
    assert "content.goals[0].actions[0].deadline" in fields_of(refused.value)


def test_a_goal_target_before_the_plan_date_is_refused() -> None:
    goal = create_goal(target_date=TODAY - timedelta(days=3))
    with pytest.raises(InvalidArgument) as refused:
        create_plan(content=create_content(goals=(goal,)))
    assert fields_of(refused.value) == {"content.goals[0].target_date"}


def test_a_review_date_in_the_past_is_refused() -> None:
    content = create_content(
        plan_date=TODAY - timedelta(days=30), next_review_on=TODAY - timedelta(days=1)
    )
    with pytest.raises(InvalidArgument) as refused:
        create_plan(content=content)
    assert fields_of(refused.value) == {"content.next_review_on"}


def test_one_signature_leaves_the_plan_a_draft_and_the_second_puts_it_in_effect() -> None:
    plan = create_plan()
    plan, in_effect = life_cycle.sign(
        plan, 1, Signer.WORKER, "Ben", client_status="service_user", by="w", now=NOW
    )
    assert not in_effect and plan.status is VersionStatus.DRAFT
    plan, in_effect = life_cycle.sign(
        plan, 1, Signer.CLIENT, "Anna", client_status="service_user", by="w", now=NOW
    )
    assert in_effect and plan.status is VersionStatus.IN_EFFECT
    state = plans.state_of(plan)
    assert state.in_effect and state.next_review_on == date(2026, 9, 1)


def test_the_same_party_cannot_sign_twice() -> None:
    plan, _ = life_cycle.sign(
        create_plan(), 1, Signer.CLIENT, "Anna", client_status=None, by="w", now=NOW
    )
    with pytest.raises(FailedPrecondition) as refused:
        life_cycle.sign(plan, 1, Signer.CLIENT, "Anna", client_status=None, by="w", now=NOW)
    assert refused.value.field == "signer"


def test_a_goal_without_an_action_cannot_be_signed() -> None:
    plan = create_plan(content=create_content(goals=(create_goal(actions=()),)))
    with pytest.raises(InvalidArgument) as refused:
        life_cycle.sign(plan, 1, Signer.CLIENT, "Anna", client_status=None, by="w", now=NOW)
    assert fields_of(refused.value) == {"content.goals[0].actions"}


@pytest.mark.parametrize("status", ["rejected", "terminated"])
def test_no_plan_is_signed_for_a_rejected_or_terminated_client(status: str) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        life_cycle.sign(
            create_plan(), 1, Signer.CLIENT, "Anna", client_status=status, by="w", now=NOW
        )
    assert refused.value.field == "client_id"


def test_a_signed_version_never_changes() -> None:
    plan = create_plan_in_effect()
    with pytest.raises(FailedPrecondition) as refused:
        life_cycle.edit_draft(plan, 1, create_content(reason_for_request="other"), now=NOW)
    assert refused.value.field == "version"
    assert plan.version(1).content == create_content()


def test_editing_a_draft_clears_the_signatures_gathered_so_far() -> None:
    plan, _ = life_cycle.sign(
        create_plan(), 1, Signer.CLIENT, "Anna", client_status=None, by="w", now=NOW
    )
    edited = life_cycle.edit_draft(plan, 1, create_content(reason_for_request="changed"), now=NOW)
    assert edited.current.signatures == ()
    assert edited.current.content.reason_for_request == "changed"


def test_a_review_makes_a_new_draft_and_its_signing_supersedes_the_old_version() -> None:
    plan = create_plan_in_effect()
    later = NOW + timedelta(days=180)
    reviewed = life_cycle.start_review(
        plan,
        outcome="meals go well; add a visit",
        content=create_content(
            plan_date=later.date(),
            next_review_on=date(2027, 3, 1),
            goals=(
                create_goal(
                    target_date=date(2027, 1, 1),
                    actions=(create_action(deadline=date(2027, 1, 1)),),
                ),
            ),
        ),
        by="w",
        now=later,
    )
    assert [v.status for v in reviewed.versions] == [VersionStatus.IN_EFFECT, VersionStatus.DRAFT]
    assert reviewed.status is VersionStatus.IN_EFFECT
    assert reviewed.version(1).review_outcome == "meals go well; add a visit"
    for signer in Signer:
        reviewed, _ = life_cycle.sign(
            reviewed, 2, signer, "x", client_status="service_user", by="w", now=later
        )
    assert [v.status for v in reviewed.versions] == [
        VersionStatus.SUPERSEDED,
        VersionStatus.IN_EFFECT,
    ]
    assert reviewed.version(1).content == plan.version(1).content


def test_closing_evaluates_each_goal_by_its_latest_progress() -> None:
    two_goals = create_content(
        goals=(
            create_goal(),
            create_goal(
                goal_id="walk",
                description="walks to the shop",
                actions=(create_action(action_id="a-walk"),),
            ),
            create_goal(
                goal_id="friends",
                description="meets people",
                actions=(create_action(action_id="a-friends"),),
            ),
        ),
    )
    plan = create_plan_in_effect(content=two_goals)
    plan = life_cycle.record_progress(plan, "eat-well", Progress.IN_PROGRESS, "", by="w", now=NOW)
    plan = life_cycle.record_progress(
        plan, "eat-well", Progress.REACHED, "eats well", by="w", now=NOW
    )
    plan = life_cycle.record_progress(
        plan, "walk", Progress.DROPPED, "moved to care home", by="w", now=NOW
    )
    closed = life_cycle.close(plan, "most goals reached", by="w", now=NOW)
    assert closed.closure is not None
    assert closed.closure.reached == ("eat-well",)
    assert closed.closure.dropped == ("walk",)
    assert closed.closure.not_reached == ("friends",)
    assert closed.status is VersionStatus.CLOSED
    assert plans.state_of(closed).in_effect is False


def test_a_dropped_goal_needs_its_reason() -> None:
    plan = create_plan_in_effect()
    with pytest.raises(InvalidArgument) as refused:
        life_cycle.record_progress(plan, "eat-well", Progress.DROPPED, " ", by="w", now=NOW)
    assert fields_of(refused.value) == {"note"}


@given(
    order=st.permutations(list(Signer)),
    edits=st.lists(st.sampled_from(["edit", "sign"]), max_size=6),
)
def test_a_version_is_in_effect_only_with_both_signatures_of_its_own_content(
    order: list[Signer], edits: list[str]
) -> None:
    plan = create_plan()
    signers = iter(order * 3)
    signed: set[Signer] = set()
    for step in edits:
        if plan.status is VersionStatus.IN_EFFECT:
            break
        if step == "edit":
            plan = life_cycle.edit_draft(plan, 1, create_content(reason_for_request=step), now=NOW)
            signed.clear()
        else:
            signer = next(signers)
            if signer in signed:
                continue
            plan, _ = life_cycle.sign(plan, 1, signer, "n", client_status=None, by="w", now=NOW)
            signed.add(signer)
    in_effect = plan.status is VersionStatus.IN_EFFECT
    assert in_effect == ({s.signer for s in plan.current.signatures} == set(Signer))


def test_a_plan_with_a_service_needing_a_decision_delivers_nothing_before_approval() -> None:
    goal = create_goal(
        actions=(
            create_action(
                service_code="respite", action_id="respite", needs_decision=True, frequency=None
            ),
        )
    )
    plan = create_plan_in_effect(content=create_content(goals=(goal,)))
    assert decisions.services_needing_decision(plan) == ["respite"]
    assert plan_records.delivery_refusal(plan, "respite", TODAY)[0] == "service_code"
    plan = decisions.request_decision(plan, "respite", by="w", now=NOW)
    assert plan_records.delivery_refusal(plan, "respite", TODAY)[0] == "service_code"
    approved = decisions.decide(plan, "respite", True, "", by="manager", now=NOW)
    assert plan_records.delivery_refusal(approved, "respite", TODAY) == ("", "")
    refused = decisions.decide(plan, "respite", False, "no budget this year", by="manager", now=NOW)
    decision = refused.decision("respite")
    assert decision is not None and decision.decided_by == "manager"
    assert decision.reason == "no budget this year"
    assert plan_records.delivery_refusal(refused, "respite", TODAY)[0] == "service_code"


def test_a_refusal_needs_its_reason() -> None:
    goal = create_goal(actions=(create_action(needs_decision=True),))
    plan = create_plan_in_effect(content=create_content(goals=(goal,)))
    plan = decisions.request_decision(plan, "meals", by="w", now=NOW)
    with pytest.raises(InvalidArgument):
        decisions.decide(plan, "meals", False, "", by="m", now=NOW)


def test_a_delivery_of_a_service_not_in_the_plan_is_refused() -> None:
    plan = create_plan_in_effect()
    assert plan_records.delivery_refusal(plan, "laundry", TODAY) == (
        "service_code",
        "laundry is not a service of the plan in effect",
    )


def test_an_overspend_is_refused_unless_a_manager_approved_it() -> None:
    plan = decisions.set_budget(
        create_plan_in_effect(), plans.BudgetHolder.CARER, "Carl Carer", {"meals": 1000}
    )
    plan = decisions.spend(plan, "meals", 800)
    line = plan.budget.line("meals") if plan.budget else None
    assert line is not None and line.remaining == 200
    assert decisions.budget_refusal(plan, "meals", 200, overspend_approved=False) == ""
    assert "overspend" in decisions.budget_refusal(plan, "meals", 201, overspend_approved=False)
    assert decisions.budget_refusal(plan, "meals", 201, overspend_approved=True) == ""


def test_resetting_a_budget_keeps_what_was_spent() -> None:
    plan = decisions.set_budget(
        create_plan_in_effect(), plans.BudgetHolder.CLIENT, "Anna", {"meals": 1000}
    )
    plan = decisions.spend(plan, "meals", 300)
    plan = decisions.set_budget(plan, plans.BudgetHolder.CLIENT, "Anna", {"meals": 2000})
    assert plan.budget is not None and plan.budget.line("meals") == plans.BudgetLine(
        "meals", 2000, 300
    )


def test_screening_for_a_new_service_finds_plans_naming_a_need_it_answers() -> None:
    needing = create_plan_in_effect()
    waiting = create_plan(
        plan_id="plan-2",
        client_id="client-2",
        content=create_content(
            needs=(plans.Need("n", plans.NeedKind.FUTURE, "care", "waiting list", ("day-care",)),)
        ),
    )
    other = create_plan(
        plan_id="plan-3",
        client_id="client-3",
        content=create_content(
            needs=(plans.Need("n", plans.NeedKind.STATED, "housing", "flat", ()),)
        ),
    )
    closed = life_cycle.close(
        create_plan_in_effect(plan_id="plan-4", client_id="client-4"), "done", by="w", now=NOW
    )
    hits = catalogue.screen_for_service([needing, waiting, other, closed], "day-care", ["mobility"])
    assert [(h.client_id, h.need_id) for h in hits] == [
        ("client-1", "need-mobility"),
        ("client-2", "n"),
    ]


def test_a_plan_state_names_the_version_in_effect_during_a_review() -> None:
    plan = life_cycle.start_review(
        create_plan_in_effect(), outcome="ok", content=None, by="w", now=NOW
    )
    state = plans.state_of(plan)
    assert state.in_effect and state.version == 1
    assert replace(state, version=2).version == 2
