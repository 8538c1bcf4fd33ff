"""Who read or changed which client's plan, when, under which trace: every read and
change of a plan (it holds a client's personal data) leaves an entry."""

from __future__ import annotations

from casework_common.unit_of_work import UnitOfWork
from casework_plans.adapters.repository import PlanAuditEntry
from casework_plans.domain.plans import Plan


def _entry(plan: Plan, uow: UnitOfWork, action: str) -> PlanAuditEntry:
    return PlanAuditEntry(
        organisation=plan.organisation,
        plan_id=plan.plan_id,
        client_id=plan.client_id,
        subject=uow.actor.subject,
        action=action,
        at=uow.now,
        trace_id=uow.trace.trace_id,
    )


def audit(plan: Plan, uow: UnitOfWork, action: str) -> Plan:
    _entry(plan, uow, action).save()
    return plan


def audit_many(plans: list[Plan], uow: UnitOfWork, action: str) -> None:
    """One entry per plan, written together (an import touches many plans)."""
    entries = [_entry(plan, uow, action) for plan in plans]
    if entries:
        PlanAuditEntry.objects.insert(entries, load_bulk=False)
