"""A service's wiring in its events process, built once per process.

nameko makes a new instance of the service class for every event, timer tick and HTTP
request; wiring built in `__init__` (reading the organisation file, settings,
repositories) is then rebuilt for each of them. `Wiring` is a nameko dependency
provider: it builds the service's bootstrap once, when the container starts, and hands
every worker the same `Wired` (the bootstrap's object and the process's units of work,
whose commit publishes through the events process's outbox relay):

    class NotifyEvents(EventsService):
        wired = Wiring(bootstrap)

        @event_handler(...)
        def on_client_arrived(self, envelope):
            with self.wired.units.begin(SystemActor("notify")) as uow:
                services.notify_responsible_workers(..., uow, self.wired.app.inboxes(uow))

`CASEWORK_WIRING_PER_EVENT=1` builds it for every worker instead, as services did
before this provider: `make bench` measures both in one run. Never set it otherwise.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from nameko.extensions import DependencyProvider

from casework_common.storage import Written
from casework_common.unit_of_work import UnitsOfWork, now_to_the_millisecond

T = TypeVar("T")


@dataclass(frozen=True)
class Wired(Generic[T]):
    app: T
    units: UnitsOfWork


class Wiring(DependencyProvider, Generic[T]):  # type: ignore[misc]
    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._wired: Wired[T] | None = None
        self._lock = threading.Lock()

    def setup(self) -> None:
        # Configuration errors stop the process at start, not at the first event.
        self._wire()

    def _wire(self) -> Wired[T]:
        with self._lock:
            if self._wired is None:
                self._wired = self._make()
            return self._wired

    def _make(self) -> Wired[T]:
        app = self._build()
        clock = getattr(app, "clock", None) or now_to_the_millisecond
        return Wired(app, UnitsOfWork(clock=clock, publish=self._publish))

    def _publish(self, written: Written) -> object:
        """Through the relay of the process's EventBus (found at the first commit, when
        every dependency of the container is set up)."""
        for dependency in self.container.dependencies:
            relay = getattr(dependency, "relay", None)
            if relay is not None:
                return relay.publish_written(written)
        return None

    def get_dependency(self, worker_ctx: Any) -> Wired[T]:
        if os.environ.get("CASEWORK_WIRING_PER_EVENT"):
            return self._make()
        return self._wire()
