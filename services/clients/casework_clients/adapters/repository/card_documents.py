"""How a client card and its audit trail are stored: the documents, and the mapping
between a card and its document (statistics facts are written beside it)."""

from __future__ import annotations

from datetime import date
from typing import Any

import mongoengine as me

from casework_clients.adapters.repository.stat_facts import (
    CLIENT,
    fact_rows,
)
from casework_clients.domain.cards import (
    AbsorbedStatus,
    AttachedConsultation,
    ClientCard,
    Consultation,
    Contract,
    HistoryEntry,
)
from casework_clients.domain.enrolments import Enrolment, open_projects
from casework_clients.domain.records import (
    ConsentAction,
    ConsentPurpose,
    ConsentRecord,
    ContactChannel,
    ContactKind,
    ContactPoint,
    ContactRecord,
    Note,
    ResponsibleWorker,
)
from casework_clients.domain.statistics import timeline_facts
from casework_clients.domain.status import (
    ClientStatus,
    EntrySource,
    StatusEntry,
)
from casework_common.storage import AggregateDocument


class ClientDocument(AggregateDocument):
    meta = {
        "collection": "clients",
        # Cards stored with a field since retired (the old in-document search keys, see
        # RETIRED_INDEXES) still load; their next save, which replaces the whole
        # document, drops it.
        "strict": False,
        "indexes": [
            {"fields": ["identity_key"], "unique": True},
            {"fields": ["organisation", "centre_ids", "-registered_at"]},
            # The inactivity sweep and statistics.
            {"fields": ["organisation", "status", "last_activity_on"]},
            {"fields": ["organisation", "region_id"]},
            # Intake's contacts about a referral find its card.
            {"fields": ["organisation", "referral_ids"]},
        ],
    }

    id = me.StringField(primary_key=True)
    identity_key = me.StringField(required=True)
    given_name = me.StringField(required=True)
    family_name = me.StringField(required=True)
    # "" for a person without papers.
    date_of_birth = me.StringField(default="")
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
    status_entries = me.ListField(me.DictField())
    contracts = me.ListField(me.DictField())
    last_contact_on = me.StringField(default="")
    # Derived at write time (the later of last contact and last status entry), so the
    # inactivity sweep finds due cards with one indexed range query.
    last_activity_on = me.StringField(default="")
    archived = me.BooleanField(default=False)
    merged_into = me.StringField(default="")
    merged_from = me.ListField(me.StringField())
    consultation_ids = me.ListField(me.StringField())
    # The joined consultations' content (see ClientCard.consultations).
    consultations = me.ListField(me.DictField())
    # Card details (see domain.records); the last three lists are append-only.
    contacts = me.ListField(me.DictField())
    responsible_workers = me.ListField(me.DictField())
    consent_records = me.ListField(me.DictField())
    notes = me.ListField(me.DictField())
    contact_records = me.ListField(me.DictField())
    # A possible duplicate of a card in another centre (see domain.proposals).
    duplicate_of = me.StringField(default="")
    # The project whose status settings govern the card, and how the person came.
    project_id = me.StringField(default="")
    channel = me.StringField(default="")
    # "yes" while a signed contract may still move the status (see
    # ClientCard.contract_awaits_status): a string, because the development server may
    # store a boolean False written by `$set` as 0.
    contract_awaits = me.StringField(default="")
    # Status histories of cards merged into this one (see ClientCard.absorbed_status).
    absorbed_status = me.ListField(me.DictField())
    # Enrolments in projects (see domain.enrolments), and the projects of the open ones
    # derived at write time, so that a list by project is one query.
    enrolments = me.ListField(me.DictField())
    open_project_ids = me.ListField(me.StringField())


#: Indexes of fields cards no longer store: search keys moved to their own rows
#: (search_index.SearchKeyDocument), and nothing finds a card by date of birth alone.
#: A database from before keeps them, and would update them on every card write
#: (on MongoDB a multikey index of twenty-odd keys a card) for nothing.
RETIRED_INDEXES = (
    [("organisation", 1), ("search_keys", 1)],
    [("organisation", 1), ("date_of_birth", 1)],
    [("organisation", 1), ("phone_key", 1)],
    [("organisation", 1), ("email_key", 1)],
)


def retire_indexes() -> list[str]:
    """Drop the RETIRED_INDEXES a database still has; answers their names."""
    collection = ClientDocument._get_collection()
    dropped = []
    for name, info in collection.index_information().items():
        if [(field, int(way)) for field, way in info["key"]] in RETIRED_INDEXES:
            collection.drop_index(name)
            dropped.append(name)
    return dropped


class AuditEntry(me.Document):
    """Who read or changed which client's personal data, and when."""

    meta = {
        "collection": "audit_trail",
        "indexes": ["client_id", "-at", {"fields": ["organisation", "client_id", "-at"]}],
    }

    organisation = me.StringField(required=True)
    client_id = me.StringField(required=True)
    subject = me.StringField(required=True)
    action = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    trace_id = me.StringField()


class ShownCardsEntry(me.Document):
    """The cards one answer showed its caller (a search's candidates), in one record: a
    row per card made the audit most of what a search wrote. A card's audit trail reads
    these beside its own rows (see ClientRepository.audit_entries)."""

    meta = {
        "collection": "audit_shown",
        # Found by `client_ids: {$in: [id]}`: on MongoDB a multikey index; the
        # development wire server answers an equality on an indexed array with nothing,
        # and `$in` by reading the collection (a data-protection officer's rare read).
        "indexes": [{"fields": ["organisation", "client_ids", "-at"]}],
    }

    organisation = me.StringField(required=True)
    client_ids = me.ListField(me.StringField(), required=True)
    subject = me.StringField(required=True)
    action = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    trace_id = me.StringField()


class StoredCard:
    """A card's stored document as it came from the database, read like a
    ClientDocument without building one (mongoengine takes about a millisecond a card
    to, which is most of a search's answer). Fields left out by a projection read as
    their defaults."""

    _CONVERTED = (me.DateTimeField, me.BooleanField, me.IntField)

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        field = ClientDocument._fields[name]
        value = self._raw.get(field.db_field)
        if value is None:
            return field.default() if callable(field.default) else field.default
        return field.to_python(value) if isinstance(field, self._CONVERTED) else value


def to_card(doc: ClientDocument | StoredCard) -> ClientCard:
    return ClientCard(
        client_id=doc.id,
        organisation=doc.organisation,
        identity_key=doc.identity_key,
        given_name=doc.given_name,
        family_name=doc.family_name,
        date_of_birth=date.fromisoformat(doc.date_of_birth) if doc.date_of_birth else None,
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
        status_entries=tuple(entry_from_dict(e) for e in doc.status_entries),
        contracts=tuple(
            Contract(
                contract_id=c["contract_id"],
                signed_on=date.fromisoformat(c["signed_on"]),
                valid_until=date.fromisoformat(c["valid_until"]) if c.get("valid_until") else None,
                recorded_at=c["recorded_at"],
            )
            for c in doc.contracts
        ),
        last_contact_on=date.fromisoformat(doc.last_contact_on) if doc.last_contact_on else None,
        archived=bool(doc.archived),
        merged_into=doc.merged_into or "",
        merged_from=tuple(doc.merged_from),
        consultation_ids=tuple(doc.consultation_ids),
        consultations=tuple(_attached_from_dict(a) for a in doc.consultations or ()),
        contacts=tuple(
            ContactPoint(ContactKind(c["kind"]), c["value"], c.get("label", ""))
            for c in doc.contacts or ()
        ),
        responsible_workers=tuple(
            ResponsibleWorker(w["worker_id"], w["assigned_at"], w.get("assigned_by", ""))
            for w in doc.responsible_workers or ()
        ),
        consent_records=tuple(_consent_from_dict(c) for c in doc.consent_records or ()),
        notes=tuple(
            Note(n["note_id"], n["author"], n["at"], n["text"], n.get("corrects_note_id", ""))
            for n in doc.notes or ()
        ),
        contact_records=tuple(
            ContactRecord(
                contact_id=c["contact_id"],
                on=date.fromisoformat(c["on"]),
                channel=ContactChannel(c["channel"]),
                worker_id=c["worker_id"],
                summary=c["summary"],
                recorded_at=c["recorded_at"],
                recorded_by=c.get("recorded_by", ""),
            )
            for c in doc.contact_records or ()
        ),
        duplicate_of=doc.duplicate_of or "",
        project_id=doc.project_id or "",
        channel=doc.channel or "",
        absorbed_status=tuple(
            AbsorbedStatus(a["client_id"], tuple(entry_from_dict(e) for e in a["entries"]))
            for a in doc.absorbed_status or ()
        ),
        enrolments=tuple(_enrolment_from_dict(e) for e in doc.enrolments or ()),
    )


def _enrolment_to_dict(e: Enrolment) -> dict[str, Any]:
    return {
        "project_id": e.project_id,
        "since": e.since.isoformat(),
        "until": e.until.isoformat() if e.until else "",
        "enrolled_by": e.enrolled_by,
        "enrolled_at": e.enrolled_at,
        "end_reason": e.end_reason,
        "ended_by": e.ended_by,
        "lead": "yes" if e.lead else "",
    }


def _enrolment_from_dict(raw: dict[str, Any]) -> Enrolment:
    return Enrolment(
        project_id=raw["project_id"],
        since=date.fromisoformat(raw["since"]),
        enrolled_by=raw.get("enrolled_by", ""),
        enrolled_at=raw["enrolled_at"],
        until=date.fromisoformat(raw["until"]) if raw.get("until") else None,
        end_reason=raw.get("end_reason", ""),
        ended_by=raw.get("ended_by", ""),
        lead=bool(raw.get("lead")),
    )


def _attached_to_dict(a: AttachedConsultation) -> dict[str, Any]:
    c = a.consultation
    return {
        "consultation_id": c.consultation_id,
        "given_name": c.given_name,
        "family_name": c.family_name,
        "date_of_birth": c.date_of_birth.isoformat() if c.date_of_birth else "",
        "phone": c.phone,
        "email": c.email,
        "topic": c.topic,
        "duration_minutes": c.duration_minutes,
        "worker_id": c.worker_id,
        "channel": c.channel,
        "centre_id": c.centre_id,
        "recorded_at": c.recorded_at,
        "attached_at": a.attached_at,
        "attached_by": a.attached_by,
        "how": a.how,
    }


def _attached_from_dict(raw: dict[str, Any]) -> AttachedConsultation:
    born = raw.get("date_of_birth") or ""
    return AttachedConsultation(
        Consultation(
            consultation_id=raw["consultation_id"],
            organisation="",
            given_name=raw.get("given_name", ""),
            family_name=raw.get("family_name", ""),
            date_of_birth=date.fromisoformat(born) if born else None,
            phone=raw.get("phone", ""),
            email=raw.get("email", ""),
            topic=raw.get("topic", ""),
            duration_minutes=int(raw.get("duration_minutes", 0)),
            worker_id=raw.get("worker_id", ""),
            channel=raw.get("channel", ""),
            centre_id=raw.get("centre_id", ""),
            recorded_at=raw["recorded_at"],
        ),
        raw["attached_at"],
        raw.get("attached_by", ""),
        raw.get("how", ""),
    )


def _consent_from_dict(raw: dict[str, Any]) -> ConsentRecord:
    return ConsentRecord(
        consent_id=raw["consent_id"],
        purpose=ConsentPurpose(raw["purpose"]),
        partner=raw.get("partner", ""),
        action=ConsentAction(raw["action"]),
        on=date.fromisoformat(raw["on"]),
        recorded_by=raw["recorded_by"],
        recorded_at=raw["recorded_at"],
        document_ref=raw.get("document_ref", ""),
        note=raw.get("note", ""),
    )


def _consent_to_dict(record: ConsentRecord) -> dict[str, Any]:
    return {
        "consent_id": record.consent_id,
        "purpose": record.purpose.value,
        "partner": record.partner,
        "action": record.action.value,
        "on": record.on.isoformat(),
        "recorded_by": record.recorded_by,
        "recorded_at": record.recorded_at,
        "document_ref": record.document_ref,
        "note": record.note,
    }


def entry_to_dict(entry: StatusEntry) -> dict[str, Any]:
    return {
        "status": entry.status.value,
        "effective_on": entry.effective_on.isoformat(),
        "recorded_at": entry.recorded_at,
        "source": entry.source.value,
        "actor": entry.actor,
        "reason": entry.reason or "",
        "explanation": entry.explanation,
        "sequence": entry.sequence,
        "episode": entry.episode,
        "supersedes": list(entry.supersedes),
    }


def entry_from_dict(raw: dict[str, Any]) -> StatusEntry:
    return StatusEntry(
        status=ClientStatus(raw["status"]),
        effective_on=date.fromisoformat(raw["effective_on"]),
        recorded_at=raw["recorded_at"],
        source=EntrySource(raw["source"]),
        actor=raw["actor"],
        reason=raw.get("reason") or None,
        explanation=raw.get("explanation", ""),
        sequence=int(raw["sequence"]),
        episode=int(raw.get("episode", 1)),
        supersedes=tuple(int(s) for s in raw.get("supersedes") or ()),
    )


def to_document(card: ClientCard) -> ClientDocument:
    return ClientDocument(
        id=card.client_id,
        organisation=card.organisation,
        identity_key=card.identity_key,
        given_name=card.given_name,
        family_name=card.family_name,
        date_of_birth=card.date_of_birth.isoformat() if card.date_of_birth else "",
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
        status_entries=[entry_to_dict(e) for e in card.status_entries],
        contracts=[
            {
                "contract_id": c.contract_id,
                "signed_on": c.signed_on.isoformat(),
                "valid_until": c.valid_until.isoformat() if c.valid_until else "",
                "recorded_at": c.recorded_at,
            }
            for c in card.contracts
        ],
        last_contact_on=card.last_contact_on.isoformat() if card.last_contact_on else "",
        last_activity_on=card.last_activity_on.isoformat() if card.last_activity_on else "",
        archived=card.archived,
        merged_into=card.merged_into,
        merged_from=list(card.merged_from),
        consultation_ids=list(card.consultation_ids),
        consultations=[_attached_to_dict(a) for a in card.consultations],
        contacts=[
            {"kind": c.kind.value, "value": c.value, "label": c.label} for c in card.contacts
        ],
        responsible_workers=[
            {"worker_id": w.worker_id, "assigned_at": w.assigned_at, "assigned_by": w.assigned_by}
            for w in card.responsible_workers
        ],
        consent_records=[_consent_to_dict(c) for c in card.consent_records],
        notes=[
            {
                "note_id": n.note_id,
                "author": n.author,
                "at": n.at,
                "text": n.text,
                "corrects_note_id": n.corrects_note_id,
            }
            for n in card.notes
        ],
        contact_records=[
            {
                "contact_id": c.contact_id,
                "on": c.on.isoformat(),
                "channel": c.channel.value,
                "worker_id": c.worker_id,
                "summary": c.summary,
                "recorded_at": c.recorded_at,
                "recorded_by": c.recorded_by,
            }
            for c in card.contact_records
        ],
        duplicate_of=card.duplicate_of,
        project_id=card.project_id,
        channel=card.channel,
        contract_awaits="yes" if card.contract_awaits_status else "",
        absorbed_status=[
            {"client_id": a.client_id, "entries": [entry_to_dict(e) for e in a.entries]}
            for a in card.absorbed_status
        ],
        enrolments=[_enrolment_to_dict(e) for e in card.enrolments],
        open_project_ids=list(open_projects(card.enrolment_record)),
    )


def card_fact_rows(card: ClientCard) -> list[dict[str, Any]]:
    """The card's statistics facts (see stat_facts), as stored with every write."""
    return fact_rows(
        timeline_facts(card.status_history),
        organisation=card.organisation,
        owner_id=card.client_id,
        timeline=CLIENT,
        centre_id=card.centre_ids[0] if card.centre_ids else "",
        region_id=card.region_id,
        current=not card.merged_into,
    )
