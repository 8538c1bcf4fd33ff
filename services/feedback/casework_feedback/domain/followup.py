"""Follow-up calls: random phone surveys after visits, and calls about referrals.

After a visit with no survey filled in, a random sample of clients gets a phone-survey
task, due no later than three days after the visit. The sample is drawn from a hash of
the visit id and a per-centre salt, so a replayed event draws the same answer and no
one can pick who is called.

After a referral to another organisation a call asks how it went, but only where the
client consented to such calls (purpose `feedback_calls`). Consent is read from
clients' consent events into a small read model; a withdrawal cancels every pending
call for that client.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from casework_common.errors import FailedPrecondition

PHONE_SURVEY_WITHIN = timedelta(days=3)
REFERRAL_CALL_AFTER = timedelta(days=14)
CONSENT_PURPOSE = "feedback_calls"


class CallKind(enum.StrEnum):
    PHONE_SURVEY = "phone_survey"
    REFERRAL_FOLLOW_UP = "referral_follow_up"


class CallStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"
    UNREACHABLE = "unreachable"


@dataclasses.dataclass(frozen=True)
class FollowUpCall:
    call_id: str
    kind: CallKind
    centre_id: str
    client_id: str
    occasion_id: str
    """The visit or the referral the call is about."""
    due_at: datetime
    status: CallStatus = CallStatus.PENDING
    assignee_id: str = ""
    cancelled_because: str = ""


def in_sample(occasion_id: str, salt: str, rate: float) -> bool:
    """Whether this visit is drawn for a phone survey; stable for the same visit and salt."""
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"{salt}\x00{occasion_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def phone_survey_call(
    *, call_id: str, centre_id: str, client_id: str, visit_id: str, visited_at: datetime
) -> FollowUpCall:
    return FollowUpCall(
        call_id,
        CallKind.PHONE_SURVEY,
        centre_id,
        client_id,
        visit_id,
        visited_at + PHONE_SURVEY_WITHIN,
    )


@dataclasses.dataclass(frozen=True)
class ConsentState:
    """The last word on a client's consent to feedback calls, as clients published it."""

    client_id: str
    granted: bool
    as_of: datetime


def apply_consent(
    current: ConsentState | None,
    *,
    client_id: str,
    purpose: str,
    granted: bool,
    occurred_at: datetime,
) -> ConsentState | None:
    """The read model after one consent event. Events may arrive out of order: an older
    event than the one already applied changes nothing. Other purposes are ignored."""
    if purpose != CONSENT_PURPOSE:
        return current
    if current is not None and occurred_at < current.as_of:
        return current
    if current is not None and occurred_at == current.as_of and not current.granted:
        return current  # a withdrawal at the same instant wins: the safer reading
    return ConsentState(client_id, granted, occurred_at)


def referral_call(
    consent: ConsentState | None,
    *,
    call_id: str,
    centre_id: str,
    client_id: str,
    referral_id: str,
    referred_at: datetime,
    after: timedelta = REFERRAL_CALL_AFTER,
) -> FollowUpCall:
    if consent is None or not consent.granted:
        raise FailedPrecondition(
            "the client has not consented to feedback calls", field="client_id"
        )
    return FollowUpCall(
        call_id, CallKind.REFERRAL_FOLLOW_UP, centre_id, client_id, referral_id, referred_at + after
    )


def cancel_for_withdrawal(calls: Iterable[FollowUpCall], client_id: str) -> list[FollowUpCall]:
    """The calls to cancel when the client withdraws consent: every pending one of theirs.
    A phone survey after a visit is cancelled too: the client said no to calls."""
    return [
        dataclasses.replace(c, status=CallStatus.CANCELLED, cancelled_because="consent_withdrawn")
        for c in calls
        if c.client_id == client_id and c.status is CallStatus.PENDING
    ]


def close(call: FollowUpCall, status: CallStatus) -> FollowUpCall:
    if call.status is not CallStatus.PENDING:
        raise FailedPrecondition(f"the call is already {call.status.value}", field="call_id")
    if status is CallStatus.PENDING:
        raise FailedPrecondition(
            "a call is closed as done, cancelled or unreachable", field="status"
        )
    return dataclasses.replace(call, status=status)
