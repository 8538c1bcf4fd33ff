"""Factories of individual service plans for tests: `create_<thing>(**overrides)`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from casework_plans.domain import plans
from casework_plans.domain.plans import (
    Action,
    Content,
    Frequency,
    Goal,
    Need,
    NeedKind,
    Period,
    Plan,
    ProviderKind,
    Signer,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()


def create_action(**overrides: Any) -> Action:
    values: dict[str, Any] = {
        "action_id": "meals",
        "service_code": "meals",
        "description": "hot meals brought home",
        "provider": ProviderKind.PARTNER,
        "provider_name": "Charity kitchen",
        "frequency": Frequency(3, Period.DAY),
        "deadline": date(2026, 6, 30),
    }
    values.update(overrides)
    return Action(**values)


def create_goal(**overrides: Any) -> Goal:
    values: dict[str, Any] = {
        "goal_id": "eat-well",
        "description": "eats three warm meals every day",
        "target_date": date(2026, 6, 30),
        "actions": (create_action(),),
    }
    values.update(overrides)
    return Goal(**values)


def create_content(**overrides: Any) -> Content:
    values: dict[str, Any] = {
        "reason_for_request": "cannot cook since the fall",
        "plan_date": TODAY,
        "next_review_on": date(2026, 9, 1),
        "needs": (
            Need("need-meals", NeedKind.STATED, "meals", "food every day", ("meals",)),
            Need("need-mobility", NeedKind.HIDDEN, "mobility", "stairs are hard"),
        ),
        "goals": (create_goal(),),
    }
    values.update(overrides)
    return Content(**values)


def create_plan(**overrides: Any) -> Plan:
    values: dict[str, Any] = {
        "plan_id": "plan-1",
        "organisation": "org",
        "client_id": "client-1",
        "family_id": "",
        "centre_ids": ("centre-a",),
        "worker_id": "worker-1",
        "content": create_content(),
        "by": "worker-1",
        "now": NOW,
    }
    values.update(overrides)
    return plans.draft(**values)


def create_plan_in_effect(**overrides: Any) -> Plan:
    now = overrides.pop("signed_at", NOW)
    plan = create_plan(**overrides)
    plan, _ = plans.sign(
        plan,
        1,
        Signer.CLIENT,
        "Anna Client",
        client_status="service_user",
        by="worker-1",
        now=now,
    )
    plan, _ = plans.sign(
        plan,
        1,
        Signer.WORKER,
        "Ben Worker",
        client_status="service_user",
        by="worker-1",
        now=now,
    )
    return plan


def with_content(plan: Plan, **overrides: Any) -> Plan:
    current = replace(plan.current, content=replace(plan.current.content, **overrides))
    return replace(plan, versions=(*plan.versions[:-1], current))
