"""nameko entry point of plans: publishes plans' outbox, keeps the read model of
clients' status from clients' events (a Rejected or Terminated client's plan is not
signed; deliveries after the client left Service user are flagged), records on the
client's open plan the reviews feedback asks for, and on a timer
raises due and missed monitoring contacts and reviews, once each, and discrepancies of
periods that closed without the planned deliveries."""

from __future__ import annotations

import logging
from datetime import UTC, date, timedelta

from nameko.timer import timer

from casework.clients.v1 import events_pb2 as clients_events
from casework.feedback.v1 import events_pb2 as feedback_events
from casework_common import contracts
from casework_common.config import seconds
from casework_common.envelope import EventEnvelope
from casework_common.events_runtime import EventsService, PoisonEvent, event_handler
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork
from casework_common.values import iso_day
from casework_common.wiring import Wired, Wiring
from casework_plans.adapters.repository import (
    ClientStatusRepository,
    PlanDocument,
    WaitingListDocument,
)
from casework_plans.bootstrap import Plans, bootstrap
from casework_plans.domain.review_requests import SOURCES
from casework_plans.use_cases import timers
from casework_plans.use_cases.review_requests import RequestReview, request_review

log = logging.getLogger(__name__)
SERVICE_USER = "service_user"


# How often the timer looks for due work and missed deliveries (tests shorten it).
DUE_WORK_CHECK_INTERVAL = seconds("PLANS_DUE_WORK_CHECK_INTERVAL", 300.0)


def status_change(envelope: EventEnvelope) -> tuple[str, str, str, date]:
    """clients.client.status_changed.v1 as (client_id, from_status, status, day)."""
    changed = contracts.read(envelope, clients_events.ClientStatusChanged)
    if not changed.client_id or not changed.status:
        raise PoisonEvent("client_id and status are required")
    day = iso_day(changed.effective_on)
    if day is None:
        raise PoisonEvent(f"effective_on {changed.effective_on!r} is not a day")
    return changed.client_id, changed.from_status, changed.status, day


def review_request(envelope: EventEnvelope) -> RequestReview:
    """feedback.plan_review.requested.v1 as the command recording it on the plan."""
    asked = contracts.read(envelope, feedback_events.PlanReviewRequested)
    if not asked.client_id or not asked.source_id:
        raise PoisonEvent("client_id and source_id are required")
    if asked.source not in SOURCES:
        raise PoisonEvent(f"source {asked.source!r} is not one of {sorted(SOURCES)}")
    requested_at = (
        asked.requested_at.ToDatetime(tzinfo=UTC)
        if asked.HasField("requested_at")
        else envelope.occurred_at
    )
    return RequestReview(
        client_id=asked.client_id,
        centre_id=asked.centre_id,
        source=asked.source,
        source_id=asked.source_id,
        aspects=tuple(asked.aspects),
        requested_at=requested_at,
    )


class PlansEvents(EventsService):
    name = "plans"
    casework_service = "plans"
    # Swept for events their writer could not publish (it crashed, or the broker was away).
    outbox_documents = (PlanDocument, WaitingListDocument)
    wired: Wired[Plans] = Wiring(bootstrap)  # type: ignore[assignment]

    @event_handler("plans.keep-client-status", ["clients.client.status_changed.v1"])
    def on_client_status_changed(self, envelope: EventEnvelope) -> None:
        if envelope.organisation not in self.wired.app.organisations:
            raise PoisonEvent(f"organisation {envelope.organisation} is not served here")
        client_id, from_status, status, day = status_change(envelope)
        until = day - timedelta(days=1) if from_status == SERVICE_USER else None
        ClientStatusRepository(envelope.organisation).keep(
            client_id, status, day, until, envelope.id, self.wired.app.clock()
        )

    @event_handler("plans.record-review-requests", ["feedback.plan_review.requested.v1"])
    def on_plan_review_requested(self, envelope: EventEnvelope) -> None:
        app = self.wired.app
        if envelope.organisation not in app.organisations:
            raise PoisonEvent(f"organisation {envelope.organisation} is not served here")
        command = review_request(envelope)
        with self.wired.units.begin(SystemActor("plans"), Trace(envelope.trace)) as uow:
            request_review(command, uow, app.all_plans(envelope.organisation, uow))

    # Organisations whose plans' due rows this process has backfilled.
    backfilled: set[str] = set()

    @timer(interval=DUE_WORK_CHECK_INTERVAL)  # type: ignore[misc]
    def raise_due_work(self) -> None:
        app = self.wired.app
        for organisation in app.organisations:
            with self._timer_unit() as uow:
                if organisation not in PlansEvents.backfilled:
                    # Plans stored before due rows were kept have none: written on
                    # the first tick, before due work is raised (the repository does
                    # it once per organisation; this process asks once).
                    app.all_plans(organisation, uow).backfill_due_rows()
                    PlansEvents.backfilled.add(organisation)
                timers.raise_due_work(
                    organisation,
                    uow,
                    app.cadence_of(organisation),
                    lambda org, unit: app.all_plans(org, unit),
                )

    def _timer_unit(self) -> UnitOfWork:
        return self.wired.units.begin(SystemActor("plans"), Trace())
