"""plans announces a client's plan (drafted, signed, superseded, closed): clients keeps
the latest state, which the derived colour reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from casework_clients.adapters import plan_states


@dataclass(frozen=True)
class PlanAnnounced:
    """A plan state from plans' event, as of when plans wrote it."""

    organisation: str
    client_id: str
    plan_id: str
    in_effect: bool
    next_review_on: date | None
    occurred_at: datetime


def plan_announced(announced: PlanAnnounced) -> bool:
    """Keep the state unless a later one was kept already (events may arrive out of
    order); answers whether kept. No event and no card change: a read model only."""
    return plan_states.keep_plan_state(
        announced.organisation,
        announced.client_id,
        announced.plan_id,
        announced.in_effect,
        announced.next_review_on,
        announced.occurred_at,
    )
