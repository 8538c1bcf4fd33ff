"""A plan signed in plans reaches clients' derived colour, through real processes:
plans (gRPC) -> RabbitMQ -> clients, and the worker reads the card."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework.plans.v1 import plans_pb2, plans_pb2_grpc
from casework_dev.clients_testing import register
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub
from casework_dev.testing.plans import create_plan_request, sign_both

pytestmark = pytest.mark.e2e
ANNA = auth(create_token())
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Iterator[Suite]:
    yield suite_factory(("clients", "plans"))


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def plans(suite: Suite) -> Any:
    return stub(suite, "plans", plans_pb2_grpc.PlansServiceStub)


def colour(clients: Any, client_id: str) -> Any:
    return clients.GetClient(pb.GetClientRequest(client_id=client_id), metadata=ANNA).client.colour


def test_a_signed_plan_turns_a_service_user_green_and_closing_it_turns_them_amber(
    clients: Any, plans: Any
) -> None:
    card = register(clients)
    clients.RecordContractSigned(
        pb.RecordContractSignedRequest(
            client_id=card.client_id, contract_id="k-1", signed_on=TODAY.isoformat()
        ),
        metadata=ANNA,
    )
    assert colour(clients, card.client_id).colour == pb.COLOUR_AMBER  # no plan yet
    plan = plans.CreatePlan(create_plan_request(client_id=card.client_id), metadata=ANNA).plan
    sign_both(plans, plan, ANNA)
    green = eventually(
        lambda: (c := colour(clients, card.client_id)).colour == pb.COLOUR_GREEN and c
    )
    assert "plan" in green.explanation
    plans.ClosePlan(
        plans_pb2.ClosePlanRequest(plan_id=plan.plan_id, evaluation="moved away"), metadata=ANNA
    )
    eventually(lambda: colour(clients, card.client_id).colour == pb.COLOUR_AMBER)


def test_a_monitoring_contact_recorded_in_plans_moves_the_clients_inactivity_clock(
    clients: Any, plans: Any
) -> None:
    card = register(clients)
    plan = plans.CreatePlan(create_plan_request(client_id=card.client_id), metadata=ANNA).plan
    sign_both(plans, plan, ANNA)
    plans.RecordMonitoringContact(
        plans_pb2.RecordMonitoringContactRequest(
            plan_id=plan.plan_id,
            contacted_on=TODAY.isoformat(),
            mode=plans_pb2.CONTACT_MODE_IN_PERSON,
            notes="visited at home",
        ),
        metadata=ANNA,
    )

    def seen() -> Any:
        c = clients.GetClient(pb.GetClientRequest(client_id=card.client_id), metadata=ANNA).client
        return c if c.contact_records else None

    client = eventually(seen)
    assert client.last_contact_on == TODAY.isoformat()
    assert [r.channel for r in client.contact_records] == [pb.CONTACT_CHANNEL_IN_PERSON]
