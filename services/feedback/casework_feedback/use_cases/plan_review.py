"""Feedback that changes the work: the one place feedback says a client's plan should
be reviewed (plans records it on the client's open plan; notify tells the worker)."""

from __future__ import annotations

from casework.feedback.v1 import events_pb2
from casework_common.envelope import EventEnvelope
from casework_common.unit_of_work import UnitOfWork
from casework_feedback.use_cases._common import event, instant


def plan_review_requested(
    organisation: str,
    uow: UnitOfWork,
    *,
    client_id: str,
    centre_id: str,
    source: str,
    source_id: str,
    aspects: list[str],
    worker_id: str,
) -> EventEnvelope:
    """feedback.plan_review.requested.v1: a negative answer (`source` "response") or a
    complaint about the client's service asks for a review of the client's plan."""
    return event(
        events_pb2.PlanReviewRequested,
        organisation,
        uow,
        {
            "client_id": client_id,
            "centre_id": centre_id,
            "source": source,
            "source_id": source_id,
            "aspects": aspects,
            "worker_id": worker_id,
            "requested_at": instant(uow.now),
        },
    )
