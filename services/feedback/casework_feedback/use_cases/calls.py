"""Follow-up calls: random phone surveys after visits nobody answered a survey for,
calls about referrals elsewhere (only with consent), and the consent read model whose
withdrawal cancels pending calls."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime

from casework.feedback.v1 import events_pb2
from casework_common.errors import Conflict, FieldError, InvalidArgument
from casework_common.organisation import Organisation
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork
from casework_feedback.adapters.call_repository import CallRepository, ConsentRepository
from casework_feedback.adapters.repository import VisitRepository
from casework_feedback.domain import followup, visits
from casework_feedback.domain.followup import CallStatus, FollowUpCall
from casework_feedback.use_cases._common import choice, event, instant, require_centre


def _scheduled(call: FollowUpCall, organisation: str, uow: UnitOfWork):  # type: ignore[no-untyped-def]
    return event(
        events_pb2.FollowUpCallScheduled,
        organisation,
        uow,
        {
            "call_id": call.call_id,
            "kind": call.kind.value,
            "centre_id": call.centre_id,
            "client_id": call.client_id,
            "assignee_id": call.assignee_id,
            "due_at": instant(call.due_at),
        },
    )


@dataclasses.dataclass(frozen=True)
class RecordReferralElsewhere:
    centre_id: str
    client_id: str
    referral_id: str
    organisation_name: str


def record_referral_elsewhere(
    command: RecordReferralElsewhere,
    uow: UnitOfWork,
    calls: CallRepository,
    consent: ConsentRepository,
) -> FollowUpCall:
    require_centre(uow, command.centre_id)
    errors = [
        FieldError(name, "is required")
        for name, value in (("client_id", command.client_id), ("referral_id", command.referral_id))
        if not value
    ]
    if errors:
        raise InvalidArgument(errors)
    call = followup.referral_call(
        consent.get(command.client_id),
        call_id=uow.new_id(),
        centre_id=command.centre_id,
        client_id=command.client_id,
        referral_id=command.referral_id,
        referred_at=uow.now,
    )
    # The worker who referred asks how it went.
    call = dataclasses.replace(call, assignee_id=uow.principal.subject)
    calls.add(call, [_scheduled(call, uow.organisation, uow)])
    return call


def list_calls(
    uow: UnitOfWork, centre_id: str, status: str, calls: CallRepository
) -> list[FollowUpCall]:
    require_centre(uow, centre_id)
    if status:
        errors: list[FieldError] = []
        choice(CallStatus, status, "status", errors)
        if errors:
            raise InvalidArgument(errors)
    return calls.of_centre(centre_id, status)


def close_call(call_id: str, status: str, uow: UnitOfWork, calls: CallRepository) -> FollowUpCall:
    errors: list[FieldError] = []
    to = choice(CallStatus, status, "status", errors, (CallStatus.DONE, CallStatus.UNREACHABLE))
    if errors or to is None:
        raise InvalidArgument(errors)
    closed = followup.close(calls.get(call_id), to)
    calls.overwrite(closed, [])
    return closed


def draw_phone_surveys(
    uow: UnitOfWork,
    organisation: Organisation,
    visits_repository: VisitRepository,
    calls: CallRepository,
    consent: ConsentRepository,
    *,
    rate: float,
    salt: str,
) -> int:
    """Look once at each visit whose wait is over: a visit with no survey and no
    refusal is drawn into the sample or let go. Answers how many visits were looked at."""
    due = visits_repository.due_for_sampling(uow.now)
    for visit in due:
        state = consent.get(visit.client_id) if visit.client_id else None
        withdrawn = state is not None and not state.granted
        if (
            visits.needs_phone_survey(visit)
            and not withdrawn
            and followup.in_sample(visit.visit_id, salt, rate)
        ):
            centre = organisation.centres.get(visit.centre_id)
            call = dataclasses.replace(
                followup.phone_survey_call(
                    call_id=f"phone-{visit.visit_id}",
                    centre_id=visit.centre_id,
                    client_id=visit.client_id,
                    visit_id=visit.visit_id,
                    visited_at=visit.visited_at,
                ),
                assignee_id=centre.duty_worker if centre else "",
            )
            # A duplicate: drawn by an earlier tick that stopped before it marked the visit.
            with contextlib.suppress(DuplicateAggregate):
                calls.add(call, [_scheduled(call, organisation.id, uow)])
        try:
            visits_repository.change(dataclasses.replace(visit, sample_at=None))
        except Conflict:
            continue  # answered meanwhile; the next tick looks again
    return len(due)


def keep_consent(
    uow: UnitOfWork,
    organisation: str,
    *,
    client_id: str,
    purpose: str,
    granted: bool,
    occurred_at: datetime,
    consent: ConsentRepository,
    calls: CallRepository,
) -> list[FollowUpCall]:
    """Apply one of clients' consent events; a withdrawal cancels every pending call of
    the client. Answers the calls cancelled."""
    before = consent.get(client_id)
    after = followup.apply_consent(
        before, client_id=client_id, purpose=purpose, granted=granted, occurred_at=occurred_at
    )
    if after is None or after == before:
        return []
    consent.keep(after)
    if after.granted:
        return []
    cancelled = followup.cancel_for_withdrawal(calls.pending_of_client(client_id), client_id)
    for call in cancelled:
        calls.overwrite(
            call,
            [
                event(
                    events_pb2.FollowUpCallCancelled,
                    organisation,
                    uow,
                    {
                        "call_id": call.call_id,
                        "centre_id": call.centre_id,
                        "client_id": call.client_id,
                        "assignee_id": call.assignee_id,
                        "reason": call.cancelled_because,
                    },
                )
            ],
        )
    return cancelled
