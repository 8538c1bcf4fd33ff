"""In-memory stand-ins of intake's repositories, for unit tests of its use cases.
They keep the real ones' promises: reads limited to the centres given (an out-of-scope
record is NotFound), one record per idempotency key (a second insert raises
DuplicateAggregate), and every write through the unit of work."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict, NotFound
from casework_common.storage import DuplicateAggregate
from casework_dev.testing.fakes import FakeUnitOfWork
from casework_intake.domain.referrals import Referral
from casework_intake.domain.routing_rules import RuleSet


class FakeReferralRepository:
    def __init__(self, uow: FakeUnitOfWork, centres: Iterable[str] | None = None) -> None:
        self._uow = uow
        self._centres = frozenset(centres) if centres is not None else None
        self.stored: dict[str, Referral] = {}
        self._sequence = 0

    def scoped(self, uow: FakeUnitOfWork, centres: Iterable[str] | None) -> FakeReferralRepository:
        """The same store seen by another caller."""
        other = FakeReferralRepository(uow, centres)
        other.stored = self.stored
        return other

    def by_idempotency_key(self, key: str) -> Referral | None:
        return self._keyed(key)

    def _keyed(self, key: str) -> Referral | None:
        # The store's own unique-key check, apart from the use case's look-ups.
        return next((r for r in self.stored.values() if r.idempotency_key == key), None)

    def get(self, referral_id: str) -> Referral:
        referral = self.stored.get(referral_id)
        if referral is None or (
            self._centres is not None and referral.centre_id not in self._centres
        ):
            raise NotFound(f"referral {referral_id} not found")
        return referral

    def add(self, referral: Referral, event: EventEnvelope) -> None:
        if referral.referral_id in self.stored or self._keyed(referral.idempotency_key):
            raise DuplicateAggregate(referral.idempotency_key)
        self.stored[referral.referral_id] = referral
        self._uow.save(referral, [event])

    def update(
        self, referral_id: str, change: Callable[[Referral], tuple[Referral, list[EventEnvelope]]]
    ) -> Referral:
        changed, events = change(self.get(referral_id))
        if events:
            self.stored[referral_id] = changed
            self._uow.save(changed, events)
        return changed

    def next_sequence(self, year: int) -> int:
        self._sequence += 1
        return self._sequence


class FakeRoutingRulesRepository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow
        self.versions: dict[int, RuleSet] = {}

    def next_version(self) -> int:
        return max(self.versions, default=0) + 1

    def add(self, rule_set: RuleSet) -> None:
        if rule_set.version in self.versions:
            raise Conflict(f"routing rules version {rule_set.version} exists already")
        self.versions[rule_set.version] = rule_set
        self._uow.save(rule_set)

    def get(self, version: int) -> RuleSet:
        if version not in self.versions:
            raise NotFound(f"routing rules version {version} not found")
        return self.versions[version]

    def published(self) -> RuleSet | None:
        published = [r for r in self.versions.values() if r.published_at is not None]
        return max(published, key=lambda r: r.version, default=None)

    def mark_published(self, rule_set: RuleSet, event: EventEnvelope) -> None:
        self.versions[rule_set.version] = dataclasses.replace(rule_set)
        self._uow.save(rule_set, [event])
