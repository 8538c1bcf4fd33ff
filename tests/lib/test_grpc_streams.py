"""Server-streaming calls through the interceptor, on an in-process server: the same
checks as a unary call before the first message (authenticated, authorised by the
access map, body parsed), the caller known to the stream's servicer, and a limit of
open streams of their own, past which a stream is refused with a retry hint."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

import grpc
import pytest

from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.auth import ROLES, AccessMap, TokenVerifier, read_jwks
from casework_common.config import load_settings
from casework_common.grpc_runtime import build_server, current_principal
from casework_dev.testing.fixtures import create_token, session_jwks_file
from casework_dev.testing.helpers import auth

WATCH = "casework.notify.v1.NotifyService/WatchInbox"
ACCESS: AccessMap = {WATCH: ROLES}
ANNA = auth(create_token(subject="w-anna", roles=["front_line"]))


class Watching(notify_pb2_grpc.NotifyServiceServicer):
    """Answers the caller's subject as the first update, then holds the stream open
    until told to let go."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def WatchInbox(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        yield notify_pb2.WatchInboxResponse(unread_by_kind={current_principal().subject: 1})
        while context.is_active() and not self.release.wait(0.05):
            pass


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[grpc.Channel, Watching]]:
    servicer = Watching()

    def register(server: grpc.Server) -> Iterable[str]:
        notify_pb2_grpc.add_NotifyServiceServicer_to_server(servicer, server)
        return ["casework.notify.v1.NotifyService"]

    server, _, port, _ = build_server(
        load_settings("notify", {}),
        register,
        access=ACCESS,
        port=0,
        verifier=TokenVerifier(read_jwks(session_jwks_file())),
        streams=2,
    )
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel, servicer
    servicer.release.set()
    server.stop(grace=None)


def first(call: Any) -> Any:
    return next(iter(call))


def test_a_stream_knows_its_caller(served: tuple[grpc.Channel, Watching]) -> None:
    channel, _ = served
    call = notify_pb2_grpc.NotifyServiceStub(channel).WatchInbox(
        notify_pb2.WatchInboxRequest(), metadata=ANNA, timeout=10
    )
    assert dict(first(call).unread_by_kind) == {"w-anna": 1}
    call.cancel()


def test_a_stream_without_a_token_or_role_is_refused_before_any_message(
    served: tuple[grpc.Channel, Watching],
) -> None:
    stub = notify_pb2_grpc.NotifyServiceStub(served[0])
    service = auth(create_token(kind="service", subject="svc-x", roles=[], scopes=[]))
    for metadata, code in (
        ([], grpc.StatusCode.UNAUTHENTICATED),
        (service, grpc.StatusCode.PERMISSION_DENIED),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            first(stub.WatchInbox(notify_pb2.WatchInboxRequest(), metadata=metadata, timeout=10))
        assert refused.value.code() == code


def test_a_stream_past_the_limit_is_refused_with_a_retry_hint(
    served: tuple[grpc.Channel, Watching],
) -> None:
    stub = notify_pb2_grpc.NotifyServiceStub(served[0])
    held = [stub.WatchInbox(notify_pb2.WatchInboxRequest(), metadata=ANNA) for _ in range(2)]
    for call in held:
        first(call)
    with pytest.raises(grpc.RpcError) as refused:
        first(stub.WatchInbox(notify_pb2.WatchInboxRequest(), metadata=ANNA, timeout=10))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    metadata = dict(refused.value.trailing_metadata() or ())
    assert metadata.get("grpc-retry-pushback-ms") == "200"
    for call in held:
        call.cancel()
