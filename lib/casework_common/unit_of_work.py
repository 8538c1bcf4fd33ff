"""The unit of work every use case runs in: who is acting, when, under which trace,
which ids it mints, and which aggregates it saved with which new events.

    with UnitOfWork(principal, now=clock(), trace=Trace.current(), publish=hook) as uow:
        referral = submit_referral(command, uow, ...)
    # every aggregate saved in the block has been handed to `publish`

Each save is one version-guarded write of the aggregate with its new events in its
outbox (`storage.save_aggregate`), made when the use case saves. The storage has no
transaction across documents, so holding writes back until the end would make nothing
more atomic, while a use case that retries a keyed change after a Conflict, or answers
the first record after a DuplicateAggregate, needs the write's verdict where it stands.
What the unit of work adds is the end: `commit()` hands the aggregates saved with events
to the publish hook at once (the api process's `BackgroundRelay.submit`, the events
process's `OutboxRelay.publish_written`); the sweeper is only the safety net. A block
that fails still hands over what it saved: those writes stand, and so do their events.

Adopting it in a service (clients is next):
- the entry point opens the unit of work: the gRPC interceptor opens one per call (read
  it with `current_unit_of_work()`), a nameko handler or timer with `units.begin(...)` of
  the `UnitsOfWork` its wiring holds (see `wiring.py`);
- a use case takes `(command, uow, ...)` and reads `uow.principal`, `uow.now`,
  `uow.trace`, `uow.new_id()`, `uow.actor`; its repositories save through `uow.save`;
- tests use `casework_dev.testing.fakes.FakeUnitOfWork`.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

from google.protobuf.message import Message

from casework_common import contracts, storage
from casework_common.auth import Principal
from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import PermissionDenied
from casework_common.storage import AggregateDocument, Written

PublishHook = Callable[[Written], object]


@dataclass(frozen=True)
class SystemActor:
    """The service itself acting (a timer, a consumer of another service's event, a
    public endpoint with no signed-in caller)."""

    component: str

    @property
    def actor(self) -> Actor:
        return Actor.system(self.component)


Caller = Principal | SystemActor


@dataclass(frozen=True)
class Trace:
    """The W3C trace context to store in outgoing events, and its trace id for logs."""

    carrier: Mapping[str, str] = field(default_factory=dict)

    @property
    def trace_id(self) -> str:
        parent = self.carrier.get("traceparent", "")
        parts = parent.split("-")
        return parts[1] if len(parts) == 4 else ""

    @staticmethod
    def current() -> Trace:
        from casework_common.telemetry import current_trace_carrier

        return Trace(current_trace_carrier())


def new_uuid() -> str:
    return str(uuid.uuid4())


def now_to_the_millisecond() -> datetime:
    """The database keeps milliseconds: a moment answered right after a write is then
    the same moment a later read answers."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class Saves(Protocol):
    """What a repository needs of a unit of work to write."""

    def save(self, document: AggregateDocument, events: Iterable[EventEnvelope] = ()) -> None: ...


class UnitOfWork:
    def __init__(
        self,
        caller: Caller,
        *,
        now: datetime | None = None,
        trace: Trace | None = None,
        new_id: Callable[[], str] = new_uuid,
        publish: PublishHook | None = None,
    ) -> None:
        self.caller = caller
        # One moment for the whole unit: every record and event it writes agrees.
        self.now = now or now_to_the_millisecond()
        self.trace = trace or Trace()
        self._new_id = new_id
        self._publish = publish
        self._written: Written = []

    # ------------------------------------------------------------------ context

    @property
    def principal(self) -> Principal:
        """The signed-in caller; a unit of work of the system itself has none."""
        if isinstance(self.caller, Principal):
            return self.caller
        raise PermissionDenied(f"{self.caller.component} acts for no signed-in caller")

    @property
    def actor(self) -> Actor:
        """Who the events of this unit name as their cause."""
        if isinstance(self.caller, Principal):
            return Actor(kind=self.caller.kind, subject=self.caller.subject)
        return self.caller.actor

    @property
    def organisation(self) -> str:
        return self.principal.organisation

    def new_id(self) -> str:
        return self._new_id()

    # -------------------------------------------------------------------- writes

    def save(self, document: AggregateDocument, events: Iterable[EventEnvelope] = ()) -> None:
        """Write `document` with `events` in its outbox (one version-guarded write);
        raises storage.Conflict / storage.DuplicateAggregate as the write does."""
        storage.save_aggregate(document, events)
        self._remember(document)

    def _remember(self, document: AggregateDocument) -> None:
        if document.outbox:
            self._adopt(type(document), document.pk)

    def _adopt(self, document_type: type[AggregateDocument], pk: object) -> None:
        if (document_type, pk) not in self._written:
            self._written.append((document_type, pk))

    @property
    def written(self) -> Written:
        """The aggregates saved with events not yet handed to the publish hook."""
        return list(self._written)

    def commit(self) -> Written:
        """Hand what was saved to the publish hook; answers what was handed over."""
        written, self._written = self._written, []
        if written and self._publish is not None:
            self._publish(written)
        return written

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.commit()


@dataclass(frozen=True)
class UnitsOfWork:
    """Makes the units of work of one process: its clock, id factory and publish hook."""

    clock: Callable[[], datetime] = now_to_the_millisecond
    publish: PublishHook | None = None
    new_id: Callable[[], str] = new_uuid

    def begin(self, caller: Caller, trace: Trace | None = None) -> UnitOfWork:
        return UnitOfWork(
            caller,
            now=self.clock(),
            trace=trace if trace is not None else Trace.current(),
            new_id=self.new_id,
            publish=self.publish,
        )


_current: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar(
    "casework_unit_of_work", default=None
)


def current_unit_of_work() -> UnitOfWork:
    """The unit of work the gRPC interceptor opened for this call."""
    uow = _current.get()
    if uow is None:
        raise RuntimeError("no unit of work is open: only a gRPC call or `opened` opens one")
    return uow


def open_unit_of_work() -> UnitOfWork | None:
    """The unit of work open in this context, None outside one (a repository made for
    a call writes through the call's unit; one made elsewhere saves by itself)."""
    return _current.get()


@contextmanager
def opened(uow: UnitOfWork) -> Iterator[UnitOfWork]:
    """Make `uow` the current one for the block and commit it at the end.

    Aggregates saved in the block by code not yet on the unit of work (a repository
    calling `storage.save_aggregate` itself) are committed with it, so their events go
    out at once too; drop that bridge once every service saves through `uow.save`."""
    token = _current.set(uow)
    try:
        with storage.track_writes() as untracked:
            try:
                yield uow
            finally:
                for document_type, pk in untracked:
                    uow._adopt(document_type, pk)
                uow.commit()
    finally:
        _current.reset(token)


def event(
    message_type: type[Message],
    organisation: str,
    uow: UnitOfWork,
    facts: Mapping[str, object],
) -> EventEnvelope:
    """The event whose payload is `message_type` built from the domain's facts, told
    under the unit of work's actor and trace: the domain lists what an event reveals in
    its own plain values and stays free of generated code; here, at the one seam, they
    become the contract message (strictly, so a fact the schema lacks fails in the
    producer) and the codec encodes it."""
    message = contracts.from_facts(message_type, facts)
    return contracts.envelope(
        message, organisation=organisation, actor=uow.actor, trace=uow.trace.carrier
    )
