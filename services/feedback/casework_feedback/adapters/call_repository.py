"""Follow-up calls in feedback's database, and its read model of clients' consent to
feedback calls (from clients' events)."""

from __future__ import annotations

import mongoengine as me

from casework_common.repository import (
    UTC_INSTANT,
    AggregateRepository,
    StoredFields,
    enum_value,
)
from casework_common.storage import AggregateDocument
from casework_feedback.adapters.repository import at
from casework_feedback.domain import followup


class CallDocument(AggregateDocument):
    meta = {
        "collection": "follow_up_calls",
        "indexes": [{"fields": ["organisation", "client_id", "status"]}],
    }

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    client_id = me.StringField(required=True)
    occasion_id = me.StringField(default="")
    due_at = me.DateTimeField(required=True)
    status = me.StringField(required=True)
    assignee_id = me.StringField(default="")
    cancelled_because = me.StringField(default="")


CALL_FIELDS = StoredFields(
    followup.FollowUpCall,
    "call_id",
    kind=enum_value(followup.CallKind),
    status=enum_value(followup.CallStatus),
    due_at=UTC_INSTANT,
)


class CallRepository(AggregateRepository[CallDocument, followup.FollowUpCall]):
    document = CallDocument
    fields = CALL_FIELDS
    what = "follow-up call"

    def of_centre(self, centre_id: str, status: str = "") -> list[followup.FollowUpCall]:
        query = self._scoped().filter(centre_id=centre_id)
        if status:
            query = query.filter(status=status)
        return [CALL_FIELDS.read(d) for d in query.order_by("due_at", "id")]

    def pending_of_client(self, client_id: str) -> list[followup.FollowUpCall]:
        query = self._scoped().filter(client_id=client_id, status=followup.CallStatus.PENDING.value)
        return [CALL_FIELDS.read(d) for d in query]


# ------------------------------------------------------------------ consent


class ConsentDocument(me.Document):
    """feedback's read model of clients' consent to feedback calls."""

    meta = {"collection": "consent_feedback_calls"}

    id = me.StringField(primary_key=True)  # "<organisation>|<client_id>"
    organisation = me.StringField(required=True)
    client_id = me.StringField(required=True)
    granted = me.BooleanField(required=True)
    as_of = me.DateTimeField(required=True)
    event_id = me.StringField(default="")


class ConsentRepository:
    def __init__(self, organisation: str) -> None:
        self._organisation = organisation

    def _key(self, client_id: str) -> str:
        return f"{self._organisation}|{client_id}"

    def get(self, client_id: str) -> followup.ConsentState | None:
        doc = ConsentDocument.objects(id=self._key(client_id)).first()
        if doc is None:
            return None
        return followup.ConsentState(doc.client_id, bool(doc.granted), at(doc.as_of))

    def keep(self, state: followup.ConsentState) -> None:
        """Store the state `apply_consent` decided (it already refused older news)."""
        ConsentDocument._get_collection().replace_one(
            {"_id": self._key(state.client_id)},
            {
                "_id": self._key(state.client_id),
                "organisation": self._organisation,
                "client_id": state.client_id,
                "granted": state.granted,
                "as_of": state.as_of,
            },
            upsert=True,
        )
