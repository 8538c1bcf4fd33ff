"""notify's read model of clients' consents (clients.consent.recorded.v1 / .withdrawn.v1)
and the rule for messages to clients: sent only with the consent they need on record.

Events may arrive out of order: a consent's state is the one of its latest day (`on`),
and of the later event on the same day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casework_common.errors import FailedPrecondition

# What each message to a client needs: a self-fill form processes their data, a
# survey asks for their feedback.
PURPOSE_OF_MESSAGE = {"self_fill": "data_processing", "survey": "feedback_calls"}


@dataclass(frozen=True)
class ConsentChange:
    organisation: str
    client_id: str
    purpose: str
    given: bool
    on: str  # YYYY-MM-DD
    occurred_at: datetime
    event_id: str


def newer(change: ConsentChange, stored_on: str, stored_at: datetime) -> bool:
    return (change.on, change.occurred_at) > (stored_on, stored_at)


def require_consent(message_kind: str, given_purposes: set[str]) -> str:
    """The purpose the message needs; FAILED_PRECONDITION when it is not given."""
    purpose = PURPOSE_OF_MESSAGE[message_kind]
    if purpose not in given_purposes:
        raise FailedPrecondition(
            f"the client's card records no {purpose} consent; nothing was sent",
            field="client_id",
        )
    return purpose
