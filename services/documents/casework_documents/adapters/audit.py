"""documents' audit trail: who read or changed a client's documents, when, and under
which trace, kept as records a manager reads (ListAuditEntries), never rewritten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import mongoengine as me


@dataclass(frozen=True)
class AuditEntry:
    organisation: str
    client_id: str
    document_id: str
    subject: str
    action: str
    at: datetime
    trace_id: str


class AuditDocument(me.Document):
    meta = {
        "collection": "audit",
        "indexes": [{"fields": ["organisation", "client_id", "-at"]}],
    }

    organisation = me.StringField(required=True)
    client_id = me.StringField(required=True)
    document_id = me.StringField(default="")
    subject = me.StringField(required=True)
    action = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    trace_id = me.StringField(default="")


class AuditTrail:
    def record(self, entry: AuditEntry) -> None:
        AuditDocument(
            organisation=entry.organisation,
            client_id=entry.client_id,
            document_id=entry.document_id,
            subject=entry.subject,
            action=entry.action,
            at=entry.at,
            trace_id=entry.trace_id,
        ).save()

    def of_client(
        self, organisation: str, client_id: str, offset: int, limit: int
    ) -> list[AuditEntry]:
        """Newest first (the trail of one organisation's client, whoever wrote it)."""
        rows = (
            AuditDocument._get_collection()
            .find({"organisation": organisation, "client_id": client_id})
            .sort([("at", -1), ("_id", -1)])
            .skip(offset)
            .limit(limit)
        )
        return [
            AuditEntry(
                organisation=row["organisation"],
                client_id=row["client_id"],
                document_id=row.get("document_id", ""),
                subject=row["subject"],
                action=row["action"],
                at=row["at"] if row["at"].tzinfo else row["at"].replace(tzinfo=UTC),
                trace_id=row.get("trace_id", ""),
            )
            for row in rows
        ]
