"""clients' read model of each client's individual service plan, from plans' events
(`plans.plan.drafted/signed/superseded/closed.v1`): whether a plan is in effect and its
next review date, which the derived colour reads. The latest event wins (events may
arrive out of order: each carries when plans wrote it)."""

from __future__ import annotations

from datetime import date, datetime

import mongoengine as me
from mongoengine.connection import ConnectionFailure

from casework_clients.domain.colour import PlanState


class PlanStateDocument(me.Document):
    meta = {"collection": "plan_states"}

    id = me.StringField(primary_key=True)  # <organisation>:<client_id>
    organisation = me.StringField(required=True)
    client_id = me.StringField(required=True)
    plan_id = me.StringField(required=True)
    in_effect = me.BooleanField(default=False)
    next_review_on = me.StringField(default="")
    occurred_at = me.DateTimeField(required=True)


def keep_plan_state(
    organisation: str,
    client_id: str,
    plan_id: str,
    in_effect: bool,
    next_review_on: date | None,
    occurred_at: datetime,
) -> bool:
    """Keep the state unless a later event was kept already; answers whether kept."""
    key = f"{organisation}:{client_id}"
    doc = PlanStateDocument.objects(id=key).first()
    if doc is not None and doc.occurred_at is not None and doc.occurred_at > occurred_at:
        return False
    PlanStateDocument(
        id=key,
        organisation=organisation,
        client_id=client_id,
        plan_id=plan_id,
        in_effect=in_effect,
        next_review_on=next_review_on.isoformat() if next_review_on else "",
        occurred_at=occurred_at,
    ).save()
    return True


def plan_state_of(organisation: str, client_id: str) -> PlanState:
    """The client's plan as clients last heard of it; no plan when nothing was heard
    (or where no database is connected: the in-memory unit tests)."""
    try:
        doc = PlanStateDocument.objects(id=f"{organisation}:{client_id}").first()
    except ConnectionFailure:
        return PlanState()
    if doc is None:
        return PlanState()
    review = date.fromisoformat(doc.next_review_on) if doc.next_review_on else None
    return PlanState(active=bool(doc.in_effect), next_review_on=review)


def plan_states_of(organisation: str, client_ids: list[str]) -> dict[str, PlanState]:
    """The plans of several clients in one query by id (a search's answers); a client
    nobody heard of is left out (no plan)."""
    if not client_ids:
        return {}
    keys = [f"{organisation}:{client_id}" for client_id in client_ids]
    try:
        docs = PlanStateDocument._get_collection().find({"_id": {"$in": keys}})
        return {
            doc["client_id"]: PlanState(
                active=bool(doc.get("in_effect")),
                next_review_on=(
                    date.fromisoformat(doc["next_review_on"]) if doc.get("next_review_on") else None
                ),
            )
            for doc in docs
        }
    except ConnectionFailure:
        return {}
