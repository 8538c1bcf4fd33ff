"""The base of a repository scoped to what its caller may see: one organisation, and
within it the caller's centres. A record outside that scope is not there: `_one`
answers NotFound for it exactly as for an id nobody stored, so no answer tells a caller
of another centre that it exists.

Adopting it (intake and notify use it; clients is next):

    class ClientRepository(ScopedRepository[ClientDocument]):
        document = ClientDocument          # has `organisation` and a centre field
        centre_field = "centre_ids"        # a list field works too (`__in` matches any)
        what = "client"                    # the word NotFound uses

        def get(self, client_id: str) -> Client:
            return _to_domain(self._one(client_id))

        def add(self, client: Client, events: list[EventEnvelope]) -> None:
            self._save(ClientDocument(...), events)

    ClientRepository.for_caller(uow.principal, uow)   # the caller's centres
    ClientRepository(organisation, None, uow)          # the service's own work: all centres

A repository narrowed by something other than centres (notify's inbox: one worker)
overrides `_narrow`. Writes go through the unit of work it was given (`uow.save`), so
the unit of work publishes their events; without one (repository tests) they are
plain `storage.save_aggregate` writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, TypeVar

import mongoengine as me

from casework_common.auth import Principal
from casework_common.envelope import EventEnvelope
from casework_common.errors import NotFound
from casework_common.storage import AggregateDocument, save_aggregate
from casework_common.unit_of_work import Saves

D = TypeVar("D", bound=me.Document)
A = TypeVar("A", bound=AggregateDocument)
T = TypeVar("T")
R = TypeVar("R", bound="ScopedRepository[Any]")


class ScopedRepository(Generic[D]):
    document: ClassVar[type[me.Document]]
    centre_field: ClassVar[str] = "centre_id"
    what: ClassVar[str] = "record"

    def __init__(
        self, organisation: str, centres: Iterable[str] | None = None, uow: Saves | None = None
    ) -> None:
        self._organisation = organisation
        # None: every centre (the service's own timers and consumers).
        self._centres = frozenset(centres) if centres is not None else None
        self._uow = uow

    @classmethod
    def for_caller(cls: type[R], principal: Principal, uow: Saves | None = None) -> R:
        return cls(principal.organisation, principal.centres, uow)

    @property
    def organisation(self) -> str:
        return self._organisation

    def _unscoped(self) -> me.QuerySet:
        """The organisation's records whatever their centre (an idempotency key is the
        caller's, whatever centre it named)."""
        return self.document.objects(organisation=self._organisation)

    def _narrow(self, query: me.QuerySet) -> me.QuerySet:
        if self._centres is None:
            return query
        return query.filter(**{f"{self.centre_field}__in": list(self._centres)})

    def _scoped(self) -> me.QuerySet:
        return self._narrow(self._unscoped())

    def _one(self, record_id: str) -> D:
        doc = self._scoped().filter(id=record_id).first() if record_id else None
        if doc is None:
            raise NotFound(f"{self.what} {record_id} not found")
        return doc  # type: ignore[no-any-return]

    def _save(self, doc: AggregateDocument, events: Iterable[EventEnvelope] = ()) -> None:
        if self._uow is not None:
            self._uow.save(doc, events)
        else:
            save_aggregate(doc, events)


class AggregateRepository(ScopedRepository[A], Generic[A, T]):
    """A scoped repository of one aggregate: a domain object `T` stored whole as a
    document `A` with its outbox. Subclasses say how the two map (`_read`, `_write`,
    `_id_of`); reading, adding, the idempotency-key lookup and the version-guarded
    change are written here once."""

    def _read(self, doc: A) -> T:
        raise NotImplementedError

    def _write(self, doc: A, aggregate: T) -> None:
        raise NotImplementedError

    def _id_of(self, aggregate: T) -> str:
        raise NotImplementedError

    def get(self, record_id: str) -> T:
        return self._read(self._one(record_id))

    def by_idempotency_key(self, key: str) -> T | None:
        # Unscoped on purpose: the key belongs to the caller, whatever centre it named.
        doc = self._unscoped().filter(idempotency_key=key).first()
        return self._read(doc) if doc else None

    def add(self, aggregate: T, event: EventEnvelope) -> None:
        doc = self.document(id=self._id_of(aggregate))
        self._write(doc, aggregate)  # type: ignore[arg-type]
        self._save(doc, [event])  # type: ignore[arg-type]

    def update(self, record_id: str, change: Callable[[T], tuple[T, list[EventEnvelope]]]) -> T:
        """Apply `change` to a record of the caller's scope and store the result with
        its events in one version-guarded write; a concurrent change answers Conflict
        (NotFound outside the scope)."""
        doc = self._one(record_id)
        changed, events = change(self._read(doc))
        if events:
            self._write(doc, changed)
            self._save(doc, events)
        return changed
