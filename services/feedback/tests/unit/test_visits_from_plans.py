"""A monitoring contact in person that plans recorded is a visit of the client: it
joins the phone-survey sample and waits for its later survey, unless it is heard of
too late for a call within three days; a contact by phone is no visit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from casework_common.envelope import Actor, EventEnvelope
from casework_common.events_runtime import PoisonEvent
from casework_feedback.domain import visits
from casework_feedback.domain.surveys import Audience
from casework_feedback.entrypoints.events import monitoring_contact

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def create_contact_visit(**overrides: Any) -> visits.Visit:
    values: dict[str, Any] = {
        "contact_id": "c-1",
        "centre_id": "ctr-north-town",
        "client_id": "client-1",
        "worker_id": "w-anna",
        "contacted_on": NOW.date(),
        "recorded_at": NOW,
        "now": NOW,
        "sample_after": timedelta(hours=2),
        "later_after": timedelta(days=7),
    }
    values.update(overrides)
    return visits.visit_at_monitoring_contact(**values)


def test_a_contact_recorded_the_same_day_is_a_visit_sampled_after_the_usual_wait() -> None:
    visit = create_contact_visit()
    assert (visit.visit_id, visit.kind, visit.visited_at) == (
        "contact-c-1",
        Audience.DEPARTMENT,
        NOW,
    )
    assert visit.sample_at == NOW + timedelta(hours=2)
    assert visit.later_at == NOW + timedelta(days=7)
    assert visits.needs_phone_survey(visit)


def test_a_contact_recorded_days_later_counts_from_the_start_of_its_day() -> None:
    visit = create_contact_visit(contacted_on=date(2026, 2, 28))
    assert visit.visited_at == datetime(2026, 2, 28, tzinfo=UTC)
    assert visit.sample_at is not None


def test_a_contact_heard_of_too_late_for_a_call_within_three_days_is_not_sampled() -> None:
    visit = create_contact_visit(contacted_on=date(2026, 2, 20))
    assert visit.sample_at is None
    assert visit.later_at is not None


def contact_event(**payload: Any) -> EventEnvelope:
    values: dict[str, Any] = {
        "plan_id": "plan-1",
        "client_id": "client-1",
        "contact_id": "c-1",
        "contacted_on": "2026-03-02",
        "mode": "in_person",
        "worker_id": "w-anna",
        "centre_ids": ["ctr-north-town", "ctr-north-village"],
    }
    values.update(payload)
    return EventEnvelope(
        type="plans.monitoring.contact_recorded",
        version=1,
        organisation="org-demo",
        actor=Actor("worker", "w-anna"),
        payload=values,
        occurred_at=NOW,
    )


def test_plans_contact_in_person_is_read_as_a_visit_at_the_plans_first_centre() -> None:
    contact = monitoring_contact(contact_event())
    assert contact is not None
    assert (contact.centre_id, contact.contacted_on, contact.recorded_at) == (
        "ctr-north-town",
        date(2026, 3, 2),
        NOW,
    )


def test_a_contact_by_phone_is_no_visit() -> None:
    assert monitoring_contact(contact_event(mode="phone")) is None


@pytest.mark.parametrize(
    "payload", [{"client_id": ""}, {"centre_ids": []}, {"contacted_on": "yesterday"}]
)
def test_a_contact_without_a_client_centre_or_day_is_poison(payload: dict[str, Any]) -> None:
    with pytest.raises(PoisonEvent):
        monitoring_contact(contact_event(**payload))
