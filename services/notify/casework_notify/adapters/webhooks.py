"""Partner webhook subscriptions and deliveries in the notify database, the resolver
the SSRF rule reads, and the HTTP sender."""

from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import kombu
import mongoengine as me

from casework_common.errors import NotFound
from casework_notify.adapters.claims import NEVER, claim_due, insert_new, release, replace_where
from casework_notify.domain.webhooks import (
    DEAD,
    PENDING,
    REPLAYED,
    SIGNATURE_HEADER,
    Attempt,
    Delivery,
    Subscription,
    sign,
)


class SubscriptionDocument(me.Document):
    meta = {
        "collection": "webhook_subscriptions",
        "indexes": [{"fields": ["organisation", "event_type", "active"]}],
    }

    id = me.StringField(primary_key=True)
    organisation = me.StringField(required=True)
    event_type = me.StringField(required=True)
    url = me.StringField(required=True)
    secret = me.StringField(required=True)
    active = me.BooleanField(default=True)
    created_at = me.DateTimeField(required=True)


class DeliveryDocument(me.Document):
    meta = {
        "collection": "webhook_deliveries",
        "indexes": [
            {"fields": ["state", "next_attempt_ts"]},
            {"fields": ["organisation", "subscription_id", "-created_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    subscription_id = me.StringField(required=True)
    organisation = me.StringField(required=True)
    event_id = me.StringField(required=True)
    event_type = me.StringField(required=True)
    # The JSON text (not bytes: the development server cannot replace a document
    # holding binary).
    body = me.StringField(required=True)
    state = me.StringField(required=True)
    attempts = me.ListField(me.DictField())
    next_attempt_at = me.DateTimeField(required=True)
    next_attempt_ts = me.FloatField(required=True)  # as a number (see adapters.claims)
    created_at = me.DateTimeField(required=True)
    holder = me.StringField(default="")
    lease_until = me.FloatField(default=NEVER)


def _subscription(raw: dict[str, Any]) -> Subscription:
    return Subscription(
        subscription_id=str(raw["_id"]),
        organisation=raw["organisation"],
        event_type=raw["event_type"],
        url=raw["url"],
        secret=raw["secret"],
        created_at=raw["created_at"],
        active=bool(raw.get("active", True)),
    )


def _delivery(raw: dict[str, Any]) -> Delivery:
    return Delivery(
        delivery_id=str(raw["_id"]),
        subscription_id=raw["subscription_id"],
        organisation=raw["organisation"],
        event_id=raw["event_id"],
        event_type=raw["event_type"],
        body=raw["body"].encode() if isinstance(raw["body"], str) else bytes(raw["body"]),
        next_attempt_at=raw["next_attempt_at"],
        state=raw["state"],
        attempts=tuple(
            Attempt(a["at"], int(a.get("status_code") or 0), a.get("error", ""))
            for a in raw.get("attempts") or []
        ),
        created_at=raw.get("created_at"),
    )


class WebhookRepository:
    """Subscriptions and deliveries of one organisation."""

    def __init__(self, organisation: str) -> None:
        self._organisation = organisation

    # ---------------------------------------------------------------- subscriptions

    def add_subscription(self, subscription: Subscription) -> None:
        doc = SubscriptionDocument(
            id=subscription.subscription_id,
            organisation=subscription.organisation,
            event_type=subscription.event_type,
            url=subscription.url,
            secret=subscription.secret,
            active=subscription.active,
            created_at=subscription.created_at,
        )
        doc.validate()
        SubscriptionDocument._get_collection().insert_one(dict(doc.to_mongo()))

    def subscription(self, subscription_id: str) -> Subscription:
        raw = SubscriptionDocument._get_collection().find_one(
            {"_id": subscription_id, "organisation": self._organisation}
        )
        if raw is None:
            raise NotFound("webhook subscription not found")
        return _subscription(raw)

    def subscriptions(self) -> list[Subscription]:
        rows = SubscriptionDocument._get_collection().find({"organisation": self._organisation})
        return [_subscription(r) for r in rows.sort("created_at", 1)]

    def active_for(self, event_type: str) -> list[Subscription]:
        rows = SubscriptionDocument._get_collection().find(
            {"organisation": self._organisation, "event_type": event_type, "active": True}
        )
        return [_subscription(r) for r in rows]

    def deactivate(self, subscription_id: str) -> Subscription:
        replace_where(
            SubscriptionDocument._get_collection(),
            {"_id": subscription_id, "organisation": self._organisation},
            {"active": False},
        )
        return self.subscription(subscription_id)

    # ------------------------------------------------------------------ deliveries

    def add_delivery(self, delivery: Delivery) -> bool:
        """One per (subscription, event): a redelivered event adds nothing."""
        return insert_new(
            DeliveryDocument._get_collection(),
            {
                "_id": delivery.delivery_id,
                "subscription_id": delivery.subscription_id,
                "organisation": delivery.organisation,
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "body": delivery.body.decode(),
                "state": PENDING,
                "attempts": [],
                "next_attempt_at": delivery.next_attempt_at,
                "next_attempt_ts": delivery.next_attempt_at.timestamp(),
                "created_at": delivery.created_at or delivery.next_attempt_at,
                "holder": "",
                "lease_until": NEVER,
            },
        )

    def delivery(self, delivery_id: str) -> Delivery:
        raw = DeliveryDocument._get_collection().find_one(
            {"_id": delivery_id, "organisation": self._organisation}
        )
        if raw is None:
            raise NotFound("webhook delivery not found")
        return _delivery(raw)

    def deliveries(
        self, subscription_id: str, dead_only: bool, offset: int, limit: int
    ) -> list[Delivery]:
        query: dict[str, Any] = {"organisation": self._organisation}
        if subscription_id:
            query["subscription_id"] = subscription_id
        if dead_only:
            query["state"] = DEAD
        rows = DeliveryDocument._get_collection().find(query).sort([("created_at", -1), ("_id", 1)])
        return [_delivery(r) for r in rows.skip(offset).limit(limit)]

    def replay(self, delivery_id: str, now: datetime) -> bool:
        """A dead letter pending again, its failed attempts kept in the log; the replay
        mark in the log starts a new count."""
        collection = DeliveryDocument._get_collection()
        guard = {"_id": delivery_id, "organisation": self._organisation, "state": DEAD}
        raw = collection.find_one(guard)
        if raw is None:
            return False
        mark = {"at": now, "status_code": REPLAYED, "error": "replayed"}
        return replace_where(
            collection,
            guard,
            {
                "state": PENDING,
                "next_attempt_at": now,
                "next_attempt_ts": now.timestamp(),
                "attempts": [*(raw.get("attempts") or []), mark],
            },
        )


def claim_due_deliveries(
    now: datetime, lease: timedelta, limit: int
) -> list[tuple[Delivery, Subscription | None, str]]:
    claimed = claim_due(
        DeliveryDocument._get_collection(),
        state=PENDING,
        due_field="next_attempt_ts",
        now=now,
        lease=lease,
        limit=limit,
    )
    ids = list({raw["subscription_id"] for raw in claimed})
    subs = {
        str(r["_id"]): _subscription(r)
        for r in SubscriptionDocument._get_collection().find({"_id": {"$in": ids}})
    }
    return [(_delivery(raw), subs.get(raw["subscription_id"]), raw["holder"]) for raw in claimed]


def record_delivery(delivery: Delivery, holder: str, log: list[Attempt]) -> bool:
    return release(
        DeliveryDocument._get_collection(),
        delivery.delivery_id,
        holder,
        {
            "state": delivery.state,
            "next_attempt_at": delivery.next_attempt_at,
            "next_attempt_ts": delivery.next_attempt_at.timestamp(),
            "attempts": [{"at": a.at, "status_code": a.status_code, "error": a.error} for a in log],
        },
    )


log = logging.getLogger(__name__)
# The queue the partner-webhook handler consumes. It is bound to the event types some
# subscription names, not to every event: the broker routes notify only what a partner
# wants, and a forged event of another type is not dead-lettered here a second time.
WEBHOOK_QUEUE = "notify.partner-webhooks"


def subscribed_event_types() -> list[str]:
    rows = SubscriptionDocument._get_collection().find({"active": True}, {"event_type": 1})
    return sorted({str(row["event_type"]) for row in rows})


def bind_event_types(amqp_uri: str, exchange: str, event_types: list[str]) -> bool:
    """Bind the webhook queue to these routing keys (idempotent); False when the broker
    refused or the queue does not exist yet (its process binds every subscribed type
    when it starts, and again now and then)."""
    if not event_types:
        return True
    try:
        with kombu.Connection(amqp_uri, connect_timeout=5) as connection:
            channel = connection.channel()
            for event_type in event_types:
                channel.queue_bind(queue=WEBHOOK_QUEUE, exchange=exchange, routing_key=event_type)
        return True
    except Exception:
        log.warning("binding the partner-webhook queue failed", exc_info=True)
        return False


def resolve(url: str) -> list[str]:
    """Every address the URL's host resolves to (empty when it does not)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


class HttpSender:
    """POSTs a delivery, signed; answers the attempt (status 0 when nothing came back)."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        # Never follow a redirect: it could lead to an address the rule refused.
        self._opener = urllib.request.build_opener(_NoRedirect())

    def post(self, subscription: Subscription, delivery: Delivery, now: datetime) -> Attempt:
        timestamp = int(now.timestamp())
        request = urllib.request.Request(
            subscription.url,
            data=delivery.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "casework-notify-webhooks/1",
                SIGNATURE_HEADER: sign(subscription.secret, timestamp, delivery.body),
                "X-Casework-Event-Id": delivery.event_id,
                "X-Casework-Event-Type": delivery.event_type,
                "X-Casework-Delivery-Id": delivery.delivery_id,
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as reply:
                reply.read(65536)
                return Attempt(now, int(reply.status), "")
        except urllib.error.HTTPError as exc:
            return Attempt(now, int(exc.code), f"HTTP {exc.code}")
        except (OSError, ValueError) as exc:
            return Attempt(now, 0, f"{type(exc).__name__}: {str(exc)[:200]}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
