"""The live inbox's feed in an api process: how a stream learns of a notification that
another process (the events process, on any machine) stored.

A change poll of the notifications collection by insert moment (`stored_at`), one
thread per api process, looking only while someone watches. It looks at once when a
hint says a watched inbox changed (adapters.inbox_signal: the writer announces the
workers whose inboxes it added to), looking back the clock skew alone, and at least
every NOTIFY_WATCH_POLL_SECONDS (the fallback for a hint lost) back a whole overlap of 2
s, for writers whose commits lag; it drops what it has passed on already. The hint
carries no notification: the database every process shares stays the only source, and
a hint lost costs latency, never an update (`make bench` prints the feed's latency)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from casework_common.storage import now as stored_now
from casework_notify.adapters.repository import from_raw, stored_since
from casework_notify.domain.inbox import Notification

log = logging.getLogger(__name__)

Key = tuple[str, str]  # organisation, worker
# Writers' clocks may run this far behind the api process's.
SKEW = timedelta(milliseconds=200)


class InboxFeed:
    def __init__(
        self,
        *,
        interval: float = 0.1,
        overlap: float = 2.0,
        poll: Callable[[datetime, list[str]], list[dict[str, Any]]] = stored_since,
    ) -> None:
        self._interval = interval
        self._overlap = timedelta(seconds=overlap)
        self._poll = poll
        self._lock = threading.Lock()
        # Each stream's inbox and the moment it began watching: it is passed what was
        # stored from then on (the counts it got first cover what came before).
        self._watchers: dict[Key, dict[queue.SimpleQueue[Notification], datetime]] = {}
        self._seen: dict[str, datetime] = {}
        self._cursor: datetime | None = None
        self._full_cursor: datetime | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._polling = threading.Lock()

    def watch(self, organisation: str, worker_id: str) -> queue.SimpleQueue[Notification]:
        inbox: queue.SimpleQueue[Notification] = queue.SimpleQueue()
        with self._lock:
            if not self._watchers:
                # Only what is stored from now on: the stream's first update has the counts.
                self._cursor = stored_now()
                self._full_cursor = None
                self._seen.clear()
            since = stored_now() - SKEW
            self._watchers.setdefault((organisation, worker_id), {})[inbox] = since
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="inbox-feed", daemon=True)
                self._thread.start()
        self._wake.set()
        return inbox

    def unwatch(
        self, organisation: str, worker_id: str, inbox: queue.SimpleQueue[Notification]
    ) -> None:
        with self._lock:
            watchers = self._watchers.get((organisation, worker_id))
            if watchers is not None:
                watchers.pop(inbox, None)
                if not watchers:
                    del self._watchers[(organisation, worker_id)]

    def changed(self, organisation: str, workers: list[str]) -> None:
        """A hint that these inboxes changed: look now if one of them is watched."""
        with self._lock:
            watched = any((organisation, worker) in self._watchers for worker in workers)
        if watched:
            self._wake.set()

    def watching(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._watchers.values())

    def _run(self) -> None:
        last_full = 0.0
        while True:
            if not self._watchers:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            # A hint's look goes back the clock skew alone: what the hint is about was
            # stored just before it. The whole overlap, for writers whose commits lag,
            # is looked at once an interval: looked at on every hint, it read the last
            # seconds of a busy inbox again for each new notification.
            full = time.monotonic() - last_full >= self._interval
            try:
                self.poll_once(full=full)
                if full:
                    last_full = time.monotonic()
            except Exception:
                log.warning("inbox feed poll failed; trying again", exc_info=True)
                time.sleep(min(1.0, self._interval))
            # Until a hint or the fallback interval; a hint during the poll is kept.
            self._wake.wait(self._interval)
            self._wake.clear()

    def poll_once(self, *, full: bool = True) -> int:
        """Pass on what was stored since the last poll, looking back the whole overlap
        (`full`) or the clock skew alone; one poll at a time."""
        with self._polling:
            return self._poll_locked(full)

    def _poll_locked(self, full: bool) -> int:
        started = stored_now()
        cursor = self._cursor or started
        with self._lock:
            workers = sorted({worker for _, worker in self._watchers})
        if not workers:
            return 0
        # A whole look goes back from where the last whole look was: the hints' short
        # looks in between may have passed over a writer that lagged.
        look_from = (self._full_cursor or cursor) - self._overlap if full else cursor - SKEW
        # Only the watched inboxes: however busy the others, the answer stays small.
        rows = self._poll(look_from, workers)
        passed = 0
        latest = cursor
        for raw in rows:
            stored_at = raw.get("stored_at")
            notification_id = str(raw["_id"])
            if notification_id in self._seen or stored_at is None:
                continue
            if stored_at.tzinfo is None:
                stored_at = stored_at.replace(tzinfo=UTC)
            self._seen[notification_id] = stored_at
            latest = max(latest, stored_at)
            with self._lock:
                watching = self._watchers.get((raw["organisation"], raw["worker_id"]), {})
                inboxes = [q for q, since in watching.items() if stored_at >= since]
            if inboxes:
                notification = from_raw(raw)
                for inbox in inboxes:
                    inbox.put(notification)
                passed += 1
        # Up to now: the next poll looks back from here.
        self._cursor = max(latest, started)
        if full:
            self._full_cursor = self._cursor
        horizon = (self._full_cursor or self._cursor) - self._overlap * 2
        for notification_id in [k for k, at in self._seen.items() if at < horizon]:
            del self._seen[notification_id]
        return passed
