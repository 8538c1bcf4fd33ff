"""mongoengine plumbing: one database per service, aggregates saved with their outbox.

An aggregate's outgoing events are written inside the aggregate's own document, in the
same single-document write as the state change. That is atomic on every MongoDB (no
replica set or transaction needed) and on the development wire server, so a crash can
never keep the change and lose its event, or the reverse. The relay publishes and then
clears the outbox.

Documents are replaced whole, guarded by a version number, instead of mongoengine's
partial updates: positional updates (``goals.0.done``) are not applied by the
development server, and a whole-document replace behaves the same everywhere.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import mongoengine as me
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from casework_common.config import Settings
from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict
from casework_common.telemetry import DatabaseCommandSpans


def connect(settings: Settings, alias: str = "default") -> None:
    me.disconnect(alias)
    me.connect(
        db=settings.mongo_db,
        host=settings.mongo_uri,
        alias=alias,
        tz_aware=True,
        uuidRepresentation="standard",
        # How long one operation waits for an unreachable server before the caller
        # sees a transient fault (the events runtime then backs off, the api answers).
        serverSelectionTimeoutMS=int(os.environ.get("MONGO_SERVER_SELECTION_MS") or 5000),
        event_listeners=[DatabaseCommandSpans()],
    )


def ping() -> bool:
    try:
        me.get_connection().admin.command("ping")
    except Exception:
        return False
    return True


class AggregateDocument(me.Document):
    """Base of every stored aggregate: tenancy, optimistic version, and outbox."""

    meta: ClassVar[dict[str, Any]] = {"abstract": True}

    organisation = me.StringField(required=True)
    version = me.IntField(default=0)
    outbox = me.ListField(me.DictField())
    outbox_pending = me.BooleanField(default=False)
    # When the oldest unpublished event was stored: the sweeper leaves younger outboxes
    # to the writer's own immediate publish.
    outbox_since = me.DateTimeField()
    # Bumped by the relay each time it clears the outbox (see save_aggregate).
    outbox_epoch = me.IntField(default=0)
    # Ids of the events the last publisher claimed (outbox.OutboxRelay): whoever claims
    # them again publishes them a second time, which the relay counts.
    outbox_claimed = me.ListField(me.StringField())
    # When they were claimed, in epoch milliseconds: a number, because the development
    # server stores a date given to `$set` as a string, which no date range matches.
    outbox_claimed_ms = me.IntField()


A = TypeVar("A", bound=AggregateDocument)


class DuplicateAggregate(Exception):
    """Insert of an aggregate whose id or unique key is already stored."""


def save_aggregate(doc: AggregateDocument, events: Iterable[EventEnvelope] = ()) -> None:
    """Write the aggregate and its new events in one document write.

    On an update the outbox is taken from what is stored at the moment of writing, not
    from the loaded document: events the relay published meanwhile are not put back
    (they would go out twice), and a repository that rebuilds the document from its
    domain object cannot drop events still waiting. The relay clearing an outbox only
    bumps `outbox_epoch`; a write that loses that race is simply retried.

    Raises Conflict when someone else saved the aggregate since it was read, and
    DuplicateAggregate when a new aggregate collides with a unique index.
    """
    doc.validate()
    expected = doc.version or 0
    new_events = [e.to_dict() for e in events]
    data: dict[str, Any] = doc.to_mongo().to_dict()
    data["version"] = expected + 1
    collection = type(doc)._get_collection()
    key = (type(doc), data["_id"])
    # A writer whose unit of work publishes right after it (writes are tracked) claims
    # its outbox in this same write: the immediate publish then neither reads nor claims.
    claiming = _written.get() is not None
    claim: OutboxClaim | None = None
    if expected == 0:
        outbox = [dict(e) for e in doc.outbox] + new_events
        _set_outbox(data, outbox, doc.outbox_since, epoch=0)
        data["outbox_claimed"] = []
        data["outbox_claimed_ms"] = None
        if claiming and outbox:
            claim = _claim_in_write(data, outbox, again=0)
        try:
            collection.insert_one(data)
        except DuplicateKeyError as exc:
            raise DuplicateAggregate(str(exc)) from exc
    else:
        for _ in range(5):
            stored = collection.find_one(
                {"_id": data["_id"]},
                {
                    "version": 1,
                    "outbox": 1,
                    "outbox_since": 1,
                    "outbox_epoch": 1,
                    "outbox_claimed": 1,
                    "outbox_claimed_ms": 1,
                },
            )
            if stored is None or stored.get("version") != expected:
                raise Conflict(f"{type(doc).__name__} {doc.pk} was changed concurrently")
            epoch = stored.get("outbox_epoch")
            outbox = list(stored.get("outbox") or []) + new_events
            _set_outbox(data, outbox, stored.get("outbox_since"), epoch=epoch or 0)
            data["outbox_claimed"] = list(stored.get("outbox_claimed") or [])
            data["outbox_claimed_ms"] = stored.get("outbox_claimed_ms")
            claim = None
            if claiming and outbox:
                held = _claim_held(key, stored)
                if held is not None:
                    claim = _claim_in_write(data, outbox, again=held)
            try:
                result = collection.replace_one(
                    {"_id": data["_id"], "version": expected, "outbox_epoch": epoch}, data
                )
            except DuplicateKeyError as exc:
                raise DuplicateAggregate(str(exc)) from exc
            if result.matched_count == 1:
                break
        else:
            raise Conflict(f"{type(doc).__name__} {doc.pk}: outbox kept changing")
    doc.version = expected + 1
    doc.outbox = data["outbox"]
    doc.outbox_pending = data["outbox_pending"]
    doc.outbox_since = data["outbox_since"]
    doc.outbox_epoch = data["outbox_epoch"]
    doc.outbox_claimed = data["outbox_claimed"]
    doc.outbox_claimed_ms = data["outbox_claimed_ms"]
    _remember_claim(key, claim)
    written = _written.get()
    if written is not None and data["outbox"]:
        written.append((type(doc), doc.pk))


@dataclass(frozen=True)
class OutboxClaim:
    """An outbox its writer claimed in the write that stored it: what the immediate
    publish sends and then clears (at `version`), with no read of its own."""

    version: int
    events: tuple[dict[str, Any], ...]
    claimed_ms: int
    # Events a crashed or stalled claimant had claimed before: published a second time.
    again: int


# Claims this process's writers made and have not published yet, by (document, id); a
# published one stays as PUBLISHED until the aggregate's next save here, so that a second
# publish of the same unit (the unit of work's, then the events runtime's) reads nothing.
PUBLISHED = "published"
_claims: OrderedDict[tuple[type[Any], Any], OutboxClaim | str] = OrderedDict()
_claims_lock = threading.Lock()
CLAIMS_KEPT = 10_000


def claim_lease_ms() -> int:
    """How long a claim on an outbox stands before a sweeper may take it over."""
    return int(1000 * float(os.environ.get("CASEWORK_SWEEP_AFTER") or 2.0))


def _claim_in_write(
    data: dict[str, Any], outbox: list[dict[str, Any]], *, again: int
) -> OutboxClaim:
    claimed_ms = int(time.time() * 1000)
    data["outbox_claimed"] = [str(event.get("id")) for event in outbox]
    data["outbox_claimed_ms"] = claimed_ms
    return OutboxClaim(data["version"], tuple(outbox), claimed_ms, again)


def _claim_held(key: tuple[type[Any], Any], stored: dict[str, Any]) -> int | None:
    """Whether this write may claim the stored outbox, and how many of its events were
    claimed before (None: someone else holds a live claim; its holder publishes)."""
    claimed_ms = stored.get("outbox_claimed_ms")
    with _claims_lock:
        ours = _claims.get(key)
    if (
        isinstance(ours, OutboxClaim)
        and ours.claimed_ms == claimed_ms
        and key in (_written.get() or [])
    ):
        return 0  # this unit's own claim, not yet published: taken along
    if claimed_ms is not None and claimed_ms > int(time.time() * 1000) - claim_lease_ms():
        return None
    previous = {str(i) for i in stored.get("outbox_claimed") or []}
    return sum(1 for event in stored.get("outbox") or [] if str(event.get("id")) in previous)


def _remember_claim(key: tuple[type[Any], Any], claim: OutboxClaim | None) -> None:
    with _claims_lock:
        _claims.pop(key, None)
        if claim is not None:
            _claims[key] = claim
            while len(_claims) > CLAIMS_KEPT:
                _claims.popitem(last=False)


def take_outbox_claim(document: type[Any], pk: Any) -> OutboxClaim | str | None:
    """The claim a writer of this process made on the aggregate's outbox (then marked
    PUBLISHED), PUBLISHED when that was published already and nothing saved since, or
    None: the publisher must read and claim the outbox itself."""
    key = (document, pk)
    with _claims_lock:
        claim = _claims.get(key)
        if isinstance(claim, OutboxClaim):
            _claims[key] = PUBLISHED
        return claim


def _set_outbox(
    data: dict[str, Any], outbox: list[dict[str, Any]], since: datetime | None, *, epoch: int
) -> None:
    data["outbox"] = outbox
    data["outbox_pending"] = bool(outbox)
    data["outbox_since"] = (since or now()) if outbox else None
    data["outbox_epoch"] = epoch


Written = list[tuple[type[AggregateDocument], Any]]
_written: contextvars.ContextVar[Written | None] = contextvars.ContextVar(
    "casework_written", default=None
)


@contextlib.contextmanager
def track_writes() -> Iterator[Written]:
    """Collect the aggregates saved with new events inside the block, so the caller
    can publish them as soon as its unit of work is done."""
    written: Written = []
    token = _written.set(written)
    try:
        yield written
    finally:
        _written.reset(token)


class ProcessedEvent(me.Document):
    """A consumer's de-duplication record of one event: claimed while a handler works on
    it (by `holder`, until `lease_until`), then done for good."""

    meta = {"collection": "processed_events"}

    id = me.StringField(primary_key=True)  # "<consumer>:<event id>"
    consumer = me.StringField(required=True)
    event_id = me.StringField(required=True)
    event_type = me.StringField(required=True)
    # Records written before claims existed have no state: they are done.
    state = me.StringField(choices=("claimed", "done"))
    holder = me.StringField()
    # Epoch milliseconds: the development server stores a date given to `$set` as a
    # string, which no range matches.
    lease_until_ms = me.IntField()
    # When the event was first claimed (or, refused, marked), a date; and when its
    # handler finished, in epoch milliseconds.
    processed_at = me.DateTimeField()
    done_ms = me.IntField()


# The server's code for an insert refused by a unique index.
DUPLICATE_KEY = 11000


def insert_many_new(collection: Any, rows: list[dict[str, Any]]) -> set[int]:
    """Insert `rows` in one command, each decided alone by the unique indexes; answers
    the positions of those refused as stored already. Any other failure is raised."""
    if not rows:
        return set()
    try:
        collection.insert_many(rows, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors") or []
        if exc.details.get("writeConcernErrors") or any(
            e.get("code") != DUPLICATE_KEY for e in errors
        ):
            raise
        return {int(e["index"]) for e in errors}
    return set()


class Claim(enum.Enum):
    TAKEN = "taken"  # this delivery may run the handler
    DONE = "done"  # handled before: a duplicate
    BUSY = "busy"  # another delivery holds a live claim: try again later


def _record_id(consumer: str, event_id: str) -> str:
    return f"{consumer}:{event_id}"


def _insert_record(consumer: str, envelope: EventEnvelope, **state: Any) -> bool:
    """Insert the record of what `consumer` did with an event; False when one is
    stored already (the unique id decides between concurrent deliveries)."""
    try:
        ProcessedEvent._get_collection().insert_one(
            {
                "_id": _record_id(consumer, envelope.id),
                "consumer": consumer,
                "event_id": envelope.id,
                "event_type": envelope.routing_key,
                **state,
            }
        )
    except DuplicateKeyError:
        return False
    return True


@dataclass(frozen=True)
class EventClaim:
    """One delivery's claim on an event for one handler run (`claim_events`)."""

    consumer: str
    envelope: EventEnvelope
    holder: str
    lease: float


def _claim_record(claim: EventClaim, now_ms: int) -> dict[str, Any]:
    return {
        "_id": _record_id(claim.consumer, claim.envelope.id),
        "consumer": claim.consumer,
        "event_id": claim.envelope.id,
        "event_type": claim.envelope.routing_key,
        "state": "claimed",
        "holder": claim.holder,
        "lease_until_ms": now_ms + int(claim.lease * 1000),
        "processed_at": now(),
    }


def claim_event(consumer: str, envelope: EventEnvelope, holder: str, lease: float) -> Claim:
    """Claim an event for one handler run, atomically: the unique insert of its record
    decides between two concurrent deliveries. A claim whose lease ran out (its handler
    crashed) or that `holder` itself made (a delayed retry of the same delivery) is
    taken over with a conditional update, which again only one can win."""
    return claim_events([EventClaim(consumer, envelope, holder, lease)])[0]


def claim_events(claims: list[EventClaim]) -> list[Claim]:
    """`claim_event` for several deliveries at once: their records are inserted in one
    command (each insert still decided alone by the unique id), and only those stored
    already are looked at, one by one."""
    if not claims:
        return []
    now_ms = int(time.time() * 1000)
    refused = insert_many_new(
        ProcessedEvent._get_collection(), [_claim_record(claim, now_ms) for claim in claims]
    )
    return [
        _take_over(claim, now_ms) if i in refused else Claim.TAKEN for i, claim in enumerate(claims)
    ]


def _take_over(claim: EventClaim, now_ms: int) -> Claim:
    """The event's record is stored already: take its claim over when the lease ran out
    or this delivery holds it, else say whether the event is done or busy."""
    collection = ProcessedEvent._get_collection()
    key = _record_id(claim.consumer, claim.envelope.id)
    until = now_ms + int(claim.lease * 1000)
    for condition in ({"holder": claim.holder}, {"lease_until_ms": {"$lt": now_ms}}):
        taken = collection.update_one(
            {"_id": key, "state": "claimed", **condition},
            {"$set": {"holder": claim.holder, "lease_until_ms": until}},
        )
        if taken.matched_count:
            return Claim.TAKEN
    stored = collection.find_one({"_id": key}, {"state": 1})
    if stored is None:
        # Released between our insert and our look: the next attempt will take it.
        return Claim.BUSY
    return Claim.BUSY if stored.get("state") == "claimed" else Claim.DONE


def complete_event(consumer: str, event_id: str, holder: str) -> bool:
    """Mark a claimed event done; False when the claim was lost (lease ran out and
    another delivery took it over)."""
    return complete_events([(consumer, event_id, holder)])[0]


def complete_events(marks: list[tuple[str, str, str]]) -> list[bool]:
    """`complete_event` for several (consumer, event id, holder) at once: one command of
    conditional updates, each guarded by its own holder. Which of them matched is read
    back only when not all did."""
    if not marks:
        return []
    # A number, not a date, since the development server stores a date given to `$set`
    # as a string (`processed_at` is the claim's, a true date).
    done = {"$set": {"state": "done", "lease_until_ms": None, "done_ms": int(time.time() * 1000)}}
    collection = ProcessedEvent._get_collection()
    keys = [_record_id(consumer, event_id) for consumer, event_id, _ in marks]
    holders = [holder for _, _, holder in marks]
    result = collection.bulk_write(
        [
            UpdateOne({"_id": key, "holder": holder, "state": "claimed"}, done)
            for key, holder in zip(keys, holders, strict=True)
        ],
        ordered=False,
    )
    if result.matched_count == len(marks):
        return [True] * len(marks)
    stored = {
        raw["_id"]: raw
        for raw in collection.find({"_id": {"$in": keys}}, {"holder": 1, "state": 1})
    }
    return [
        stored.get(key, {}).get("state") == "done" and stored[key].get("holder") == holder
        for key, holder in zip(keys, holders, strict=True)
    ]


def release_event(consumer: str, event_id: str, holder: str) -> None:
    """Give a claim back after a handler failed, so that a retry need not wait out the
    lease."""
    ProcessedEvent._get_collection().delete_one(
        {"_id": _record_id(consumer, event_id), "holder": holder, "state": "claimed"}
    )


def already_processed(consumer: str, event_id: str) -> bool:
    stored = ProcessedEvent._get_collection().find_one(
        {"_id": _record_id(consumer, event_id)}, {"state": 1}
    )
    return stored is not None and stored.get("state") != "claimed"


def mark_processed(consumer: str, envelope: EventEnvelope) -> None:
    """Record an event as done without a claim (a refused event); the first record
    stands."""
    collection = ProcessedEvent._get_collection()
    key = _record_id(consumer, envelope.id)
    if not _insert_record(consumer, envelope, state="done", processed_at=now()):
        stored = collection.find_one({"_id": key, "state": "claimed"})
        if stored is not None:
            stored.update({"state": "done", "processed_at": now(), "lease_until_ms": None})
            collection.replace_one({"_id": key, "state": "claimed"}, stored)


def now() -> datetime:
    return datetime.now(UTC)
