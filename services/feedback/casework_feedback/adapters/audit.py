"""feedback's audit trail: who read or changed a client's feedback (a complaint's text,
a named response, a call), when and under which trace. Anonymous records name no
client and are not audited: there is nobody to protect by it."""

from __future__ import annotations

import mongoengine as me

from casework_common.unit_of_work import UnitOfWork


class AuditDocument(me.Document):
    meta = {"collection": "audit", "indexes": [{"fields": ["organisation", "client_id", "-at"]}]}

    organisation = me.StringField(required=True)
    client_id = me.StringField(required=True)
    subject = me.StringField(required=True)
    action = me.StringField(required=True)
    record = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    trace_id = me.StringField(default="")


def audit(uow: UnitOfWork, organisation: str, client_id: str, action: str, record: str) -> None:
    """One line of the trail; nothing for a record that names no client."""
    if not client_id:
        return
    AuditDocument(
        organisation=organisation,
        client_id=client_id,
        subject=uow.actor.subject,
        action=action,
        record=record,
        at=uow.now,
        trace_id=uow.trace.trace_id,
    ).save()
