"""notify's read model of published routing rules against the database MONGO_URI names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework_common.routing import Rule
from casework_notify.adapters.repository import PublishedRulesDocument, PublishedRulesRepository
from casework_notify.domain.routing import PublishedRules

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("mongo_db")


def create_published(version: int, worker: str = "w-ilze") -> PublishedRules:
    rule = Rule("r", 1, (), ("ctr-south-city",), (), (), (worker,))
    return PublishedRules("org-demo", version, (rule,))


def test_the_latest_version_is_kept_whatever_order_the_events_arrive_in() -> None:
    repository = PublishedRulesRepository()
    assert repository.latest("org-demo") is None
    assert repository.keep_latest(create_published(2, "w-ilze"), T0)
    assert not repository.keep_latest(create_published(1, "w-anna"), T0)
    assert not repository.keep_latest(create_published(2, "w-petr"), T0)  # redelivered
    assert repository.latest("org-demo") == create_published(2, "w-ilze")
    assert repository.keep_latest(create_published(3, "w-petr"), T0)
    assert repository.latest("org-demo") == create_published(3, "w-petr")
    assert repository.latest("org-other") is None


def test_a_version_another_process_stored_is_read_by_the_next_event() -> None:
    routing = PublishedRulesRepository()  # the process routing client events
    keeping = PublishedRulesRepository()  # the process that took the published event
    keeping.keep_latest(create_published(2, "w-ilze"), T0)
    assert routing.latest("org-demo") == create_published(2, "w-ilze")
    assert routing.latest("org-demo") == create_published(2, "w-ilze")  # from memory
    assert keeping.keep_latest(create_published(3, "w-petr"), T0)
    assert routing.latest("org-demo") == create_published(3, "w-petr")


def test_another_set_stored_under_a_reused_version_is_not_answered_from_memory() -> None:
    routing = PublishedRulesRepository()
    routing.keep_latest(create_published(1, "w-ilze"), T0)
    assert routing.latest("org-demo") == create_published(1, "w-ilze")
    PublishedRulesDocument._get_collection().delete_many({})  # a database emptied
    assert routing.latest("org-demo") is None
    routing.keep_latest(create_published(1, "w-anna"), T0 + timedelta(seconds=1))
    assert routing.latest("org-demo") == create_published(1, "w-anna")
