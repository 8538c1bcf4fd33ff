"""A unit of work for fast unit tests of use cases: it touches no database and no
broker, and remembers what the use case saved, with which events, and whether the unit
was committed. Services keep their own in-memory repositories next to their tests;
they save through `uow.save(aggregate, events)` as the real ones do."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from casework_common.envelope import EventEnvelope
from casework_common.storage import Written
from casework_common.unit_of_work import Caller, Trace, UnitOfWork

MOMENT = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, caller: Caller, *, now: datetime = MOMENT, id_prefix: str = "id") -> None:
        counter = itertools.count(1)
        super().__init__(
            caller,
            now=now,
            trace=Trace({"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}),
            new_id=lambda: f"{id_prefix}-{next(counter)}",
        )
        self.saved: list[tuple[Any, list[EventEnvelope]]] = []
        self.published: list[EventEnvelope] = []
        self.commits = 0

    def save(self, document: Any, events: Iterable[EventEnvelope] = ()) -> None:
        self.saved.append((document, list(events)))

    @property
    def events(self) -> list[EventEnvelope]:
        """Every event saved in this unit, in order."""
        return [event for _, events in self.saved for event in events]

    def commit(self) -> Written:
        self.commits += 1
        self.published.extend(self.events[len(self.published) :])
        return []
