"""A broker that dies while a handler runs must not take the events process with it.

nameko settles a message after its handler returns; if the connection is gone by then,
the socket error used to escape into the container and kill the process, leaving its
queue unconsumed until someone restarted it (found by the chaos run: 321 events waiting
after a broker restart). The broker redelivers an unsettled message on its own, and the
event's claim makes the second handling a no-op, so settling on a dead connection is
logged and passed over."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from casework_common.events_runtime import EventQueueConsumer


class _Channel:
    connection = object()  # nameko settles only on a channel that still has one


class _MessageOnADeadSocket:
    channel = _Channel()

    def __init__(self, error: OSError) -> None:
        self._error = error

    def ack(self) -> None:
        raise self._error

    def requeue(self) -> None:
        raise self._error


@pytest.mark.parametrize("error", [ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe")])
@pytest.mark.parametrize("settle", ["ack_message", "requeue_message"])
def test_settling_a_message_on_a_connection_the_broker_dropped_is_logged_not_raised(
    error: OSError, settle: str, caplog: Any
) -> None:
    consumer = EventQueueConsumer()
    with caplog.at_level(logging.WARNING, logger="casework_common.events_runtime"):
        getattr(consumer, settle)(_MessageOnADeadSocket(error))
    assert "broker delivers it again" in caplog.text


def test_a_fault_that_is_not_the_connection_still_surfaces() -> None:
    class _Broken(_MessageOnADeadSocket):
        def ack(self) -> None:
            raise RuntimeError("a bug in the handler's settling")

    with pytest.raises(RuntimeError):
        EventQueueConsumer().ack_message(_Broken(OSError()))
