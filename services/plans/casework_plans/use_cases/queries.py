"""Reading plans: one plan (audited), the due work of a worker or of a manager's
centres, screening plans for a new catalogue service, and waiting lists."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date

from casework_common import paging
from casework_common.errors import FieldError, NotFound, PermissionDenied, clip, raise_if_any
from casework_common.unit_of_work import UnitOfWork
from casework_plans.adapters.repository import (
    CatalogueRepository,
    PlanRepository,
    WaitingListRepository,
)
from casework_plans.domain import catalogue, monitoring, review_requests
from casework_plans.domain.catalogue import ScreenHit
from casework_plans.domain.monitoring import Cadence, DueItem
from casework_plans.domain.plans import Plan
from casework_plans.use_cases import _events
from casework_plans.use_cases.audit import audit

MANAGER = "manager"


def get_plan(plan_id: str, uow: UnitOfWork, repository: PlanRepository) -> Plan:
    if not plan_id:
        raise_if_any([FieldError("plan_id", "is required")])
    return audit(repository.get(plan_id), uow, "read")


def list_plans(client_id: str, uow: UnitOfWork, repository: PlanRepository) -> list[Plan]:
    """A client's plans of the caller's centres: the open one first, then the closed
    ones, newest first; each read is audited."""
    if not client_id:
        raise_if_any([FieldError("client_id", "is required")])
    found = repository.of_client(client_id)
    found.sort(key=lambda p: (p.closure is not None, -p.versions[0].created_at.timestamp()))
    return [audit(plan, uow, "read") for plan in found]


@dataclass(frozen=True)
class DueWorkQuery:
    on: date | None
    centre_id: str
    kinds: tuple[str, ...] = ()
    mine: bool = False
    due_before: date | None = None
    page_size: int = 0
    page_token: str = ""


def list_due_work(
    query: DueWorkQuery,
    uow: UnitOfWork,
    repository: PlanRepository,
    cadence: Cadence,
) -> tuple[list[DueItem], str]:
    """One page of a worker's own due work; a manager's is every plan of their centres
    (or of the one centre named, or their own caseload when `mine`). Beside monitoring
    and reviews by the calendar, a review feedback asked for. Answers the page and the
    next page's token."""
    offset, limit = paging.page_window(query.page_size, query.page_token)
    kinds = monitoring.due_kinds(query.kinds)
    principal = uow.principal
    manager = MANAGER in principal.roles
    if query.centre_id and query.centre_id not in principal.centres:
        raise PermissionDenied(f"centre {clip(query.centre_id)} is not one the caller serves")
    today = query.on or uow.now.date()
    worker = principal.subject if query.mine or not manager else None

    def due_of_each_plan() -> Iterator[tuple[date, list[DueItem]]]:
        for first_day, plan in repository.due_in_order(today, worker):
            if query.centre_id and query.centre_id not in plan.centre_ids:
                continue
            items = monitoring.due_work(plan, plan.contacts, today, cadence)
            yield first_day, items + review_requests.due_items(plan, today)

    wanted = monitoring.DueWorkFilter(kinds, worker, query.due_before)
    page = monitoring.first_in_order(due_of_each_plan(), wanted, offset + limit)[offset:]
    return page, paging.next_token(offset, limit, len(page))


@dataclass(frozen=True)
class AddService:
    service_code: str
    name: str
    how_to_obtain: str
    centre_ids: tuple[str, ...]
    answers_needs: tuple[str, ...]


def add_catalogue_service(
    command: AddService,
    uow: UnitOfWork,
    repository: CatalogueRepository,
    known_centres: frozenset[str],
) -> catalogue.CatalogueService:
    raise_if_any(
        catalogue.catalogue_errors(
            service_code=command.service_code,
            name=command.name,
            how_to_obtain=command.how_to_obtain,
            centre_ids=command.centre_ids,
            answers_needs=command.answers_needs,
            known_centres=known_centres,
        )
    )
    service = catalogue.CatalogueService(
        uow.principal.organisation,
        command.service_code,
        command.name.strip(),
        command.how_to_obtain.strip(),
        command.centre_ids,
        command.answers_needs,
        uow.actor.subject,
        uow.now,
    )
    repository.put(service)
    return service


def list_catalogue(
    centre_id: str, catalogue_repo: CatalogueRepository
) -> list[catalogue.CatalogueService]:
    return [s for s in catalogue_repo.all() if not centre_id or centre_id in s.centre_ids]


def screen_plans(
    service_code: str, catalogue_repo: CatalogueRepository, repository: PlanRepository
) -> list[ScreenHit]:
    if not service_code:
        raise_if_any([FieldError("service_code", "is required")])
    service = catalogue_repo.get(service_code)
    if service is None:
        raise NotFound(f"service {clip(service_code)} is not in the catalogue")
    return catalogue.screen_for_service(
        repository.naming_needs(list(service.answers_needs), service_code),
        service_code,
        service.answers_needs,
    )


def put_on_waiting_list(
    plan_id: str,
    service_code: str,
    entered_on: date | None,
    uow: UnitOfWork,
    repository: PlanRepository,
    lists: WaitingListRepository,
    catalogue_repo: CatalogueRepository,
) -> tuple[catalogue.Waiting, int]:
    plan = repository.get(plan_id)
    if catalogue_repo.get(service_code) is None:
        raise_if_any([FieldError("service_code", "is not a service of the catalogue")])
    day = entered_on or uow.now.date()
    catalogue.entry_errors(day, uow.now.date())
    waiting_list, doc = lists.get(service_code)
    entry = catalogue.Waiting(plan.client_id, plan.plan_id, day, plan.centre_ids, uow.actor.subject)
    waiting_list = catalogue.enter(waiting_list, entry)
    lists.put(doc, waiting_list)
    audit(plan, uow, "waiting-list")
    return entry, waiting_list.position_of(plan.client_id)


def take_off_waiting_list(
    plan_id: str,
    service_code: str,
    reason: catalogue.LeaveReason | None,
    uow: UnitOfWork,
    repository: PlanRepository,
    lists: WaitingListRepository,
) -> tuple[catalogue.Departure, bool]:
    """Take the plan's client off the service's list; answers the departure and whether
    it was recorded before (a retry, which changes nothing and announces nothing)."""
    errors = [FieldError(f, "is required") for f, v in (("plan_id", plan_id),
              ("service_code", service_code), ("reason", reason)) if not v]  # fmt: skip
    raise_if_any(errors)
    assert reason is not None
    plan = repository.get(plan_id)
    waiting_list, doc = lists.get(service_code)
    changed, departure, replayed = catalogue.leave(
        waiting_list, plan.client_id, reason, by=uow.actor.subject, today=uow.now.date()
    )
    if not replayed:
        lists.put(doc, changed, [_events.waiting_list_left(departure, service_code, plan, uow)])
        audit(plan, uow, "waiting-list")
    return departure, replayed


def waiting_list(
    service_code: str, uow: UnitOfWork, lists: WaitingListRepository
) -> list[tuple[catalogue.Waiting, int]]:
    """The entries of the caller's centres, each with its position in the whole list."""
    if not service_code:
        raise_if_any([FieldError("service_code", "is required")])
    whole, _doc = lists.get(service_code)
    centres = uow.principal.centres
    return [
        (entry, position)
        for position, entry in enumerate(whole.entries, start=1)
        if set(entry.centre_ids) & centres
    ]


__all__ = ["replace"]
