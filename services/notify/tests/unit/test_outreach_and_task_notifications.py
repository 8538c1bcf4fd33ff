"""Specification of notify's side of intake's outreach and project events: the planning
worker is reminded and asked for the outcome, an assignee is told of a new or an
overdue task, a redelivered event lands on the same notification, and an unreadable
event is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from casework_common.envelope import Actor, EventEnvelope, MalformedEvent
from casework_common.events_runtime import PoisonEvent
from casework_notify.domain.intake_news import (
    OutreachDue,
    TaskNews,
    remind_of_outreach,
    tell_assignee,
)
from casework_notify.entrypoints import events as consumers

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def create_envelope(event_type: str, **overrides: Any) -> EventEnvelope:
    """The event as it arrives: intake's payload in the contract's JSON."""
    payloads: dict[str, dict[str, Any]] = {
        "outreach": {
            "outreach_id": "o-1",
            "centre_id": "ctr-north-town",
            "worker_id": "w-anna",
            "activity_type": "field_work",
            "planned_at": "2025-06-03T09:00:00+00:00",
            "place": "railway station",
        },
        "task": {
            "project_id": "p-1",
            "project_name": "Open day",
            "centre_id": "ctr-north-town",
            "task_id": "t-1",
            "title": "book the hall",
            "assignee_id": "w-petr",
            "due_at": "2025-06-03T09:00:00+00:00",
            "status": "open",
            "assigned_by": "w-anna",
        },
    }
    payload = dict(payloads[event_type.split(".")[1]])
    payload.update(overrides)
    return EventEnvelope(
        id="e-1", type=event_type, version=1, organisation="org-demo",
        actor=Actor.system("intake"), payload=payload,
    )  # fmt: skip


def outreach_due(event: EventEnvelope) -> OutreachDue:
    return consumers.outreach_due(event)


def task_news(event: EventEnvelope) -> TaskNews:
    return consumers.task_news(event)


def test_the_planning_worker_is_reminded_then_asked_for_the_outcome() -> None:
    reminder = remind_of_outreach(outreach_due(create_envelope("intake.outreach.reminder_due")), T0)
    assert (reminder.kind, reminder.worker_id) == ("outreach_reminder", "w-anna")
    assert "railway station" in reminder.body and reminder.centre_id == "ctr-north-town"
    ask = remind_of_outreach(outreach_due(create_envelope("intake.outreach.outcome_due")), T0)
    assert (ask.kind, ask.worker_id) == ("outreach_outcome_due", "w-anna")
    # Both name the activity as their subject, not only in the text.
    assert (reminder.subject_kind, reminder.subject_id) == ("outreach", "o-1")
    assert (ask.subject_kind, ask.subject_id) == ("outreach", "o-1")
    # The same event delivered twice is the same notification.
    assert reminder.notification_id == "e-1:w-anna"


def test_the_assignee_is_told_of_a_new_and_of_an_overdue_task() -> None:
    assigned = tell_assignee(task_news(create_envelope("intake.task.assigned")), T0)
    assert assigned is not None
    assert (assigned.kind, assigned.worker_id) == ("task_assigned", "w-petr")
    assert "book the hall" in assigned.title and "p-1" in assigned.routing_reason
    overdue = tell_assignee(task_news(create_envelope("intake.task.overdue")), T0)
    assert overdue is not None and (overdue.kind, overdue.worker_id) == ("task_overdue", "w-petr")
    assert (assigned.subject_kind, assigned.subject_id) == ("task", "t-1")
    assert (overdue.subject_kind, overdue.subject_id) == ("task", "t-1")


def test_nobody_is_told_of_a_task_they_gave_themselves_but_is_told_when_it_is_late() -> None:
    own = create_envelope("intake.task.assigned", assigned_by="w-petr")
    assert tell_assignee(task_news(own), T0) is None
    own_late = create_envelope("intake.task.overdue", assigned_by="w-petr")
    assert tell_assignee(task_news(own_late), T0) is not None


@pytest.mark.parametrize(
    ("event_type", "overrides"),
    [
        ("intake.outreach.reminder_due", {"worker_id": ""}),
        ("intake.outreach.reminder_due", {"planned_at": "tomorrow"}),
        ("intake.outreach.outcome_due", {"worker_id": None}),
        ("intake.task.assigned", {"assignee_id": ""}),
        ("intake.task.overdue", {"due_at": 5}),
    ],
)
def test_an_unreadable_event_is_refused(event_type: str, overrides: dict[str, Any]) -> None:
    read = outreach_due if ".outreach." in event_type else task_news
    # Refused either way, both dead-lettered: a payload that does not parse into its
    # message (MalformedEvent), or one that parses but names nobody to tell (poison).
    with pytest.raises((MalformedEvent, PoisonEvent)):
        read(create_envelope(event_type, **overrides))
