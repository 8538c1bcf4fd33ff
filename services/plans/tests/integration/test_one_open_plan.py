"""One open plan per client in the whole organisation, whichever centre holds it, and
nothing of another centre's plan told to a caller who may not see it."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import grpc

from casework.plans.v1 import plans_pb2 as pb
from casework_common.rpc_errors import precondition_subjects
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth
from casework_dev.testing.plans import create_plan_request, refused

NORTH = auth(create_token())
SOUTH = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))


def in_south(client_id: str) -> pb.CreatePlanRequest:
    return create_plan_request(client_id=client_id, centre_id="ctr-south-city")


def test_another_centre_cannot_start_a_second_open_plan_and_learns_nothing_of_the_first(
    plans: Any,
) -> None:
    first = plans.CreatePlan(create_plan_request(), metadata=NORTH).plan
    theirs = refused(plans.CreatePlan, in_south(first.client_id), SOUTH)
    ours = refused(plans.CreatePlan, create_plan_request(client_id=first.client_id), NORTH)
    assert theirs.code() is ours.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert set(precondition_subjects(theirs)) == {"client_id"}
    assert theirs.details() == ours.details()
    assert first.plan_id not in theirs.details() and "ctr-north" not in theirs.details()
    listed = plans.ListPlans(pb.ListPlansRequest(client_id=first.client_id), metadata=SOUTH)
    assert list(listed.plans) == []


def test_once_the_plan_is_closed_another_centre_may_start_one(plans: Any) -> None:
    first = plans.CreatePlan(create_plan_request(), metadata=NORTH).plan
    plans.ClosePlan(pb.ClosePlanRequest(plan_id=first.plan_id, evaluation="moved south"),
                    metadata=NORTH)  # fmt: skip
    second = plans.CreatePlan(in_south(first.client_id), metadata=SOUTH).plan
    assert list(second.centre_ids) == ["ctr-south-city"]


def test_two_centres_starting_a_plan_for_one_client_at_once_make_one_plan(plans: Any) -> None:
    client_id = f"client-{secrets.token_hex(6)}"
    calls = [
        (create_plan_request(client_id=client_id), NORTH),
        (in_south(client_id), SOUTH),
    ]
    start = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def create(i: int) -> None:
        request, metadata = calls[i]
        start.wait()
        try:
            answers[i] = plans.CreatePlan(request, metadata=metadata).plan
        except grpc.RpcError as error:
            answers[i] = error.code()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [a for a in answers if isinstance(a, pb.Plan)]
    assert len(made) == 1
    assert [a for a in answers if not isinstance(a, pb.Plan)] == [
        grpc.StatusCode.FAILED_PRECONDITION
    ]


def test_a_retried_creation_still_answers_the_first_plan(plans: Any) -> None:
    request = create_plan_request()
    first = plans.CreatePlan(request, metadata=NORTH)
    again = plans.CreatePlan(request, metadata=NORTH)
    assert again.replayed and again.plan.plan_id == first.plan.plan_id
