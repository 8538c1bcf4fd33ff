"""What happens on a plan in effect: monitoring contacts, deliveries (one by one or a
provider's CSV) checked at once against what was planned, and discrepancies
acknowledged or explained."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from casework.plans.v1 import events_pb2
from casework_common.envelope import EventEnvelope
from casework_common.errors import FieldError, raise_if_any
from casework_common.unit_of_work import UnitOfWork
from casework_plans.adapters.repository import (
    ClientStatusRepository,
    PlanRepository,
    read_plan,
)
from casework_plans.domain import deliveries, monitoring, plans
from casework_plans.domain import records as plan_records
from casework_plans.domain.deliveries import LineError, UnreadableCsv
from casework_plans.domain.plans import (
    Contact,
    ContactMode,
    Delivery,
    DiscrepancyState,
    Frequency,
    Plan,
    RaisedDiscrepancy,
)
from casework_plans.use_cases import _events
from casework_plans.use_cases.audit import audit, audit_many

# How far back a check looks for periods that closed without the expected deliveries.
LOOK_BACK_DAYS = 35


@dataclass(frozen=True)
class RecordContact:
    plan_id: str
    contacted_on: date | None
    mode: ContactMode | None
    notes: str
    goal_ids: tuple[str, ...]


def record_contact(command: RecordContact, uow: UnitOfWork, repository: PlanRepository) -> Plan:
    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        errors = monitoring.contact_errors(
            contacted_on=command.contacted_on,
            notes=command.notes,
            goal_ids=command.goal_ids,
            plan=plan,
            today=uow.now.date(),
        )
        if command.mode is None:
            errors.append(FieldError("mode", "in person or phone"))
        raise_if_any(errors)
        assert command.contacted_on is not None and command.mode is not None
        contact = Contact(
            uow.new_id(),
            plan.plan_id,
            command.contacted_on,
            command.mode,
            uow.actor.subject,
            command.notes.strip(),
            command.goal_ids,
            uow.now,
        )
        changed = plan_records.record_contact(plan, contact)
        facts = {
            "plan_id": plan.plan_id,
            "client_id": plan.client_id,
            "contact_id": contact.contact_id,
            "contacted_on": contact.contacted_on.isoformat(),
            "mode": contact.mode.value,
            "worker_id": contact.worker_id,
            "centre_ids": list(plan.centre_ids),
        }
        event = _events.event(events_pb2.MonitoringContactRecorded, changed, uow, facts)
        return changed, [event]

    return audit(repository.update(command.plan_id, change), uow, "contact")


def planned_of(plan: Plan) -> dict[str, Frequency | None]:
    effective = plan.in_effect
    if effective is None:
        return {}
    return {
        code: action.frequency for code, action in plans.planned_services(effective.content).items()
    }


def check_plan(
    plan: Plan,
    *,
    today: date,
    service_user_until: date | None,
    days: list[date] | None = None,
) -> list[deliveries.Discrepancy]:
    """The discrepancies of the plan's closed periods: those touched by `days` (new
    deliveries), or every period closed in the last LOOK_BACK_DAYS (the timer), never
    before the plan's date; plus deliveries after the client left Service user."""
    effective = plan.in_effect
    if effective is None or effective.in_effect_from is None or plan.closure is not None:
        return []
    planned = planned_of(plan)
    # The plan covers the days from its date (signed on that day or after it).
    began = min(effective.content.plan_date, effective.in_effect_from.date())
    if days is None:
        span: tuple[date, date] | None = (
            today - timedelta(days=LOOK_BACK_DAYS),
            today - timedelta(days=1),
        )
    else:
        span = deliveries.closed_periods_touched(planned, days, today=today)
        if service_user_until is not None:
            late = [d for d in days if d > service_user_until]
            if late:
                first, last = min(late), max(late)
                span = (min(span[0], first), max(span[1], last)) if span else (first, last)
    if span is None:
        return []
    start, end = max(span[0], began), span[1]
    if end < start:
        return []
    return deliveries.check(
        planned, plan.deliveries, start=start, end=end, service_user_until=service_user_until
    )


@dataclass(frozen=True)
class RecordDelivery:
    plan_id: str
    service_code: str
    delivered_on: date | None
    quantity: int
    delivered_by: str
    receipt: str
    cost: int


def _raise(
    plan: Plan, found: list[deliveries.Discrepancy], uow: UnitOfWork
) -> tuple[Plan, list[RaisedDiscrepancy], list[EventEnvelope]]:
    plan, new = plan_records.raise_discrepancies(plan, found, now=uow.now)
    return plan, new, [_events.discrepancy(r, plan, uow) for r in new]


def record_delivery(
    command: RecordDelivery,
    uow: UnitOfWork,
    repository: PlanRepository,
    statuses: ClientStatusRepository,
    *,
    approve_spending: bool = False,
) -> tuple[Plan, list[RaisedDiscrepancy]]:
    """Record one delivery and check it at once; where the organisation approves each
    spending item (`approve_spending`), its cost waits for a manager."""
    today = uow.now.date()
    raise_if_any(
        deliveries.delivery_errors(
            service_code=command.service_code,
            delivered_on=command.delivered_on,
            quantity=command.quantity,
            delivered_by=command.delivered_by,
            receipt=command.receipt,
            cost=command.cost,
            today=today,
        )
    )
    assert command.delivered_on is not None
    raised: list[RaisedDiscrepancy] = []

    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        nonlocal raised
        delivery = Delivery(
            uow.new_id(),
            plan.plan_id,
            command.service_code,
            command.delivered_on,  # type: ignore[arg-type]
            command.quantity,
            command.delivered_by.strip(),
            command.receipt.strip(),
            command.cost,
            uow.actor.subject,
            uow.now,
        )
        changed = plan_records.record_delivery(plan, delivery, approve_spending=approve_spending)
        delivery = changed.deliveries[-1]
        _status, until = statuses.status_of(plan.client_id)
        found = check_plan(
            changed, today=today, service_user_until=until, days=[delivery.delivered_on]
        )
        changed, raised, events = _raise(changed, found, uow)
        return changed, [_events.delivery(delivery, changed, uow), *events]

    plan = audit(repository.update(command.plan_id, change), uow, "delivery")
    return plan, raised


@dataclass(frozen=True)
class ImportResult:
    rows_read: int
    rows_kept: int
    good_rows_kept: bool
    errors: tuple[LineError, ...]
    discrepancies_raised: int


def import_deliveries(
    data: bytes,
    all_or_nothing: bool,
    uow: UnitOfWork,
    repository: PlanRepository,
    statuses: ClientStatusRepository,
) -> ImportResult:
    """A provider's file: each row checked by itself (parse, then against its plan:
    the caller's centres, a service of the plan in effect, its decision); bad rows are
    listed by line. The good rows are kept unless `all_or_nothing` and any row is bad.
    A file that does not parse keeps nothing (INVALID_ARGUMENT on `csv`)."""
    today = uow.now.date()
    try:
        parsed = deliveries.parse_csv(data, today=today)
    except UnreadableCsv as exc:
        raise_if_any([FieldError("csv", str(exc))])
        raise  # unreachable: raise_if_any raised
    errors = list(parsed.errors)
    by_plan: dict[str, list[deliveries.CsvRow]] = defaultdict(list)
    for row in parsed.rows:
        by_plan[row.plan_id].append(row)
    # Every row checked against its plan before anything is written: the plans read
    # in batches, the clients' status too.
    docs = repository.load_many(by_plan)
    good: dict[str, list[deliveries.CsvRow]] = defaultdict(list)
    client_ids = []
    for plan_id, rows in by_plan.items():
        doc = docs.get(plan_id)
        if doc is None:
            errors += [LineError(r.line, "plan_id", "no such plan") for r in rows]
            continue
        plan = read_plan(doc.body)
        client_ids.append(plan.client_id)
        for row in rows:
            field, reason = plan_records.delivery_refusal(plan, row.service_code, row.delivered_on)
            if reason:
                errors.append(LineError(row.line, field, reason))
            else:
                good[plan_id].append(row)
    errors.sort(key=lambda e: e.line)
    rows_read = len(parsed.rows) + len({e.line for e in parsed.errors})
    if errors and all_or_nothing:
        return ImportResult(rows_read, 0, False, tuple(errors), 0)
    until_of = statuses.service_user_until(client_ids)
    kept = 0
    raised_count = 0
    changed_plans: list[Plan] = []
    for plan_id, rows in good.items():

        def change(
            plan: Plan, rows: list[deliveries.CsvRow] = rows
        ) -> tuple[Plan, list[EventEnvelope]]:
            events: list[EventEnvelope] = []
            for row in rows:
                delivery = Delivery(
                    uow.new_id(),
                    plan.plan_id,
                    row.service_code,
                    row.delivered_on,
                    row.quantity,
                    row.delivered_by,
                    row.receipt,
                    0,
                    uow.actor.subject,
                    uow.now,
                )
                plan = plan_records.record_delivery(plan, delivery)
                events.append(_events.delivery(delivery, plan, uow))
            found = check_plan(
                plan,
                today=today,
                service_user_until=until_of.get(plan.client_id),
                days=[r.delivered_on for r in rows],
            )
            plan, new, raised_events = _raise(plan, found, uow)
            nonlocal raised_count
            raised_count += len(new)
            return plan, events + raised_events

        changed_plans.append(repository.update_loaded(docs[plan_id], change))
        kept += len(rows)
    audit_many(changed_plans, uow, "delivery-import")
    return ImportResult(rows_read, kept, bool(kept) or not errors, tuple(errors), raised_count)


def resolve_discrepancy(
    plan_id: str,
    discrepancy_id: str,
    state: DiscrepancyState | None,
    note: str,
    uow: UnitOfWork,
    repository: PlanRepository,
) -> Plan:
    if state is None:
        raise_if_any([FieldError("resolution", "acknowledged or explained")])
    assert state is not None

    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        return plan_records.resolve_discrepancy(
            plan, discrepancy_id, state, note, by=uow.actor.subject, now=uow.now
        ), []

    return audit(repository.update(plan_id, change), uow, "discrepancy")
