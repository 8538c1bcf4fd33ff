"""Intake's use cases: build the domain objects, persist through the repository, and
emit events through the outbox. Entry points call these; no rule lives here that the
domain module could hold."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from casework_common.auth import Principal
from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import AlreadyExists, raise_if_any
from casework_common.organisation import Organisation
from casework_common.storage import DuplicateAggregate
from casework_intake.adapters.repository import ReferralRepository
from casework_intake.domain import referrals
from casework_intake.domain.referrals import Referral, SubmitReferral

REFERRAL_SUBMITTED = "intake.referral.submitted"


def submit_referral(
    command: SubmitReferral,
    principal: Principal,
    organisation: Organisation,
    repository: ReferralRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> tuple[Referral, bool]:
    """Store a referral and its submitted event; answer (referral, replayed)."""
    existing = repository.by_idempotency_key(command.idempotency_key)
    if existing is not None:
        return _replay(existing, command, principal), True
    raise_if_any(referrals.validate(command, organisation, now.date()))
    principal.require_centre(command.centre_id)
    referral = referrals.accept(
        command,
        organisation,
        referral_id=new_id(),
        reference_number=referrals.reference_number(now.year, repository.next_sequence(now.year)),
        submitted_by=principal.subject,
        now=now,
    )
    event = EventEnvelope(
        type=REFERRAL_SUBMITTED,
        version=1,
        organisation=organisation.id,
        actor=Actor(kind=principal.kind, subject=principal.subject),
        payload=referrals.submitted_event_payload(referral),
        trace=dict(trace),
    )
    try:
        repository.add(referral, event)
    except DuplicateAggregate:
        # Two identical submissions raced; the unique key let exactly one through.
        stored = repository.by_idempotency_key(command.idempotency_key)
        if stored is None:
            raise
        return _replay(stored, command, principal), True
    return referral, False


def _replay(existing: Referral, command: SubmitReferral, principal: Principal) -> Referral:
    if existing.submitted_by != principal.subject:
        # Another caller's key: never hand their referral back.
        raise AlreadyExists(f"idempotency key {command.idempotency_key!r} is already in use")
    return referrals.check_replay(existing, command)
