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
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

from kombu import Queue
from nameko.containers import ContainerBeingKilled
from nameko.dependency_providers import DependencyProvider
from nameko.messaging import Consumer, QueueConsumer
from nameko.timer import timer
from nameko.web.handlers import http
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from casework_common import storage, telemetry
from casework_common.config import Settings, bind_host, load_settings, seconds

# Named here too: services and tests import them from the events process's module.
from casework_common.event_delivery import TRANSIENT as TRANSIENT
from casework_common.event_delivery import Origin as Origin
from casework_common.event_delivery import PoisonEvent as PoisonEvent
from casework_common.event_delivery import _handle as _handle
from casework_common.event_delivery import _outbox_clears
from casework_common.event_delivery import _retry_later as _retry_later
from casework_common.event_delivery import exchange_name as exchange_name
from casework_common.heap import freeze_wired_objects
from casework_common.messaging import (
    EVENT_CONTENT_TYPE,
    Publisher,
    QueueMismatch,
    broker_user_prefix,
    consumer_queue,
    retry_delays,
)
from casework_common.outbox import OutboxRelay

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

SWEEP_INTERVAL = seconds("CASEWORK_SWEEP_INTERVAL", 0.5)
SWEEP_AFTER = seconds("CASEWORK_SWEEP_AFTER", 2.0)


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
    freeze_wired_objects()
    nameko_run([service_cls], config)
