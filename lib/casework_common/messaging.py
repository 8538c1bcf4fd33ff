"""RabbitMQ topology and the confirmed publisher (kombu), shared by relay and consumers.

- `casework.events`: the one durable topic exchange; routing key `<service>.<entity>.<verb>.v<N>`.
  Its alternate exchange keeps any event no queue was bound for yet, so an event
  published before its consumer first started is parked, not dropped.
- `casework.dead-letter`: poison messages with the reason, and messages that exceeded
  their queue's delivery limit.
- Delayed retries, one set per service: a handler that meets a transient fault
  (database away, contention, broker hiccup) publishes a copy of the delivery to the
  service's headers exchange `<service>.retry-in`, routing key the consumer's queue,
  header `casework-delay` naming its tier; the tier `<service>.retry.<N>s` (a queue
  with message TTL N seconds, N growing 1, 2, 4 ... up to a cap, the attempt in
  `x-casework-attempt`) keeps it, the handler acks the delivery, and when the time is up
  the broker dead-letters the copy to the service's direct exchange `<service>.retry`
  under the routing key it was published with, to which each consumer queue is bound
  by its own name. The delivery limit counts only what no handler could even answer for
  (a crash loop). One set of tiers per service, not per queue: a quorum queue holds a
  few of the broker's file descriptors and a Raft log of its own.

Queue type (`CASEWORK_QUEUE_TYPE`, `quorum` or `classic`; unset: what the broker
supports). On RabbitMQ 3.10 and later the consumer queues and the retry tiers are quorum
queues that dead-letter at least once (`x-dead-letter-strategy: at-least-once`, which
needs `x-overflow: reject-publish`): a delayed retry on its way back to the work queue
is kept by its tier until the work queue confirms it, where a classic queue would drop it
if the broker failed in between. Older brokers get classic queues. A queue already
declared with other arguments cannot be redeclared: `QueueMismatch` names it and says
what to do.

Who published an event is the broker's word, not the event's: every service connects
as a broker user of its own, `<prefix><service>` (prefix `CASEWORK_BROKER_USER_PREFIX`,
default `casework-`), whose topic permission lets it publish only `<service>.*` keys;
the Publisher stamps each message's AMQP `user_id` with that user, which the broker
checks against the connection. Consumers accept an event only when that user speaks for
the service its type starts with (`publisher_refusal`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

import amqp.exceptions
import kombu
from kombu import Exchange, Queue, binding
from opentelemetry import trace

from casework_common.config import SERVICES
from casework_common.errors import InvalidArgument
from casework_common.telemetry import context_from_carrier

log = logging.getLogger(__name__)
# A proxy until the process sets its tracer provider, then that provider's tracer.
_tracer = trace.get_tracer("casework.messaging")

EVENT_CONTENT_TYPE = "application/vnd.casework.event+json"
DELIVERY_LIMIT = 10
DEFAULT_BROKER_USER_PREFIX = "casework-"
# Set on a consumer's dead letter: the broker-checked user that published the event it
# refused, so that a replay can publish it again in that user's name, and no other.
PUBLISHER_HEADER = "x-casework-publisher"
# On a delayed retry: which attempt it is, and where the original delivery came from
# (only believed on a message that came back through the consumer's own retry exchange,
# which no other service's broker user may publish to).
ATTEMPT_HEADER = "x-casework-attempt"
# On a retry's way into its service's tiers: the tier it waits in (`<N>s`).
# No `x-` prefix: a headers exchange ignores such headers when it matches.
DELAY_HEADER = "casework-delay"
ORIGIN_EXCHANGE_HEADER = "x-casework-origin-exchange"
ORIGIN_KEY_HEADER = "x-casework-origin-key"
DEFAULT_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
QUORUM = "quorum"
CLASSIC = "classic"
QUEUE_TYPES = (QUORUM, CLASSIC)
# The first release whose quorum queues dead-letter at least once and honour a TTL.
AT_LEAST_ONCE_SINCE = (3, 10)


class QueueMismatch(RuntimeError):
    """A queue exists with arguments other than the ones declared now (another type, or
    another dead-letter strategy or delivery limit): the broker cannot change it."""


def _version(text: str | None) -> tuple[int, ...]:
    parts = []
    for part in (text or "").split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def queue_type(server_version: str | None, env: Mapping[str, str] | None = None) -> str:
    """The type of every queue this suite declares: `CASEWORK_QUEUE_TYPE` when set,
    else quorum on a broker that reports 3.10 or later, else classic."""
    env = os.environ if env is None else env
    chosen = (env.get("CASEWORK_QUEUE_TYPE") or "").strip().lower()
    if chosen:
        if chosen not in QUEUE_TYPES:
            raise ValueError(f"CASEWORK_QUEUE_TYPE: one of {', '.join(QUEUE_TYPES)}: {chosen!r}")
        return chosen
    return QUORUM if _version(server_version) >= AT_LEAST_ONCE_SINCE else CLASSIC


def default_queue_type(env: Mapping[str, str] | None = None) -> str:
    """Before the broker is asked (a queue built at import time): the setting, else
    quorum; the events process rebuilds the arguments once it knows the broker."""
    return queue_type("3.10", env)


def _dead_lettering(
    kind: str, exchange: str, routing_key: str, *, delivery_limit: bool
) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "x-dead-letter-exchange": exchange,
        "x-dead-letter-routing-key": routing_key,
    }
    if kind == QUORUM:
        arguments["x-queue-type"] = QUORUM
        arguments["x-dead-letter-strategy"] = "at-least-once"
        arguments["x-overflow"] = "reject-publish"
        if delivery_limit:
            arguments["x-delivery-limit"] = DELIVERY_LIMIT
    return arguments


class PublishRefused(RuntimeError):
    """The broker refused a publish: this user may not publish that routing key (topic
    permission) or not in the name it claimed (user_id). Retrying cannot help."""


def broker_user_prefix(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("CASEWORK_BROKER_USER_PREFIX") or DEFAULT_BROKER_USER_PREFIX


def service_of_user(user_id: str | None, prefix: str) -> str | None:
    """The service a broker user speaks for: `<prefix><service>`, else none."""
    if not user_id or not user_id.startswith(prefix):
        return None
    service = user_id[len(prefix) :]
    return service if service in SERVICES else None


def publisher_refusal(
    *,
    event_type: str,
    routing_key: str,
    user_id: str | None,
    delivered_exchange: str,
    delivered_key: str,
    events_exchange: str,
    prefix: str,
) -> str | None:
    """Why an event must not be believed, as a short code with service and user names
    only; None when the user that published it owns the event's service."""
    if delivered_exchange == events_exchange and delivered_key != routing_key:
        # The topic permission was checked against the key it travelled under.
        return f"publisher-not-owner: routing key {delivered_key} carries {routing_key}"
    if not user_id:
        return "publisher-unknown: no user_id on the message"
    owner = service_of_user(user_id, prefix)
    claimed = event_type.split(".", 1)[0]
    if owner != claimed:
        return f"publisher-not-owner: user {user_id} may not publish {claimed} events"
    return None


def events_exchange(name: str) -> Exchange:
    return Exchange(
        name, type="topic", durable=True, arguments={"alternate-exchange": f"{name}.unrouted"}
    )


def dead_letter_exchange(name: str) -> Exchange:
    return Exchange(f"{name}.dead-letter", type="topic", durable=True)


def declare_topology(connection: kombu.Connection, exchange_name: str) -> None:
    channel = connection.default_channel
    unrouted = Exchange(f"{exchange_name}.unrouted", type="fanout", durable=True)
    dlx = dead_letter_exchange(exchange_name)
    for exchange in (unrouted, dlx, events_exchange(exchange_name)):
        exchange(channel).declare()
    Queue(f"{exchange_name}.unrouted", exchange=unrouted, durable=True)(channel).declare()
    Queue(f"{exchange_name}.dead-letter", exchange=dlx, routing_key="#", durable=True)(
        channel
    ).declare()


def retry_delays(env: Mapping[str, str] | None = None) -> tuple[float, ...]:
    """The delays of the retry tiers, `CASEWORK_RETRY_DELAYS` (seconds, comma-separated,
    growing); the last one repeats for as long as the fault lasts."""
    env = os.environ if env is None else env
    raw = env.get("CASEWORK_RETRY_DELAYS") or ""
    if not raw:
        return DEFAULT_RETRY_DELAYS
    try:
        delays = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"CASEWORK_RETRY_DELAYS: seconds, comma-separated: {raw!r}") from None
    if not delays or any(d <= 0 for d in delays):
        raise ValueError(f"CASEWORK_RETRY_DELAYS: positive seconds: {raw!r}")
    return delays


def service_of_queue(queue_name: str) -> str:
    """Consumer queues are named `<service>.<what it does>`."""
    return queue_name.split(".", 1)[0]


def retry_exchange(queue_name: str) -> Exchange:
    """Where the tiers of the queue's service put retries back, each to the queue whose
    name it was published under. Named after the service, so only its broker user may
    publish to it (its permissions cover `<service>.*` names, nobody else's); the broker
    itself dead-letters into it."""
    return Exchange(f"{service_of_queue(queue_name)}.retry", type="direct", durable=True)


def retry_entry_exchange(queue_name: str) -> Exchange:
    """Where a consumer parks a retry: a headers exchange that picks the tier by
    `casework-delay`, keeping the consumer's queue as the routing key."""
    return Exchange(f"{service_of_queue(queue_name)}.retry-in", type="headers", durable=True)


def tier_label(delay: float) -> str:
    return f"{delay:g}s"


def retry_tier(queue_name: str, delay: float) -> str:
    return f"{service_of_queue(queue_name)}.retry.{tier_label(delay)}"


def retry_queues(
    queue_name: str, delays: tuple[float, ...], kind: str | None = None
) -> list[Queue]:
    """The delay tiers of the queue's service, one queue per delay: a TTL fixed per
    queue never lets a long wait hold up a short one behind it (a TTL only expires
    messages at the head of their queue). No dead-letter routing key: a retry goes back
    under the key it came in with, its consumer's queue."""
    kind = kind or default_queue_type()
    back = retry_exchange(queue_name)
    arguments: dict[str, Any] = _dead_lettering(kind, back.name, "", delivery_limit=True)
    del arguments["x-dead-letter-routing-key"]
    return [
        Queue(
            retry_tier(queue_name, delay),
            exchange=retry_entry_exchange(queue_name),
            binding_arguments={"x-match": "all", DELAY_HEADER: tier_label(delay)},
            durable=True,
            queue_arguments={"x-message-ttl": int(delay * 1000), **arguments},
        )
        for delay in delays
    ]


def declare_retry_topology(
    channel: Any, queue_name: str, delays: tuple[float, ...], kind: str | None = None
) -> None:
    """The exchanges and tiers of the queue's service (idempotent)."""
    retry_exchange(queue_name)(channel).declare()
    retry_entry_exchange(queue_name)(channel).declare()
    for queue in retry_queues(queue_name, delays, kind):
        declare_queue(queue, channel)


def consumer_queue_arguments(exchange_name: str, queue_name: str, kind: str) -> dict[str, Any]:
    """Quorum: the broker counts deliveries, and a message that keeps failing goes to
    the dead-letter exchange (at least once) instead of looping forever."""
    return _dead_lettering(kind, f"{exchange_name}.dead-letter", queue_name, delivery_limit=True)


def consumer_queue(
    exchange_name: str, queue_name: str, routing_keys: list[str], kind: str | None = None
) -> Queue:
    """A consumer's durable queue, bound to its routing keys and to its own retry
    exchange, through which its delayed retries come back."""
    exchange = events_exchange(exchange_name)
    return Queue(
        queue_name,
        bindings=[
            *(binding(exchange, routing_key=key) for key in routing_keys),
            binding(retry_exchange(queue_name), routing_key=queue_name),
        ],
        durable=True,
        queue_arguments=consumer_queue_arguments(
            exchange_name, queue_name, kind or default_queue_type()
        ),
    )


def declare_queue(queue: Queue, channel: Any) -> None:
    """Declare a queue (and its bindings); a queue that exists with other arguments
    raises QueueMismatch naming it and what to do, instead of a bare channel error."""
    try:
        queue(channel).declare()
    except amqp.exceptions.PreconditionFailed as exc:
        wanted = (getattr(queue, "queue_arguments", None) or {}).get("x-queue-type", CLASSIC)
        raise QueueMismatch(
            f"queue {queue.name!r} exists with other arguments than a {wanted} queue of "
            f"this release ({exc.reply_text}). "
            f"Stop its consumers, let it drain (or move its messages away: "
            f"`make replay`), delete it (`rabbitmqctl delete_queue {queue.name}` with "
            f"-p <vhost>), then start again (the topology step declares it anew); or "
            f"keep it as it is with CASEWORK_QUEUE_TYPE set to its present type."
        ) from exc


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_EMAIL = re.compile(r"\S+@\S+")
_NUMBER = re.compile(r"\d[\d +/-]{3,}\d")


def redacted(text: str) -> str:
    """A handler's refusal text without the values it may quote: names, addresses,
    e-mail addresses, phone numbers."""
    text = _QUOTED.sub("<value>", text)
    text = _EMAIL.sub("<value>", text)
    return _NUMBER.sub("<number>", text)[:300]


def refusal_reason(exc: Exception) -> str:
    """The dead-letter reason of a handler's refusal (InvalidArgument, PoisonEvent): a
    code and field names only, since reasons are shown wherever dead letters are listed."""
    if isinstance(exc, InvalidArgument):
        fields = ", ".join(sorted({error.field for error in exc.errors}))
        return f"invalid-argument: {fields}"
    return f"refused: {redacted(str(exc))}"


class Publisher:
    """Publishes persistent messages and waits for the broker's confirm of each, each
    stamped with the connecting broker user as its `user_id`."""

    def __init__(self, amqp_uri: str, exchange_name: str) -> None:
        self._uri = amqp_uri
        self._exchange_name = exchange_name
        self._lock = threading.Lock()
        self._connection: kombu.Connection | None = None
        self._producer: kombu.Producer | None = None
        self.user_id: str = kombu.Connection(amqp_uri).userid or ""

    def _ensure(self) -> kombu.Producer:
        if self._producer is None:
            self._connection = kombu.Connection(
                self._uri, transport_options={"confirm_publish": True}, heartbeat=0
            )
            # Short, flat intervals: a broker back from an outage is used within a
            # fraction of a second (kombu's default waits 2, 4, 6 ... s).
            self._connection.ensure_connection(
                max_retries=3, interval_start=0, interval_step=0.25, interval_max=0.5
            )
            declare_topology(self._connection, self._exchange_name)
            self._producer = kombu.Producer(self._connection.default_channel)
        return self._producer

    def connect(self) -> None:
        """Connect now and declare the topology (start-up fails fast if the broker is away)."""
        with self._lock:
            self._ensure()

    def _reset(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.release()
        self._connection = None
        self._producer = None

    def publish_event(self, event: Mapping[str, Any]) -> None:
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"casework-event-id": str(event["id"])}
        headers.update({k: str(v) for k, v in (event.get("trace") or {}).items()})
        routing_key = f"{event['type']}.v{event['version']}"
        # Until the broker confirms: what a handler waits on after its commit. Published
        # outside a call or event (the api's relay thread, the sweeper), it belongs to
        # the trace that emitted the event.
        outside = not trace.get_current_span().is_recording()
        with _tracer.start_as_current_span(
            f"publish {routing_key}",
            context=context_from_carrier(event.get("trace") or {}) if outside else None,
            kind=trace.SpanKind.PRODUCER,
            attributes={"messaging.system": "rabbitmq", "messaging.destination": routing_key},
        ):
            self.publish_raw(
                body,
                exchange=self._exchange_name,
                routing_key=routing_key,
                headers=headers,
                message_id=str(event["id"]),
            )

    def queue_type(self) -> str:
        """The queue type for this broker (`queue_type`), from the version it reports."""
        with self._lock:
            self._ensure()
            assert self._connection is not None
            properties = self._connection.connection.server_properties or {}
        version = properties.get("version")
        return queue_type(version.decode() if isinstance(version, bytes) else version)

    def declare_queues(
        self, queues: list[Queue], delays: tuple[float, ...], kind: str | None = None
    ) -> str:
        """Declare consumer queues with their bindings, and their services' retry
        exchanges and delay tiers, all of type `kind` (default: what the broker
        supports); answers the type. Each declaration has a channel of its own: a
        refused one closes its channel."""
        kind = kind or self.queue_type()
        with self._lock:
            self._ensure()
            assert self._connection is not None
            services: dict[str, str] = {}
            for queue in queues:
                services.setdefault(service_of_queue(queue.name), queue.name)
                # In place: the events process's consumers declare these same objects.
                queue.queue_arguments = consumer_queue_arguments(  # type: ignore[attr-defined]
                    self._exchange_name, queue.name, kind
                )
            for name in services.values():
                with self._connection.channel() as channel:
                    declare_retry_topology(channel, name, delays, kind)
            for queue in queues:
                with self._connection.channel() as channel:
                    declare_queue(queue, channel)
        return kind

    def retry_later(
        self,
        body: bytes,
        *,
        queue_name: str,
        delay: float,
        headers: Mapping[str, Any],
        message_id: str | None,
    ) -> None:
        """Park a copy of a delivery in its service's retry tier of `delay` seconds; the
        broker puts it back into the consumer's queue when the time is up."""
        self.publish_raw(
            body,
            exchange=retry_entry_exchange(queue_name).name,
            routing_key=queue_name,
            headers={**headers, DELAY_HEADER: tier_label(delay)},
            message_id=message_id,
        )

    def dead_letter(
        self,
        body: bytes,
        *,
        consumer: str,
        reason: str,
        publisher: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """Park a message a consumer refused. `reason` is a code with field names, never
        the data itself: it is shown wherever dead letters are listed. `publisher` is the
        broker user that published the refused message (its `user_id`)."""
        all_headers = dict(headers or {})
        all_headers.update({"x-casework-reason": reason[:500], "x-casework-consumer": consumer})
        if publisher:
            all_headers[PUBLISHER_HEADER] = publisher
        # Kept byte for byte and typed as raw data, so whoever inspects or replays the
        # dead letters can read even a body that was never valid UTF-8 or JSON.
        self.publish_raw(
            body,
            exchange=f"{self._exchange_name}.dead-letter",
            routing_key=consumer,
            headers=all_headers,
            message_id=None,
            content_type="application/data",
            content_encoding="binary",
        )

    def publish_raw(
        self,
        body: bytes,
        *,
        exchange: str,
        routing_key: str,
        headers: Mapping[str, Any],
        message_id: str | None,
        content_type: str = EVENT_CONTENT_TYPE,
        content_encoding: str = "utf-8",
        user_id: str | None = None,
    ) -> None:
        """`user_id` None stamps the connecting user; another user's name needs a broker
        user tagged `impersonator` (the replay tool's); "" sends none."""
        properties: dict[str, Any] = {}
        stamped = self.user_id if user_id is None else user_id
        if stamped:
            properties["user_id"] = stamped
        with self._lock:
            for attempt in (1, 2):
                try:
                    producer = self._ensure()
                    producer.publish(
                        body,
                        exchange=exchange,
                        routing_key=routing_key,
                        headers=dict(headers),
                        content_type=content_type,
                        content_encoding=content_encoding,
                        delivery_mode=2,
                        message_id=message_id,
                        **properties,
                    )
                    return
                except (amqp.exceptions.AccessRefused, amqp.exceptions.PreconditionFailed) as exc:
                    # The broker closed the channel; the next publish starts afresh.
                    self._reset()
                    log.error(
                        "publish refused by the broker",
                        extra={
                            "fields": {
                                "user": self.user_id,
                                "exchange": exchange,
                                "routing_key": routing_key,
                                "claimed_user": stamped,
                            }
                        },
                    )
                    raise PublishRefused(
                        f"broker refused {routing_key!r} on {exchange!r} from user "
                        f"{self.user_id!r} (user_id {stamped!r}): {exc}"
                    ) from exc
                except Exception:
                    self._reset()
                    if attempt == 2:
                        raise
                    log.warning("publish failed; reconnecting", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._reset()


def raw_decoder(body: bytes | str) -> bytes | str:
    """Hands consumers the message body untouched, so a malformed one reaches our own
    parser (and then the dead-letter queue) instead of failing inside the library."""
    return body


raw_encoder = raw_decoder
