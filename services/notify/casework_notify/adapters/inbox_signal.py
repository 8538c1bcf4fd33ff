"""A hint that inboxes changed, from the process that stored notifications to every api
process whose live inboxes may be watching them.

The database stays the only truth: the hint carries organisation and worker ids, never
a notification, and only wakes the live inbox's feed to look at once (adapters.feed).
It is transient, unconfirmed and fanned out over notify's own exchange
(`notify.inbox-changed`, within the names notify's broker user may declare) to one
exclusive, auto-deleted queue per api process. A hint lost (broker away, an api process
reconnecting) costs only latency: the feed still polls, at NOTIFY_WATCH_POLL_SECONDS."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import kombu

log = logging.getLogger(__name__)

EXCHANGE = "notify.inbox-changed"
# After a failed connection, writers do without hints this long rather than make
# every delivery wait for a broker that is away.
QUIET_AFTER_FAILURE = 5.0


def _exchange() -> kombu.Exchange:
    return kombu.Exchange(EXCHANGE, type="fanout", durable=False, auto_delete=False)


class InboxSignal:
    """The writer's side: one connection per process, opened on first use."""

    def __init__(self, amqp_uri: str) -> None:
        self._uri = amqp_uri
        self._lock = threading.Lock()
        self._connection: kombu.Connection | None = None
        self._producer: kombu.Producer | None = None
        self._failed_at = 0.0

    def announce(self, organisation: str, workers: Iterable[str]) -> None:
        body = json.dumps({"organisation": organisation, "workers": sorted(set(workers))})
        with self._lock:
            if time.monotonic() - self._failed_at < QUIET_AFTER_FAILURE:
                return
            try:
                self._producer_now().publish(
                    body,
                    exchange=_exchange(),
                    routing_key="",
                    delivery_mode=1,
                    content_type="application/json",
                    retry=False,
                )
            except Exception as exc:  # a hint: never a reason to fail the delivery
                log.info("inbox change hint not sent (%s); live inboxes fall back to polling", exc)
                self._failed_at = time.monotonic()
                self._close()

    def _producer_now(self) -> kombu.Producer:
        if self._producer is None:
            connection = kombu.Connection(self._uri, connect_timeout=2, heartbeat=0)
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            _exchange()(channel).declare()
            self._connection, self._producer = connection, kombu.Producer(channel)
        return self._producer

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.release()
        self._connection = self._producer = None

    def close(self) -> None:
        with self._lock:
            self._close()


class InboxSignalListener:
    """The api process's side: a thread that passes each hint to `on_change`, and
    connects again (after a pause) whenever the broker goes away."""

    def __init__(self, amqp_uri: str, on_change: Callable[[str, list[str]], None]) -> None:
        self._uri = amqp_uri
        self._on_change = on_change
        self._stopping = threading.Event()
        self.connected = threading.Event()

    def start(self) -> InboxSignalListener:
        threading.Thread(target=self._run, name="inbox-signal", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as exc:
                log.info("inbox change hints interrupted (%s); connecting again", exc)
            self.connected.clear()
            self._stopping.wait(1.0)

    def _listen(self) -> None:
        with kombu.Connection(self._uri, connect_timeout=5, heartbeat=30) as connection:
            queue = kombu.Queue(
                f"{EXCHANGE}.{uuid.uuid4().hex}",
                exchange=_exchange(),
                exclusive=True,
                auto_delete=True,
                durable=False,
            )
            with connection.Consumer(queue, callbacks=[self._received], no_ack=True):
                self.connected.set()
                while not self._stopping.is_set():
                    try:
                        connection.drain_events(timeout=1.0)
                    except TimeoutError:
                        connection.heartbeat_check()

    def _received(self, body: Any, message: Any) -> None:
        try:
            hint = body if isinstance(body, dict) else json.loads(body)
            self._on_change(str(hint["organisation"]), [str(w) for w in hint["workers"]])
        except (ValueError, KeyError, TypeError):
            log.warning("an inbox change hint could not be read; ignored")
