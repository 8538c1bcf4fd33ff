"""Visits feedback hears of from plans: a monitoring contact in person is a visit of
the client, so it joins the random phone-survey sample (and waits for its later
survey) as a visit recorded at the desk does."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import date, datetime, timedelta

from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork
from casework_feedback.adapters.repository import VisitRepository
from casework_feedback.domain import visits
from casework_feedback.domain.visits import Visit


@dataclasses.dataclass(frozen=True)
class MonitoringContact:
    contact_id: str
    centre_id: str
    client_id: str
    worker_id: str
    contacted_on: date
    recorded_at: datetime


def record_contact_visit(
    contact: MonitoringContact,
    uow: UnitOfWork,
    repository: VisitRepository,
    *,
    sample_after: timedelta,
    later_after: timedelta,
) -> Visit:
    visit = visits.visit_at_monitoring_contact(
        contact_id=contact.contact_id,
        centre_id=contact.centre_id,
        client_id=contact.client_id,
        worker_id=contact.worker_id,
        contacted_on=contact.contacted_on,
        recorded_at=contact.recorded_at,
        now=uow.now,
        sample_after=sample_after,
        later_after=later_after,
    )
    # The same contact announced again is the visit already kept.
    with contextlib.suppress(DuplicateAggregate):
        repository.add(visit)
    return visit
