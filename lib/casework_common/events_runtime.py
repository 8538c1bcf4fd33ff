"""The `events` process of a service: a nameko service that consumes events, publishes
its outbox and runs timers. Import only in a process where eventlet is monkey-patched
(never together with grpcio)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import amqp.exceptions
import eventlet
from kombu import Queue
from nameko.containers import ContainerBeingKilled
from nameko.dependency_providers import DependencyProvider
from nameko.messaging import Consumer, QueueConsumer
from nameko.timer import timer
from nameko.web.handlers import http
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import AutoReconnect, ConnectionFailure
from werkzeug.wrappers import Response

from casework_common import storage, telemetry
from casework_common.config import Settings, bind_host, load_settings, seconds
from casework_common.envelope import EventEnvelope, MalformedEvent
from casework_common.errors import Conflict, InvalidArgument
from casework_common.group_commit import GroupCommit
from casework_common.messaging import (
    ATTEMPT_HEADER,
    DEFAULT_RETRY_DELAYS,
    DELIVERY_LIMIT,
    EVENT_CONTENT_TYPE,
    ORIGIN_EXCHANGE_HEADER,
    ORIGIN_KEY_HEADER,
    PUBLISHER_HEADER,
    Publisher,
    QueueMismatch,
    broker_user_prefix,
    consumer_queue,
    publisher_refusal,
    refusal_reason,
    retry_delays,
    retry_exchange,
)
from casework_common.outbox import Clear, OutboxRelay, clear_all

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# A fault that passes by itself: the delivery is parked in a delayed retry tier of the
# consumer's service (messaging.retry_queues) and acked, so it never uses up the queue's
# delivery limit however long the fault lasts. Contention (Conflict) is first retried
# here a few times, since it usually clears within milliseconds.
TRANSIENT = (
    AutoReconnect,
    ConnectionFailure,
    Conflict,
    OSError,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.RecoverableConnectionError,
    amqp.exceptions.MessageNacked,
)
CONTENTION_RETRIES = 3


SWEEP_INTERVAL = seconds("CASEWORK_SWEEP_INTERVAL", 0.5)
SWEEP_AFTER = seconds("CASEWORK_SWEEP_AFTER", 2.0)
# How long a handler's claim on an event keeps a concurrent duplicate waiting; after it,
# a delivery whose handler crashed mid-way is handled again.
CLAIM_LEASE = seconds("CASEWORK_CLAIM_LEASE", 60.0)
CLAIM_HEADER = "x-casework-claim"


def _clear_together(groups: list[list[Clear]]) -> list[None]:
    clear_all([clear for group in groups for clear in group])
    return [None] * len(groups)


# The writes every handled event costs (its claim, its done mark, the clear of what its
# handler published), each written together with the same writes of the handlers running
# beside it (group_commit): one command per step for a burst, not one per event.
_claims = GroupCommit(storage.claim_events)
_done_marks = GroupCommit(storage.complete_events)
_outbox_clears = GroupCommit(_clear_together)


class PoisonEvent(Exception):
    """A well-formed event the domain cannot accept; dead-lettered with this reason.
    Say what is wrong with which field, not the value: the reason is shown wherever dead
    letters are listed (values in quotes, e-mail addresses and numbers are cut anyway)."""


@dataclass(frozen=True)
class Origin:
    """What the broker says about a delivery: who published it, and through where; its
    headers, and how often the broker has delivered it (quorum `x-delivery-count`)."""

    user_id: str | None
    exchange: str
    routing_key: str
    headers: Mapping[str, Any] = field(default_factory=dict)
    delivery_count: int = 0


def exchange_name() -> str:
    return os.environ.get("CASEWORK_EVENTS_EXCHANGE") or "casework.events"


# Readiness of this process's consumers (module-wide: one queue consumer per process).
_consumers_expected = threading.Event()
_consuming = threading.Event()


class EventQueueConsumer(QueueConsumer):
    """nameko's queue consumer, plus: a message the library cannot even decode goes to
    the dead-letter queue with the reason, and the consumer keeps going."""

    def setup(self) -> None:
        super().setup()
        _consumers_expected.set()
        self._publisher = Publisher(self.container.config["AMQP_URI"], exchange_name())

    def on_consume_ready(
        self, connection: Any, channel: Any, consumers: Any, **kwargs: Any
    ) -> None:
        # Only now do this process's queues exist and receive: before it, an event a
        # producer publishes would find no queue of ours bound to it.
        super().on_consume_ready(connection, channel, consumers, **kwargs)
        _consuming.set()

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        _consuming.clear()
        super().on_connection_error(exc, interval)

    def stop(self) -> None:
        super().stop()
        self._publisher.close()

    @contextlib.contextmanager
    def establish_connection(self) -> Iterator[Any]:
        # kombu's default reconnects at 2, 4, 6 ... s up to 30 s: after an outage the
        # events would resume seconds after the broker is back. Poll it every half
        # second instead, for as long as it takes.
        with self.create_connection() as connection:
            connection.ensure_connection(
                self.on_connection_error,
                self.connect_max_retries,
                interval_start=0,
                interval_step=0.25,
                interval_max=0.5,
            )
            yield connection

    # nameko ignores only amqp's ConnectionError here; a socket error (the broker killed
    # while a handler ran) would escape into the container and kill the process. The
    # broker takes an unacknowledged message back when the connection drops and delivers
    # it again, and its claim makes the second handling a no-op: nothing to do but go on.
    def ack_message(self, message: Any) -> None:
        try:
            super().ack_message(message)
        except OSError as exc:
            _connection_lost("ack", exc)

    def requeue_message(self, message: Any) -> None:
        try:
            super().requeue_message(message)
        except OSError as exc:
            _connection_lost("requeue", exc)

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        consumers = super().get_consumers(consumer_cls, channel)
        for consumer in consumers:
            consumer.on_decode_error = self._dead_letter_undecodable
        return consumers

    def _dead_letter_undecodable(self, message: Any, exc: Exception) -> None:
        routing_key = message.delivery_info.get("routing_key", "?")
        reason = f"undecodable message ({str(message.content_type)[:100]})"
        log.error("undecodable message dead-lettered", extra={"fields": {"reason": reason}})
        self._publisher.dead_letter(
            message.body if isinstance(message.body, bytes) else str(message.body).encode(),
            consumer=f"undecodable.{routing_key}",
            reason=reason,
            publisher=message.properties.get("user_id"),
        )
        message.ack()


def _connection_lost(what: str, exc: OSError) -> None:
    log.warning(
        "broker connection lost before a message was settled; the broker delivers it again",
        extra={"fields": {"settling": what, "error": type(exc).__name__}},
    )


class EventConsumer(Consumer):
    """nameko's consumer, plus: the handler learns what the broker says about who
    published the message (its `Origin`), which the body could only claim."""

    queue_consumer = EventQueueConsumer()

    def handle_message(self, body: Any, message: Any) -> None:
        headers = dict(message.headers or {})
        try:
            delivery_count = int(headers.get("x-delivery-count") or 0)
        except (TypeError, ValueError):
            delivery_count = 0
        origin = Origin(
            user_id=message.properties.get("user_id"),
            exchange=message.delivery_info.get("exchange") or "",
            routing_key=message.delivery_info.get("routing_key") or "",
            headers=headers,
            delivery_count=delivery_count,
        )
        try:
            self.container.spawn_worker(
                self,
                (body,),
                {"origin": origin},
                context_data=self.unpack_message_headers(message),
                handle_result=partial(self.handle_result, message),
            )
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)


class EventBus(DependencyProvider):  # type: ignore[misc]
    """Connects the process to its database and gives it the confirmed publisher."""

    def setup(self) -> None:
        service_cls = self.container.service_cls
        self.settings: Settings = load_settings(service_cls.casework_service)
        self.tracer = telemetry.setup(self.settings, "events")
        storage.connect(self.settings)
        self.publisher = Publisher(self.settings.amqp_uri, exchange_name())
        self.publisher.connect()
        self.retry_delays = retry_delays()
        # Declared here, of the type this broker supports, before nameko consumes: the
        # entrypoints' queues take these arguments, so nameko's own declaration agrees,
        # and a queue left from another release fails the start-up with its name.
        try:
            self.queue_type = self.publisher.declare_queues(
                [
                    entrypoint.queue
                    for entrypoint in self.container.entrypoints
                    if isinstance(entrypoint, EventConsumer)
                ],
                self.retry_delays,
            )
        except QueueMismatch as exc:
            log.critical("events process cannot start", extra={"fields": {"why": str(exc)}})
            raise
        self.broker_user_prefix = broker_user_prefix()
        self.relay = OutboxRelay(
            self.settings.service,
            service_cls.outbox_documents,
            self.publisher,
            clear=_outbox_clears,
        )

    def stop(self) -> None:
        self.publisher.close()

    def get_dependency(self, worker_ctx: Any) -> EventBus:
        return self


def _as_delivered(bus: EventBus, consumer: str, origin: Origin) -> Origin:
    """The origin of the original delivery when this one is a delayed retry the consumer
    itself parked: it came back through its service's retry exchange, fed only by the
    tiers that only this service's broker user may publish to, stamped with that user."""
    if origin.exchange != retry_exchange(consumer).name:
        return origin
    if not origin.user_id or origin.user_id != bus.publisher.user_id:
        return origin
    return Origin(
        user_id=str(origin.headers.get(PUBLISHER_HEADER) or "") or None,
        exchange=str(origin.headers.get(ORIGIN_EXCHANGE_HEADER) or ""),
        routing_key=str(origin.headers.get(ORIGIN_KEY_HEADER) or ""),
        headers=origin.headers,
        delivery_count=origin.delivery_count,
    )


def _attempt(origin: Origin) -> int:
    try:
        return int(origin.headers.get(ATTEMPT_HEADER) or 0)
    except (TypeError, ValueError):
        return 0


def _retry_later(
    bus: EventBus,
    consumer: str,
    raw: bytes,
    origin: Origin,
    *,
    holder: str,
    event_id: str,
    why: str,
) -> None:
    """Park the delivery in the next delay tier; raising when even that fails (the broker
    is away too), so the delivery is requeued instead of acked."""
    delays = getattr(bus, "retry_delays", DEFAULT_RETRY_DELAYS)
    attempt = _attempt(origin) + 1
    delay = delays[min(attempt, len(delays)) - 1]
    headers = {
        ATTEMPT_HEADER: attempt,
        CLAIM_HEADER: holder,
        ORIGIN_EXCHANGE_HEADER: origin.exchange,
        ORIGIN_KEY_HEADER: origin.routing_key,
        "casework-event-id": event_id,
    }
    if origin.user_id:
        headers[PUBLISHER_HEADER] = origin.user_id
    log.warning(
        "transient failure; retrying later",
        extra={
            "fields": {
                "event_id": event_id,
                "consumer": consumer,
                "attempt": attempt,
                "delay_seconds": delay,
                "why": why,
            }
        },
    )
    bus.publisher.retry_later(
        raw, queue_name=consumer, delay=delay, headers=headers, message_id=event_id
    )
    telemetry.EVENTS_HANDLED.labels(bus.settings.service, consumer, "retry_later").inc()


def _handle(
    bus: EventBus,
    consumer: str,
    body: bytes | str,
    fn: Callable[[EventEnvelope], None],
    origin: Origin,
) -> None:
    service = bus.settings.service
    raw = body if isinstance(body, bytes) else body.encode()
    origin = _as_delivered(bus, consumer, origin)
    if origin.delivery_count >= DELIVERY_LIMIT - 2:
        log.warning(
            "delivery count near the queue's limit; the broker dead-letters it at the limit",
            extra={
                "fields": {
                    "consumer": consumer,
                    "delivery_count": origin.delivery_count,
                    "limit": DELIVERY_LIMIT,
                }
            },
        )

    def dead_letter(
        message: str,
        reason: str,
        fields: dict[str, object],
        outcome: str = "dead_lettered",
        exc_info: bool = False,
    ) -> None:
        """Log why, then hand the delivery to the dead-letter queue."""
        log.error(message, exc_info=exc_info, extra={"fields": fields})
        bus.publisher.dead_letter(raw, consumer=consumer, reason=reason, publisher=origin.user_id)
        telemetry.EVENTS_HANDLED.labels(service, consumer, outcome).inc()

    try:
        envelope = EventEnvelope.from_json(raw)
    except MalformedEvent as exc:
        dead_letter(
            "malformed event dead-lettered", f"malformed event: {exc}", {"reason": str(exc)}
        )
        return
    refusal = publisher_refusal(
        event_type=envelope.type,
        routing_key=envelope.routing_key,
        user_id=origin.user_id,
        delivered_exchange=origin.exchange,
        delivered_key=origin.routing_key,
        events_exchange=exchange_name(),
        prefix=bus.broker_user_prefix,
    )
    if refusal is not None:
        # Not marked processed: a forgery must not make the genuine event of that id a
        # duplicate.
        dead_letter(
            "event from a publisher that does not own it dead-lettered",
            refusal,
            {
                "reason": refusal,
                "event_id": envelope.id,
                "event_type": envelope.routing_key,
                "publisher": origin.user_id,
            },
            outcome="publisher_refused",
        )
        return
    # The claim's holder travels with the delayed retries of this delivery, so a retry
    # takes back its own claim instead of waiting out the lease.
    holder = str(origin.headers.get(CLAIM_HEADER) or "") or uuid.uuid4().hex
    retry = functools.partial(
        _retry_later, bus, consumer, raw, origin, holder=holder, event_id=envelope.id
    )
    try:
        claim = _claims(storage.EventClaim(consumer, envelope, holder, CLAIM_LEASE))
    except TRANSIENT as exc:
        retry(why=f"claim: {type(exc).__name__}")
        return
    if claim is storage.Claim.DONE:
        telemetry.EVENTS_HANDLED.labels(service, consumer, "duplicate").inc()
        return
    if claim is storage.Claim.BUSY:
        # A concurrent delivery of the same event is being handled: look again later
        # (done by then: a duplicate; its handler crashed: the lease runs out).
        telemetry.EVENTS_HANDLED.labels(service, consumer, "busy").inc()
        retry(why="claimed by a concurrent delivery")
        return
    parent = telemetry.context_from_carrier(envelope.trace)
    with bus.tracer.start_as_current_span(
        f"{consumer} {envelope.routing_key}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={"casework.event_id": envelope.id, "casework.event_type": envelope.routing_key},
    ):
        contention = 0
        while True:
            try:
                telemetry.HANDLER_RUNS.labels(service, consumer).inc()
                with storage.track_writes() as written:
                    fn(envelope)
                break
            except (PoisonEvent, InvalidArgument, MalformedEvent) as exc:
                # MalformedEvent here: a payload that does not parse into its contract.
                reason = refusal_reason(exc)
                dead_letter(
                    "event refused and dead-lettered",
                    reason,
                    {"reason": reason, "event_id": envelope.id},
                )
                storage.mark_processed(consumer, envelope)
                return
            except Conflict:
                contention += 1
                if contention <= CONTENTION_RETRIES:
                    eventlet.sleep(0.05 * contention)
                    continue
                _give_back(consumer, envelope.id, holder)
                retry(why="contention")
                return
            except TRANSIENT as exc:
                _give_back(consumer, envelope.id, holder)
                retry(why=type(exc).__name__)
                return
            except Exception as exc:
                _give_back(consumer, envelope.id, holder)
                if origin.delivery_count >= DELIVERY_LIMIT - 1:
                    # The broker would dead-letter it at the next failure with no reason.
                    reason = (
                        f"unexpected-error: {type(exc).__name__} "
                        f"on delivery {origin.delivery_count + 1}"
                    )
                    dead_letter(
                        "event failed on every delivery; dead-lettered",
                        reason,
                        {"reason": reason, "event_id": envelope.id},
                        exc_info=True,
                    )
                    return
                raise
        # Publish what the handler stored before marking the event done: the next
        # consumer starts one write sooner, and a crash in between is no different from
        # one just before the mark (the claim's lease runs out; handled again). The
        # sweeper is only the safety net.
        try:
            bus.relay.publish_written(written)
        except Exception:
            log.warning("immediate publish failed; the sweeper will publish", exc_info=True)
        _complete(consumer, envelope, holder, retry)
        telemetry.EVENTS_HANDLED.labels(service, consumer, "handled").inc()
        log.info(
            "event handled",
            extra={"fields": {"event_id": envelope.id, "event_type": envelope.routing_key}},
        )


def _give_back(consumer: str, event_id: str, holder: str) -> None:
    # On failure the retry carries the holder and takes the claim back anyway.
    with contextlib.suppress(*TRANSIENT):
        storage.release_event(consumer, event_id, holder)


def _complete(
    consumer: str,
    envelope: EventEnvelope,
    holder: str,
    retry: Callable[..., None],
) -> None:
    """Mark the event done. The effect is stored already, so keep trying for a while
    before falling back to a delayed retry (which would run the handler again)."""
    delay = 0.1
    deadline = time.monotonic() + min(CLAIM_LEASE / 2, 20.0)
    while True:
        try:
            if not _done_marks((consumer, envelope.id, holder)):
                log.warning(
                    "claim lost before the event was marked done (handler slower than the lease)",
                    extra={"fields": {"event_id": envelope.id, "consumer": consumer}},
                )
            return
        except TRANSIENT as exc:
            if time.monotonic() > deadline:
                retry(why=f"marking done: {type(exc).__name__}")
                return
            eventlet.sleep(delay)
            delay = min(delay * 2, 2.0)


def event_handler(queue_name: str, routing_keys: list[str]) -> Callable[[F], F]:
    """Consume events from a durable queue of this service's own, once per event id.

    The handler gets a parsed EventEnvelope, and only one whose broker user owns the
    event's service; it raises PoisonEvent (or InvalidArgument, or
    contracts.UnreadablePayload) for an event it can never accept. Anything else is
    retried, then requeued.
    """
    queue: Queue = consumer_queue(exchange_name(), queue_name, routing_keys)

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def entrypoint(self: Any, body: bytes | str, origin: Origin) -> None:
            _handle(self.bus, queue_name, body, functools.partial(fn, self), origin)

        return EventConsumer.decorator(queue=queue, requeue_on_error=True)(entrypoint)  # type: ignore[no-any-return]

    return decorator


# Module-wide: nameko makes a new service instance for every timer tick.
_sweep_deferred = threading.Event()


class EventsService:
    """Base of every service's nameko class: outbox relay, health and metrics."""

    casework_service: str = ""
    outbox_documents: tuple[type[storage.AggregateDocument], ...] = ()

    bus = EventBus()

    @timer(interval=SWEEP_INTERVAL)  # type: ignore[misc]
    def sweep_outbox(self) -> None:
        # Only outboxes their writer has not published within SWEEP_AFTER seconds:
        # the writer crashed, or the broker was away.
        try:
            while self.bus.relay.run_once(min_age=SWEEP_AFTER):
                pass
        except TRANSIENT as exc:
            # The next tick tries again; one line when the outage starts, not a
            # traceback twice a second for as long as it lasts.
            if not _sweep_deferred.is_set():
                _sweep_deferred.set()
                log.warning(
                    "outbox sweep deferred until the database and broker answer",
                    extra={"fields": {"error": type(exc).__name__}},
                )
            return
        if _sweep_deferred.is_set():
            _sweep_deferred.clear()
            log.info("outbox sweep resumed")

    @http("GET", "/healthz")  # type: ignore[misc]
    def healthz(self, request: Any) -> Response:
        if _consumers_expected.is_set() and not _consuming.is_set():
            return Response("not yet consuming its queues\n", status=503)
        if storage.ping():
            return Response("ok\n", status=200)
        return Response("database unreachable\n", status=503)

    @http("GET", "/livez")  # type: ignore[misc]
    def livez(self, request: Any) -> Response:
        return Response("alive\n", status=200)

    @http("GET", "/metrics")  # type: ignore[misc]
    def metrics(self, request: Any) -> Response:
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def _log_green_threads(signum: int, frame: Any) -> None:
    """`kill -USR1 <pid>`: where every green thread of a stalled events process waits,
    in its log (an operator's first question when a queue stops draining)."""
    import gc
    import traceback

    import greenlet

    stacks = [
        "".join(traceback.format_stack(g.gr_frame))
        for g in gc.get_objects()
        if isinstance(g, greenlet.greenlet) and g.gr_frame is not None
    ]
    log.warning(
        "green threads",
        extra={"fields": {"count": len(stacks), "stacks": "\n----\n".join(stacks)}},
    )


def run(service_cls: type[EventsService]) -> None:
    """Run one service's events process until SIGTERM (nameko stops it gracefully)."""
    from nameko.cli.run import run as nameko_run

    settings = load_settings(service_cls.casework_service)
    config = {
        "AMQP_URI": settings.amqp_uri,
        "WEB_SERVER_ADDRESS": f"{bind_host()}:{settings.health_port}",
        "max_workers": int(os.environ.get("CASEWORK_MAX_WORKERS") or 10),
        "HEARTBEAT": 30,
        "SERIALIZERS": {
            "casework-event": {
                "encoder": "casework_common.messaging.raw_encoder",
                "decoder": "casework_common.messaging.raw_decoder",
                "content_type": EVENT_CONTENT_TYPE,
                "content_encoding": "utf-8",
            }
        },
        "serializer": "casework-event",
        "ACCEPT": ["casework-event"],
    }
    telemetry.setup(settings, "events")
    signal.signal(signal.SIGUSR1, _log_green_threads)
    log.info("events process starting", extra={"fields": {"health_port": settings.health_port}})
    nameko_run([service_cls], config)
