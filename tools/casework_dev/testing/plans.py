"""Factories of individual service plans for tests: `create_<thing>(**overrides)`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from casework_plans.domain import life_cycle
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
    return life_cycle.draft(**values)


def create_plan_in_effect(**overrides: Any) -> Plan:
    now = overrides.pop("signed_at", NOW)
    plan = create_plan(**overrides)
    plan, _ = life_cycle.sign(
        plan,
        1,
        Signer.CLIENT,
        "Anna Client",
        client_status="service_user",
        by="worker-1",
        now=now,
    )
    plan, _ = life_cycle.sign(
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


# ------------------------------------------------------------------ gRPC requests


def create_content_message(**overrides: Any) -> Any:
    """A valid PlanContent: three meals a day from today, reviewed in half a year."""
    from casework.plans.v1 import plans_pb2 as pb

    today = datetime.now(UTC).date()
    values: dict[str, Any] = {
        "reason_for_request": "cannot cook since the fall",
        "plan_date": today.isoformat(),
        "next_review_on": date(today.year + 1, 1, 1).isoformat(),
        "needs": [
            pb.Need(
                need_id="need-meals",
                kind=pb.NEED_KIND_STATED,
                need_code="meals",
                description="food every day",
                service_codes=["meals"],
            ),
            pb.Need(
                need_id="need-day-care",
                kind=pb.NEED_KIND_FUTURE,
                need_code="company",
                description="lonely in the afternoons",
            ),
        ],
        "goals": [
            pb.Goal(
                goal_id="eat-well",
                description="eats three warm meals every day",
                target_date=date(today.year + 1, 1, 1).isoformat(),
                actions=[
                    pb.Action(
                        action_id="meals",
                        service_code="meals",
                        description="hot meals brought home",
                        provider=pb.PROVIDER_KIND_PARTNER,
                        provider_name="Charity kitchen",
                        frequency=pb.Frequency(amount=3, per=pb.PERIOD_DAY),
                        deadline=date(today.year + 1, 1, 1).isoformat(),
                    )
                ],
            )
        ],
    }
    values.update(overrides)
    return pb.PlanContent(**values)


def create_plan_request(**overrides: Any) -> Any:
    import secrets

    from casework.plans.v1 import plans_pb2 as pb

    values: dict[str, Any] = {
        "idempotency_key": f"plan-{secrets.token_hex(8)}",
        "client_id": f"client-{secrets.token_hex(6)}",
        "centre_id": "ctr-north-town",
        "content": create_content_message(),
    }
    values.update(overrides)
    return pb.CreatePlanRequest(**values)


def sign_both(plans_stub: Any, plan: Any, metadata: Any) -> Any:
    """Client and worker sign the plan's draft; answers the plan in effect."""
    from casework.plans.v1 import plans_pb2 as pb

    number = plan.versions[-1].number
    plans_stub.SignPlan(
        pb.SignPlanRequest(plan_id=plan.plan_id, version=number, signer=pb.SIGNER_CLIENT,
                           name="Jana Nováková"),
        metadata=metadata,
    )  # fmt: skip
    return plans_stub.SignPlan(
        pb.SignPlanRequest(plan_id=plan.plan_id, version=number, signer=pb.SIGNER_WORKER,
                           name="Anna Horváthová"),
        metadata=metadata,
    ).plan  # fmt: skip


def refused(call: Any, request: Any, metadata: Any) -> Any:
    """The gRPC error a call answers; fails the test when the call succeeds."""
    import grpc
    import pytest

    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata)
    return caught.value


class Captured:
    """Every plans event published on a suite's vhost, heard through a queue of the
    test's own."""

    def __init__(self, uri: str) -> None:
        import secrets

        import kombu

        self._connection = kombu.Connection(uri)
        exchange = kombu.Exchange("casework.events", type="topic", passive=True)
        self._queue = self._connection.SimpleQueue(
            kombu.Queue(f"test-capture-{secrets.token_hex(4)}", exchange=exchange,
                        routing_key="plans.#", exclusive=True, auto_delete=True)
        )  # fmt: skip
        self.events: list[dict[str, Any]] = []

    def of(self, event_type: str, **payload: Any) -> list[dict[str, Any]]:
        import json

        while True:
            try:
                message = self._queue.get(timeout=0.05)
            except self._queue.Empty:
                break
            self.events.append(json.loads(message.body))
            message.ack()
        return [
            e for e in self.events
            if e["type"] == event_type and all(e["payload"].get(k) == v for k, v in payload.items())
        ]  # fmt: skip

    def close(self) -> None:
        self._queue.close()
        self._connection.release()
