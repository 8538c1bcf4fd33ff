"""Specification of the interceptor every call passes, on an in-process server: the
caller is authenticated, then authorised by the service's access map (deny by default),
then the request body is parsed; each refusal is logged once, naming who asked from
where and never the token."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import grpc
import pytest

from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.auth import FRONT_LINE_AND_ABOVE, AccessMap, TokenVerifier, read_jwks
from casework_common.config import load_settings
from casework_common.grpc_runtime import build_server, current_principal
from casework_common.rpc_errors import field_violations
from casework_dev.testing.fixtures import (
    create_partner_token,
    create_token,
    session_jwks_file,
)
from casework_dev.testing.helpers import auth

LIST_INBOX = "casework.notify.v1.NotifyService/ListInbox"
MARK_READ = "casework.notify.v1.NotifyService/MarkNotificationRead"
# MarkNotificationRead is left out on purpose: a served call nobody mapped.
ACCESS: AccessMap = {LIST_INBOX: FRONT_LINE_AND_ABOVE}


class RecordingNotify(notify_pb2_grpc.NotifyServiceServicer):
    """Answers ListInbox with the caller's subject; records every call that got through."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def ListInbox(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.calls.append(current_principal().subject)
        return notify_pb2.ListInboxResponse(unread_count=request.page_size)

    def MarkNotificationRead(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.calls.append(current_principal().subject)
        return notify_pb2.MarkNotificationReadResponse()


@pytest.fixture(scope="module")
def servicer() -> RecordingNotify:
    return RecordingNotify()


@pytest.fixture(scope="module")
def channel(servicer: RecordingNotify) -> Iterator[grpc.Channel]:
    def register(server: grpc.Server) -> Iterable[str]:
        notify_pb2_grpc.add_NotifyServiceServicer_to_server(servicer, server)
        return ["casework.notify.v1.NotifyService"]

    server, _, port, _ = build_server(
        load_settings("notify", {}),
        register,
        access=ACCESS,
        port=0,
        verifier=TokenVerifier(read_jwks(session_jwks_file())),
    )
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    server.stop(grace=None)


def raw_call(channel: grpc.Channel, method: str) -> Any:
    """A call that sends and receives bytes as they are, whatever the proto says."""
    return channel.unary_unary(
        f"/{method}", request_serializer=lambda b: b, response_deserializer=lambda b: b
    )


def refused(call: Any, request: Any, metadata: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, metadata=metadata, timeout=5)
    return raised.value


def log_lines(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == message]


ANNA = auth(create_token(roles=["front_line"]))
# Not a valid protobuf: a field with wire type 7 (there is none).
GARBAGE = b"\x0f\xff\xff\xff\xff"


def test_a_mapped_call_reaches_the_servicer_with_its_request(channel: grpc.Channel) -> None:
    stub = notify_pb2_grpc.NotifyServiceStub(channel)

    reply = stub.ListInbox(notify_pb2.ListInboxRequest(page_size=7), metadata=ANNA, timeout=5)

    assert reply.unread_count == 7


def test_a_body_that_does_not_parse_is_invalid_argument_and_logs_no_traceback(
    channel: grpc.Channel, servicer: RecordingNotify, caplog: pytest.LogCaptureFixture
) -> None:
    before = len(servicer.calls)

    error = refused(raw_call(channel, LIST_INBOX), GARBAGE, ANNA)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error) == {"request": "is not a valid message of this call"}
    assert len(servicer.calls) == before
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_an_anonymous_body_is_not_even_parsed(
    channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    error = refused(raw_call(channel, LIST_INBOX), GARBAGE, [])

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_served_call_missing_from_the_map_is_refused_to_every_caller(
    channel: grpc.Channel, servicer: RecordingNotify
) -> None:
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    before = len(servicer.calls)
    callers = [
        create_token(roles=["manager", "admin", "case_worker", "data_protection_officer"]),
        create_partner_token(scopes=[MARK_READ]),
        create_token(kind="service", subject="svc-intake", scopes=[MARK_READ]),
    ]

    codes = [
        refused(
            stub.MarkNotificationRead,
            notify_pb2.MarkNotificationReadRequest(notification_id="n-1"),
            auth(token),
        ).code()
        for token in callers
    ]

    assert codes == [grpc.StatusCode.PERMISSION_DENIED] * 3
    assert len(servicer.calls) == before


def test_a_refused_authorisation_is_logged_with_who_asked_and_from_where(
    channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    token = create_token(subject="w-admin", roles=["admin"])
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    with caplog.at_level(logging.INFO):
        error = refused(stub.ListInbox, notify_pb2.ListInboxRequest(), auth(token))

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    [line] = log_lines(caplog, "authorisation refused")
    fields = line.fields  # type: ignore[attr-defined]
    assert (fields["subject"], fields["organisation"], fields["kind"], fields["method"]) == (
        "w-admin",
        "org-demo",
        "worker",
        f"/{LIST_INBOX}",
    )
    assert fields["peer"].startswith(("ipv4:127.0.0.1:", "ipv6:"))
    assert token not in caplog.text


def test_a_refused_authentication_is_logged_with_the_peer_and_never_the_token(
    channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    token = create_token(audience="another-suite")
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    with caplog.at_level(logging.INFO):
        error = refused(stub.ListInbox, notify_pb2.ListInboxRequest(), auth(token))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    [line] = log_lines(caplog, "authentication refused")
    fields = line.fields  # type: ignore[attr-defined]
    assert (fields["subject"], fields["organisation"], fields["method"]) == (
        "",
        "",
        f"/{LIST_INBOX}",
    )
    assert fields["peer"].startswith(("ipv4:127.0.0.1:", "ipv6:"))
    for part in token.split("."):
        assert part not in caplog.text
