"""The base of a repository scoped to what its caller may see: one organisation, and
within it the caller's centres. A record outside that scope is not there: `_one`
answers NotFound for it exactly as for an id nobody stored, so no answer tells a caller
of another centre that it exists.

Adopting it (intake, notify, plans, documents, feedback and clients use it):

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

An aggregate stored attribute for field (a frozen dataclass whose attributes are the
document's fields of the same name) says so once with `StoredFields` instead of
copying each attribute both ways:

    class ReferralRepository(AggregateRepository[ReferralDocument, Referral]):
        document = ReferralDocument
        fields = StoredFields(Referral, "referral_id", date_of_birth=ISO_DATE,
                              channel=enum_value(Channel))

A repository narrowed by something other than centres (notify's inbox: one worker)
overrides `_narrow`. Writes go through the unit of work it was given (`uow.save`), so
the unit of work publishes their events; without one (repository tests) they are
plain `storage.save_aggregate` writes.

A change lost to a concurrent write is worked out again on the winner's record, a few
times at most: `AggregateRepository.update` does it, and `retry_lost_race` is that rule
for a use case whose repository saves a changed aggregate itself.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Generic, TypeVar

import mongoengine as me

from casework_common.auth import Principal
from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict, NotFound
from casework_common.storage import AggregateDocument, save_aggregate
from casework_common.unit_of_work import Saves

D = TypeVar("D", bound=me.Document)
A = TypeVar("A", bound=AggregateDocument)
T = TypeVar("T")
R = TypeVar("R", bound="ScopedRepository[Any]")
E = TypeVar("E", bound=enum.Enum)
V = TypeVar("V")


@dataclasses.dataclass(frozen=True)
class Stored:
    """How one attribute is stored when not as it is: `dump` turns the attribute into
    the document's value, `load` turns the document's value back."""

    dump: Callable[[Any], Any]
    load: Callable[[Any], Any]


def enum_value(kind: type[E]) -> Stored:
    """An enum member stored as its value."""
    return Stored(lambda member: member.value, kind)


def optional_enum_value(kind: type[E]) -> Stored:
    """An enum member or None, stored as its value or as ""."""
    return Stored(
        lambda member: member.value if member is not None else "",
        lambda raw: kind(raw) if raw else None,
    )


# A date stored as YYYY-MM-DD text; the optional one stores None as "".
ISO_DATE = Stored(lambda day: day.isoformat(), date.fromisoformat)
OPTIONAL_ISO_DATE = Stored(
    lambda day: day.isoformat() if day else "",
    lambda raw: date.fromisoformat(raw) if raw else None,
)
# A caller's key stored unset when empty, so a sparse unique index leaves it out (and
# records stored before keys existed read as "").
OPTIONAL_KEY = Stored(lambda key: key or None, lambda raw: raw or "")
# A tuple stored as a list.
LIST = Stored(list, tuple)


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored instant as an aware UTC datetime: the driver hands back naive UTC ones."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# An instant (or None) read back as an aware UTC datetime (as_utc).
UTC_INSTANT = Stored(lambda moment: moment, as_utc)
# A flag read back as a bool (the development server stores a False it was given as 0).
FLAG = Stored(bool, bool)


def idempotency_key_index(*, keyless_records: bool = False) -> dict[str, Any]:
    """The index that lets a caller's idempotency key be used once per organisation.
    `keyless_records`: records stored before keys were required have none and are
    left out of the index."""
    index: dict[str, Any] = {"fields": ["organisation", "idempotency_key"], "unique": True}
    if keyless_records:
        index["partialFilterExpression"] = {"idempotency_key": {"$type": "string"}}
    return index


class StoredFields(Generic[T]):
    """The mapping between a frozen dataclass aggregate and its document: every
    attribute is the document's field of the same name, except the id attribute (the
    document's id), those `stored_as` converts, and those named `apart`, which the
    repository maps itself (`read(doc, name=value)`; `write` leaves them out)."""

    def __init__(
        self,
        aggregate: type[T],
        id_field: str,
        *,
        apart: Iterable[str] = (),
        **stored_as: Stored,
    ) -> None:
        self.aggregate = aggregate
        self.id_field = id_field
        names = [f.name for f in dataclasses.fields(aggregate)]  # type: ignore[arg-type]
        unknown = (set(stored_as) | set(apart)) - set(names)
        if unknown:
            raise TypeError(f"{aggregate.__name__} has no attribute {sorted(unknown)}")
        self._apart = frozenset(apart)
        self._stored = [
            (name, stored_as.get(name))
            for name in names
            if name != id_field and name not in self._apart
        ]

    def read(self, doc: me.Document, **apart: Any) -> T:
        values = {self.id_field: doc.id, **apart}
        for name, stored in self._stored:
            raw = getattr(doc, name)
            values[name] = stored.load(raw) if stored else raw
        return self.aggregate(**values)

    def write(self, doc: me.Document, aggregate: T) -> None:
        """Copy the aggregate's values onto its document (id and version stay)."""
        for name, stored in self._stored:
            value = getattr(aggregate, name)
            setattr(doc, name, stored.dump(value) if stored else value)

    def id_of(self, aggregate: T) -> str:
        return str(getattr(aggregate, self.id_field))


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


# How often a change lost to a concurrent write is worked out again before the caller
# is answered ABORTED: contention on one record clears within a write or two.
UPDATE_ATTEMPTS = 3


def retry_lost_race(read: Callable[[], T], store: Callable[[T], V], *, first: T | None = None) -> V:
    """Run `store` (work a change out from a record as read, and write it) and, when a
    concurrent write wins (Conflict), read the record again and work the change out again
    on the winner's result; Conflict when that keeps happening (UPDATE_ATTEMPTS in all).
    `first`: the record as the caller already read it (no read for the first attempt)."""
    record = read() if first is None else first
    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        try:
            return store(record)
        except Conflict:
            if attempt == UPDATE_ATTEMPTS:
                raise
            record = read()
    raise AssertionError("unreachable")


class AggregateRepository(ScopedRepository[A], Generic[A, T]):
    """A scoped repository of one aggregate: a domain object `T` stored whole as a
    document `A` with its outbox. Subclasses say how the two map, either with
    `fields` or by overriding `_read`, `_write` and `_id_of`; reading, adding, the
    idempotency-key lookup and the version-guarded change are written here once."""

    fields: ClassVar[StoredFields[Any] | None] = None
    # Whether `update` stores a change that tells no event (a draft's edit announces
    # nothing and must still be kept; a mark only this service reads).
    quiet_changes: ClassVar[bool] = False

    def _mapping(self) -> StoredFields[Any]:
        if self.fields is None:
            raise NotImplementedError(f"{type(self).__name__} says neither `fields` nor `_read`")
        return self.fields

    def _read(self, doc: A) -> T:
        return self._mapping().read(doc)  # type: ignore[no-any-return]

    def _write(self, doc: A, aggregate: T) -> None:
        self._mapping().write(doc, aggregate)

    def _id_of(self, aggregate: T) -> str:
        return self._mapping().id_of(aggregate)

    def get(self, record_id: str) -> T:
        return self._read(self._one(record_id))

    def by_idempotency_key(self, key: str) -> T | None:
        # Unscoped on purpose: the key belongs to the caller, whatever centre it named.
        doc = self._unscoped().filter(idempotency_key=key).first()
        return self._read(doc) if doc else None

    def add(self, aggregate: T, event: EventEnvelope | Iterable[EventEnvelope] = ()) -> None:
        """Store a new record of the caller's organisation with its event (or events)."""
        doc = self.document(id=self._id_of(aggregate), organisation=self._organisation)
        self._write(doc, aggregate)  # type: ignore[arg-type]
        events = [event] if isinstance(event, EventEnvelope) else list(event)
        self._save(doc, events)  # type: ignore[arg-type]

    def overwrite(self, aggregate: T, events: Iterable[EventEnvelope] = ()) -> None:
        """Store the aggregate as given over its record of the caller's scope (NotFound
        outside it), with its events, in one version-guarded write: for a change worked
        out by a caller that holds the record already and wants no second reading."""
        doc = self._one(self._id_of(aggregate))
        self._write(doc, aggregate)
        self._save(doc, events)

    def _page(self, order: Iterable[str], offset: int, limit: int, **equal: str) -> list[T]:
        """A page of the caller's records in `order`, narrowed to those whose fields
        hold the values given (an empty value narrows nothing)."""
        query = self._scoped().filter(**{name: value for name, value in equal.items() if value})
        return [self._read(doc) for doc in query.order_by(*order).skip(offset).limit(limit)]

    def update(self, record_id: str, change: Callable[[T], tuple[T, list[EventEnvelope]]]) -> T:
        """Apply `change` to a record of the caller's scope and store the result with
        its events in one version-guarded write (NotFound outside the scope). A change
        with no event is no change and is not written, unless the repository keeps
        `quiet_changes` and the record did change.

        `change` is worked out from the record as stored, so when a concurrent write
        wins (a timer's tick beside a worker's call) it is worked out again on the
        winner's result; Conflict only when that keeps happening."""
        return self.update_loaded(self._one(record_id), change)

    def update_loaded(self, doc: A, change: Callable[[T], tuple[T, list[EventEnvelope]]]) -> T:
        """`update` of a document already read (a batch read of many records)."""

        def store(current: A) -> T:
            before = self._read(current)
            changed, events = change(before)
            if not events and (not self.quiet_changes or changed == before):
                return changed
            self._write(current, changed)
            self._save(current, events)
            return changed

        return retry_lost_race(lambda: self._one(str(doc.pk)), store, first=doc)
