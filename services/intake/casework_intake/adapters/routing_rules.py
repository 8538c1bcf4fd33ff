"""The versioned routing rule sets of each organisation."""

from __future__ import annotations

import mongoengine as me

from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict, NotFound
from casework_common.repository import ScopedRepository
from casework_common.routing import rule_to_dict
from casework_common.storage import AggregateDocument, DuplicateAggregate
from casework_common.unit_of_work import Saves
from casework_intake.adapters.referrals import next_in_sequence
from casework_intake.domain.routing_rules import RuleSet, rule_from_dict


class RoutingRuleSetDocument(AggregateDocument):
    meta = {
        "collection": "routing_rule_sets",
        "indexes": [{"fields": ["organisation", "-rule_set_version"], "unique": True}],
    }

    id = me.StringField(primary_key=True)  # "<organisation>:<version>"
    rule_set_version = me.IntField(required=True)
    rules = me.ListField(me.DictField())
    fallback = me.StringField(required=True)
    saved_by = me.StringField(required=True)
    saved_at = me.DateTimeField(required=True)
    published_at = me.DateTimeField()
    published_by = me.StringField(default="")
    # The version again once published, else 0: queried instead of published_at, since
    # the development server matches a missing field with {"$ne": null}.
    published_version = me.IntField(default=0)


def _rule_set(doc: RoutingRuleSetDocument) -> RuleSet:
    return RuleSet(
        organisation=doc.organisation,
        version=doc.rule_set_version,
        rules=tuple(rule_from_dict(dict(r)) for r in doc.rules),
        saved_by=doc.saved_by,
        saved_at=doc.saved_at,
        published_at=doc.published_at,
        published_by=doc.published_by or "",
        fallback=doc.fallback,
    )


class RoutingRulesRepository(ScopedRepository[RoutingRuleSetDocument]):
    """The versioned routing rule sets of one organisation (organisation-wide: never
    narrowed by centres)."""

    document = RoutingRuleSetDocument
    what = "routing rules version"

    def __init__(self, organisation: str, uow: Saves | None = None) -> None:
        super().__init__(organisation, None, uow)

    def next_version(self) -> int:
        return next_in_sequence(f"{self._organisation}:routing_rules")

    def add(self, rule_set: RuleSet) -> None:
        doc = RoutingRuleSetDocument(
            id=f"{rule_set.organisation}:{rule_set.version}",
            organisation=rule_set.organisation,
            rule_set_version=rule_set.version,
            rules=[rule_to_dict(r) for r in rule_set.rules],
            fallback=rule_set.fallback,
            saved_by=rule_set.saved_by,
            saved_at=rule_set.saved_at,
        )
        try:
            self._save(doc)
        except DuplicateAggregate:
            raise Conflict(f"routing rules version {rule_set.version} exists already") from None

    def _doc(self, version: int) -> RoutingRuleSetDocument:
        doc = self._unscoped().filter(rule_set_version=version).first()
        if doc is None:
            raise NotFound(f"routing rules version {version} not found")
        return doc

    def get(self, version: int) -> RuleSet:
        return _rule_set(self._doc(version))

    def published(self) -> RuleSet | None:
        doc = self._unscoped().filter(published_version__gt=0).order_by("-rule_set_version").first()
        return _rule_set(doc) if doc else None

    def page(self, *, offset: int, limit: int) -> list[RuleSet]:
        docs = self._unscoped().order_by("-rule_set_version").skip(offset).limit(limit)
        return [_rule_set(doc) for doc in docs]

    def mark_published(self, rule_set: RuleSet, event: EventEnvelope) -> None:
        doc = self._doc(rule_set.version)
        doc.published_at = rule_set.published_at
        doc.published_by = rule_set.published_by
        doc.published_version = rule_set.version
        self._save(doc, [event])
