"""The `events` process of a service: a nameko service that consumes events, publishes
its outbox and runs timers. Import only in a process where eventlet is monkey-patched
(never together with grpcio)."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import eventlet
from kombu import Queue
from nameko.dependency_providers import DependencyProvider
from nameko.messaging import Consumer, QueueConsumer
from nameko.timer import timer
from nameko.web.handlers import http
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import AutoReconnect, ConnectionFailure
from werkzeug.wrappers import Response

from casework_common import storage, telemetry
from casework_common.config import MissingConfiguration, Settings, bind_host, load_settings
from casework_common.envelope import EventEnvelope, MalformedEvent
from casework_common.errors import Conflict, InvalidArgument
from casework_common.messaging import (
    EVENT_CONTENT_TYPE,
    Publisher,
    consumer_queue,
)
from casework_common.outbox import OutboxRelay

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# Waiting out a broker- or database-side hiccup inside the handler keeps the message
# unacknowledged, instead of burning the queue's delivery limit in a tight loop.
TRANSIENT = (AutoReconnect, ConnectionFailure, Conflict)
TRANSIENT_RETRY_SECONDS = 30.0


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable) or ""
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise MissingConfiguration(variable, f"must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise MissingConfiguration(variable, f"must be positive, got {raw!r}")
    return value


SWEEP_INTERVAL = _seconds("CASEWORK_SWEEP_INTERVAL", 0.5)
SWEEP_AFTER = _seconds("CASEWORK_SWEEP_AFTER", 2.0)


class PoisonEvent(Exception):
    """A well-formed event the domain cannot accept; dead-lettered with this reason."""


def exchange_name() -> str:
    return os.environ.get("CASEWORK_EVENTS_EXCHANGE") or "casework.events"


class EventQueueConsumer(QueueConsumer):
    """nameko's queue consumer, plus: a message the library cannot even decode goes to
    the dead-letter queue with the reason, and the consumer keeps going."""

    def setup(self) -> None:
        super().setup()
        self._publisher = Publisher(self.container.config["AMQP_URI"], exchange_name())

    def stop(self) -> None:
        super().stop()
        self._publisher.close()

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        consumers = super().get_consumers(consumer_cls, channel)
        for consumer in consumers:
            consumer.on_decode_error = self._dead_letter_undecodable
        return consumers

    def _dead_letter_undecodable(self, message: Any, exc: Exception) -> None:
        routing_key = message.delivery_info.get("routing_key", "?")
        log.error("undecodable message dead-lettered", extra={"fields": {"reason": str(exc)}})
        self._publisher.dead_letter(
            message.body if isinstance(message.body, bytes) else str(message.body).encode(),
            consumer=f"undecodable.{routing_key}",
            reason=f"undecodable message ({message.content_type}): {exc}",
        )
        message.ack()


class EventConsumer(Consumer):
    queue_consumer = EventQueueConsumer()


class EventBus(DependencyProvider):  # type: ignore[misc]
    """Connects the process to its database and gives it the confirmed publisher."""

    def setup(self) -> None:
        service_cls = self.container.service_cls
        self.settings: Settings = load_settings(service_cls.casework_service)
        self.tracer = telemetry.setup(self.settings, "events")
        storage.connect(self.settings)
        self.publisher = Publisher(self.settings.amqp_uri, exchange_name())
        self.publisher.connect()
        self.relay = OutboxRelay(
            self.settings.service, service_cls.outbox_documents, self.publisher
        )

    def stop(self) -> None:
        self.publisher.close()

    def get_dependency(self, worker_ctx: Any) -> EventBus:
        return self


def _handle(
    bus: EventBus, consumer: str, body: bytes | str, fn: Callable[[EventEnvelope], None]
) -> None:
    service = bus.settings.service
    raw = body if isinstance(body, bytes) else body.encode()
    try:
        envelope = EventEnvelope.from_json(raw)
    except MalformedEvent as exc:
        log.error("malformed event dead-lettered", extra={"fields": {"reason": str(exc)}})
        bus.publisher.dead_letter(raw, consumer=consumer, reason=f"malformed event: {exc}")
        telemetry.EVENTS_HANDLED.labels(service, consumer, "dead_lettered").inc()
        return
    if storage.already_processed(consumer, envelope.id):
        telemetry.EVENTS_HANDLED.labels(service, consumer, "duplicate").inc()
        return
    parent = telemetry.context_from_carrier(envelope.trace)
    with bus.tracer.start_as_current_span(
        f"{consumer} {envelope.routing_key}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={"casework.event_id": envelope.id, "casework.event_type": envelope.routing_key},
    ):
        deadline = time.monotonic() + TRANSIENT_RETRY_SECONDS
        delay = 0.1
        while True:
            try:
                with storage.track_writes() as written:
                    fn(envelope)
                break
            except (PoisonEvent, InvalidArgument, MalformedEvent) as exc:
                # MalformedEvent here: a payload that does not parse into its contract.
                log.error("event refused and dead-lettered", extra={"fields": {"reason": str(exc)}})
                bus.publisher.dead_letter(raw, consumer=consumer, reason=str(exc))
                telemetry.EVENTS_HANDLED.labels(service, consumer, "dead_lettered").inc()
                storage.mark_processed(consumer, envelope)
                return
            except TRANSIENT:
                if time.monotonic() > deadline:
                    raise
                log.warning("transient failure; retrying", exc_info=True)
                eventlet.sleep(delay)
                delay = min(delay * 2, 2.0)
        storage.mark_processed(consumer, envelope)
        telemetry.EVENTS_HANDLED.labels(service, consumer, "handled").inc()
        log.info(
            "event handled",
            extra={"fields": {"event_id": envelope.id, "event_type": envelope.routing_key}},
        )
        # Publish what the handler stored now; the sweeper is only the safety net.
        bus.relay.publish_written(written)


def event_handler(queue_name: str, routing_keys: list[str]) -> Callable[[F], F]:
    """Consume events from a durable queue of this service's own, once per event id.

    The handler gets a parsed EventEnvelope; it raises PoisonEvent (or InvalidArgument,
    or contracts.UnreadablePayload) for an event it can never accept. Anything else is
    retried, then requeued.
    """
    queue: Queue = consumer_queue(exchange_name(), queue_name, routing_keys)

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def entrypoint(self: Any, body: bytes | str) -> None:
            _handle(self.bus, queue_name, body, functools.partial(fn, self))

        return EventConsumer.decorator(queue=queue, requeue_on_error=True)(entrypoint)  # type: ignore[no-any-return]

    return decorator


class EventsService:
    """Base of every service's nameko class: outbox relay, health and metrics."""

    casework_service: str = ""
    outbox_documents: tuple[type[storage.AggregateDocument], ...] = ()

    bus = EventBus()

    @timer(interval=SWEEP_INTERVAL)  # type: ignore[misc]
    def sweep_outbox(self) -> None:
        # Only outboxes their writer has not published within SWEEP_AFTER seconds:
        # the writer crashed, or the broker was away.
        while self.bus.relay.run_once(min_age=SWEEP_AFTER):
            pass

    @http("GET", "/healthz")  # type: ignore[misc]
    def healthz(self, request: Any) -> Response:
        if storage.ping():
            return Response("ok\n", status=200)
        return Response("database unreachable\n", status=503)

    @http("GET", "/livez")  # type: ignore[misc]
    def livez(self, request: Any) -> Response:
        return Response("alive\n", status=200)

    @http("GET", "/metrics")  # type: ignore[misc]
    def metrics(self, request: Any) -> Response:
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


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
    log.info("events process starting", extra={"fields": {"health_port": settings.health_port}})
    nameko_run([service_cls], config)
