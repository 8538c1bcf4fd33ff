"""Plans in the plans database: the plan aggregate stored whole (its body) beside the
fields its queries use; the catalogue, waiting lists, and the read model of clients'
status built from clients' events."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import mongoengine as me

from casework_common.envelope import EventEnvelope
from casework_common.repository import AggregateRepository, ScopedRepository
from casework_common.storage import AggregateDocument, DuplicateAggregate
from casework_common.unit_of_work import Saves
from casework_plans.adapters.codec import dump, load_as
from casework_plans.domain import catalogue, monitoring, review_requests
from casework_plans.domain.monitoring import Cadence
from casework_plans.domain.plans import Plan, VersionStatus

NEVER = "9999-12-31"
# Never looked at. Not "": the development server compares no empty string ($lt, $ne).
NOT_CHECKED = "0001-01-01"


class PlanDocument(AggregateDocument):
    meta = {
        "collection": "plans",
        "indexes": [
            {"fields": ["organisation", "idempotency_key"], "unique": True},
            {"fields": ["organisation", "client_id"]},
            {"fields": ["organisation", "centre_ids"]},
            {"fields": ["status"]},
            {"fields": ["organisation", "status", "due_from"]},
            {"fields": ["organisation", "status", "checked_on"]},
            {"fields": ["organisation", "need_codes"]},
            {"fields": ["organisation", "need_services"]},
            # One open plan per client in the whole organisation, whichever centre:
            # two workers of different centres starting a plan at once cannot both win.
            {"fields": ["open_key"], "unique": True, "sparse": True},
        ],
    }

    id = me.StringField(primary_key=True)
    idempotency_key = me.StringField(required=True)
    client_id = me.StringField(required=True)
    centre_ids = me.ListField(me.StringField())
    worker_id = me.StringField(required=True)
    status = me.StringField(required=True)
    need_codes = me.ListField(me.StringField())
    # The services the needs of the latest version name (a need waiting for one).
    need_services = me.ListField(me.StringField())
    # The first day something is due (NEVER when nothing ever will be: no plan in
    # effect and no review requested), and the day the timer last looked at the plan:
    # both YYYY-MM-DD, compared as text.
    due_from = me.StringField(default=NEVER)
    # The earliest day anything listed for the plan is due on (due_from or later);
    # absent from plans stored before it was kept (due_from stands in for it then).
    first_due_on = me.StringField(default="")
    checked_on = me.StringField(default=NOT_CHECKED)
    # `<organisation>:<client_id>` while the plan is open, its own id once closed.
    open_key = me.StringField()
    body = me.DictField()


class PlanDueDocument(me.Document):
    """The small row of one plan that finding due work reads (see `due_in_order`): the
    plan document carries the whole plan, and the development server reads whole
    documents for any filtered query. Derived from the plan's stored fields, written
    after the plan whenever they change, removed once the plan closes."""

    meta = {
        "collection": "plan_due",
        "indexes": [
            {"fields": ["organisation", "due_from"]},
            {"fields": ["organisation", "centre_ids"]},
        ],
    }

    id = me.StringField(primary_key=True)  # the plan's id
    organisation = me.StringField(required=True)
    centre_ids = me.ListField(me.StringField())
    worker_id = me.StringField(required=True)
    due_from = me.StringField(required=True)  # YYYY-MM-DD, as the plan's
    first_on = me.StringField(required=True)  # the plan's first_due_on
    status = me.StringField(required=True)


class DueRowsBackfilled(me.Document):
    """That the organisation's plans stored before due rows were kept have theirs: the
    backfill reads every plan once, not at every start of the events process."""

    meta = {"collection": "plan_due_backfilled"}

    id = me.StringField(primary_key=True)  # the organisation
    at = me.DateTimeField()


DUE_ROW_FIELDS = ("organisation", "centre_ids", "worker_id", "due_from", "status")
STORED_ROW_FIELDS = (*DUE_ROW_FIELDS, "first_due_on")


def due_row_of(stored: Any) -> dict[str, Any]:
    """The row's values from a plan document (or its raw dict)."""
    get = stored.get if isinstance(stored, dict) else lambda name: getattr(stored, name)
    row = {name: get(name) for name in DUE_ROW_FIELDS}
    row["centre_ids"] = list(row["centre_ids"] or [])
    row["first_on"] = get("first_due_on") or row["due_from"]
    return row


def keep_due_row(plan_id: str, row: dict[str, Any]) -> None:
    """Write (or remove, for a closed plan) the due row of a plan: idempotent, so a
    repair writes it again without harm."""
    if row["status"] == VersionStatus.CLOSED.value:
        PlanDueDocument.objects(id=plan_id).delete()
        return
    PlanDueDocument(id=plan_id, **row).save()


def write_plan(doc: PlanDocument, plan: Plan, cadence: Cadence | None = None) -> None:
    doc.organisation = plan.organisation
    doc.idempotency_key = plan.idempotency_key
    doc.client_id = plan.client_id
    doc.centre_ids = list(plan.centre_ids)
    doc.worker_id = plan.worker_id
    doc.status = VersionStatus.CLOSED.value if plan.closure else plan.status.value
    doc.open_key = plan.plan_id if plan.closure else f"{plan.organisation}:{plan.client_id}"
    doc.need_codes = sorted({n.need_code for n in plan.current.content.needs})
    doc.need_services = sorted({c for n in plan.current.content.needs for c in n.service_codes})
    days = [
        monitoring.due_from(plan, cadence or Cadence()),
        review_requests.requested_from(plan),
    ]
    due = min((d for d in days if d is not None), default=None)
    doc.due_from = due.isoformat() if due else NEVER
    firsts = [monitoring.first_due_on(plan, cadence or Cadence()), days[1]]
    first = min((d for d in firsts if d is not None), default=None)
    doc.first_due_on = first.isoformat() if first else NEVER
    doc.checked_on = plan.checked_on.isoformat() if plan.checked_on else NOT_CHECKED
    doc.body = dump(plan)


def read_plan(body: dict[str, Any]) -> Plan:
    return load_as(Plan, body)


class PlanRepository(AggregateRepository[PlanDocument, Plan]):
    """Plans of one organisation; reads are limited to the centres given. The
    organisation's monitoring cadence dates each plan's due work as it is written."""

    document = PlanDocument
    centre_field = "centre_ids"
    what = "plan"
    # Editing a draft announces nothing and must still be kept.
    quiet_changes = True

    def __init__(
        self,
        organisation: str,
        centres: Iterable[str] | None = None,
        uow: Saves | None = None,
        cadence: Cadence | None = None,
    ) -> None:
        super().__init__(organisation, centres, uow)
        self._cadence = cadence or Cadence()
        self._rows_before: dict[str, dict[str, Any] | None] = {}

    def _read(self, doc: PlanDocument) -> Plan:
        return read_plan(doc.body)

    def _write(self, doc: PlanDocument, aggregate: Plan) -> None:
        # The row as the plan held it before this write: the due row is written again
        # only when it changes (a plan new to the store always writes it).
        self._rows_before[str(doc.pk)] = due_row_of(doc) if doc.status else None
        write_plan(doc, aggregate, self._cadence)

    def _save(self, doc: AggregateDocument, events: Iterable[EventEnvelope] = ()) -> None:
        super()._save(doc, events)
        row = due_row_of(doc)
        if self._rows_before.pop(str(doc.pk), None) != row:
            # After the plan, never before: a row ahead of its plan would list work
            # that is not there. Should this write fail, the timer writes it again.
            keep_due_row(str(doc.pk), row)

    def repair_due_row(self, plan_id: str) -> None:
        """Write the plan's due row again from the plan as stored (a row write lost
        after its plan's write)."""
        raw = self._unscoped().filter(id=plan_id).only(*STORED_ROW_FIELDS).as_pymongo().first()
        if raw is not None:
            keep_due_row(plan_id, due_row_of(raw))

    def backfill_due_rows(self, batch: int = 500) -> int:
        """Write the due rows of the organisation's open plans that have none (plans
        stored before the rows were kept), once per organisation; answers how many
        were written."""
        if DueRowsBackfilled.objects(id=self._organisation).first() is not None:
            return 0
        have = {
            raw["_id"]
            for raw in PlanDueDocument.objects(organisation=self._organisation)
            .only("id")
            .as_pymongo()
        }
        query = self._unscoped().filter(status__ne=VersionStatus.CLOSED.value)
        missing = sorted({raw["_id"] for raw in query.only("id").as_pymongo()} - have)
        for i in range(0, len(missing), batch):
            found = self._unscoped().filter(id__in=missing[i : i + batch])
            for raw in found.only(*STORED_ROW_FIELDS).as_pymongo():
                keep_due_row(raw["_id"], due_row_of(raw))
        DueRowsBackfilled(id=self._organisation, at=datetime.now(UTC)).save()
        return len(missing)

    def _id_of(self, aggregate: Plan) -> str:
        return aggregate.plan_id

    def load_many(self, plan_ids: Iterable[str]) -> dict[str, PlanDocument]:
        """The documents of the scope among `plan_ids`, by id, read in batches (an
        imported file names many plans); ids outside the scope are simply absent."""
        wanted = sorted(set(plan_ids))
        found: dict[str, PlanDocument] = {}
        for i in range(0, len(wanted), 500):
            for doc in self._scoped().filter(id__in=wanted[i : i + 500]):
                found[str(doc.pk)] = doc
        return found

    def in_effect(self, batch: int = 500) -> Iterator[Plan]:
        """Every plan in effect of the scope."""
        query = self._scoped().filter(status=VersionStatus.IN_EFFECT.value).only("body")
        for raw in query.batch_size(batch).as_pymongo():
            yield read_plan(raw["body"])

    def due_in_order(
        self, day: date, worker_id: str | None = None, batch: int = 50
    ) -> Iterator[tuple[date, Plan]]:
        """Open plans of the scope with something due on `day` or before (a worker's own
        when `worker_id` is given; a draft has due work when a review was asked),
        each with the earliest day anything of it is due on, soonest first, then by
        id. Only the small keys of every such plan are read (from the plans' due rows)
        and ordered at once; the plans themselves are read by id in batches as the
        caller goes on, so a caller that has seen enough stops reading."""
        rows = PlanDueDocument.objects(
            organisation=self._organisation, due_from__lte=day.isoformat()
        )
        if self._centres is not None:
            rows = rows.filter(centre_ids__in=list(self._centres))
        if worker_id is not None:
            rows = rows.filter(worker_id=worker_id)
        keys = sorted((raw["first_on"], raw["_id"]) for raw in rows.only("first_on").as_pymongo())
        for i in range(0, len(keys), batch):
            chunk = keys[i : i + batch]
            found = self._scoped().filter(
                id__in=[plan_id for _day, plan_id in chunk],
                status__ne=VersionStatus.CLOSED.value,
            )
            bodies = {raw["_id"]: raw["body"] for raw in found.only("body").as_pymongo()}
            for first_day, plan_id in chunk:
                if plan_id in bodies:  # closed or gone from the scope since its row was read
                    yield date.fromisoformat(first_day), read_plan(bodies[plan_id])

    def unchecked(self, day: date, batch: int = 500) -> Iterator[Plan]:
        """Plans in effect the timer has not looked at on `day` (or that changed since)."""
        query = self._scoped().filter(
            status=VersionStatus.IN_EFFECT.value, checked_on__lt=day.isoformat()
        )
        for raw in query.only("body").batch_size(batch).as_pymongo():
            yield read_plan(raw["body"])

    def naming_needs(self, need_codes: list[str], service_code: str) -> Iterator[Plan]:
        """Open plans of the scope whose latest version names one of `need_codes`, or a
        need the service answers already (screened again by the domain)."""
        seen: set[str] = set()
        open_plans = self._scoped().filter(status__ne=VersionStatus.CLOSED.value)
        for query in (
            open_plans.filter(need_codes__in=need_codes) if need_codes else None,
            # `$in`, not equality: the development server matches no array field
            # against a single value.
            open_plans.filter(need_services__in=[service_code]),
        ):
            if query is None:
                continue
            for raw in query.only("body").as_pymongo():
                if raw["_id"] not in seen:
                    seen.add(raw["_id"])
                    yield read_plan(raw["body"])

    def client_has_open_plan(self, client_id: str) -> bool:
        """Whether the client has an open plan in any centre of the organisation: a
        yes or no, so a caller learns nothing more of a plan they may not see."""
        query = self._unscoped().filter(client_id=client_id, status__ne=VersionStatus.CLOSED.value)
        return query.only("id").first() is not None

    def of_client(self, client_id: str) -> list[Plan]:
        return [read_plan(d.body) for d in self._scoped().filter(client_id=client_id)]


class CatalogueDocument(me.Document):
    meta = {"collection": "catalogue", "indexes": [{"fields": ["organisation"]}]}

    id = me.StringField(primary_key=True)  # <organisation>:<service_code>
    organisation = me.StringField(required=True)
    body = me.DictField()


class CatalogueRepository:
    def __init__(self, organisation: str) -> None:
        self._organisation = organisation

    def put(self, service: catalogue.CatalogueService) -> None:
        CatalogueDocument(
            id=f"{self._organisation}:{service.service_code}",
            organisation=self._organisation,
            body=dump(service),
        ).save()

    def get(self, service_code: str) -> catalogue.CatalogueService | None:
        doc = CatalogueDocument.objects(id=f"{self._organisation}:{service_code}").first()
        return load_as(catalogue.CatalogueService, doc.body) if doc else None

    def all(self) -> list[catalogue.CatalogueService]:
        docs = CatalogueDocument.objects(organisation=self._organisation).as_pymongo()
        found = [load_as(catalogue.CatalogueService, d["body"]) for d in docs]
        return sorted(found, key=lambda s: s.service_code)


class WaitingListDocument(AggregateDocument):
    meta = {"collection": "waiting_lists"}

    id = me.StringField(primary_key=True)  # <organisation>:<service_code>
    body = me.DictField()


class WaitingListRepository(ScopedRepository[WaitingListDocument]):
    """A service's whole waiting list (positions count every centre's clients); what a
    caller sees of it is narrowed to their centres by the use case."""

    document = WaitingListDocument
    what = "waiting list"

    def get(self, service_code: str) -> tuple[catalogue.WaitingList, WaitingListDocument]:
        key = f"{self._organisation}:{service_code}"
        doc = WaitingListDocument.objects(id=key).first()
        if doc is None:
            empty = catalogue.WaitingList(self._organisation, service_code)
            return empty, WaitingListDocument(id=key, organisation=self._organisation)
        return load_as(catalogue.WaitingList, doc.body), doc

    def put(
        self,
        doc: WaitingListDocument,
        waiting_list: catalogue.WaitingList,
        events: Iterable[EventEnvelope] = (),
    ) -> None:
        """Store the list with its events in one version-guarded write: two workers
        changing one list at once cannot both win (the loser answers ABORTED)."""
        doc.body = dump(waiting_list)
        self._save(doc, events)


class ClientStatusDocument(me.Document):
    """plans' read model of a client's status, from clients' status events."""

    meta = {"collection": "client_status"}

    id = me.StringField(primary_key=True)  # <organisation>:<client_id>
    organisation = me.StringField(required=True)
    client_id = me.StringField(required=True)
    status = me.StringField(required=True)
    effective_on = me.StringField(required=True)
    # The last day the client was a service user, once they left that status.
    service_user_until = me.StringField(default="")
    event_id = me.StringField(default="")
    seen_at = me.DateTimeField()


class ClientStatusRepository:
    def __init__(self, organisation: str) -> None:
        self._organisation = organisation

    def _key(self, client_id: str) -> str:
        return f"{self._organisation}:{client_id}"

    def service_user_until(self, client_ids: Iterable[str]) -> dict[str, date]:
        """The last day as service user of each of the clients who left that status,
        read in batches."""
        wanted = sorted({self._key(c) for c in client_ids})
        found: dict[str, date] = {}
        for i in range(0, len(wanted), 500):
            query = ClientStatusDocument.objects(id__in=wanted[i : i + 500])
            for doc in query.only("client_id", "service_user_until").as_pymongo():
                if doc.get("service_user_until"):
                    found[doc["client_id"]] = date.fromisoformat(doc["service_user_until"])
        return found

    def status_of(self, client_id: str) -> tuple[str | None, date | None]:
        """(status, last day as service user) as plans last heard; (None, None) when
        plans heard nothing of the client."""
        doc = ClientStatusDocument.objects(id=self._key(client_id)).first()
        if doc is None:
            return None, None
        until = date.fromisoformat(doc.service_user_until) if doc.service_user_until else None
        return str(doc.status), until

    def keep(
        self,
        client_id: str,
        status: str,
        effective_on: date,
        service_user_until: date | None,
        event_id: str,
        now: datetime,
    ) -> bool:
        """Keep the status unless a later one is known (events may arrive out of
        order; the same day keeps the one heard last). Answers whether it was kept."""
        doc = ClientStatusDocument.objects(id=self._key(client_id)).first()
        if doc is not None and doc.effective_on > effective_on.isoformat():
            return False
        if doc is not None and doc.event_id == event_id:
            return False
        until = service_user_until.isoformat() if service_user_until else ""
        if doc is not None and not until and status != "service_user":
            until = doc.service_user_until or ""
        ClientStatusDocument(
            id=self._key(client_id),
            organisation=self._organisation,
            client_id=client_id,
            status=status,
            effective_on=effective_on.isoformat(),
            service_user_until=until,
            event_id=event_id,
            seen_at=now,
        ).save()
        return True


__all__ = ["DuplicateAggregate"]


class PlanAuditEntry(me.Document):
    meta = {"collection": "audit", "indexes": [{"fields": ["organisation", "client_id"]}]}

    organisation = me.StringField(required=True)
    plan_id = me.StringField(required=True)
    client_id = me.StringField(required=True)
    subject = me.StringField(required=True)
    action = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    trace_id = me.StringField(default="")
