"""The outbox relay: publishes events stored inside aggregates, then clears them.

Whoever saves an aggregate publishes its outbox right after its unit of work
(`publish_written`); a sweeper (`run_once(min_age=...)`) publishes what a crash or a
broker outage left behind.

The relay never bumps an aggregate's version, so it never makes a worker's save fail.
If a save lands between the relay's read and its clear, the clear misses and those
events are published again on the next pass; consumers de-duplicate by event id.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from casework_common.messaging import Publisher
from casework_common.storage import AggregateDocument, Written
from casework_common.telemetry import EVENTS_PUBLISHED

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        service: str,
        documents: Sequence[type[AggregateDocument]],
        publisher: Publisher,
        batch: int = 200,
    ) -> None:
        self._service = service
        self._documents = documents
        self._publisher = publisher
        self._batch = batch
        for document in documents:
            document._get_collection().create_index([("outbox_pending", 1), ("outbox_since", 1)])

    def run_once(self, min_age: float = 0.0) -> int:
        """Publish what is pending (and at least `min_age` seconds old); answer how
        many events went out."""
        query: dict[str, Any] = {"outbox_pending": True}
        if min_age > 0:
            query["outbox_since"] = {"$lte": datetime.now(UTC) - timedelta(seconds=min_age)}
        published = 0
        for document in self._documents:
            collection = document._get_collection()
            for raw in collection.find(query, {"outbox": 1, "version": 1}).limit(self._batch):
                if min_age > 0 and not self._claim(collection, raw, query["outbox_since"]):
                    continue
                published += self._publish(collection, raw)
        return published

    @staticmethod
    def _claim(collection: Any, raw: dict[str, Any], still_old: dict[str, Any]) -> bool:
        """Take an old outbox for this sweeper: moving its timestamp to now hides it
        from every other replica's sweeper for the next `min_age` seconds."""
        claimed = collection.update_one(
            {"_id": raw["_id"], "version": raw["version"], "outbox_since": still_old},
            {"$set": {"outbox_since": datetime.now(UTC)}},
        )
        return bool(claimed.matched_count)

    def publish_written(self, written: Written) -> int:
        """Publish the outboxes of aggregates a unit of work just saved."""
        published = 0
        for document, pk in written:
            collection = document._get_collection()
            raw = collection.find_one(
                {"_id": pk, "outbox_pending": True}, {"outbox": 1, "version": 1}
            )
            if raw is not None:
                published += self._publish(collection, raw)
        return published

    def _publish(self, collection: Any, raw: dict[str, Any]) -> int:
        events = raw.get("outbox") or []
        for event in events:
            self._publisher.publish_event(event)
        collection.update_one(
            {"_id": raw["_id"], "version": raw["version"]},
            {
                "$set": {"outbox": [], "outbox_pending": False, "outbox_since": None},
                "$inc": {"outbox_epoch": 1},
            },
        )
        EVENTS_PUBLISHED.labels(self._service).inc(len(events))
        return len(events)


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
            try:
                self._relay.publish_written(written)
            except Exception:
                log.warning("immediate publish failed; the sweeper will retry", exc_info=True)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)
