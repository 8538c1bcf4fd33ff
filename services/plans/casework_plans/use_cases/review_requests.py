"""Feedback that changes the work: a review feedback asked for is recorded on the
client's open plan (and announced with the plan's responsible worker). A client with
no open plan has nothing to review: the request is logged and dropped, not refused."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from casework_common.envelope import EventEnvelope
from casework_common.unit_of_work import UnitOfWork
from casework_plans.adapters.repository import PlanRepository
from casework_plans.domain import review_requests
from casework_plans.domain.plans import Plan, ReviewRequest
from casework_plans.use_cases import _events
from casework_plans.use_cases.audit import audit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestReview:
    """What feedback said: which client, from which response or complaint, when."""

    client_id: str
    centre_id: str
    source: str
    source_id: str
    aspects: tuple[str, ...]
    requested_at: datetime


def request_review(
    command: RequestReview, uow: UnitOfWork, repository: PlanRepository
) -> Plan | None:
    """The client's open plan with the request on it; None when the client has none."""
    open_plans = [p for p in repository.of_client(command.client_id) if p.closure is None]
    if not open_plans:
        log.info(
            "review requested for a client with no open plan: nothing to record",
            extra={"fields": {"source": command.source, "source_id": command.source_id}},
        )
        return None
    request = ReviewRequest(
        source=command.source,
        source_id=command.source_id,
        aspects=command.aspects,
        centre_id=command.centre_id,
        requested_at=command.requested_at,
        recorded_at=uow.now,
    )

    def change(plan: Plan) -> tuple[Plan, list[EventEnvelope]]:
        if plan.closure is not None:
            return plan, []  # closed meanwhile: nothing left to review
        changed, added = review_requests.record(plan, request)
        return changed, [_events.review_requested(request, changed, uow)] if added else []

    # One open plan per client (CreatePlan refuses a second one).
    return audit(repository.update(open_plans[0].plan_id, change), uow, "review-requested")
