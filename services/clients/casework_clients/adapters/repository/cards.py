"""Client cards and the audit trail in the clients database (mongoengine).

Centre scoping lives here: a repository made for a worker can only ever read the
cards of the centres in the worker's token, so no handler can forget to filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from casework_clients.adapters.repository.stat_facts import (
    CLIENT,
    aggregate_report,
    fact_rows,
    scope_centres,
    store_facts,
)
from casework_clients.domain import search
from casework_clients.domain.cards import (
    AbsorbedStatus,
    AttachedConsultation,
    ClientCard,
    Consultation,
    Contract,
    HistoryEntry,
)
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
from casework_clients.domain.statistics import StatusReport, timeline_facts
from casework_clients.domain.status import (
    ClientStatus,
    EntrySource,
    StatusEntry,
    StatusHistory,
)
from casework_common.envelope import EventEnvelope
from casework_common.errors import NotFound
from casework_common.storage import AggregateDocument, DuplicateAggregate, save_aggregate

# How many candidates one search query may bring back before ranking.
CANDIDATE_LIMIT = 300
NAME_ONLY_LIMIT = 50


class ClientDocument(AggregateDocument):
    meta = {
        "collection": "clients",
        "indexes": [
            {"fields": ["identity_key"], "unique": True},
            {"fields": ["organisation", "centre_ids", "-registered_at"]},
            # Search before register: equality / $in on stored keys only.
            {"fields": ["organisation", "search_keys"]},
            {"fields": ["organisation", "date_of_birth"]},
            {"fields": ["organisation", "phone_key"]},
            {"fields": ["organisation", "email_key"]},
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
    # Normalised search keys, written with the card (see domain.search).
    name_keys = me.ListField(me.StringField())
    search_keys = me.ListField(me.StringField())
    phone_key = me.StringField(default="")
    email_key = me.StringField(default="")
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


# What ranking reads of a candidate card (the rest of the card is read for the few
# that are answered).
_FACT_FIELDS = {
    f: 1
    for f in (
        "given_name", "family_name", "date_of_birth", "phone", "email", "merged_into",
        "centre_ids",
    )
}  # fmt: skip


class SearchKeyDocument(me.Document):
    """One lookup key of one card (see domain.search.card_lookup_keys), a flat row per
    key, the organisation written into the key: a search finds cards by one equality on
    one field indexed alone, which the development wire server answers from its index
    (it scans for `$in`, for a date-like string, and for a field it only knows from a
    compound index: seconds over 100,000 cards). Kept a superset of the card's keys:
    new keys are written before the card, stale ones removed after it."""

    meta = {
        "collection": "search_index",
        "indexes": [{"fields": ["lookup"]}, {"fields": ["client_id"]}],
    }

    organisation = me.StringField(required=True)
    lookup = me.StringField(required=True)
    client_id = me.StringField(required=True)


def _lookup(organisation: str, key: str) -> str:
    # The kind comes first: a value that starts like a date would be compared as one.
    return f"{key}@{organisation}"


def search_rows(card: ClientCard) -> list[dict[str, str]]:
    keys = search.card_lookup_keys(
        card.given_name, card.family_name, card.date_of_birth, card.phone, card.email
    )
    return [
        {
            "organisation": card.organisation,
            "lookup": _lookup(card.organisation, k),
            "client_id": card.client_id,
        }
        for k in keys
    ]


def _write_search_rows(card: ClientCard) -> set[str]:
    """Add the card's missing lookup rows; answers the stale ones (to remove once the
    card is written)."""
    index = SearchKeyDocument._get_collection()
    have = {r["lookup"] for r in index.find({"client_id": card.client_id}, {"lookup": 1})}
    rows = search_rows(card)
    new = [r for r in rows if r["lookup"] not in have]
    if new:
        index.insert_many(new, ordered=False)
    return have - {r["lookup"] for r in rows}


def _remove_search_rows(client_id: str, stale: set[str]) -> None:
    if stale:
        SearchKeyDocument._get_collection().delete_many(
            {"client_id": client_id, "lookup": {"$in": sorted(stale)}}
        )


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


def _to_domain(doc: ClientDocument) -> ClientCard:
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


def _to_document(card: ClientCard) -> ClientDocument:
    keys = search.name_keys(card.given_name, card.family_name)
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
        name_keys=list(keys),
        search_keys=list(search.deletion_keys(keys)),
        phone_key=search.phone_key(card.phone),
        email_key=card.email.strip().lower(),
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

    def find(self, client_id: str) -> ClientCard | None:
        doc = self._scoped().filter(id=client_id).first()
        return _to_domain(doc) if doc else None

    def by_identity(self, key: str) -> ClientCard | None:
        doc = self._scoped().filter(identity_key=key).first()
        return _to_domain(doc) if doc else None

    def holder_of(self, key: str) -> ClientCard | None:
        """The organisation's card holding this identity, in any centre. For the use
        cases' own decisions only: never answered to a caller."""
        doc = ClientDocument.objects(organisation=self._organisation, identity_key=key).first()
        return _to_domain(doc) if doc else None

    def by_referral(self, referral_id: str) -> ClientCard | None:
        """The card a referral created or joined (`$in`: see page())."""
        doc = self._scoped().filter(referral_ids__in=[referral_id]).first()
        return _to_domain(doc) if doc else None

    def sees(self, client_id: str) -> bool:
        """Whether the caller's centres include the card."""
        return self._scoped().filter(id=client_id).only("id").first() is not None

    def born_on(self, born: date) -> list[search.CandidateFacts]:
        """What matching needs of the cards (not merged away) of people born on that day."""
        keys = [_lookup(self._organisation, search.BORN_KIND + born.isoformat())]
        return self._facts(self._ids(keys, CANDIDATE_LIMIT))

    def _in_scope(self, centre_ids: list[str]) -> bool:
        return self._centres is None or not self._centres.isdisjoint(centre_ids)

    def _ids(self, lookups: list[str], budget: int) -> list[str]:
        """Cards found under the keys, in the keys' order, at most ``budget``: one
        indexed equality per key, stopping once the budget is full."""
        index = SearchKeyDocument._get_collection()
        found: dict[str, None] = {}
        for lookup in lookups:
            if len(found) >= budget:
                break
            for row in index.find({"lookup": lookup}, {"client_id": 1}).limit(budget):
                found.setdefault(row["client_id"])
        return list(found)[:budget]

    def _facts(self, ids: list[str]) -> list[search.CandidateFacts]:
        """What ranking reads of these cards (merged cards and cards outside the
        caller's centres left out, here, before anything leaves the repository)."""
        if not ids:
            return []
        docs = ClientDocument._get_collection().find(
            {"_id": {"$in": ids}, "organisation": self._organisation}, _FACT_FIELDS
        )
        by_id = {d["_id"]: d for d in docs}
        return [
            search.CandidateFacts(
                ref=doc["_id"],
                given_name=doc.get("given_name", ""),
                family_name=doc.get("family_name", ""),
                date_of_birth=(
                    date.fromisoformat(doc["date_of_birth"]) if doc.get("date_of_birth") else None
                ),
                phone=doc.get("phone", ""),
                email=doc.get("email", ""),
            )
            for doc in (by_id[i] for i in ids if i in by_id)
            if not doc.get("merged_into") and self._in_scope(doc.get("centre_ids") or [])
        ]

    def candidate_facts(self, query: search.SearchQuery) -> list[search.CandidateFacts]:
        """What ranking needs of the cards born on the query's day (or a likely slip of
        it), sharing its phone or e-mail, or its names (at most a few hundred per kind:
        with a date of birth, fewer by name, so that a common surname does not drag
        hundreds of strangers into every referral)."""
        keys = search.query_lookup_keys(query)
        org = self._organisation
        ids = self._ids([_lookup(org, k) for k in keys.born], CANDIDATE_LIMIT)
        ids += self._ids([_lookup(org, k) for k in keys.contact], CANDIDATE_LIMIT)
        names = NAME_ONLY_LIMIT if keys.born else CANDIDATE_LIMIT
        ids += self._ids([_lookup(org, k) for k in keys.names], names)
        return self._facts(list(dict.fromkeys(ids)))

    def due_for_inactivity(
        self,
        active_on_or_before: date,
        limit: int = 500,
        *,
        project_id: str | None = None,
        other_than: tuple[str, ...] = (),
    ) -> list[ClientCard]:
        """Open cards (approached, applicant, service user) with no activity since the
        day: of one project (``project_id``), or of none of ``other_than``."""
        query = self._scoped()
        if project_id is not None:
            query = query.filter(project_id=project_id)
        elif other_than:
            query = query.filter(project_id__nin=list(other_than))
        docs = (
            query.filter(
                status__in=["approached", "applicant", "service_user"],
                last_activity_on__lte=active_on_or_before.isoformat(),
                last_activity_on__ne="",
            )
            .order_by("last_activity_on", "id")
            .limit(limit)
        )
        return [_to_domain(doc) for doc in docs if not doc.merged_into]

    def with_contract_awaiting_status(self, limit: int = 500) -> list[ClientCard]:
        """Cards whose signed contract has not (yet) made the client a service user."""
        docs = self._scoped().filter(contract_awaits="yes").order_by("id").limit(limit)
        return [_to_domain(doc) for doc in docs if not doc.merged_into]

    def status_histories(
        self, *, centre_id: str | None, region_id: str | None
    ) -> Iterator[tuple[str, StatusHistory]]:
        """(client id, status history) of every card in scope, merged cards left out.
        Reads the status entries only."""
        query: dict[str, Any] = {"organisation": self._organisation}
        centres = set(self._centres) if self._centres is not None else None
        if centre_id:
            centres = {centre_id} if centres is None else centres & {centre_id}
        if centres is not None:
            query["centre_ids"] = {"$in": sorted(centres)}
        if region_id:
            query["region_id"] = region_id
        projection = {"status_entries": 1, "merged_into": 1}
        for raw in ClientDocument._get_collection().find(query, projection):
            if raw.get("merged_into"):
                continue
            entries = tuple(entry_from_dict(e) for e in raw.get("status_entries") or ())
            yield raw["_id"], StatusHistory(entries)

    def status_report(
        self, start: date, end: date, *, centre_id: str | None, region_id: str | None
    ) -> StatusReport:
        """Statistics of the cards in scope (by home centre), counted by the database:
        a merged card's status at the end of the period is its survivor's, but its
        episodes' closing reasons and flows stay counted."""
        return aggregate_report(
            self._organisation, CLIENT, start, end,
            centres=scope_centres(self._centres, centre_id), region_id=region_id,
        )  # fmt: skip

    def by_ids(self, client_ids: list[str]) -> list[ClientCard]:
        return [_to_domain(doc) for doc in self._scoped().filter(id__in=client_ids)]

    def page(
        self,
        *,
        centre_id: str | None,
        offset: int,
        limit: int,
        statuses: tuple[str, ...] = (),
        worker_id: str = "",
    ) -> list[ClientCard]:
        """Newest first, optionally only in these statuses or of this responsible worker."""
        # Merged cards only redirect: they are not listed.
        query = self._scoped().filter(merged_into__in=["", None])
        if statuses:
            query = query.filter(status__in=list(statuses))
        if worker_id:
            query = query.filter(responsible_workers__match={"worker_id": worker_id})
        if centre_id:
            # `$in`, not array equality: the development wire server's find matches
            # nothing for {"centre_ids": "x"} (count_documents does; measured).
            query = query.filter(centre_ids__in=[centre_id])
        docs = query.order_by("-registered_at", "id").skip(offset).limit(limit)
        return [_to_domain(doc) for doc in docs]

    def save(self, card: ClientCard, events: list[EventEnvelope]) -> ClientCard:
        """Store the card with its events; raises DuplicateAggregate for a second card
        of the same identity, Conflict when the card changed since it was read."""
        # save_aggregate keeps whatever events are still waiting in the stored outbox.
        doc = _to_document(card)
        # Before the card: a card is always found under every key it has.
        stale = _write_search_rows(card)
        try:
            save_aggregate(doc, events)
        except DuplicateKeyError as exc:
            # A changed name or date of birth that another card already has (the
            # replace hits the unique identity index): nothing was written.
            raise DuplicateAggregate(str(exc)) from exc
        # After the card: a crash in between leaves the previous facts until the
        # card's next write (statistics only).
        store_facts(card.client_id, [CLIENT], card_fact_rows(card))
        _remove_search_rows(card.client_id, stale)
        return _to_domain(doc)

    def audit_entries(self, client_id: str, *, offset: int, limit: int) -> list[AuditEntry]:
        """Who read or changed the card, newest first (the caller must be allowed to
        see the card: checked by the use case)."""
        return list(
            AuditEntry.objects(organisation=self._organisation, client_id=client_id)
            .order_by("-at", "id")
            .skip(offset)
            .limit(limit)
        )

    def audit(self, client_id: str, subject: str, action: str, at: datetime, trace_id: str) -> None:
        self.audit_all([client_id], subject, action, at, trace_id)

    def audit_all(
        self, client_ids: list[str], subject: str, action: str, at: datetime, trace_id: str
    ) -> None:
        """The same access to several cards, in one write (a search's answers)."""
        if not client_ids:
            return
        entries = [
            AuditEntry(
                organisation=self._organisation,
                client_id=client_id,
                subject=subject,
                action=action,
                at=at,
                trace_id=trace_id,
            )
            for client_id in client_ids
        ]
        AuditEntry.objects.insert(entries, load_bulk=False)


class DerivedRowsVersion(me.Document):
    """Which organisations' cards have their derived rows (statistics facts, search
    keys) written: cards stored before those rows existed get them once."""

    meta = {"collection": "derived_rows_version"}

    id = me.StringField(primary_key=True)  # the organisation
    version = me.IntField(required=True)
    at = me.DateTimeField(required=True)


# 2: lookup keys with the organisation, date of birth, contacts and name pairs.
DERIVED_ROWS_VERSION = 2


def backfill_derived_rows(organisation: str, now: datetime, batch: int = 1000) -> int:
    """Write the statistics facts and search keys of every card of the organisation,
    once per version of those rows (idempotent: rows are replaced). Answers how many
    cards were written (0 when already done)."""
    done = DerivedRowsVersion.objects(id=organisation).first()
    if done is not None and done.version >= DERIVED_ROWS_VERSION:
        return 0
    index = SearchKeyDocument._get_collection()
    written = 0
    last = ""
    while True:
        docs = list(
            ClientDocument.objects(organisation=organisation, id__gt=last)
            .order_by("id")
            .limit(batch)
        )
        if not docs:
            break
        for doc in docs:
            card = _to_domain(doc)
            store_facts(card.client_id, [CLIENT], card_fact_rows(card))
            index.delete_many({"client_id": card.client_id})
            index.insert_many(search_rows(card))
            written += 1
        last = docs[-1].id
    DerivedRowsVersion(id=organisation, version=DERIVED_ROWS_VERSION, at=now).save()
    return written
