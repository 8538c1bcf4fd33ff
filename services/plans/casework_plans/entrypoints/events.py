"""nameko entry point of plans: publishes plans' outbox, keeps the read model of
clients' status from clients' events (a Rejected or Terminated client's plan is not
signed; deliveries after the client left Service user are flagged), and on a timer
raises due and missed monitoring contacts and reviews, once each, and discrepancies of
periods that closed without the planned deliveries."""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta

from nameko.timer import timer

from casework.clients.v1 import events_pb2 as clients_events
from casework_common import contracts
from casework_common.config import MissingConfiguration
from casework_common.envelope import EventEnvelope
from casework_common.events_runtime import EventsService, PoisonEvent, event_handler
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork
from casework_common.values import iso_day
from casework_common.wiring import Wired, Wiring
from casework_plans.adapters.repository import ClientStatusRepository
from casework_plans.bootstrap import Plans, bootstrap
from casework_plans.use_cases import timers

log = logging.getLogger(__name__)
SERVICE_USER = "service_user"


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable) or ""
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise MissingConfiguration(variable, f"must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise MissingConfiguration(variable, f"must be positive, got {raw!r}")
    return value


# How often the timer looks for due work and missed deliveries (tests shorten it).
DUE_WORK_CHECK_INTERVAL = _seconds("PLANS_DUE_WORK_CHECK_INTERVAL", 300.0)


def status_change(envelope: EventEnvelope) -> tuple[str, str, str, date]:
    """clients.client.status_changed.v1 as (client_id, from_status, status, day)."""
    changed = contracts.read(envelope, clients_events.ClientStatusChanged)
    if not changed.client_id or not changed.status:
        raise PoisonEvent("client_id and status are required")
    day = iso_day(changed.effective_on)
    if day is None:
        raise PoisonEvent(f"effective_on {changed.effective_on!r} is not a day")
    return changed.client_id, changed.from_status, changed.status, day


class PlansEvents(EventsService):
    name = "plans"
    casework_service = "plans"
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

    @timer(interval=DUE_WORK_CHECK_INTERVAL)  # type: ignore[misc]
    def raise_due_work(self) -> None:
        app = self.wired.app
        for organisation in app.organisations:
            with self._timer_unit() as uow:
                timers.raise_due_work(
                    organisation,
                    uow,
                    app.cadence_of(organisation),
                    lambda org, unit: app.all_plans(org, unit),
                )

    def _timer_unit(self) -> UnitOfWork:
        return self.wired.units.begin(SystemActor("plans"), Trace())
