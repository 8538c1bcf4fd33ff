"""Specification of an api under overload, on an in-process server whose calls write to
a database server of the test's own, which the test pauses (SIGSTOP) as a database
restart or a stall would: callers with short deadlines give up, and the api must not
keep working for them - no call started after its caller's deadline, no thread still
waiting on the database once every caller has had its answer, and a call too many
answered at once with a hint of when to try again."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pymongo
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry import trace
from prometheus_client import REGISTRY

from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.auth import FRONT_LINE_AND_ABOVE, AccessMap, TokenVerifier, read_jwks
from casework_common.config import load_settings
from casework_common.grpc_runtime import RETRY_PUSHBACK_MS, build_server
from casework_dev.devstack import free_port, start_mongo, stop_mongo, wait_for
from casework_dev.testing.fixtures import create_token, session_jwks_file
from casework_dev.testing.helpers import auth

LIST_INBOX = "casework.notify.v1.NotifyService/ListInbox"
ACCESS: AccessMap = {LIST_INBOX: FRONT_LINE_AND_ABOVE}
ANNA = auth(create_token(roles=["front_line"]))
MAX_CALLS = 4


@dataclass
class WritingNotify(notify_pb2_grpc.NotifyServiceServicer):
    """ListInbox writes one document, as every call that changes something does;
    records how much time each call had left when its work began."""

    collection: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    started_with: list[float | None] = field(default_factory=list)

    def ListInbox(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self.lock:
            self.in_flight += 1
            self.started_with.append(context.time_remaining())
        try:
            self.collection.insert_one({"page_size": request.page_size})
        finally:
            with self.lock:
                self.in_flight -= 1
        return notify_pb2.ListInboxResponse(unread_count=request.page_size)

    def late_starts(self) -> int:
        with self.lock:
            return sum(1 for left in self.started_with if left is not None and left <= 0)


@dataclass
class Database:
    uri: str
    pid: int

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


@pytest.fixture()
def database(tmp_path: Path) -> Iterator[Database]:
    """A database server of this test's own: pausing the session's would stall others."""
    port = free_port()
    start_mongo(tmp_path / "data", port, tmp_path)
    pid = int((tmp_path / f"mongo-{port}.pid").read_text())
    db = Database(f"mongodb://127.0.0.1:{port}", pid)
    yield db
    db.resume()
    stop_mongo(port, tmp_path)


@pytest.fixture()
def served(database: Database) -> Iterator[tuple[WritingNotify, grpc.Channel]]:
    # As storage.connect configures the services' client: no socket timeout of its own.
    client: Any = pymongo.MongoClient(database.uri, serverSelectionTimeoutMS=5000)
    servicer = WritingNotify(client["overload"]["writes"])

    def register(server: grpc.Server) -> Iterable[str]:
        notify_pb2_grpc.add_NotifyServiceServicer_to_server(servicer, server)
        return ["casework.notify.v1.NotifyService"]

    server, _, port, _ = build_server(
        load_settings("notify", {}),
        register,
        access=ACCESS,
        port=0,
        verifier=TokenVerifier(read_jwks(session_jwks_file())),
        max_calls=MAX_CALLS,
    )
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield servicer, channel
    server.stop(grace=None)
    client.close()


def api_calls_at_work() -> float:
    return REGISTRY.get_sample_value("casework_grpc_in_flight", {"service": "notify"}) or 0.0


def call(channel: grpc.Channel, timeout: float) -> grpc.StatusCode:
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    try:
        stub.ListInbox(notify_pb2.ListInboxRequest(page_size=1), metadata=ANNA, timeout=timeout)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_callers_who_gave_up_leave_no_work_behind_while_the_database_is_paused(
    served: tuple[WritingNotify, grpc.Channel], database: Database
) -> None:
    servicer, channel = served
    assert call(channel, timeout=5) == grpc.StatusCode.OK
    database.pause()

    # Partners with short deadlines, many more than the api works on at once, each
    # trying again as soon as it is answered.
    with ThreadPoolExecutor(24) as callers:
        codes = list(callers.map(lambda _: call(channel, timeout=0.3), range(240)))

    # Every caller has its answer; the api has stopped working for them, the database
    # still paused: the handlers have returned, and the api has let go of their calls
    # (its own count, which falls after their slots are free).
    wait_for(
        lambda: servicer.in_flight == 0 and api_calls_at_work() == 0, 10, "abandoned calls to end"
    )
    assert servicer.late_starts() == 0
    assert set(codes) <= {
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNAVAILABLE,
    }
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
    # Only calls that found a free slot reached the database.
    assert len(servicer.started_with) < len(codes)

    database.resume()
    assert call(channel, timeout=5) == grpc.StatusCode.OK


def test_a_call_too_many_is_refused_at_once_with_a_retry_hint(
    served: tuple[WritingNotify, grpc.Channel], database: Database
) -> None:
    servicer, channel = served
    assert call(channel, timeout=5) == grpc.StatusCode.OK
    database.pause()
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    request = notify_pb2.ListInboxRequest(page_size=1)
    busy = [stub.ListInbox.future(request, metadata=ANNA, timeout=5) for _ in range(MAX_CALLS)]
    wait_for(lambda: servicer.in_flight == MAX_CALLS, 5, "every slot taken")

    with pytest.raises(grpc.RpcError) as raised:
        stub.ListInbox(request, metadata=ANNA, timeout=5)

    error: Any = raised.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(error.trailing_metadata())
    assert trailers["grpc-retry-pushback-ms"] == str(RETRY_PUSHBACK_MS)
    status = rpc_status.from_call(error)
    assert status is not None
    hints = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert len(hints) == 1
    retry = error_details_pb2.RetryInfo()
    hints[0].Unpack(retry)
    assert retry.retry_delay.ToMilliseconds() == RETRY_PUSHBACK_MS
    assert servicer.in_flight == MAX_CALLS

    database.resume()
    assert {future.code() for future in busy} == {grpc.StatusCode.OK}


def test_a_call_that_outlives_its_deadline_on_the_database_is_answered_deadline_exceeded(
    served: tuple[WritingNotify, grpc.Channel], database: Database
) -> None:
    servicer, channel = served
    assert call(channel, timeout=5) == grpc.StatusCode.OK
    database.pause()

    assert call(channel, timeout=0.5) == grpc.StatusCode.DEADLINE_EXCEEDED

    wait_for(lambda: servicer.in_flight == 0, 5, "the call to stop waiting on the database")
    database.resume()


class Abort(Exception):
    pass


@dataclass
class GoneCaller:
    """The server side of a call whose caller is already gone, as grpc shows it when
    the call waited for a thread longer than its deadline or was cancelled."""

    left: float | None
    active: bool = True
    code: grpc.StatusCode | None = None

    def time_remaining(self) -> float | None:
        return self.left

    def is_active(self) -> bool:
        return self.active

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        raise Abort(details)

    def abort_with_status(self, status: grpc.Status) -> None:
        self.abort(status.code, status.details)


@pytest.mark.parametrize(
    ("caller", "answer"),
    [
        (GoneCaller(left=0.0), grpc.StatusCode.DEADLINE_EXCEEDED),
        (GoneCaller(left=-1.5), grpc.StatusCode.DEADLINE_EXCEEDED),
        (GoneCaller(left=3.0, active=False), grpc.StatusCode.CANCELLED),
    ],
)
def test_a_call_whose_caller_has_gone_is_answered_without_being_worked_on(
    caller: GoneCaller, answer: grpc.StatusCode
) -> None:
    from casework_common.grpc_runtime import CaseworkInterceptor

    worked: list[bytes] = []
    interceptor = CaseworkInterceptor(
        load_settings("notify", {}),
        trace.get_tracer("test"),
        None,
        ACCESS,
        TokenVerifier(read_jwks(session_jwks_file())),
        MAX_CALLS,
    )

    with pytest.raises(Abort):
        interceptor._admit(
            caller,  # type: ignore[arg-type]
            f"/{LIST_INBOX}",
            lambda: worked.append(b""),
        )

    assert caller.code == answer
    assert worked == []


def test_a_call_without_a_deadline_is_worked_on_unbounded(
    served: tuple[WritingNotify, grpc.Channel],
) -> None:
    servicer, channel = served
    stub = notify_pb2_grpc.NotifyServiceStub(channel)

    reply = stub.ListInbox(notify_pb2.ListInboxRequest(page_size=3), metadata=ANNA)

    assert reply.unread_count == 3
    assert len(servicer.started_with) == 1
