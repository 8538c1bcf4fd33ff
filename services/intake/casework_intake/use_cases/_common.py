"""What every intake use case shares: events built from the domain's facts under the
unit of work's caller and trace, the worker-only rule, required ids, creation once per
idempotency key, a change that emits its event only when it changed something, and
the timers' marking of each due record once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TypeVar

from google.protobuf.message import Message

from casework_common import errors as common
from casework_common import idempotency
from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork
from casework_common.unit_of_work import event as event
from casework_intake.domain import forms


class Owned(Protocol):
    """An aggregate of one organisation."""

    @property
    def organisation(self) -> str: ...


A = TypeVar("A", bound=Owned)
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Change = Callable[[A], tuple[A, list[EventEnvelope]]]


class KeyedRepository(Protocol[T_co]):
    def by_idempotency_key(self, key: str) -> T_co | None: ...


def to_common(errors: Iterable[forms.FieldError]) -> list[common.FieldError]:
    """The forms module's own field errors as the ones the gRPC layer reports."""
    return [common.FieldError(e.field, e.description) for e in errors]


def require_worker(uow: UnitOfWork) -> None:
    if uow.principal.kind != "worker":
        raise PermissionDenied("only a worker of the referral's centre may do this")


def required(field: str, value: str) -> None:
    if not value:
        raise InvalidArgument([common.FieldError(field, "is required")])


def with_event(
    uow: UnitOfWork, message_type: type[Message], changed: A, payload: Mapping[str, object]
) -> tuple[A, list[EventEnvelope]]:
    """A changed aggregate and the one event that tells of the change."""
    return changed, [event(message_type, changed.organisation, uow, payload)]


def if_changed(
    uow: UnitOfWork,
    message_type: type[Message],
    step: tuple[A, bool],
    payload: Callable[[A], Mapping[str, object]],
) -> tuple[A, list[EventEnvelope]]:
    """The outcome of a step that may find its work done already (acknowledging
    twice, cancelling twice): its event only when it changed something."""
    aggregate, changed = step
    if not changed:
        return aggregate, []
    return with_event(uow, message_type, aggregate, payload(aggregate))


def create_once(
    key: str,
    repository: KeyedRepository[T],
    replay: Callable[[T], T],
    create: Callable[[], T],
) -> tuple[T, bool]:
    """Answer (record, replayed): `create` once per idempotency key; a retry, or the
    loser of two concurrent firsts (refused by the unique key), answers `replay` of
    the stored record."""
    return idempotency.create_once(
        key,
        find=repository.by_idempotency_key,
        replay=replay,
        create=create,
        race=DuplicateAggregate,
    )


def create_first(
    key: str,
    repository: KeyedRepository[T],
    replay: Callable[[T], T],
    create: Callable[[], T],
) -> tuple[T, bool]:
    """`create_once` for a creation that is nearly always the first: `create` straight
    away, and read the stored record only when the unique key refuses the insert (a
    retry, or the loser of two concurrent firsts). The first submission then costs its
    one write instead of a look-up before it.

    A refusal of the content itself (invalid now, or a centre the caller no longer
    serves) looks the key up too before it is raised, so a retry answers exactly what
    it answered when the key was looked up first: the stored record, or ALREADY_EXISTS
    for other content."""
    try:
        return create(), False
    except (DuplicateAggregate, InvalidArgument, PermissionDenied):
        # A key refused as malformed was never stored: nothing to look up.
        stored = None if idempotency.key_errors(key) else repository.by_idempotency_key(key)
        if stored is None:
            raise
        return replay(stored), True


def mark_each(
    items: Iterable[A],
    update: Callable[[A, Change[A]], object],
    change: Change[A],
) -> int:
    """A timer's work: apply `change` to each item as it is now stored, the mark and
    its events in one version-guarded write (`update`), so two timers racing (two
    replicas) store and emit them once; the loser's Conflict is skipped, as is an item
    gone meanwhile. Answers how many events were stored."""
    stored = 0
    emitted: list[EventEnvelope] = []

    def counted(current: A) -> tuple[A, list[EventEnvelope]]:
        changed, events = change(current)
        emitted[:] = events
        return changed, events

    for item in items:
        emitted.clear()
        try:
            update(item, counted)
        except (Conflict, NotFound):
            continue
        stored += len(emitted)
    return stored
