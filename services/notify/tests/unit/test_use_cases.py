"""Notify's use cases against an in-memory inbox and a fake unit of work: a new client
lands in the inboxes of the workers the routing rules name, by the rules intake
published last, else by the organisation file's. No database, no broker."""

from __future__ import annotations

from typing import Any

from casework_common.unit_of_work import SystemActor
from casework_dev.testing.fakes import MOMENT, FakeUnitOfWork
from casework_dev.testing.organisations import create_organisation, create_rule
from casework_notify import services
from casework_notify.domain.client_news import ClientArrived
from casework_notify.domain.inbox import Notification
from casework_notify.domain.routing import PublishedRules

ORGANISATION = create_organisation()


class FakeInbox:
    """Every inbox of the organisation; a redelivered notification is kept once."""

    def __init__(self) -> None:
        self.delivered: dict[str, Notification] = {}

    def deliver(self, notifications: list[Notification]) -> int:
        new = [n for n in notifications if n.notification_id not in self.delivered]
        self.delivered.update({n.notification_id: n for n in new})
        return len(new)


def create_arrival(**overrides: Any) -> ClientArrived:
    fields: dict[str, Any] = {
        "event_id": "evt-1",
        "organisation": "org-demo",
        "client_id": "cl-1",
        "referral_id": "ref-1",
        "display_name": "Jana Nováková",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "returning": False,
    }
    fields.update(overrides)
    return ClientArrived(**fields)


def arrive(inbox: FakeInbox, published: PublishedRules | None = None, **overrides: Any) -> Any:
    return services.notify_responsible_workers(
        create_arrival(**overrides),
        ORGANISATION,
        inbox,
        FakeUnitOfWork(SystemActor("notify")),
        published=published,
    )


def test_a_new_client_lands_in_the_inbox_of_the_worker_the_rules_name() -> None:
    inbox = FakeInbox()

    arrive(inbox)

    [notification] = inbox.delivered.values()
    assert notification.worker_id == "w-anna"
    assert notification.client_id == "cl-1" and notification.created_at == MOMENT
    assert "north-town-housing-and-debt" in notification.routing_reason


def test_a_client_no_rule_matches_lands_with_the_centres_duty_worker() -> None:
    inbox = FakeInbox()

    arrive(inbox, centre_id="ctr-north-village", problem_type="information")

    assert [n.worker_id for n in inbox.delivered.values()] == ["w-duty-north"]


def test_a_rule_naming_two_workers_lands_in_both_inboxes() -> None:
    inbox = FakeInbox()

    arrive(inbox, centre_id="ctr-south-city", problem_type="domestic_violence")

    assert sorted(n.worker_id for n in inbox.delivered.values()) == ["w-ilze", "w-manager-south"]


def test_the_rules_intake_published_last_decide_over_the_organisation_files() -> None:
    inbox = FakeInbox()
    published = PublishedRules(
        organisation="org-demo",
        version=3,
        rules=(create_rule(id="all-to-petr", priority=99, workers=("w-petr",)),),
    )

    arrive(inbox, published)

    assert [n.worker_id for n in inbox.delivered.values()] == ["w-petr"]


def test_a_redelivered_arrival_lands_once() -> None:
    inbox = FakeInbox()

    arrive(inbox)
    arrive(inbox)

    assert len(inbox.delivered) == 1
