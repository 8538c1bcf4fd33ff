"""Client cards and the audit trail in the clients database (mongoengine).

Centre scoping lives here: a repository made for a worker can only ever read the
cards of the centres in the worker's token, so no handler can forget to filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from casework_clients.adapters.repository.card_documents import (
    AuditEntry,
    ClientDocument,
    ShownCardsEntry,
    StoredCard,
    card_fact_rows,
    entry_from_dict,
    to_card,
    to_document,
)
from casework_clients.adapters.repository.search_index import (
    SearchKeyDocument,
    add_search_rows,
    insert_search_rows,
    lookup_of,
    remove_search_rows,
    search_rows,
)
from casework_clients.adapters.repository.stat_facts import (
    CLIENT,
    add_facts,
    aggregate_report,
    scope_centres,
    store_facts,
)
from casework_clients.domain import search
from casework_clients.domain.cards import (
    ClientCard,
)
from casework_clients.domain.statistics import StatusReport
from casework_clients.domain.status import (
    StatusHistory,
)
from casework_common.envelope import EventEnvelope
from casework_common.repository import ScopedRepository
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import Saves

# How many candidates one search query may bring back before ranking. Each costs a
# lookup row and a read of its card (about 0.2 ms together on the development wire
# server); a common name (hundreds of namesakes among 100,000 cards) fills the budget
# from its full-name key first (see QueryLookups), so a larger budget only adds
# namesakes that rank no higher. By name alone, the answers asked for and half as
# many again (at least NAME_BUDGET); with a date of birth, whose keys bring the
# likeliest cards, as many by name as answers asked for.
CANDIDATE_LIMIT = 100
NAME_BUDGET = 30
# How many namesakes a search of a worker scoped to some centres reads at the most
# while those it may see fall short of the budget (see candidate_facts).
WIDEST_NAME_READ = 480


# What a search answer shows of a card (ClientCandidate.client): who, where, status,
# colour, contacts and referrals. Notes, consent and contact records, joined
# consultations and the change history are left out: GetClient reads them.
SUMMARY_FIELDS = {
    f: 1
    for f in (
        "organisation", "identity_key", "given_name", "family_name", "date_of_birth",
        "phone", "email", "address", "region_id", "centre_ids", "client_type",
        "problem_types", "status", "referral_ids", "registered_at", "status_entries",
        "contracts", "last_contact_on", "archived", "merged_into", "merged_from",
        "consultation_ids", "contacts", "responsible_workers", "duplicate_of",
        "project_id", "channel", "version", "enrolments",
    )
}  # fmt: skip


class ClientRepository(ScopedRepository[ClientDocument]):
    """Cards of one organisation, limited to `centres` (None: every centre, for the
    system's own consumers, never for a caller); writes go through the unit of work
    when one is given."""

    document = ClientDocument
    centre_field = "centre_ids"
    what = "client"

    def __init__(
        self, organisation: str, centres: Iterable[str] | None = None, uow: Saves | None = None
    ) -> None:
        super().__init__(organisation, centres, uow)
        # The in-scope documents the last search ranked (see _facts): its answers are
        # among them, and summaries() maps them without reading them again.
        self._ranked: dict[str, dict[str, Any]] = {}

    def get(self, client_id: str) -> ClientCard:
        return to_card(self._one(client_id))

    def find(self, client_id: str) -> ClientCard | None:
        doc = self._scoped().filter(id=client_id).first()
        return to_card(doc) if doc else None

    def by_identity(self, key: str) -> ClientCard | None:
        doc = self._scoped().filter(identity_key=key).first()
        return to_card(doc) if doc else None

    def holder_of(self, key: str) -> ClientCard | None:
        """The organisation's card holding this identity, in any centre. For the use
        cases' own decisions only: never answered to a caller."""
        doc = ClientDocument.objects(organisation=self._organisation, identity_key=key).first()
        return to_card(doc) if doc else None

    def by_referral(self, referral_id: str) -> ClientCard | None:
        """The card a referral created or joined (`$in`: see page())."""
        doc = self._scoped().filter(referral_ids__in=[referral_id]).first()
        return to_card(doc) if doc else None

    def sees(self, client_id: str) -> bool:
        """Whether the caller's centres include the card."""
        return self._scoped().filter(id=client_id).only("id").first() is not None

    def born_on(self, born: date) -> list[search.CandidateFacts]:
        """What matching needs of the cards (not merged away) of people born on that day."""
        keys = [lookup_of(self._organisation, search.BORN_KIND + born.isoformat())]
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
            # At most a budget of rows per key (a common name's key has thousands),
            # whole: a projection costs the development wire server more than it saves.
            for row in index.find({"lookup": lookup}).limit(budget):
                found.setdefault(row["client_id"])
        return list(found)[:budget]

    def _ids_born(self, keys: search.QueryLookups, budget: int) -> list[str]:
        """Cards born on the query's day or a likely slip of it: the days beside it in
        one indexed range (one query for three keys), any other slip by its key."""
        if keys.born_days is None:
            return []
        first, last = keys.born_days
        org = self._organisation
        rows = SearchKeyDocument._get_collection().find(
            {"lookup": {"$gte": lookup_of(org, first), "$lte": lookup_of(org, last)},
             "organisation": org}  # the range also spans other organisations' keys
        ).limit(budget)  # fmt: skip
        found = list(dict.fromkeys(row["client_id"] for row in rows))
        apart = [lookup_of(org, k) for k in keys.born if not first <= k <= last]
        return found + [i for i in self._ids(apart, budget - len(found)) if i not in found]

    def _facts(self, ids: list[str]) -> list[search.CandidateFacts]:
        """What ranking reads of these cards (merged cards and cards outside the
        caller's centres left out, here, before anything leaves the repository)."""
        if not ids:
            return []
        # Whole documents, in one query by `_id` alone: the development wire server
        # answers a projection by copying each whole document first, several times
        # slower than sending it (measured: 30 cards 3.9 ms whole, 22 ms projected).
        # The ranked cards are kept, so that the answers among them are not read again.
        docs = ClientDocument._get_collection().find(
            {"_id": {"$in": ids}, "organisation": self._organisation}
        )
        by_id = {d["_id"]: d for d in docs}
        kept = [
            doc
            for doc in (by_id[i] for i in ids if i in by_id)
            if not doc.get("merged_into") and self._in_scope(doc.get("centre_ids") or [])
        ]
        self._ranked = {doc["_id"]: doc for doc in kept}
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
                identity_key=doc.get("identity_key", ""),
            )
            for doc in kept
        ]

    def ranked(self, client_id: str) -> ClientCard | None:
        """A card ranking has just read (born_on, candidate_facts), taken from that read
        rather than read again; any other card is read."""
        doc = self._ranked.get(client_id)
        return to_card(StoredCard(doc)) if doc is not None else self.find(client_id)

    def candidate_facts(
        self, query: search.SearchQuery, answers: int = 20
    ) -> list[search.CandidateFacts]:
        """What ranking needs of the cards born on the query's day (or a likely slip of
        it), sharing its phone or e-mail, or its names (at most CANDIDATE_LIMIT by date
        of birth and by contact, and by name the budget above, so that a common surname
        does not drag hundreds of strangers into every referral)."""
        keys = search.query_lookup_keys(query)
        org = self._organisation
        ids = self._ids_born(keys, CANDIDATE_LIMIT)
        ids += self._ids([lookup_of(org, k) for k in keys.contact], CANDIDATE_LIMIT)
        names = answers if keys.born else max(NAME_BUDGET, answers + answers // 2)
        name_lookups = [lookup_of(org, k) for k in keys.names]
        found = self._facts(list(dict.fromkeys(ids + self._ids(name_lookups, names))))
        # The budget counts cards the caller may see: a worker of one centre among many
        # must still find their own namesakes of a common name, which other centres'
        # cards would otherwise crowd out. Widened only while the keys had more.
        read = names
        while self._centres is not None and read < WIDEST_NAME_READ:
            in_scope_by_name = sum(1 for f in found if f.ref not in ids)
            if in_scope_by_name >= names:
                break
            wider = self._ids(name_lookups, min(read * 4, WIDEST_NAME_READ))
            if len(wider) <= read:
                break  # the keys have no more cards
            read = len(wider)
            found = self._facts(list(dict.fromkeys(ids + wider)))
        return found

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
        return [to_card(doc) for doc in docs if not doc.merged_into]

    def with_contract_awaiting_status(self, limit: int = 500) -> list[ClientCard]:
        """Cards whose signed contract has not (yet) made the client a service user."""
        docs = self._scoped().filter(contract_awaits="yes").order_by("id").limit(limit)
        return [to_card(doc) for doc in docs if not doc.merged_into]

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
        return self._read(client_ids, None)

    def summaries(self, client_ids: list[str]) -> list[ClientCard]:
        """The cards as a search answers them (SUMMARY_FIELDS; the other lists empty):
        those this repository has just ranked from the documents ranking read, any
        other read in one query."""
        ranked = self._ranked
        docs = [ranked[i] for i in client_ids if i in ranked]
        missing = [i for i in client_ids if i not in ranked]
        if missing:
            docs += ClientDocument._get_collection().find(
                {"_id": {"$in": missing}, "organisation": self._organisation}
            )
        return [
            to_card(StoredCard({k: v for k, v in doc.items() if k == "_id" or k in SUMMARY_FIELDS}))
            for doc in docs
            if self._in_scope(doc.get("centre_ids") or [])
        ]

    def _read(self, client_ids: list[str], fields: dict[str, int] | None) -> list[ClientCard]:
        """The cards in scope among these ids, in one query by `_id` alone (which the
        development wire server answers from its index; the caller's centres are
        checked here, as a `$in` on them would make it scan the collection)."""
        if not client_ids:
            return []
        docs = ClientDocument._get_collection().find(
            {"_id": {"$in": list(client_ids)}, "organisation": self._organisation}, fields
        )
        return [
            to_card(StoredCard(doc)) for doc in docs if self._in_scope(doc.get("centre_ids") or [])
        ]

    def page(
        self,
        *,
        centre_id: str | None,
        offset: int,
        limit: int,
        statuses: tuple[str, ...] = (),
        worker_id: str = "",
        project_id: str = "",
    ) -> list[ClientCard]:
        """Newest first, optionally only in these statuses, of this responsible worker
        or with an open enrolment in this project."""
        # Merged cards only redirect: they are not listed.
        query = self._scoped().filter(merged_into__in=["", None])
        if statuses:
            query = query.filter(status__in=list(statuses))
        if worker_id:
            query = query.filter(responsible_workers__match={"worker_id": worker_id})
        if project_id:
            # A card written before enrolments were kept has only its project (the
            # lead, so an open enrolment) in `project_id`.
            query = query.filter(
                me.Q(open_project_ids__in=[project_id]) | me.Q(project_id=project_id)
            )
        if centre_id:
            # `$in`, not array equality: the development wire server's find matches
            # nothing for {"centre_ids": "x"} (count_documents does; measured).
            query = query.filter(centre_ids__in=[centre_id])
        docs = query.order_by("-registered_at", "id").skip(offset).limit(limit)
        return [to_card(doc) for doc in docs]

    def save(self, card: ClientCard, events: list[EventEnvelope]) -> ClientCard:
        """Store the card with its events; raises DuplicateAggregate for a second card
        of the same identity, Conflict when the card changed since it was read."""
        # save_aggregate keeps whatever events are still waiting in the stored outbox.
        doc = to_document(card)
        if not card.version:
            return self._save_first(card, doc, events)
        # Before the card: a card is always found under every key it has.
        stale = add_search_rows(card)
        try:
            self._save(doc, events)
        except DuplicateKeyError as exc:
            # A changed name or date of birth that another card already has (the
            # replace hits the unique identity index): nothing was written.
            raise DuplicateAggregate(str(exc)) from exc
        # After the card: a crash in between leaves the previous facts until the
        # card's next write (statistics only).
        store_facts(card.client_id, [CLIENT], card_fact_rows(card))
        remove_search_rows(card.client_id, stale)
        return to_card(doc)

    def _save_first(
        self, card: ClientCard, doc: ClientDocument, events: list[EventEnvelope]
    ) -> ClientCard:
        """A card never stored (version 0, which save_aggregate inserts) has no keys or
        facts to read or delete: three writes instead of five, on the referral path."""
        # Keys before the card, as on every save. A crash before the card leaves keys
        # of a card that does not exist, which searches skip; the same card saved again
        # (an id derived from a proposal) finds them stored, not doubled.
        insert_search_rows(search_rows(card))
        self._save(doc, events)  # DuplicateAggregate: another card holds the identity
        # Only the one insert that stored the card gets here, so there are no facts of
        # it to replace. A crash before them leaves the card uncounted until its next
        # write (statistics only), as it leaves a stored card's previous facts.
        add_facts(card_fact_rows(card))
        return to_card(doc)

    def audit_entries(self, client_id: str, *, offset: int, limit: int) -> list[AuditEntry]:
        """Who read or changed the card, newest first: its own rows and the answers that
        showed it (the caller must be allowed to see the card: checked by the use case)."""
        org, wanted = self._organisation, offset + limit
        own = list(
            AuditEntry.objects(organisation=org, client_id=client_id)
            .order_by("-at", "id")
            .limit(wanted)
        )
        shown = (
            ShownCardsEntry._get_collection()
            .find({"organisation": org, "client_ids": {"$in": [client_id]}})
            .sort([("at", -1), ("_id", 1)])
            .limit(wanted)
        )
        own += [
            AuditEntry(
                organisation=org,
                client_id=client_id,
                subject=raw["subject"],
                action=raw["action"],
                at=raw["at"],
                trace_id=raw.get("trace_id") or "",
            )
            for raw in shown
        ]
        # A stable sort: rows of one moment keep their own order.
        own.sort(key=lambda entry: entry.at, reverse=True)
        return own[offset:wanted]

    def _access(self, subject: str, action: str, at: datetime, trace_id: str) -> dict[str, Any]:
        # The stored shape of an audit record, written as such (no mongoengine document).
        return {
            "organisation": self._organisation,
            "subject": subject,
            "action": action,
            "at": at,
            "trace_id": trace_id,
        }

    def audit(self, client_id: str, subject: str, action: str, at: datetime, trace_id: str) -> None:
        AuditEntry._get_collection().insert_one(
            {**self._access(subject, action, at, trace_id), "client_id": client_id}
        )

    def audit_shown(
        self, client_ids: list[str], subject: str, action: str, at: datetime, trace_id: str
    ) -> None:
        """The cards one answer showed (a search's candidates), in one record."""
        if not client_ids:
            return
        ShownCardsEntry._get_collection().insert_one(
            {**self._access(subject, action, at, trace_id), "client_ids": list(client_ids)}
        )


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
            card = to_card(doc)
            store_facts(card.client_id, [CLIENT], card_fact_rows(card))
            index.delete_many({"client_id": card.client_id})
            # A save of the card meanwhile may have put some back: they stay.
            insert_search_rows(search_rows(card))
            written += 1
        last = docs[-1].id
    DerivedRowsVersion(id=organisation, version=DERIVED_ROWS_VERSION, at=now).save()
    return written
