"""The outbox relay: publishes events stored inside aggregates, then clears them.

Whoever saves an aggregate publishes its outbox right after its unit of work
(`publish_written`); a sweeper (`run_once(min_age=...)`) publishes what a crash or a
broker outage left behind. A writer whose writes are tracked claims its outbox in the
very write that stores it (storage.save_aggregate), so its immediate publish costs one
database write (the clear) and no read.

The relay never bumps an aggregate's version, so it never makes a worker's save fail.
If a save lands between the relay's read and its clear, the relay takes out only the
events it published. An event can still go out twice (a claimant that published and
crashed before clearing, or one slower than the sweeper's `min_age`): counted in
`casework_events_republished_total`; consumers de-duplicate by event id.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateOne

from casework_common.messaging import Publisher
from casework_common.storage import (
    PUBLISHED,
    AggregateDocument,
    OutboxClaim,
    Written,
    claim_lease_ms,
    take_outbox_claim,
)
from casework_common.telemetry import EVENTS_PUBLISHED, EVENTS_REPUBLISHED

log = logging.getLogger(__name__)


class OutboxRelay:
    """Publishes outboxes under one claim protocol, whoever asks: the writer right after
    its unit of work (`publish_written`) and the sweeper (`run_once(min_age=...)`) both
    first claim an outbox with a compare-and-set on its `outbox_epoch` (and version),
    stamping the claim's time. Only one of them wins an outbox as read; the claim hides
    it from every sweeper for `min_age` seconds, after which a sweeper may take over an
    outbox whose claimant crashed or could not reach the broker. The ids claimed are stored, so
    a second claim of the same events is counted as a re-publication."""

    def __init__(
        self,
        service: str,
        documents: Sequence[type[AggregateDocument]],
        publisher: Publisher,
        batch: int = 200,
        lease: float | None = None,
        clear: Callable[[list[Clear]], object] | None = None,
    ) -> None:
        # How long a claim stands before someone else may take the outbox over: the
        # sweeper's age, so that a writer's claim hides its outbox from the sweeper and
        # a sweeper's claim from the writer.
        self._lease_ms = int(1000 * lease) if lease is not None else claim_lease_ms()
        self._service = service
        self._documents = documents
        self._publisher = publisher
        self._batch = batch
        # How published outboxes are cleared: one command for those cleared together
        # (the events process gathers its concurrent handlers' clears into one).
        self._clear_all = clear or clear_all
        for document in documents:
            document._get_collection().create_index([("outbox_pending", 1), ("outbox_since", 1)])

    def run_once(self, min_age: float = 0.0) -> int:
        """Publish what is pending (and at least `min_age` seconds old); answer how
        many events went out."""
        query: dict[str, Any] = {"outbox_pending": True}
        if min_age > 0:
            query["outbox_since"] = {"$lte": datetime.now(UTC) - timedelta(seconds=min_age)}
            # Claimed by nobody, or by someone who had `min_age` seconds and did not
            # clear it (crashed, or the broker was away).
            query["$or"] = [
                {"outbox_claimed_ms": None},
                {"outbox_claimed_ms": {"$lte": _now_ms() - int(min_age * 1000)}},
            ]
        published = 0
        for document in self._documents:
            collection = document._get_collection()
            for raw in collection.find(query, _FIELDS).limit(self._batch):
                published += self._claim_and_publish(collection, raw)
        return published

    def publish_written(self, written: Written) -> int:
        """Publish the outboxes of aggregates a unit of work just saved; those their
        writers claimed are cleared together after they all went out."""
        published = 0
        clears: list[Clear] = []
        try:
            for document, pk in written:
                collection = document._get_collection()
                claim = take_outbox_claim(document, pk)
                if claim == PUBLISHED:
                    continue  # published by this unit's first publish, nothing saved since
                if isinstance(claim, OutboxClaim):
                    published += self._publish_claimed(pk, claim)
                    ids = frozenset(str(event.get("id")) for event in claim.events)
                    clears.append(Clear(collection, {"_id": pk, "version": claim.version}, ids))
                    continue
                raw = collection.find_one({"_id": pk, "outbox_pending": True}, _FIELDS)
                if raw is not None:
                    published += self._claim_and_publish(collection, raw)
        finally:
            # What went out is cleared even when a later publish failed: left, the
            # sweeper would publish it a second time.
            if clears:
                self._clear_all(clears)
        return published

    def _publish_claimed(self, pk: Any, claim: OutboxClaim) -> int:
        """Publish an outbox its writer claimed in its own write (cleared by the caller)."""
        if claim.again:
            EVENTS_REPUBLISHED.labels(self._service).inc(claim.again)
        for event in claim.events:
            self._publisher.publish_event(event)
        EVENTS_PUBLISHED.labels(self._service).inc(len(claim.events))
        return len(claim.events)

    def _claim_and_publish(self, collection: Any, raw: dict[str, Any]) -> int:
        events = raw.get("outbox") or []
        ids = [str(event.get("id")) for event in events]
        # Compare-and-set on the outbox's epoch, which every claim and clear bumps
        # (a save that loses to it just retries, see storage.save_aggregate).
        now_ms = _now_ms()
        claimed = collection.update_one(
            {
                "_id": raw["_id"],
                "version": raw["version"],
                "outbox_epoch": raw.get("outbox_epoch"),
                "$or": [
                    {"outbox_claimed_ms": None},
                    {"outbox_claimed_ms": {"$lte": now_ms - self._lease_ms}},
                ],
            },
            {
                "$set": {"outbox_claimed": ids, "outbox_claimed_ms": now_ms},
                "$inc": {"outbox_epoch": 1},
            },
        )
        if not claimed.matched_count:
            return 0  # someone else's now, or changed since read: its writer publishes it
        again = set(ids) & set(raw.get("outbox_claimed") or [])
        if again:
            EVENTS_REPUBLISHED.labels(self._service).inc(len(again))
            log.info(
                "outbox events published again",
                extra={"fields": {"count": len(again), "aggregate": str(raw["_id"])}},
            )
        for event in events:
            self._publisher.publish_event(event)
        self._clear(collection, raw, set(ids))
        EVENTS_PUBLISHED.labels(self._service).inc(len(events))
        return len(events)

    @staticmethod
    def _clear(collection: Any, raw: dict[str, Any], published: set[str]) -> None:
        clear_all([Clear(collection, raw, frozenset(published))])


@dataclass(frozen=True)
class Clear:
    """An outbox whose events `published` went out: cleared if still at `raw`'s version
    (`_id`, `version`), else only those events are taken out."""

    collection: Any
    raw: dict[str, Any]
    published: frozenset[str]


_CLEARED = {
    "$set": {
        "outbox": [],
        "outbox_pending": False,
        "outbox_since": None,
        "outbox_claimed": [],
        "outbox_claimed_ms": None,
    },
    "$inc": {"outbox_epoch": 1},
}


def clear_all(clears: list[Clear]) -> list[None]:
    """Clear published outboxes: one command of conditional updates per collection, and
    a look at each one only when not all of them matched."""
    groups: dict[str, list[Clear]] = {}
    for clear in clears:
        groups.setdefault(clear.collection.full_name, []).append(clear)
    for group in groups.values():
        cleared = group[0].collection.bulk_write(
            [
                UpdateOne({"_id": c.raw["_id"], "version": c.raw["version"]}, _CLEARED)
                for c in group
            ],
            ordered=False,
        )
        if cleared.matched_count != len(group):
            for clear in group:
                _take_out(clear)
    return [None] * len(clears)


def _take_out(clear: Clear) -> None:
    """A save landed meanwhile and appended events: take out only what went out, leaving
    the newcomers to their writer's own publish."""
    for _ in range(3):
        stored = clear.collection.find_one({"_id": clear.raw["_id"]}, _FIELDS)
        if stored is None:
            return
        outbox = stored.get("outbox") or []
        remaining = [e for e in outbox if str(e.get("id")) not in clear.published]
        if len(remaining) == len(outbox):
            return  # none of ours there: cleared already (by us, in the group's command)
        # The newcomers are nobody's claim yet: their writer's publish takes them.
        change: dict[str, Any] = {
            "outbox": remaining,
            "outbox_claimed": [],
            "outbox_claimed_ms": None,
        }
        if not remaining:
            change.update({"outbox_pending": False, "outbox_since": None})
        cleared = clear.collection.update_one(
            {
                "_id": clear.raw["_id"],
                "version": stored["version"],
                "outbox_epoch": stored.get("outbox_epoch"),
            },
            {"$set": change, "$inc": {"outbox_epoch": 1}},
        )
        if cleared.matched_count:
            return


_FIELDS = {"outbox": 1, "version": 1, "outbox_claimed": 1, "outbox_epoch": 1}


def _now_ms() -> int:
    return int(time.time() * 1000)


class BackgroundRelay:
    """Publishes, on a thread of its own, the outboxes that gRPC calls just saved: the
    caller's answer never waits for the broker, and a broker outage only delays events
    until the sweeper of the events process finds them."""

    def __init__(self, relay: OutboxRelay) -> None:
        self._relay = relay
        self._queue: queue.Queue[Written | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def submit(self, written: Written) -> None:
        if written:
            self._queue.put(list(written))

    def _run(self) -> None:
        while (written := self._queue.get()) is not None:
            # What queued up meanwhile goes with it: their clears are one command.
            closing = False
            while not closing:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                else:
                    written.extend(more)
            try:
                self._relay.publish_written(written)
            except Exception:
                log.warning("immediate publish failed; the sweeper will retry", exc_info=True)
            if closing:
                return

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)
