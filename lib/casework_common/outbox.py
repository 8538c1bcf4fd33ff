"""The outbox relay: publishes events stored inside aggregates, then clears them.

The relay never bumps an aggregate's version, so it never makes a worker's save fail.
If a save lands between the relay's read and its clear, the clear misses and those
events are published again on the next pass; consumers de-duplicate by event id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from casework_common.messaging import Publisher
from casework_common.storage import AggregateDocument
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
            document._get_collection().create_index("outbox_pending")

    @property
    def has_documents(self) -> bool:
        return bool(self._documents)

    def run_once(self) -> int:
        """Publish what is pending; answer how many events went out."""
        published = 0
        for document in self._documents:
            collection = document._get_collection()
            pending = collection.find({"outbox_pending": True}, {"outbox": 1, "version": 1}).limit(
                self._batch
            )
            for raw in pending:
                events = raw.get("outbox") or []
                for event in events:
                    self._publisher.publish_event(event)
                collection.update_one(
                    {"_id": raw["_id"], "version": raw["version"]},
                    {"$set": {"outbox": [], "outbox_pending": False}},
                )
                published += len(events)
        if published:
            EVENTS_PUBLISHED.labels(self._service).inc(published)
        return published
