"""A client enrolled in several projects and programmes (seed 000), through clients'
real processes: the project chosen at registration is the first enrolment, a worker of
the card's centre enrols and ends, the lead enrolment's settings govern the status (seed
001), lists by project, the events on the broker, and what another centre's worker and
bad input get: nothing changed, nothing revealed."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import grpc
import kombu
import pytest

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework_clients.domain.status import StatusSettings
from casework_common.rpc_errors import field_violations, precondition_subjects
from casework_dev.clients_testing import create_silent_card, register
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, stub

pytestmark = pytest.mark.e2e

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
ADMIN = auth(create_token(subject="w-admin", centres=[], roles=["admin"]))
TODAY = date.today()
EXCHANGE = "casework.events"
KEYS = ("clients.client.enrolled.v1", "clients.enrolment.ended.v1")


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    started: Suite = suite_factory(("clients",))
    return started


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


class Published:
    """The enrolment events clients publishes, read from a queue of the test's own
    bound to their routing keys (as the vhost's administrator)."""

    def __init__(self, amqp_uri: str) -> None:
        self._connection = kombu.Connection(amqp_uri)
        # Declared by the suite (with its alternate exchange): only bound to here.
        exchange = kombu.Exchange(EXCHANGE, type="topic", durable=True, no_declare=True)
        self._queue = self._connection.SimpleQueue(
            kombu.Queue(
                f"test.enrolments.{secrets.token_hex(4)}",
                bindings=[kombu.binding(exchange, routing_key=key) for key in KEYS],
                exclusive=True,
                auto_delete=True,
            )
        )
        self.seen: list[dict[str, Any]] = []

    def of(self, client_id: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The first `count` events about the card, waiting for them."""
        deadline = time.monotonic() + timeout
        while len(mine := [e for e in self.seen if e["payload"]["client_id"] == client_id]) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{len(mine)} of {count} events of {client_id} came")
            try:
                message = self._queue.get(timeout=remaining)
            except self._queue.Empty:
                continue
            message.ack()
            self.seen.append(json.loads(message.body))
        return mine

    def close(self) -> None:
        self._queue.close()
        self._connection.release()


@pytest.fixture(scope="module")
def published(suite: Suite) -> Iterator[Published]:
    watcher = Published(suite.env["AMQP_URI"])
    yield watcher
    watcher.close()


def project(clients: Any, mode: int, **settings: Any) -> str:
    project_id = f"prj-{secrets.token_hex(3)}"
    clients.SetProjectStatusSettings(
        pb.SetProjectStatusSettingsRequest(
            project_id=project_id, name=f"Programme {project_id}",
            settings=pb.StatusSettings(mode=mode, **settings),
        ),
        metadata=ADMIN,
    )  # fmt: skip
    return project_id


def enrol(clients: Any, client_id: str, project_id: str, metadata: Any = ANNA, **more: Any) -> Any:
    request = pb.EnrolClientRequest(client_id=client_id, project_id=project_id, **more)
    return clients.EnrolClient(request, metadata=metadata).client


def end(clients: Any, client_id: str, project_id: str, metadata: Any = ANNA, **more: Any) -> Any:
    fields = {"reason": "goal reached", **more}
    request = pb.EndEnrolmentRequest(client_id=client_id, project_id=project_id, **fields)
    return clients.EndEnrolment(request, metadata=metadata).client


def listed(clients: Any, project_id: str) -> set[str]:
    reply = clients.ListClients(
        pb.ListClientsRequest(project_id=project_id, page_size=200), metadata=ANNA
    )
    return {c.client_id for c in reply.clients}


def spans(card: Any) -> list[tuple[str, str, str, bool]]:
    return [(e.project_id, e.since, e.until, e.lead) for e in card.enrolments]


def test_a_client_in_two_programmes_keeps_the_status_under_the_lead(
    clients: Any, published: Published
) -> None:
    housing = project(clients, pb.STATUS_MODE_AUTOMATIC, use_approached=True)
    debt = project(clients, pb.STATUS_MODE_MANUAL)
    card = register(clients, project_id=housing)
    assert spans(card) == [(housing, TODAY.isoformat(), "", True)]
    assert card.status == pb.CLIENT_STATUS_APPROACHED

    both = enrol(clients, card.client_id, debt)
    assert spans(both) == [
        (housing, TODAY.isoformat(), "", True), (debt, TODAY.isoformat(), "", False),
    ]  # fmt: skip
    assert both.project_id == housing
    assert both.enrolments[1].enrolled_by == "w-anna"
    # The same call again changes nothing.
    again = enrol(clients, card.client_id, debt)
    assert spans(again) == spans(both) and len(again.history) == len(both.history)
    assert card.client_id in listed(clients, debt) and card.client_id in listed(clients, housing)

    # The lead ends: the debt programme, run by hand, governs the status from now on.
    ended = end(clients, card.client_id, housing, reason="housing found")
    assert ended.project_id == debt
    assert [(e.project_id, e.until, e.end_reason, e.lead) for e in ended.enrolments] == [
        (housing, TODAY.isoformat(), "housing found", False), (debt, "", "", True),
    ]  # fmt: skip
    assert card.client_id not in listed(clients, housing)
    signed = clients.RecordContractSigned(
        pb.RecordContractSignedRequest(
            client_id=card.client_id, contract_id=f"ct-{secrets.token_hex(4)}",
            signed_on=TODAY.isoformat(),
        ),
        metadata=ANNA,
    )  # fmt: skip
    assert signed.recorded and not signed.status_changed
    assert "manual" in signed.explanation

    enrolled, finished = published.of(card.client_id, 2)
    assert (enrolled["type"], enrolled["payload"]["project_id"]) == (
        "clients.client.enrolled",
        debt,
    )
    assert enrolled["payload"]["lead_project_id"] == housing
    assert enrolled["payload"]["centre_ids"] == ["ctr-north-town"]
    assert finished["type"] == "clients.enrolment.ended"
    assert (finished["payload"]["until"], finished["payload"]["reason"]) == (
        TODAY.isoformat(), "housing found",
    )  # fmt: skip
    assert finished["payload"]["lead_project_id"] == debt


def test_another_centres_worker_can_neither_see_nor_change_the_enrolments(
    clients: Any,
) -> None:
    housing = project(clients, pb.STATUS_MODE_AUTOMATIC)
    card = register(clients, project_id=housing)
    before = clients.GetClient(pb.GetClientRequest(client_id=card.client_id), metadata=ANNA)
    for attempt in (
        lambda: enrol(clients, card.client_id, housing, metadata=ILZE),
        lambda: enrol(clients, card.client_id, "prj-nobody-knows", metadata=ILZE),
        lambda: end(clients, card.client_id, housing, metadata=ILZE),
        lambda: enrol(clients, f"cl-{secrets.token_hex(4)}", housing, metadata=ILZE),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            attempt()
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND
    assert card.client_id not in {
        c.client_id
        for c in clients.ListClients(
            pb.ListClientsRequest(project_id=housing), metadata=ILZE
        ).clients
    }
    after = clients.GetClient(pb.GetClientRequest(client_id=card.client_id), metadata=ANNA)
    assert spans(after.client) == spans(before.client)
    assert len(after.client.history) == len(before.client.history)


def test_bad_enrolments_are_refused_naming_the_field_and_change_nothing(clients: Any) -> None:
    housing = project(clients, pb.STATUS_MODE_AUTOMATIC)
    debt = project(clients, pb.STATUS_MODE_AUTOMATIC)
    card = register(clients, project_id=housing)
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    invalid = [
        (lambda: enrol(clients, card.client_id, "prj-nobody-knows"), "project_id"),
        (lambda: enrol(clients, card.client_id, debt, since=tomorrow), "since"),
        (lambda: enrol(clients, card.client_id, debt, since="12.1.2026"), "since"),
        (lambda: end(clients, card.client_id, housing, until=yesterday), "until"),
        (lambda: end(clients, card.client_id, housing, reason=" "), "reason"),
    ]
    for attempt, field in invalid:
        with pytest.raises(grpc.RpcError) as refused:
            attempt()
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(refused.value)
    forbidden = [
        # Enrolled in housing already: twice at once is refused.
        (lambda: enrol(clients, card.client_id, housing, since=yesterday), "since"),
        (lambda: end(clients, card.client_id, debt), "project_id"),
    ]
    for attempt, field in forbidden:
        with pytest.raises(grpc.RpcError) as refused:
            attempt()
        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert field in precondition_subjects(refused.value)
    after = clients.GetClient(pb.GetClientRequest(client_id=card.client_id), metadata=ANNA).client
    assert spans(after) == spans(card) and len(after.history) == len(card.history)


def test_a_card_enrolled_before_enrolments_were_kept_is_listed_and_enrolled_further(
    clients: Any, suite: Suite
) -> None:
    housing = project(clients, pb.STATUS_MODE_AUTOMATIC)
    debt = project(clients, pb.STATUS_MODE_AUTOMATIC)
    client_id = create_silent_card(suite, days_ago=10, settings=StatusSettings(),
                                   project_id=housing)  # fmt: skip
    assert client_id in listed(clients, housing)
    old = clients.GetClient(pb.GetClientRequest(client_id=client_id), metadata=ANNA).client
    since = (TODAY - timedelta(days=10)).isoformat()
    assert spans(old) == [(housing, since, "", True)]

    both = enrol(clients, client_id, debt)
    assert spans(both) == [(housing, since, "", True), (debt, TODAY.isoformat(), "", False)]
    assert client_id in listed(clients, debt) and client_id in listed(clients, housing)
