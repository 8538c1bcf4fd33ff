"""Feedback that changes the work: a review feedback asked for stays on the client's
plan and in the worker's due work until the plan is next reviewed (or a version takes
effect with the client); the same response or complaint heard twice is one request."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import FailedPrecondition
from casework_common.events_runtime import PoisonEvent
from casework_dev.testing.plans import NOW, TODAY, create_plan, create_plan_in_effect
from casework_plans.adapters.codec import dump, load_as
from casework_plans.adapters.repository import NEVER, PlanDocument, write_plan
from casework_plans.domain import life_cycle, review_requests
from casework_plans.domain.monitoring import DueKind
from casework_plans.domain.plans import Plan, ReviewRequest, Signer
from casework_plans.entrypoints.events import review_request


def create_review_request(**overrides: Any) -> ReviewRequest:
    values: dict[str, Any] = {
        "source": "complaint",
        "source_id": "complaint-1",
        "aspects": (),
        "centre_id": "centre-a",
        "requested_at": NOW,
        "recorded_at": NOW,
    }
    values.update(overrides)
    return ReviewRequest(**values)


def requested(plan: Plan, **overrides: Any) -> Plan:
    changed, _added = review_requests.record(plan, create_review_request(**overrides))
    return changed


def test_a_review_request_is_kept_on_the_plan_and_pending() -> None:
    plan, added = review_requests.record(create_plan_in_effect(), create_review_request())
    assert added is True
    assert [r.source_id for r in plan.pending_review_requests] == ["complaint-1"]


def test_the_same_complaint_heard_twice_is_one_request() -> None:
    once = requested(create_plan_in_effect())
    again, added = review_requests.record(once, create_review_request())
    assert added is False
    assert again == once


def test_a_response_and_a_complaint_are_two_requests() -> None:
    plan = requested(create_plan_in_effect())
    plan = requested(
        plan, source="response", source_id="response-7", aspects=("attitude", "duration")
    )
    assert [(r.source, r.aspects) for r in plan.pending_review_requests] == [
        ("complaint", ()),
        ("response", ("attitude", "duration")),
    ]


def test_a_pending_request_is_due_work_of_the_responsible_worker_from_its_day() -> None:
    plan = requested(create_plan_in_effect(), requested_at=NOW + timedelta(days=1))
    plan = requested(plan, source_id="complaint-2", requested_at=NOW + timedelta(days=3))
    assert review_requests.due_items(plan, TODAY) == []
    [item] = review_requests.due_items(plan, TODAY + timedelta(days=5))
    assert (item.kind, item.worker_id, item.due_on) == (
        DueKind.REVIEW_REQUESTED,
        plan.worker_id,
        TODAY + timedelta(days=1),
    )


def test_the_next_review_answers_every_pending_request_and_keeps_them() -> None:
    plan = requested(requested(create_plan_in_effect()), source_id="complaint-2")
    later = NOW + timedelta(days=2)
    reviewed = life_cycle.start_review(
        plan, outcome="talked it through", content=None, by="worker-2", now=later
    )
    assert reviewed.pending_review_requests == ()
    answers = [
        (r.answered_by, r.answered_in_version, r.answered_at) for r in reviewed.review_requests
    ]
    assert answers == [("worker-2", 2, later), ("worker-2", 2, later)]
    assert review_requests.due_items(reviewed, later.date()) == []


def test_a_draft_taking_effect_answers_the_requests_made_while_it_was_drafted() -> None:
    draft = requested(create_plan())
    assert review_requests.due_items(draft, TODAY)[0].version == 1
    for signer in Signer:
        draft, _ = life_cycle.sign(
            draft, 1, signer, "Name", client_status="service_user", by="worker-1", now=NOW
        )
    assert draft.pending_review_requests == ()
    assert draft.review_requests[0].answered_in_version == 1


def test_a_request_after_the_review_waits_for_the_review_after_it() -> None:
    reviewed = life_cycle.start_review(
        requested(create_plan_in_effect()), outcome="ok", content=None, by="worker-1", now=NOW
    )
    again = requested(reviewed, source_id="complaint-2")
    assert [r.source_id for r in again.pending_review_requests] == ["complaint-2"]


def test_a_closed_plan_takes_no_review_request_and_has_none_due() -> None:
    plan = requested(create_plan_in_effect())
    closed = life_cycle.close(plan, "goals reached", by="worker-1", now=NOW)
    assert review_requests.due_items(closed, TODAY) == []
    assert review_requests.requested_from(closed) is None
    with pytest.raises(FailedPrecondition):
        review_requests.record(closed, create_review_request(source_id="complaint-9"))


def test_a_stored_plan_reads_back_with_its_review_requests() -> None:
    plan = requested(create_plan_in_effect(), aspects=("attitude",))
    assert load_as(Plan, dump(plan)) == plan


def test_a_plan_stored_before_review_requests_existed_reads_with_none() -> None:
    body = dump(create_plan_in_effect())
    del body["review_requests"]
    assert load_as(Plan, body).review_requests == ()


def test_an_answered_request_is_no_longer_pending() -> None:
    request = replace(create_review_request(), answered_at=NOW)
    assert not request.pending


def test_a_draft_with_a_pending_request_is_stored_as_due_from_the_request_day() -> None:
    doc = PlanDocument()
    write_plan(doc, create_plan())
    assert doc.due_from == NEVER
    write_plan(doc, requested(create_plan(), requested_at=NOW + timedelta(days=4)))
    assert doc.due_from == (TODAY + timedelta(days=4)).isoformat()


def feedback_event(**payload: Any) -> EventEnvelope:
    values: dict[str, Any] = {
        "client_id": "client-1",
        "centre_id": "centre-a",
        "source": "complaint",
        "source_id": "complaint-1",
        "requested_at": "2026-03-02T09:00:00Z",
    }
    values.update(payload)
    return EventEnvelope(
        type="feedback.plan_review.requested",
        version=1,
        organisation="org",
        actor=Actor("system", "feedback"),
        payload=values,
    )


def test_feedbacks_request_is_read_with_its_source_and_moment() -> None:
    command = review_request(feedback_event(aspects=["attitude"]))
    assert (command.client_id, command.source, command.aspects, command.requested_at) == (
        "client-1",
        "complaint",
        ("attitude",),
        NOW,
    )


@pytest.mark.parametrize("payload", [{"client_id": ""}, {"source_id": ""}, {"source": "rumour"}])
def test_a_request_that_names_no_client_or_an_unknown_source_is_poison(
    payload: dict[str, Any],
) -> None:
    with pytest.raises(PoisonEvent):
        review_request(feedback_event(**payload))
