"""The events process's timer: for every plan in effect, raise each due or missed
monitoring contact and review once, and check closed periods for deliveries that did
not come (a missed visit raises a discrepancy without waiting for a complaint)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from casework_common.envelope import EventEnvelope
from casework_common.errors import CaseworkError
from casework_common.events_runtime import TRANSIENT
from casework_common.unit_of_work import UnitOfWork
from casework_plans.adapters.repository import ClientStatusRepository, PlanRepository
from casework_plans.domain import monitoring
from casework_plans.domain import records as plan_records
from casework_plans.domain.monitoring import Cadence
from casework_plans.domain.plans import Plan
from casework_plans.use_cases import _events
from casework_plans.use_cases.records import check_plan

log = logging.getLogger(__name__)


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
        raised_here = False

        def change(current: Plan) -> tuple[Plan, list[EventEnvelope]]:
            # Worked out from the plan as stored at the moment of writing: a contact
            # recorded meanwhile (a lost race, made again) changes what is due.
            nonlocal raised_here
            fresh = [
                i
                for i in monitoring.due_work(current, current.contacts, today, cadence)
                if i.key not in current.raised
            ]
            _status, until = statuses.status_of(current.client_id)
            found = check_plan(current, today=today, service_user_until=until)
            changed = plan_records.mark_raised(current, [i.key for i in fresh])
            changed = plan_records.mark_checked(changed, today)
            changed, new = plan_records.raise_discrepancies(changed, found, now=uow.now)
            events = [_events.due(i, changed, uow) for i in fresh]
            events += [_events.discrepancy(r, changed, uow) for r in new]
            raised_here = bool(events)
            return changed, events

        try:
            repository.update(plan.plan_id, change)
        except CaseworkError:
            continue  # changed meanwhile, again and again: the next tick sees it
        except TRANSIENT:
            raise  # the database or broker is away: this tick ends, the next resumes
        except Exception:
            # One plan the timer cannot work out must not hold back every plan after
            # it, tick after tick; it stays unchecked and is tried again next tick.
            log.exception("due work of plan %s not checked", plan.plan_id)
            continue
        # The plan's due row again, whatever the update did: a row write lost after
        # its plan's write is repaired here, by the next day at the latest.
        repository.repair_due_row(plan.plan_id)
        raised += 1 if raised_here else 0
    return raised
