"""The client's plans, read from plans over gRPC with documents' service token (the same
file as for cards: its tokens carry the scope `casework.plans.v1.PlansService/ListPlans`
besides clients' GetClient). plans audits each read under documents' service subject and
answers the plans of the organisation's centres; documents keeps only those of centres
its own caller serves (domain/context.py, `plan_in_effect`)."""

from __future__ import annotations

from casework.plans.v1 import plans_pb2, plans_pb2_grpc
from casework_common.service_calls import ServiceCaller
from casework_documents.adapters.cards import ServiceTokens
from casework_documents.domain.context import ClientPlan, PlannedAction, PlannedGoal

LIST_PLANS = "casework.plans.v1.PlansService/ListPlans"
IN_EFFECT = "in_effect"
PROVIDERS = {
    plans_pb2.PROVIDER_KIND_WORKER: "worker",
    plans_pb2.PROVIDER_KIND_VOLUNTEER: "volunteer",
    plans_pb2.PROVIDER_KIND_PARTNER: "partner",
}
PERIODS = {
    plans_pb2.PERIOD_DAY: "day",
    plans_pb2.PERIOD_WEEK: "week",
    plans_pb2.PERIOD_MONTH: "month",
}


class PlansUnavailable(Exception):
    """plans could not be asked (down, or documents' token refused)."""


class ClientPlans:
    def __init__(self, target: str, tokens: ServiceTokens, timeout: float = 5.0) -> None:
        self._caller = ServiceCaller(target, tokens, timeout)
        self._stub = plans_pb2_grpc.PlansServiceStub(self._caller.channel)

    def of_client(
        self, organisation: str, client_id: str, trace: dict[str, str] | None = None
    ) -> list[ClientPlan]:
        """The client's plans of the organisation, the open one first."""
        reply = self._caller.answer(
            self._stub.ListPlans,
            plans_pb2.ListPlansRequest(client_id=client_id),
            organisation,
            trace,
            service="plans",
            unavailable=PlansUnavailable,
        )
        return [client_plan(p) for p in reply.plans] if reply is not None else []

    def close(self) -> None:
        self._caller.close()


def client_plan(plan: plans_pb2.Plan) -> ClientPlan:
    effective = next((v for v in plan.versions if v.status == IN_EFFECT), None)
    return ClientPlan(
        plan_id=plan.plan_id,
        centre_ids=tuple(plan.centre_ids),
        version=effective.number if effective else 0,
        goals=tuple(_goal(g) for g in effective.content.goals) if effective else None,
    )


def _goal(goal: plans_pb2.Goal) -> PlannedGoal:
    return PlannedGoal(
        description=goal.description,
        target_date=goal.target_date,
        actions=tuple(_action(a) for a in goal.actions),
    )


def _action(action: plans_pb2.Action) -> PlannedAction:
    frequency = ""
    if action.HasField("frequency") and action.frequency.amount:
        per = PERIODS.get(action.frequency.per, "")
        frequency = f"{action.frequency.amount} per {per}" if per else str(action.frequency.amount)
    return PlannedAction(
        description=action.description or action.service_code,
        provider=PROVIDERS.get(action.provider, ""),
        provider_name=action.provider_name,
        frequency=frequency,
        deadline=action.deadline,
    )
