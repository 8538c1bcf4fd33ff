"""The events process's timer: for every plan in effect, raise each due or missed
monitoring contact and review once, and check closed periods for deliveries that did
not come (a missed visit raises a discrepancy without waiting for a complaint)."""

from __future__ import annotations

from collections.abc import Callable

from casework_common.envelope import EventEnvelope
from casework_common.errors import CaseworkError
from casework_common.unit_of_work import UnitOfWork
from casework_plans.adapters.repository import ClientStatusRepository, PlanRepository
from casework_plans.domain import monitoring, plans
from casework_plans.domain.monitoring import Cadence
from casework_plans.domain.plans import Plan
from casework_plans.use_cases import _events
from casework_plans.use_cases.records import check_plan


def raise_due_work(
    organisation: str,
    uow: UnitOfWork,
    cadence: Cadence,
    repository_of: Callable[[str, UnitOfWork], PlanRepository],
) -> int:
    """Look once a day at each plan in effect (again the same day after a signature
    or a contact); answers how many plans raised something."""
    today = uow.now.date()
    repository = repository_of(organisation, uow)
    statuses = ClientStatusRepository(organisation)
    raised = 0
    for plan in list(repository.unchecked(today)):
        items = [
            i
            for i in monitoring.due_work(plan, plan.contacts, today, cadence)
            if i.key not in plan.raised
        ]
        _status, until = statuses.status_of(plan.client_id)
        found = check_plan(plan, today=today, service_user_until=until)

        def change(
            current: Plan,
            items: list[monitoring.DueItem] = items,
            found: list[plans.Discrepancy] = found,
        ) -> tuple[Plan, list[EventEnvelope]]:
            fresh = [i for i in items if i.key not in current.raised]
            changed = plans.mark_raised(current, [i.key for i in fresh])
            changed = plans.mark_checked(changed, today)
            changed, new = plans.raise_discrepancies(changed, found, now=uow.now)
            events = [_events.due(i, changed, uow) for i in fresh]
            events += [_events.discrepancy(r, changed, uow) for r in new]
            return changed, events

        try:
            repository.update(plan.plan_id, change)
        except CaseworkError:
            continue  # changed meanwhile: the next tick sees it again
        raised += 1 if items or found else 0
    return raised
