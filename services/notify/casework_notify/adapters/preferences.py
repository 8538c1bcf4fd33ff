"""Workers' notification preferences and the read model of clients' consents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import mongoengine as me

from casework_notify.adapters.claims import insert_new
from casework_notify.domain.consent import ConsentChange, newer
from casework_notify.domain.email import Preferences, parse_clock


class PreferencesDocument(me.Document):
    meta = {"collection": "preferences"}

    id = me.StringField(primary_key=True)  # organisation:worker
    organisation = me.StringField(required=True)
    worker_id = me.StringField(required=True)
    email_kinds = me.ListField(me.StringField())
    quiet_from = me.StringField(default="")
    quiet_until = me.StringField(default="")
    time_zone = me.StringField(default="")
    updated_at = me.DateTimeField()


def _clock(value: Any) -> str:
    return value.strftime("%H:%M") if value is not None else ""


class PreferencesRepository:
    def get(self, organisation: str, worker_id: str) -> Preferences | None:
        return self.get_many(organisation, {worker_id}).get(worker_id)

    def get_many(self, organisation: str, workers: set[str]) -> dict[str, Preferences]:
        """The preferences of these workers who set any, in one query."""
        rows = PreferencesDocument._get_collection().find(
            {"_id": {"$in": [f"{organisation}:{w}" for w in sorted(workers)]}}
        )
        return {row["worker_id"]: self._read(organisation, row) for row in rows}

    @staticmethod
    def _read(organisation: str, raw: dict[str, Any]) -> Preferences:
        worker_id = raw["worker_id"]
        return Preferences(
            organisation=organisation,
            worker_id=worker_id,
            email_kinds=frozenset(raw.get("email_kinds") or []),
            quiet_from=parse_clock(raw.get("quiet_from", "")),
            quiet_until=parse_clock(raw.get("quiet_until", "")),
            time_zone=raw.get("time_zone", ""),
        )

    def put(self, preferences: Preferences, now: datetime) -> None:
        key = f"{preferences.organisation}:{preferences.worker_id}"
        document = {
            "_id": key,
            "organisation": preferences.organisation,
            "worker_id": preferences.worker_id,
            "email_kinds": sorted(preferences.email_kinds),
            "quiet_from": _clock(preferences.quiet_from),
            "quiet_until": _clock(preferences.quiet_until),
            "time_zone": preferences.time_zone,
            "updated_at": now,
        }
        # Not a replace with upsert: the development server does not insert then.
        collection = PreferencesDocument._get_collection()
        if not insert_new(collection, document):
            collection.replace_one({"_id": key}, document)


class ConsentDocument(me.Document):
    """One consent purpose of one card: given or not, as of its latest change."""

    meta = {"collection": "client_consents"}

    id = me.StringField(primary_key=True)  # organisation:client:purpose
    organisation = me.StringField(required=True)
    client_id = me.StringField(required=True)
    purpose = me.StringField(required=True)
    given = me.BooleanField(required=True)
    on = me.StringField(required=True)
    occurred_at = me.DateTimeField(required=True)
    event_id = me.StringField(required=True)


class ConsentRepository:
    def apply(self, change: ConsentChange) -> bool:
        """Keep the change unless a later one is stored (events arrive in any order)."""
        key = f"{change.organisation}:{change.client_id}:{change.purpose}"
        fields = {
            "organisation": change.organisation,
            "client_id": change.client_id,
            "purpose": change.purpose,
            "given": change.given,
            "on": change.on,
            "occurred_at": change.occurred_at,
            "event_id": change.event_id,
        }
        collection = ConsentDocument._get_collection()
        if insert_new(collection, {"_id": key, **fields}):
            return True
        stored = collection.find_one({"_id": key})
        if stored is None or not newer(change, stored["on"], stored["occurred_at"]):
            return False
        result = collection.replace_one(
            {"_id": key, "event_id": stored["event_id"]}, {"_id": key, **fields}
        )
        return bool(result.matched_count)

    def given(self, organisation: str, client_id: str) -> set[str]:
        rows = ConsentDocument._get_collection().find(
            {"organisation": organisation, "client_id": client_id, "given": True}
        )
        return {str(row["purpose"]) for row in rows}
