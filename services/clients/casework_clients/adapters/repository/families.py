"""Families in the clients database (mongoengine), scoped to centres like cards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import mongoengine as me

from casework_clients.adapters.repository.card_documents import entry_from_dict, entry_to_dict
from casework_clients.adapters.repository.stat_facts import (
    FAMILY_OWN,
    FAMILY_SHARED,
    aggregate_report,
    fact_rows,
    facts_fields,
    facts_from_fields,
    scope_centres,
    store_facts,
)
from casework_clients.domain.cards import (
    HistoryEntry,
)
from casework_clients.domain.families import Family, FamilyMember
from casework_clients.domain.statistics import StatusReport, timeline_facts
from casework_common.envelope import EventEnvelope
from casework_common.repository import ScopedRepository
from casework_common.storage import AggregateDocument


class FamilyDocument(AggregateDocument):
    meta = {
        "collection": "families",
        "indexes": [
            {"fields": ["organisation", "centre_ids"]},
            {"fields": ["organisation", "member_ids"]},
        ],
    }

    id = me.StringField(primary_key=True)
    name = me.StringField(required=True)
    region_id = me.StringField(default="")
    centre_ids = me.ListField(me.StringField())
    member_ids = me.ListField(me.StringField())
    members = me.ListField(me.DictField())
    created_at = me.DateTimeField(required=True)
    history = me.ListField(me.DictField())
    status_entries = me.ListField(me.DictField())
    # The shared status from all members and its timeline's facts (statistics count
    # them as rows of stat_facts, the family's own timeline's too).
    shared_status = me.StringField(default="")
    # The current status of the family's own history (lists filter by it).
    own_status = me.StringField(default="")
    shared_stat_spans = me.ListField(me.DictField())
    shared_stat_closings = me.ListField(me.DictField())
    shared_stat_flows = me.ListField(me.DictField())


def _family_to_domain(doc: FamilyDocument) -> Family:
    return Family(
        family_id=doc.id,
        organisation=doc.organisation,
        name=doc.name,
        region_id=doc.region_id,
        centre_ids=tuple(doc.centre_ids),
        members=tuple(
            FamilyMember(m["client_id"], m["role"], tuple(m.get("parent_ids") or ()))
            for m in doc.members
        ),
        created_at=doc.created_at,
        history=tuple(HistoryEntry(h["at"], h["what"], h["by"]) for h in doc.history),
        status_entries=tuple(entry_from_dict(e) for e in doc.status_entries),
        version=doc.version,
        shared_status=doc.shared_status or "",
        shared_facts=facts_from_fields(doc, "shared_stat"),
    )


class FamilyRepository(ScopedRepository[FamilyDocument]):
    """Families of one organisation visible from `centres` (None: all, system only);
    writes go through the unit of work when one is given."""

    document = FamilyDocument
    centre_field = "centre_ids"
    what = "family"

    def get(self, family_id: str) -> Family:
        return _family_to_domain(self._one(family_id))

    def of_client(self, client_id: str) -> list[Family]:
        # `$in`: see page() on the development server and array equality.
        return [_family_to_domain(d) for d in self._scoped().filter(member_ids__in=[client_id])]

    def all_in_scope(self, *, centre_id: str | None, region_id: str | None) -> Iterator[Family]:
        query = self._scoped()
        if centre_id:
            # `$in`, not array equality: the development wire server's find matches
            # nothing for {"centre_ids": "x"} (count_documents does; measured).
            query = query.filter(centre_ids__in=[centre_id])
        if region_id:
            query = query.filter(region_id=region_id)
        for doc in query:
            yield _family_to_domain(doc)

    def status_report(
        self,
        start: date,
        end: date,
        *,
        centre_id: str | None,
        region_id: str | None,
        shared: bool,
    ) -> StatusReport:
        """Statistics of the families in scope, counted by the database: from their
        shared timelines (status shared with members) or their own."""
        return aggregate_report(
            self._organisation, FAMILY_SHARED if shared else FAMILY_OWN, start, end,
            centres=scope_centres(self._centres, centre_id), region_id=region_id,
        )  # fmt: skip

    def page(
        self,
        *,
        centre_id: str | None,
        offset: int,
        limit: int,
        statuses: tuple[str, ...] = (),
        shared: bool = False,
    ) -> list[Family]:
        """Newest first, optionally only in these statuses (the shared or own one)."""
        query = self._scoped()
        if centre_id:
            query = query.filter(centre_ids__in=[centre_id])
        if statuses:
            field = "shared_status" if shared else "own_status"
            query = query.filter(**{f"{field}__in": list(statuses)})
        docs = query.order_by("-created_at", "id").skip(offset).limit(limit)
        return [_family_to_domain(doc) for doc in docs]

    def save(self, family: Family, events: list[EventEnvelope]) -> Family:
        doc = FamilyDocument(
            id=family.family_id,
            organisation=family.organisation,
            name=family.name,
            region_id=family.region_id,
            centre_ids=list(family.centre_ids),
            member_ids=list(family.member_ids),
            members=[
                {"client_id": m.client_id, "role": m.role, "parent_ids": list(m.parent_ids)}
                for m in family.members
            ],
            created_at=family.created_at,
            history=[{"at": h.at, "what": h.what, "by": h.by} for h in family.history],
            status_entries=[entry_to_dict(e) for e in family.status_entries],
            version=family.version,
            shared_status=family.shared_status,
            own_status=family.status_history.current.value if family.status_history.current else "",
            **facts_fields(family.shared_facts, "shared_stat"),
        )
        self._save(doc, events)
        home = family.centre_ids[0] if family.centre_ids else ""
        rows = [
            *fact_rows(
                timeline_facts(family.status_history), organisation=family.organisation,
                owner_id=family.family_id, timeline=FAMILY_OWN, centre_id=home,
                region_id=family.region_id,
            ),
            *fact_rows(
                family.shared_facts, organisation=family.organisation,
                owner_id=family.family_id, timeline=FAMILY_SHARED, centre_id=home,
                region_id=family.region_id,
            ),
        ]  # fmt: skip
        store_facts(family.family_id, [FAMILY_OWN, FAMILY_SHARED], rows)
        return _family_to_domain(doc)
