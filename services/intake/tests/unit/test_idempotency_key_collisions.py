"""A reused idempotency key is refused without naming what the key first created: the
key may be another centre's, and its outreach or project id is not the caller's to know."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from casework_common.errors import AlreadyExists
from casework_dev.testing.organisations import create_organisation
from casework_intake.domain import outreach, projects
from casework_intake.domain.outreach import ActivityType, PlanOutreach
from casework_intake.domain.projects import CreateProject

DEV = create_organisation()
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def create_plan(**overrides: Any) -> PlanOutreach:
    fields: dict[str, Any] = {
        "worker_id": "w-ilze",
        "centre_id": "ctr-south-city",
        "activity_type": ActivityType.FIELD_WORK,
        "planned_at": T0 + timedelta(days=2),
        "place": "bus station",
        "description": "talk to people sleeping rough",
        "idempotency_key": "shared-key-0001",
    }
    fields.update(overrides)
    return PlanOutreach(**fields)


def create_project_request(**overrides: Any) -> CreateProject:
    fields: dict[str, Any] = {
        "name": "Open day",
        "centre_id": "ctr-south-city",
        "description": "information day",
        "members": (),
        "idempotency_key": "shared-key-0001",
    }
    fields.update(overrides)
    return CreateProject(**fields)


def test_an_outreach_key_reused_by_another_centres_worker_names_no_outreach_id() -> None:
    stored = outreach.plan(
        create_plan(), DEV, outreach_id="o-secret-42", planned_by="w-ilze", now=T0,
        reminder_hours=24,
    )  # fmt: skip
    with pytest.raises(AlreadyExists) as refused:
        outreach.check_replay(
            stored, create_plan(worker_id="w-anna", centre_id="ctr-north-town"), "w-anna"
        )
    message = str(refused.value)
    assert "o-secret-42" not in message
    assert "idempotency_key" in message


def test_a_project_key_reused_by_another_centres_worker_names_no_project_id() -> None:
    stored = projects.create(
        create_project_request(), DEV, project_id="p-secret-42", creator="w-ilze", now=T0
    )
    with pytest.raises(AlreadyExists) as refused:
        projects.check_replay(stored, create_project_request(centre_id="ctr-north-town"), "w-anna")
    message = str(refused.value)
    assert "p-secret-42" not in message
    assert "idempotency_key" in message
