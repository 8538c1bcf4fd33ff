"""notify's read model of published routing rules against the database MONGO_URI names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from casework_common.routing import Rule
from casework_notify.adapters.repository import PublishedRulesRepository
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
