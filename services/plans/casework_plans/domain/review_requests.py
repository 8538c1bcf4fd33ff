"""Feedback that changes the work: a negative answer or a complaint about a client's
service, heard from feedback, asks the responsible worker to review the client's open
plan. The request stays on the plan, and in the worker's due work, until the plan is
next reviewed or a version takes effect (life_cycle.answer_review_requests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from casework_common.errors import FailedPrecondition
from casework_plans.domain.monitoring import DueItem, DueKind
from casework_plans.domain.plans import Plan, ReviewRequest

# What feedback names as the source of a request.
SOURCES = frozenset({"response", "complaint"})


def record(plan: Plan, request: ReviewRequest) -> tuple[Plan, bool]:
    """The plan with the request kept; answers whether it is new. The same response or
    complaint heard twice is one request (feedback may announce it again)."""
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    if any(
        r.source == request.source and r.source_id == request.source_id
        for r in plan.review_requests
    ):
        return plan, False
    return replace(plan, review_requests=(*plan.review_requests, request)), True


def requested_from(plan: Plan) -> date | None:
    """The day the oldest pending request was made (None: none pending, or the plan is
    closed): from then on it is due work."""
    if plan.closure is not None:
        return None
    pending = [r.requested_at.date() for r in plan.pending_review_requests]
    return min(pending) if pending else None


def due_items(plan: Plan, today: date) -> list[DueItem]:
    """One item for a plan with pending requests: the review they ask for is one piece
    of work, however many answers or complaints asked."""
    since = requested_from(plan)
    if since is None or since > today:
        return []
    version = plan.in_effect or plan.current
    return [
        DueItem(
            DueKind.REVIEW_REQUESTED,
            plan.plan_id,
            plan.client_id,
            plan.worker_id,
            plan.centre_ids,
            since,
            version.number,
        )
    ]
