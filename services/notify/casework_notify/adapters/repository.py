"""Inbox notifications and the read model of published routing rules in the notify
database (mongoengine)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from casework_common.errors import NotFound
from casework_common.repository import ScopedRepository
from casework_common.routing import FALLBACK, rule_to_dict
from casework_common.storage import insert_many_new
from casework_common.storage import now as stored_now
from casework_notify.adapters.claims import insert_new, replace_where
from casework_notify.domain.inbox import Link, Notification
from casework_notify.domain.routing import PublishedRules, rules_from_payload


class NotificationDocument(me.Document):
    meta = {
        "collection": "notifications",
        "indexes": [
            {"fields": ["organisation", "worker_id", "-created_at"]},
            {"fields": ["stored_at"]},
            {"fields": ["needs_action", "escalate_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    organisation = me.StringField(required=True)
    worker_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    title = me.StringField(required=True)
    body = me.StringField(default="")
    client_id = me.StringField(default="")
    referral_id = me.StringField(default="")
    centre_id = me.StringField(default="")
    routing_reason = me.StringField(default="")
    created_at = me.DateTimeField(required=True)
    read_at = me.DateTimeField()
    # What it is about and its id, e.g. "task" and the task's id (empty on old ones).
    subject_kind = me.StringField(default="")
    subject_id = me.StringField(default="")
    priority = me.StringField(default="")
    links = me.ListField(me.DictField())
    needs_action = me.BooleanField(default=False)
    # When it goes up the chain if still unread; cleared when read or at the top.
    escalate_at = me.DateTimeField()
    escalation_level = me.IntField(default=0)
    # The moment of the insert (not of the event): live inboxes poll by it.
    stored_at = me.DateTimeField()


def _to_domain(doc: NotificationDocument) -> Notification:
    return Notification(
        notification_id=doc.id,
        organisation=doc.organisation,
        worker_id=doc.worker_id,
        kind=doc.kind,
        title=doc.title,
        body=doc.body,
        client_id=doc.client_id,
        referral_id=doc.referral_id,
        centre_id=doc.centre_id,
        routing_reason=doc.routing_reason,
        created_at=doc.created_at,
        read_at=doc.read_at,
        subject_kind=doc.subject_kind or "",
        subject_id=doc.subject_id or "",
        priority=doc.priority or "",
        links=tuple(Link(str(k.get("kind", "")), str(k.get("id", ""))) for k in doc.links or []),
        needs_action=bool(doc.needs_action),
        escalate_at=doc.escalate_at,
        escalation_level=doc.escalation_level or 0,
    )


def from_raw(raw: dict[str, object]) -> Notification:
    return _to_domain(NotificationDocument._from_son(raw))


def _to_raw(n: Notification) -> dict[str, object]:
    doc = NotificationDocument(
        id=n.notification_id,
        organisation=n.organisation,
        worker_id=n.worker_id,
        kind=n.kind,
        title=n.title,
        body=n.body,
        client_id=n.client_id,
        referral_id=n.referral_id,
        centre_id=n.centre_id,
        routing_reason=n.routing_reason,
        created_at=n.created_at,
        read_at=n.read_at,
        subject_kind=n.subject_kind,
        subject_id=n.subject_id,
        priority=n.priority,
        links=[{"kind": link.kind, "id": link.id} for link in n.links],
        needs_action=n.needs_action,
        escalate_at=n.escalate_at,
        escalation_level=n.escalation_level,
        stored_at=stored_now(),
    )
    doc.validate()
    return dict(doc.to_mongo())


class InboxRepository(ScopedRepository[NotificationDocument]):
    """One worker's inbox (or, for the system, any inbox of the organisation): scoped
    by worker, not by centre."""

    document = NotificationDocument
    what = "notification"

    def __init__(self, organisation: str, worker_id: str | None) -> None:
        super().__init__(organisation)
        self._worker_id = worker_id

    def _narrow(self, query: me.QuerySet) -> me.QuerySet:
        if self._worker_id is None:
            return query
        return query.filter(worker_id=self._worker_id)

    def deliver(self, notifications: list[Notification]) -> int:
        """Insert; a notification already there (redelivered event) is left as it is."""
        if not notifications:
            return 0
        collection = NotificationDocument._get_collection()
        if len(notifications) == 1:
            try:
                collection.insert_one(_to_raw(notifications[0]))
                return 1
            except DuplicateKeyError:
                return 0
        # One round trip for a batch (a minute's reminders); the duplicates are refused
        # one by one by the unique id and the rest go in.
        refused = insert_many_new(collection, [_to_raw(n) for n in notifications])
        return len(notifications) - len(refused)

    def page(self, *, unread_only: bool, offset: int, limit: int) -> list[Notification]:
        query = self._scoped()
        if unread_only:
            query = query.filter(read_at=None)
        docs = query.order_by("-created_at", "id").skip(offset).limit(limit)
        return [_to_domain(doc) for doc in docs]

    def unread_count(self) -> int:
        return sum(self.unread_by_kind().values())

    def unread_by_kind(self) -> dict[str, int]:
        """Unread notifications per kind (one aggregate: the development server's
        count scans, its aggregate does not)."""
        match: dict[str, object] = {"organisation": self._organisation, "read_at": None}
        if self._worker_id is not None:
            match["worker_id"] = self._worker_id
        rows = NotificationDocument._get_collection().aggregate(
            [{"$match": match}, {"$group": {"_id": "$kind", "n": {"$sum": 1}}}]
        )
        return {str(row["_id"]): int(row["n"]) for row in rows if row["n"]}

    def get(self, notification_id: str) -> Notification:
        return _to_domain(self._one(notification_id))

    def save(self, notification: Notification) -> None:
        """Replace a notification of this inbox; another inbox's is NotFound."""
        query: dict[str, object] = {
            "_id": notification.notification_id,
            "organisation": self._organisation,
        }
        if self._worker_id is not None:
            query["worker_id"] = self._worker_id
        collection = NotificationDocument._get_collection()
        stored = collection.find_one(query, {"stored_at": 1})
        raw = _to_raw(notification)
        # Whole, never a `$set` of a moment (see adapters.claims); its insert moment
        # kept, so live inboxes do not take it for a new one.
        raw["stored_at"] = stored.get("stored_at") if stored else None
        result = collection.replace_one(query, raw)
        if stored is None or result.matched_count != 1:
            raise NotFound(f"notification {notification.notification_id} not found")


def stored_since(moment: datetime, workers: list[str], limit: int = 1000) -> list[dict[str, Any]]:
    """Notifications of these workers inserted at or after `moment`, oldest first: the
    live inboxes' feed."""
    cursor = (
        NotificationDocument._get_collection()
        .find({"stored_at": {"$gte": moment}, "worker_id": {"$in": workers}})
        .sort("stored_at", 1)
        .limit(limit)
    )
    return list(cursor)


def escalation_due(now: datetime, limit: int = 100) -> list[Notification]:
    docs = (
        NotificationDocument._get_collection()
        .find({"needs_action": True, "read_at": None, "escalate_at": {"$lte": now}})
        .limit(limit)
    )
    return [from_raw(doc) for doc in docs]


def claim_escalation(n: Notification, level: int, next_at: datetime | None) -> bool:
    """Move a notification one step up its chain, once: only the replica whose update
    finds it still at its level and unread wins."""
    return replace_where(
        NotificationDocument._get_collection(),
        {"_id": n.notification_id, "escalation_level": n.escalation_level, "read_at": None},
        {"escalation_level": level, "escalate_at": next_at},
    )


def existing_ids(ids: Iterable[str]) -> set[str]:
    wanted = list(ids)
    found = NotificationDocument._get_collection().find({"_id": {"$in": wanted}}, {"_id": 1})
    return {str(doc["_id"]) for doc in found}


class PublishedRulesDocument(me.Document):
    """notify's read model of intake's routing rules: the latest published version per
    organisation."""

    meta = {"collection": "published_routing_rules"}

    id = me.StringField(primary_key=True)  # the organisation
    rule_set_version = me.IntField(required=True)
    rules = me.ListField(me.DictField())
    received_at = me.DateTimeField(required=True)


class PublishedRulesRepository:
    def __init__(self) -> None:
        # organisation -> (marker, rule set): the rule set last read whole.
        self._known: dict[str, tuple[tuple[int, str], PublishedRules]] = {}

    def keep_latest(self, published: PublishedRules, now: datetime) -> bool:
        """Store a published version unless a newer one is stored already (events may
        arrive out of order or twice); answers whether it was stored.

        An insert for the organisation's first version, else an update guarded by the
        version. Not one upsert with the guard in its filter: on a real MongoDB that
        collides with the existing id, and the development server silently does
        nothing, so neither says clearly what happened."""
        fields = {
            "rule_set_version": published.version,
            "rules": [rule_to_dict(r) for r in published.rules],
            "received_at": now,
        }
        collection = PublishedRulesDocument._get_collection()
        if insert_new(collection, {"_id": published.organisation, **fields}):
            return True
        result = collection.update_one(
            {"_id": published.organisation, "rule_set_version": {"$lt": published.version}},
            {"$set": fields},
        )
        return bool(result.matched_count)

    def latest(self, organisation: str) -> PublishedRules | None:
        """The latest stored version, read whole only when its marker differs from the
        one this repository read last: every routed event asks, and the marker is one
        small read by id where the rule set is a document to fetch and parse.

        The marker is the version and the moment it was stored, not the version alone:
        a database emptied and given another set under a reused version number must not
        be answered from memory. Each events process keeps its own copy, and whichever
        process stored a new version, the next event any of them routes sees it."""
        collection = PublishedRulesDocument._get_collection()
        marker = collection.find_one(
            {"_id": organisation}, {"rule_set_version": 1, "received_at": 1}
        )
        if marker is None:
            return None
        known = self._known.get(organisation)
        if known is not None and known[0] == _stamp(marker):
            return known[1]
        doc = collection.find_one({"_id": organisation})
        if doc is None:
            return None
        published = rules_from_payload(
            organisation,
            {"version": doc["rule_set_version"], "rules": list(doc["rules"]), "fallback": FALLBACK},
        )
        # Under the stamp of the document read whole: a version stored between the two
        # reads is then read whole on the next event, not hidden behind the older stamp.
        self._known[organisation] = (_stamp(doc), published)
        return published


def _stamp(stored: dict[str, Any]) -> tuple[int, str]:
    # As text: the development server may answer a stored moment as a string.
    return stored["rule_set_version"], str(stored.get("received_at"))
