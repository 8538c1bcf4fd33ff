"""The `api` process of a service: a grpcio server in a plain-threads process.

Every call passes one interceptor that authenticates the bearer token, checks the
caller's roles or scopes against the service's access map, parses the request, joins
the caller's trace, opens the call's unit of work (its commit hands the saved outboxes
to the background relay), counts and times the call, and turns casework errors into
status codes with details. Servicers only translate.

Under load it sheds rather than queues: at most GRPC_MAX_CONCURRENT_CALLS calls work at
once and the next is answered RESOURCE_EXHAUSTED at once with a retry hint; a call
whose caller has given up (deadline passed, cancelled) is answered without touching
the database; and every database operation of a call is bounded by the call's own
deadline (pymongo's client-side operation timeout), so no thread keeps waiting on the
database for a caller who has gone.
"""

from __future__ import annotations

import contextvars
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from typing import Any

import grpc
import pymongo
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge
from pymongo.errors import PyMongoError

from casework_common import storage, telemetry
from casework_common.auth import AccessMap, Principal, TokenVerifier, bearer, token_verifier
from casework_common.config import (
    MissingConfiguration,
    Settings,
    bind_host,
    load_settings,
    whole_number,
)
from casework_common.errors import CaseworkError, FieldError, InvalidArgument, Unauthenticated
from casework_common.heap import freeze_wired_objects
from casework_common.messaging import Publisher
from casework_common.outbox import BackgroundRelay, OutboxRelay
from casework_common.rpc_errors import status_code, to_status
from casework_common.unit_of_work import UnitsOfWork, opened

log = logging.getLogger(__name__)

_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "casework_principal", default=None
)

# Health and reflection answer without a token: probes and tools need them.
PUBLIC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
LIVENESS = "liveness"

# Calls working at once per api process; more wait for nothing - they are answered
# RESOURCE_EXHAUSTED with a retry hint. The database is the bottleneck behind every
# call, so a few more threads than this only add queueing.
DEFAULT_MAX_CONCURRENT_CALLS = 16
# Server-streaming calls open at once per api process (a live inbox, say). Each holds a
# thread of its own while open, so they have their own limit and threads, apart from
# the unary calls' (GRPC_MAX_STREAMS).
DEFAULT_MAX_STREAMS = 32
# How long a refused caller is asked to wait before trying again (RetryInfo and the
# `grpc-retry-pushback-ms` trailer grpc's own retry policy reads).
RETRY_PUSHBACK_MS = 200
# A call with less time than this left is not started: it could not finish anyway.
MIN_TIME_TO_START = 0.005
NO_DEADLINE = 365 * 24 * 3600.0

GRPC_SHED = Counter(
    "casework_grpc_shed_total",
    "Calls answered without being worked on: too many at once, or the caller gone",
    ["service", "reason"],
)
GRPC_IN_FLIGHT = Gauge("casework_grpc_in_flight", "Calls being worked on now", ["service"])


def max_concurrent_calls(env: Mapping[str, str] | None = None) -> int:
    return whole_number("GRPC_MAX_CONCURRENT_CALLS", DEFAULT_MAX_CONCURRENT_CALLS, 1, 1024, env)


def max_streams(env: Mapping[str, str] | None = None) -> int:
    return whole_number("GRPC_MAX_STREAMS", DEFAULT_MAX_STREAMS, 0, 4096, env)


def _database_timeout(exc: BaseException) -> bool:
    return isinstance(exc, PyMongoError) and bool(exc.timeout)


def retry_status(code: grpc.StatusCode, message: str) -> grpc.Status:
    """`code` with a google.rpc.RetryInfo detail and the pushback trailer."""
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(nanos=RETRY_PUSHBACK_MS * 1_000_000)
        )
    )
    status = rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=message, details=[detail])
    )
    return _WithTrailers(
        status.code,
        status.details,
        (*status.trailing_metadata, ("grpc-retry-pushback-ms", str(RETRY_PUSHBACK_MS))),
    )


class _WithTrailers(grpc.Status):
    def __init__(
        self, code: grpc.StatusCode, details: str, trailing_metadata: tuple[Any, ...]
    ) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def current_principal() -> Principal:
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated("no authenticated caller")
    return principal


class CaseworkInterceptor(grpc.ServerInterceptor):
    """Authenticates, authorises (deny by default: a method missing from the access map
    is refused to everyone), then parses the request body, in that order: an anonymous
    caller's bytes are never parsed, and a body that does not parse is the caller's
    mistake (INVALID_ARGUMENT), not the service's."""

    def __init__(
        self,
        settings: Settings,
        tracer: Any,
        relay: BackgroundRelay | None,
        access: AccessMap,
        verifier: TokenVerifier,
        max_calls: int = DEFAULT_MAX_CONCURRENT_CALLS,
        streams: int = DEFAULT_MAX_STREAMS,
    ) -> None:
        self._settings = settings
        self._streams = threading.BoundedSemaphore(streams) if streams else None
        self._tracer = tracer
        self._units = UnitsOfWork(publish=relay.submit if relay is not None else None)
        self._access = access
        self._verifier = verifier
        self._slots = threading.BoundedSemaphore(max_calls)

    def intercept_service(
        self, continuation: Callable[[Any], Any], handler_call_details: Any
    ) -> Any:
        handler = continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        if handler.unary_stream is not None and self._streams is not None:
            return self._streaming(handler, method, handler_call_details)
        if handler.unary_unary is None:
            # No other streaming call passes this interceptor unchecked: refuse it.
            return None
        inner = handler.unary_unary
        deserialize = handler.request_deserializer
        metadata = tuple(handler_call_details.invocation_metadata or ())

        def wrapped(raw: bytes, context: grpc.ServicerContext) -> Any:
            return self._admit(
                context,
                method,
                lambda: self._call(inner, deserialize, raw, context, method, metadata),
            )

        # grpc hands over the raw body; it is parsed only once the caller is known.
        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=None,
            response_serializer=handler.response_serializer,
        )

    def _streaming(self, handler: Any, method: str, handler_call_details: Any) -> Any:
        """A server-streaming call: the same checks as a unary call's, in the same order,
        before the first message; its own limit of open streams; its unit of work open
        while it streams. Database operations are not bounded by a deadline here: a
        stream has none, and each of its reads is short."""
        inner = handler.unary_stream
        deserialize = handler.request_deserializer
        metadata = tuple(handler_call_details.invocation_metadata or ())
        streams = self._streams
        assert streams is not None
        service = self._settings.service

        def wrapped(raw: bytes, context: grpc.ServicerContext) -> Any:
            code = grpc.StatusCode.OK
            principal: Principal | None = None
            token = None
            admitted = False
            released = threading.Lock()

            def release_once() -> None:
                # From the finally below, or from grpc when the call ends: a stream the
                # caller cancelled between two messages is dropped by grpc without
                # being run to its end, and must not keep its slot.
                if released.acquire(blocking=False):
                    streams.release()

            try:
                principal = self._verifier.verify(bearer(metadata))
                principal.require_call(method.lstrip("/"), self._access)
                request = _parse(deserialize, raw)
                if not streams.acquire(blocking=False):
                    GRPC_SHED.labels(service, "streams").inc()
                    context.abort_with_status(
                        retry_status(
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                            "too many open streams; retry after the pushback",
                        )
                    )
                admitted = True
                context.add_callback(release_once)
                token = _principal.set(principal)
                with opened(self._units.begin(principal)):
                    yield from inner(request, context)
            except CaseworkError as exc:
                code = status_code(exc)
                _log_refusal(exc, code, method, principal, context)
                context.abort_with_status(to_status(exc))
            finally:
                if token is not None:
                    _principal.reset(token)
                if admitted:
                    release_once()
                telemetry.GRPC_CALLS.labels(service, method, code.name).inc()

        return grpc.unary_stream_rpc_method_handler(
            wrapped, request_deserializer=None, response_serializer=handler.response_serializer
        )

    def _admit(self, context: grpc.ServicerContext, method: str, call: Callable[[], Any]) -> Any:
        """Shed before any work (a caller who has gone, or one call too many), else
        make the call."""
        service = self._settings.service
        remaining = context.time_remaining()
        if remaining is not None and remaining > NO_DEADLINE:
            # grpc reports a call without a deadline as one with centuries left.
            remaining = None
        if not context.is_active():
            GRPC_SHED.labels(service, "cancelled").inc()
            context.abort(grpc.StatusCode.CANCELLED, "the caller cancelled the call")
        if remaining is not None and remaining < MIN_TIME_TO_START:
            GRPC_SHED.labels(service, "deadline").inc()
            context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before the call started"
            )
        if not self._slots.acquire(blocking=False):
            GRPC_SHED.labels(service, "overloaded").inc()
            log.info("call shed", extra={"fields": {"method": method, "reason": "overloaded"}})
            context.abort_with_status(
                retry_status(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "too many calls at once; retry after the pushback",
                )
            )
        GRPC_IN_FLIGHT.labels(service).inc()
        try:
            # Every database operation of the call ends by the caller's deadline (server
            # selection and pymongo's own retries included); no deadline, no bound.
            with pymongo.timeout(remaining):
                return call()
        finally:
            # The slot first: once the gauge says no call is at work, every slot is free.
            self._slots.release()
            GRPC_IN_FLIGHT.labels(service).dec()

    def _call(
        self,
        inner: Callable[[Any, grpc.ServicerContext], Any],
        deserialize: Callable[[bytes], Any] | None,
        raw: bytes,
        context: grpc.ServicerContext,
        method: str,
        metadata: tuple[Any, ...],
    ) -> Any:
        carrier = {k: v for k, v in metadata if isinstance(v, str)}
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        principal: Principal | None = None
        with self._tracer.start_as_current_span(
            method.lstrip("/"),
            context=telemetry.context_from_carrier(carrier),
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.method": method},
        ) as span:
            token = None
            try:
                principal = self._verifier.verify(bearer(metadata))
                principal.require_call(method.lstrip("/"), self._access)
                token = _principal.set(principal)
                span.set_attribute("casework.subject", principal.subject)
                request = _parse(deserialize, raw)
                # The call's unit of work: on return its saved aggregates go to the relay.
                with opened(self._units.begin(principal)):
                    return inner(request, context)
            except CaseworkError as exc:
                code = status_code(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                _log_refusal(exc, code, method, principal, context)
                context.abort_with_status(to_status(exc))
            except Exception as exc:
                if _database_timeout(exc):
                    # The database did not answer within the caller's deadline.
                    left = context.time_remaining()
                    if left is not None and left <= 0:
                        code = grpc.StatusCode.DEADLINE_EXCEEDED
                        span.set_status(Status(StatusCode.ERROR, "deadline exceeded"))
                        context.abort(code, "the deadline passed waiting for the database")
                    code = grpc.StatusCode.UNAVAILABLE
                    span.set_status(Status(StatusCode.ERROR, "database unavailable"))
                    context.abort_with_status(
                        retry_status(code, "the database did not answer in time; retry later")
                    )
                code = grpc.StatusCode.INTERNAL
                span.set_status(Status(StatusCode.ERROR, "internal error"))
                log.exception("call failed", extra={"fields": {"method": method}})
                context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")
            finally:
                if token is not None:
                    _principal.reset(token)
                telemetry.GRPC_CALLS.labels(self._settings.service, method, code.name).inc()
                telemetry.GRPC_LATENCY.labels(self._settings.service, method).observe(
                    time.perf_counter() - started
                )


def _parse(deserialize: Callable[[bytes], Any] | None, raw: bytes) -> Any:
    if deserialize is None:
        return raw
    try:
        return deserialize(raw)
    except Exception:
        # Whatever the parser says about the bytes stays out of the answer and the log.
        raise InvalidArgument(
            [FieldError("request", "is not a valid message of this call")]
        ) from None


_REFUSALS = {
    grpc.StatusCode.UNAUTHENTICATED: "authentication refused",
    grpc.StatusCode.PERMISSION_DENIED: "authorisation refused",
}


def _log_refusal(
    error: CaseworkError,
    code: grpc.StatusCode,
    method: str,
    principal: Principal | None,
    context: grpc.ServicerContext,
) -> None:
    """One line per refused call; who asked and from where, never the token itself."""
    fields: dict[str, object] = {"method": method, "code": code.name, "reason": str(error)}
    refusal = _REFUSALS.get(code)
    if refusal is None:
        log.info("call refused", extra={"fields": fields})
        return
    fields.update(
        subject=principal.subject if principal else "",
        organisation=principal.organisation if principal else "",
        kind=principal.kind if principal else "",
        peer=context.peer(),
    )
    log.warning(refusal, extra={"fields": fields})


Registrar = Callable[[grpc.Server], Iterable[str]]


def health_names(service_names: Iterable[str]) -> list[str]:
    return [name for name in service_names if name]


def build_server(
    settings: Settings,
    register: Registrar,
    *,
    access: AccessMap,
    port: int | None = None,
    relay: BackgroundRelay | None = None,
    verifier: TokenVerifier | None = None,
    max_calls: int | None = None,
    streams: int | None = None,
) -> tuple[grpc.Server, health.HealthServicer, int, list[str]]:
    """`access` maps every method the server answers to the roles allowed to call it.

    `max_calls` (GRPC_MAX_CONCURRENT_CALLS) calls work at once; the pool has a few
    threads more, so that a call too many is refused with a retry hint at once and
    health probes still answer. grpc's own `maximum_concurrent_rpcs` is only the outer
    wall (its refusal carries no hint, and counts the probes too): beyond it, calls
    waiting for a thread are refused rather than queued without end.
    """
    tracer = telemetry.setup(settings, "api")
    verifier = verifier or token_verifier(settings)
    max_calls = max_calls or max_concurrent_calls()
    streams = max_streams() if streams is None else streams
    server = grpc.server(
        futures.ThreadPoolExecutor(
            max_workers=max_calls + 4 + streams, thread_name_prefix=f"{settings.service}-api"
        ),
        interceptors=[
            CaseworkInterceptor(settings, tracer, relay, access, verifier, max_calls, streams)
        ],
        options=[
            ("grpc.max_receive_message_length", 4 * 1024 * 1024),
            # Several api processes (API_PROCESSES) listen on one port; the kernel
            # spreads the connections between them.
            ("grpc.so_reuseport", 1),
        ],
        maximum_concurrent_rpcs=max_calls * 4 + streams,
    )
    service_names = list(register(server))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    bound = server.add_insecure_port(
        f"{bind_host()}:{settings.grpc_port if port is None else port}"
    )
    for name in ["", *service_names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    return server, health_servicer, bound, service_names


def start_metrics_server(port: int) -> None:
    """/metrics of an api process on METRICS_PORT; a port it cannot have stops the start
    naming the variable, rather than a bare socket error from deep in a library."""
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=bind_host())
    except OSError as exc:
        raise MissingConfiguration(
            "METRICS_PORT",
            f"a port this process can listen on; {port} cannot be used ({exc.strerror or exc})"
            " - give every api process its own",
        ) from None


def serve(
    service: str, register: Registrar, access: AccessMap, needs_database: bool = True
) -> None:
    """Run one service's api process until SIGTERM, then drain in-flight calls."""
    settings = load_settings(service)
    verifier = token_verifier(settings)  # a bad JWKS stops the process before it connects
    relay = None
    if needs_database:
        storage.connect(settings)
        publisher = Publisher(settings.amqp_uri, settings.events_exchange)
        relay = BackgroundRelay(OutboxRelay(settings.service, (), publisher))
    server, health_servicer, port, server_names = build_server(
        settings, register, access=access, relay=relay, verifier=verifier
    )
    if settings.metrics_port:
        start_metrics_server(settings.metrics_port)
    freeze_wired_objects()
    server.start()
    stopping = threading.Event()
    names = ["", *health_names(server_names)]

    def set_health() -> None:
        serving = not needs_database or storage.ping()
        state = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in names:
            health_servicer.set(name, state)

    def watch_health() -> None:
        while not stopping.wait(2.0):
            set_health()

    set_health()
    # Answers as long as the server does: Kubernetes' liveness probe asks this name.
    health_servicer.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
    threading.Thread(target=watch_health, daemon=True).start()
    log.info("api serving", extra={"fields": {"port": port, "service": service}})

    def shutdown(signum: int, frame: Any) -> None:
        stopping.set()
        health_servicer.enter_graceful_shutdown()
        server.stop(grace=10)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    server.wait_for_termination()
    if relay is not None:
        relay.close()
    log.info("api stopped")
