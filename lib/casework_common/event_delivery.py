"""How the events process handles one delivery: who may have published it, the claim
that makes a handler run once per event id, and what becomes of a failure (a delayed
retry, or the dead-letter queue with its reason). The process around it, its consumer,
timers and health, is events_runtime's."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import amqp.exceptions
import eventlet
from opentelemetry.trace import SpanKind
from pymongo.errors import AutoReconnect, ConnectionFailure

from casework_common import storage, telemetry
from casework_common.config import seconds
from casework_common.envelope import EventEnvelope, MalformedEvent
from casework_common.errors import Conflict, InvalidArgument
from casework_common.group_commit import GroupCommit
from casework_common.messaging import (
    ATTEMPT_HEADER,
    DEFAULT_RETRY_DELAYS,
    DELIVERY_LIMIT,
    ORIGIN_EXCHANGE_HEADER,
    ORIGIN_KEY_HEADER,
    PUBLISHER_HEADER,
    publisher_refusal,
    refusal_reason,
    retry_exchange,
)
from casework_common.outbox import Clear, clear_all

if TYPE_CHECKING:
    from casework_common.events_runtime import EventBus

# The events process logs under one name, whichever of its modules speaks.
log = logging.getLogger("casework_common.events_runtime")

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

# How long a handler's claim on an event keeps a concurrent duplicate waiting; after it,
# a delivery whose handler crashed mid-way is handled again.
CLAIM_LEASE = seconds("CASEWORK_CLAIM_LEASE", 60.0)
CLAIM_HEADER = "x-casework-claim"


def _clear_together(groups: list[list[Clear]]) -> list[None]:
    clear_all([clear for group in groups for clear in group])
    return [None] * len(groups)


# The writes every handled event costs (its claim, its done mark, the clear of what its
# handler published), each written together with the same writes of the handlers running
# beside it (group_commit): one command per step for a burst, not one per event. The
# clear comes after the handler's events went out, so it lingers: by then the next
# consumer is at work, and on a server answering one command at a time the clear and
# the done mark right behind it would hold up its claim, lookups and writes (measured:
# about 1 ms each, on the referral's way to the inbox).
BOOKKEEPING_LINGER = seconds("CASEWORK_BOOKKEEPING_LINGER", 0.01)
_claims = GroupCommit(storage.claim_events)
_done_marks = GroupCommit(storage.complete_events)
_outbox_clears = GroupCommit(_clear_together, linger=BOOKKEEPING_LINGER)


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
    # The span covers the claim and the done mark too: a trace shows all the event cost.
    parent = telemetry.context_from_carrier(envelope.trace)
    with bus.tracer.start_as_current_span(
        f"{consumer} {envelope.routing_key}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={"casework.event_id": envelope.id, "casework.event_type": envelope.routing_key},
    ):
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
