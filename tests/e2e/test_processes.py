"""Every service's two processes: health, liveness, reflection, metrics, graceful stop."""

from __future__ import annotations

import signal
import urllib.request
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from casework_dev.devstack import Suite

pytestmark = pytest.mark.e2e

STUB_SERVICES = ("plans", "documents", "feedback")


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    return suite_factory(STUB_SERVICES)


def health(suite: Suite, service: str, name: str) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports[service]}") as channel:
        return int(
            health_pb2_grpc.HealthStub(channel)
            .Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            .status
        )


def http_get(suite: Suite, service: str, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{suite.health_ports[service]}{path}"
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.status, reply.read().decode()


@pytest.mark.parametrize("service", STUB_SERVICES)
def test_every_api_serves_health_and_liveness_without_a_token(suite: Suite, service: str) -> None:
    assert health(suite, service, "") == health_pb2.HealthCheckResponse.SERVING
    assert health(suite, service, "liveness") == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("service", STUB_SERVICES)
def test_every_events_process_serves_health_liveness_and_metrics(
    suite: Suite, service: str
) -> None:
    assert http_get(suite, service, "/healthz") == (200, "ok\n")
    assert http_get(suite, service, "/livez") == (200, "alive\n")
    status, metrics = http_get(suite, service, "/metrics")
    assert status == 200 and "casework_events_handled_total" in metrics


def test_every_api_serves_reflection_listing_health(suite: Suite) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports['plans']}") as channel:
        replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert "grpc.health.v1.Health" in names


def test_a_call_the_service_does_not_offer_answers_unimplemented(suite: Suite) -> None:
    # Every service now serves its whole proto: ask for a method no proto declares.
    address = f"127.0.0.1:{suite.grpc_ports['feedback']}"
    with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary("/casework.feedback.v1.FeedbackService/NoSuchCall")(b"", timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize("process", ["api", "events"])
def test_sigterm_stops_a_process_gracefully(suite: Suite, process: str) -> None:
    proc = suite.processes[f"feedback-{process}"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    suite.processes.pop(f"feedback-{process}")
    suite.start("feedback", process)
    suite.wait_ready("feedback", process)
