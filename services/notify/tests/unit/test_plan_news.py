"""plans' news into inboxes: the responsible worker is reminded of monitoring and
reviews due or missed and told of decisions and discrepancies; a decision requested
goes to the managers of the plan's centres; each links the plan and the client, and a
discrepancy raised twice is one notification."""

from __future__ import annotations

from typing import Any

from casework_common.unit_of_work import SystemActor
from casework_dev.testing.fakes import FakeUnitOfWork
from casework_dev.testing.organisations import create_organisation
from casework_notify import services
from casework_notify.domain.inbox import Link, Notification, classify
from casework_notify.domain.plan_news import PlanNews

ORGANISATION = create_organisation()


class FakeInbox:
    def __init__(self) -> None:
        self.delivered: dict[str, Notification] = {}

    def deliver(self, notifications: list[Notification]) -> int:
        new = [n for n in notifications if n.notification_id not in self.delivered]
        self.delivered.update({n.notification_id: n for n in new})
        return len(new)


def create_news(**overrides: Any) -> PlanNews:
    fields: dict[str, Any] = {
        "event_id": "evt-1",
        "organisation": "org-demo",
        "what": "review_overdue",
        "plan_id": "plan-1",
        "client_id": "cl-1",
        "worker_id": "w-anna",
        "centre_ids": ("ctr-north-town",),
        "due_on": "2026-11-30",
    }
    fields.update(overrides)
    return PlanNews(**fields)


def tell(inbox: FakeInbox, **overrides: Any) -> list[Notification]:
    return services.tell_of_plan_news(
        create_news(**overrides), ORGANISATION, inbox, FakeUnitOfWork(SystemActor("notify"))
    )


def test_an_overdue_review_reaches_the_responsible_worker_linked_and_needing_action() -> None:
    [note] = tell(FakeInbox())
    n = classify(note)
    assert (n.worker_id, n.kind, n.priority, n.needs_action) == (
        "w-anna",
        "plan_review_overdue",
        "high",
        True,
    )
    assert n.links == (Link("plan", "plan-1"), Link("client", "cl-1"))
    assert "2026-11-30" in n.title


def test_a_decision_requested_goes_to_the_managers_of_the_plans_centres() -> None:
    notes = tell(
        FakeInbox(),
        what="decision_requested",
        centre_ids=("ctr-north-town", "ctr-north-village", "ctr-south-city"),
        service_code="home_care",
        requested_by="w-anna",
        overspend=True,
    )
    assert sorted(n.worker_id for n in notes) == ["w-manager-north", "w-manager-south"]
    assert all("beyond its budget line" in n.title for n in notes)


def test_a_discrepancy_raised_twice_is_one_notification() -> None:
    inbox = FakeInbox()
    tell(inbox, what="discrepancy", event_id="e-1", discrepancy_id="d-1", service_code="meals")
    tell(inbox, what="discrepancy", event_id="e-2", discrepancy_id="d-1", service_code="meals")
    assert len(inbox.delivered) == 1


def test_monitoring_due_is_a_normal_reminder() -> None:
    [note] = tell(FakeInbox(), what="monitoring_due")
    assert (note.kind, note.priority, note.needs_action) == (
        "plan_monitoring_due",
        "normal",
        False,
    )
