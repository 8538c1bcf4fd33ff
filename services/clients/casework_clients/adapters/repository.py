"""Client cards and the audit trail in the clients database (mongoengine).

Centre scoping lives here: a repository made for a worker can only ever read the
cards of the centres in the worker's token, so no handler can forget to filter.
"""

from __future__ import annotations

from datetime import date, datetime

import mongoengine as me

from casework_clients.domain.cards import ClientCard, HistoryEntry
from casework_common.envelope import EventEnvelope
from casework_common.errors import NotFound
from casework_common.storage import AggregateDocument, DuplicateAggregate, save_aggregate


class ClientDocument(AggregateDocument):
    meta = {
        "collection": "clients",
        "indexes": [
            {"fields": ["identity_key"], "unique": True},
            {"fields": ["organisation", "centre_ids", "-registered_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    identity_key = me.StringField(required=True)
    given_name = me.StringField(required=True)
    family_name = me.StringField(required=True)
    date_of_birth = me.StringField(required=True)
    phone = me.StringField(default="")
    email = me.StringField(default="")
    address = me.StringField(default="")
    region_id = me.StringField(required=True)
    centre_ids = me.ListField(me.StringField())
    client_type = me.StringField(required=True)
    problem_types = me.ListField(me.StringField())
    status = me.StringField(required=True)
    referral_ids = me.ListField(me.StringField())
    registered_at = me.DateTimeField(required=True)
    history = me.ListField(me.DictField())


class AuditEntry(me.Document):
    """Who read or changed which client's personal data, and when."""

    meta = {"collection": "audit_trail", "indexes": ["client_id", "-at"]}

    organisation = me.StringField(required=True)
    client_id = me.StringField(required=True)
    subject = me.StringField(required=True)
    action = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    trace_id = me.StringField()


def _to_domain(doc: ClientDocument) -> ClientCard:
    return ClientCard(
        client_id=doc.id,
        organisation=doc.organisation,
        identity_key=doc.identity_key,
        given_name=doc.given_name,
        family_name=doc.family_name,
        date_of_birth=date.fromisoformat(doc.date_of_birth),
        phone=doc.phone,
        email=doc.email,
        address=doc.address,
        region_id=doc.region_id,
        centre_ids=tuple(doc.centre_ids),
        client_type=doc.client_type,
        problem_types=tuple(doc.problem_types),
        status=doc.status,
        referral_ids=tuple(doc.referral_ids),
        registered_at=doc.registered_at,
        history=tuple(HistoryEntry(h["at"], h["what"], h["by"]) for h in doc.history),
        version=doc.version,
    )


def _to_document(card: ClientCard, outbox: list[dict[str, object]]) -> ClientDocument:
    return ClientDocument(
        id=card.client_id,
        organisation=card.organisation,
        identity_key=card.identity_key,
        given_name=card.given_name,
        family_name=card.family_name,
        date_of_birth=card.date_of_birth.isoformat(),
        phone=card.phone,
        email=card.email,
        address=card.address,
        region_id=card.region_id,
        centre_ids=list(card.centre_ids),
        client_type=card.client_type,
        problem_types=list(card.problem_types),
        status=card.status,
        referral_ids=list(card.referral_ids),
        registered_at=card.registered_at,
        history=[{"at": h.at, "what": h.what, "by": h.by} for h in card.history],
        version=card.version,
        outbox=outbox,
    )


class ClientRepository:
    """Cards of one organisation, limited to `centres` (None: every centre, for the
    system's own consumers, never for a caller)."""

    def __init__(self, organisation: str, centres: frozenset[str] | None) -> None:
        self._organisation = organisation
        self._centres = centres

    def _scoped(self) -> me.QuerySet:
        query = ClientDocument.objects(organisation=self._organisation)
        if self._centres is not None:
            query = query.filter(centre_ids__in=list(self._centres))
        return query

    def get(self, client_id: str) -> ClientCard:
        doc = self._scoped().filter(id=client_id).first()
        if doc is None:
            raise NotFound(f"client {client_id} not found")
        return _to_domain(doc)

    def by_identity(self, key: str) -> ClientCard | None:
        doc = self._scoped().filter(identity_key=key).first()
        return _to_domain(doc) if doc else None

    def page(self, *, centre_id: str | None, offset: int, limit: int) -> list[ClientCard]:
        query = self._scoped()
        if centre_id:
            query = query.filter(centre_ids=centre_id)
        docs = query.order_by("-registered_at", "id").skip(offset).limit(limit)
        return [_to_domain(doc) for doc in docs]

    def save(self, card: ClientCard, events: list[EventEnvelope]) -> ClientCard:
        """Store the card with its events; raises DuplicateAggregate for a second card
        of the same identity, Conflict when the card changed since it was read."""
        existing_outbox: list[dict[str, object]] = []
        if card.version:
            stored = ClientDocument.objects(id=card.client_id).only("outbox").first()
            existing_outbox = list(stored.outbox) if stored else []
        doc = _to_document(card, existing_outbox)
        save_aggregate(doc, events)
        return _to_domain(doc)

    def audit(self, client_id: str, subject: str, action: str, at: datetime, trace_id: str) -> None:
        AuditEntry(
            organisation=self._organisation,
            client_id=client_id,
            subject=subject,
            action=action,
            at=at,
            trace_id=trace_id,
        ).save()


__all__ = ["AuditEntry", "ClientDocument", "ClientRepository", "DuplicateAggregate"]
