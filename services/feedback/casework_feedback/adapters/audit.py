"""feedback's audit trail: who read or changed a client's feedback (a complaint's text,
a named response, a call), when and under which trace. Anonymous records name no
client and are not audited: there is nobody to protect by it. The trail is only ever
appended to; it is read a page at a time within the reader's centres (entries written
before entries named their centre belong to no centre and are listed to nobody)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import mongoengine as me

from casework_common.unit_of_work import UnitOfWork


class AuditDocument(me.Document):
    meta = {
        "collection": "audit",
        "indexes": [
            {"fields": ["organisation", "client_id", "-at"]},
            {"fields": ["organisation", "centre_id", "-at"]},
        ],
    }

    organisation = me.StringField(required=True)
    centre_id = me.StringField(default="")
    client_id = me.StringField(required=True)
    subject = me.StringField(required=True)
    action = me.StringField(required=True)
    record = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    trace_id = me.StringField(default="")


@dataclass(frozen=True)
class AuditEntry:
    subject: str
    action: str
    record: str
    client_id: str
    centre_id: str
    at: datetime
    trace_id: str


def audit(
    uow: UnitOfWork,
    organisation: str,
    client_id: str,
    action: str,
    record: str,
    *,
    centre_id: str,
) -> None:
    """One line of the trail; nothing for a record that names no client."""
    if not client_id:
        return
    AuditDocument(
        organisation=organisation,
        centre_id=centre_id,
        client_id=client_id,
        subject=uow.actor.subject,
        action=action,
        record=record,
        at=uow.now,
        trace_id=uow.trace.trace_id,
    ).save()


def entries(
    organisation: str,
    centres: Iterable[str],
    *,
    client_id: str = "",
    record: str = "",
    offset: int = 0,
    limit: int = 50,
) -> list[AuditEntry]:
    """A page of the trail of `centres`, newest first."""
    query = AuditDocument.objects(organisation=organisation, centre_id__in=sorted(centres))
    if client_id:
        query = query.filter(client_id=client_id)
    if record:
        query = query.filter(record=record)
    found = query.order_by("-at", "-id").skip(offset).limit(limit).as_pymongo()
    return [
        AuditEntry(
            subject=doc["subject"],
            action=doc["action"],
            record=doc["record"],
            client_id=doc["client_id"],
            centre_id=doc.get("centre_id", ""),
            at=doc["at"],
            trace_id=doc.get("trace_id", ""),
        )
        for doc in found
    ]
