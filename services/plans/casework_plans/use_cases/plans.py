"""The plan's life over gRPC: created (idempotently), edited as a draft, signed into
effect (not for a Rejected or Terminated client), reviewed into a new version, goals'
progress, closure, the offer pack, decisions and the personal budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from casework.plans.v1 import events_pb2
from casework_common import idempotency
from casework_common.envelope import EventEnvelope
from casework_common.errors import FailedPrecondition, FieldError, PermissionDenied, raise_if_any
from casework_common.organisation import Organisation
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork
from casework_plans.adapters.codec import dump
from casework_plans.adapters.repository import ClientStatusRepository, PlanRepository
from casework_plans.domain import decisions, life_cycle
from casework_plans.domain import records as plan_records
from casework_plans.domain.plans import (
    BudgetHolder,
    Content,
    OfferPack,
    Plan,
    Progress,
    Signer,
    VersionStatus,
)
from casework_plans.use_cases._events import event, state_facts
from casework_plans.use_cases.audit import audit

MANAGER = "manager"
# The same words whichever centre the open plan is of: no id, no centre, so a caller
# learns nothing of a plan they may not see.
ALREADY_OPEN = "the client already has an open plan"


@dataclass(frozen=True)
class CreatePlan:
    idempotency_key: str
    client_id: str
    family_id: str
    centre_id: str
    worker_id: str
    content: Content


def _required(errors: list[FieldError], field: str, value: str) -> None:
    if not value:
        errors.append(FieldError(field, "is required"))


def create_plan(
    command: CreatePlan,
    uow: UnitOfWork,
    repository: PlanRepository,
    organisation: Organisation | None = None,
) -> tuple[Plan, bool]:
    """A draft of version 1 for the client (`organisation`, when given, checks that the
    responsible worker serves the plan's centre)."""
    principal = uow.principal
    errors = idempotency.key_errors(command.idempotency_key)
    _required(errors, "client_id", command.client_id)
    _required(errors, "centre_id", command.centre_id)
    raise_if_any(errors)
    if command.centre_id not in principal.centres:
        raise_if_any([FieldError("centre_id", "is not a centre the caller serves")])
    worker = command.worker_id or principal.subject
    if organisation is not None and command.worker_id:
        known = organisation.workers.get(command.worker_id)
        if known is None or command.centre_id not in known.centres:
            raise_if_any([FieldError("worker_id", "is not a worker of the plan's centre")])
    print_ = fingerprint(command, principal.subject)

    def replay(existing: Plan) -> Plan:
        idempotency.check(existing.fingerprint, command.idempotency_key, print_, "a plan")
        return existing

    def create() -> Plan:
        if repository.client_has_open_plan(command.client_id):
            raise FailedPrecondition(ALREADY_OPEN, field="client_id")
        plan = life_cycle.draft(
            plan_id=uow.new_id(),
            organisation=principal.organisation,
            client_id=command.client_id,
            family_id=command.family_id,
            centre_ids=(command.centre_id,),
            worker_id=worker,
            content=command.content,
            by=principal.subject,
            now=uow.now,
            idempotency_key=command.idempotency_key,
            fingerprint=print_,
        )
        try:
            repository.add(plan, _created(plan, uow))
        except DuplicateAggregate:
            # Lost to a retry of this very call (answered by create_once), or to a plan
            # for the client another worker started meanwhile.
            if repository.by_idempotency_key(command.idempotency_key) is None:
                raise FailedPrecondition(ALREADY_OPEN, field="client_id") from None
            raise
        audit(plan, uow, "created")
        return plan

    return idempotency.create_once(
        command.idempotency_key,
        find=repository.by_idempotency_key,
        replay=replay,
        create=create,
        race=DuplicateAggregate,
    )


def _created(plan: Plan, uow: UnitOfWork) -> EventEnvelope:
    """AggregateRepository.add stores one event with a new aggregate: the plan state
    (none in effect), so a consumer learns of the plan as soon as it exists."""
    return event(events_pb2.PlanDrafted, plan, uow, state_facts(plan, 1))


def fingerprint(command: CreatePlan, caller: str) -> str:
    return idempotency.fingerprint({"caller": caller, "command": dump(command)})


def edit_draft(
    plan_id: str, version: int, content: Content, uow: UnitOfWork, repository: PlanRepository
) -> Plan:
    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        edited = life_cycle.edit_draft(plan, version, content, now=uow.now)
        return edited, []

    return audit(repository.update(plan_id, change), uow, "changed")


def sign(
    plan_id: str,
    version: int,
    signer: Signer,
    name: str,
    uow: UnitOfWork,
    repository: PlanRepository,
    statuses: ClientStatusRepository,
) -> tuple[Plan, bool]:
    took_effect = False

    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        nonlocal took_effect
        status, _until = statuses.status_of(plan.client_id)
        before = {v.number for v in plan.versions if v.status is VersionStatus.IN_EFFECT}
        signed, took_effect = life_cycle.sign(
            plan, version, signer, name, client_status=status, by=uow.actor.subject, now=uow.now
        )
        events: list[EventEnvelope] = []
        if took_effect:
            events.append(event(events_pb2.PlanSigned, signed, uow, state_facts(signed, version)))
            for old in sorted(before):
                facts = {**state_facts(signed, old), "superseded_by": version}
                events.append(event(events_pb2.PlanSuperseded, signed, uow, facts))
        return signed, events

    plan = audit(repository.update(plan_id, change), uow, "signed")
    return plan, took_effect


def review(
    plan_id: str,
    outcome: str,
    content: Content | None,
    uow: UnitOfWork,
    repository: PlanRepository,
) -> Plan:
    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        reviewed = life_cycle.start_review(
            plan, outcome=outcome, content=content, by=uow.actor.subject, now=uow.now
        )
        return reviewed, []

    return audit(repository.update(plan_id, change), uow, "changed")


def record_progress(
    plan_id: str,
    goal_id: str,
    progress: Progress | None,
    note: str,
    uow: UnitOfWork,
    repository: PlanRepository,
) -> Plan:
    if progress is None:
        raise_if_any([FieldError("progress", "open, in progress, reached or dropped")])
    assert progress is not None

    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        changed = life_cycle.record_progress(
            plan, goal_id, progress, note, by=uow.actor.subject, now=uow.now
        )
        return changed, []

    return audit(repository.update(plan_id, change), uow, "changed")


def close(plan_id: str, evaluation: str, uow: UnitOfWork, repository: PlanRepository) -> Plan:
    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        was = plan.in_effect
        closed = life_cycle.close(plan, evaluation, by=uow.actor.subject, now=uow.now)
        number = was.number if was else closed.current.number
        return closed, [
            event(events_pb2.PlanClosed, closed, uow, state_facts(closed, number)),
        ]

    return audit(repository.update(plan_id, change), uow, "changed")


def hand_over_offer(
    plan_id: str, offer: OfferPack, uow: UnitOfWork, repository: PlanRepository
) -> Plan:
    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        changed = plan_records.hand_over_offer(plan, offer)
        return changed, []

    return audit(repository.update(plan_id, change), uow, "changed")


def _decision_facts(plan: Plan, service_code: str, overspend: bool) -> dict[str, object]:
    """What a decision's request and its answer both tell: whose plan, which service,
    whether over the budget, and who is to hear."""
    return {
        "plan_id": plan.plan_id,
        "client_id": plan.client_id,
        "service_code": service_code,
        "centre_ids": list(plan.centre_ids),
        "worker_id": plan.worker_id,
        "overspend": overspend,
    }


def request_decision(
    plan_id: str,
    service_code: str,
    uow: UnitOfWork,
    repository: PlanRepository,
    *,
    overspend: bool = False,
) -> Plan:
    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        changed = decisions.request_decision(
            plan, service_code, by=uow.actor.subject, now=uow.now, overspend=overspend
        )
        facts = _decision_facts(plan, service_code, overspend) | {"requested_by": uow.actor.subject}
        return changed, [event(events_pb2.DecisionRequested, changed, uow, facts)]

    return audit(repository.update(plan_id, change), uow, "changed")


def decide(
    plan_id: str,
    service_code: str,
    approve: bool,
    reason: str,
    uow: UnitOfWork,
    repository: PlanRepository,
    *,
    overspend: bool = False,
) -> Plan:
    if MANAGER not in uow.principal.roles:
        raise PermissionDenied("only a manager decides a service")

    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        changed = decisions.decide(
            plan,
            service_code,
            approve,
            reason,
            by=uow.actor.subject,
            now=uow.now,
            overspend=overspend,
        )
        facts = _decision_facts(plan, service_code, overspend) | {
            "approved": approve,
            "decided_by": uow.actor.subject,
        }
        return changed, [event(events_pb2.DecisionMade, changed, uow, facts)]

    return audit(repository.update(plan_id, change), uow, "changed")


def decide_spending(
    plan_id: str,
    delivery_id: str,
    approve: bool,
    reason: str,
    uow: UnitOfWork,
    repository: PlanRepository,
) -> Plan:
    """A manager approves or refuses one spending item of the plan's personal budget."""
    errors: list[FieldError] = []
    _required(errors, "plan_id", plan_id)
    _required(errors, "delivery_id", delivery_id)
    raise_if_any(errors)
    if MANAGER not in uow.principal.roles:
        raise PermissionDenied("only a manager approves spending")

    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        changed, item = decisions.decide_spending(
            plan, delivery_id, approve, reason, by=uow.actor.subject, now=uow.now
        )
        facts = {
            "plan_id": plan.plan_id,
            "client_id": plan.client_id,
            "delivery_id": item.delivery_id,
            "service_code": item.service_code,
            "cost": item.cost,
            "approved": approve,
            "decided_by": uow.actor.subject,
            "worker_id": item.recorded_by,
            "centre_ids": list(plan.centre_ids),
        }
        return changed, [event(events_pb2.SpendingDecided, changed, uow, facts)]

    return audit(repository.update(plan_id, change), uow, "changed")


def set_budget(
    plan_id: str,
    holder: BudgetHolder | None,
    holder_name: str,
    lines: Mapping[str, int],
    uow: UnitOfWork,
    repository: PlanRepository,
) -> Plan:
    if holder is None:
        raise_if_any([FieldError("holder", "client or carer")])
    assert holder is not None

    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        changed = decisions.set_budget(plan, holder, holder_name, lines)
        return changed, []

    return audit(repository.update(plan_id, change), uow, "changed")
