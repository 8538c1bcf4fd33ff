"""The hint that inboxes changed, through the real broker: what a writer announces
reaches every listening api process; a writer whose broker is away announces nothing
and does not fail its delivery."""

from __future__ import annotations

import queue

from casework_dev.devstack import free_port
from casework_dev.testing.helpers import eventually
from casework_notify.adapters.inbox_signal import InboxSignal, InboxSignalListener


def test_an_announced_change_reaches_every_listening_api_process(amqp_uri: str) -> None:
    heard: list[queue.SimpleQueue[tuple[str, list[str]]]] = [queue.SimpleQueue() for _ in range(2)]
    listeners = [
        InboxSignalListener(amqp_uri, lambda o, w, q=q: q.put((o, w))).start() for q in heard
    ]
    signal = InboxSignal(amqp_uri)
    try:
        for listener in listeners:
            eventually(lambda listener=listener: listener.connected.is_set())
        signal.announce("org-demo", {"w-petr", "w-anna"})
        for inbox in heard:
            assert inbox.get(timeout=15) == ("org-demo", ["w-anna", "w-petr"])
    finally:
        signal.close()
        for listener in listeners:
            listener.stop()


def test_a_writer_without_a_broker_announces_nothing_and_goes_on() -> None:
    signal = InboxSignal(f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    signal.announce("org-demo", ["w-anna"])
    signal.announce("org-demo", ["w-anna"])  # quiet for a while: no second wait
