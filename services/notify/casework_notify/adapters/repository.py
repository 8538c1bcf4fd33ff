"""Inbox notifications and the read model of published routing rules in the notify
database (mongoengine)."""

from __future__ import annotations

from datetime import datetime

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from casework_common.errors import NotFound
from casework_common.repository import ScopedRepository
from casework_common.routing import FALLBACK, rule_to_dict
from casework_notify.domain.inbox import Notification
from casework_notify.domain.routing import PublishedRules, rules_from_payload


class NotificationDocument(me.Document):
    meta = {
        "collection": "notifications",
        "indexes": [{"fields": ["organisation", "worker_id", "-created_at"]}],
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
    )


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
        collection = NotificationDocument._get_collection()
        added = 0
        for notification in notifications:
            try:
                collection.insert_one(_to_raw(notification))
                added += 1
            except DuplicateKeyError:
                pass
        return added

    def page(self, *, unread_only: bool, offset: int, limit: int) -> list[Notification]:
        query = self._scoped()
        if unread_only:
            query = query.filter(read_at=None)
        docs = query.order_by("-created_at", "id").skip(offset).limit(limit)
        return [_to_domain(doc) for doc in docs]

    def unread_count(self) -> int:
        return int(self._scoped().filter(read_at=None).count())

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
        result = NotificationDocument._get_collection().replace_one(query, _to_raw(notification))
        if result.matched_count != 1:
            raise NotFound(f"notification {notification.notification_id} not found")


class PublishedRulesDocument(me.Document):
    """notify's read model of intake's routing rules: the latest published version per
    organisation."""

    meta = {"collection": "published_routing_rules"}

    id = me.StringField(primary_key=True)  # the organisation
    rule_set_version = me.IntField(required=True)
    rules = me.ListField(me.DictField())
    received_at = me.DateTimeField(required=True)


class PublishedRulesRepository:
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
        try:
            collection.insert_one({"_id": published.organisation, **fields})
            return True
        except DuplicateKeyError:
            pass
        result = collection.update_one(
            {"_id": published.organisation, "rule_set_version": {"$lt": published.version}},
            {"$set": fields},
        )
        return bool(result.matched_count)

    def latest(self, organisation: str) -> PublishedRules | None:
        doc = PublishedRulesDocument.objects(id=organisation).first()
        if doc is None:
            return None
        return rules_from_payload(
            organisation,
            {"version": doc.rule_set_version, "rules": list(doc.rules), "fallback": FALLBACK},
        )
