"""Referrals: submission (idempotent), acknowledgement, first contact, and the timer
that escalates those nobody answered in time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from casework.intake.v1 import events_pb2
from casework_common import idempotency
from casework_common.envelope import EventEnvelope
from casework_common.errors import raise_if_any
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork
from casework_intake.adapters.referrals import ReferralRepository
from casework_intake.domain import first_response, referrals
from casework_intake.domain.referrals import Channel, Referral, SubmitReferral
from casework_intake.use_cases import _common as shared
from casework_intake.use_cases._common import event, require_worker, required

REFERRAL_SUBMITTED = events_pb2.ReferralSubmitted
REFERRAL_ACKNOWLEDGED = events_pb2.ReferralAcknowledged
REFERRAL_FIRST_CONTACT = events_pb2.ReferralFirstContactRecorded
REFERRAL_OVERDUE = events_pb2.ReferralFirstContactOverdue


@dataclass(frozen=True)
class AcknowledgeReferral:
    referral_id: str


@dataclass(frozen=True)
class RecordFirstContact:
    referral_id: str
    channel: Channel | None
    note: str = ""


def submit_referral(
    command: SubmitReferral,
    uow: UnitOfWork,
    organisation: Organisation,
    repository: ReferralRepository,
    *,
    first_response_hours: float = first_response.DEFAULT_FIRST_RESPONSE_HOURS,
) -> tuple[Referral, bool]:
    """Store a referral and its submitted event; answer (referral, replayed)."""
    principal = uow.principal

    def replay(existing: Referral) -> Referral:
        if existing.submitted_by != principal.subject:
            # Another caller's key: never hand their referral back, nor name it.
            raise idempotency.reused(command.idempotency_key, "a referral")
        return referrals.check_replay(existing, command)

    def create() -> Referral:
        raise_if_any(referrals.validate(command, organisation, uow.now.date()))
        principal.require_centre(command.centre_id)
        year = uow.now.year
        referral = referrals.accept(
            command,
            organisation,
            referral_id=uow.new_id(),
            reference_number=referrals.reference_number(year, repository.next_sequence(year)),
            submitted_by=principal.subject,
            now=uow.now,
        )
        referral = first_response.with_deadline(referral, first_response_hours)
        payload = referrals.submitted_event_payload(referral)
        assert referral.first_response_due_at is not None
        payload["first_response_due_at"] = referral.first_response_due_at.isoformat()
        repository.add(referral, event(REFERRAL_SUBMITTED, organisation.id, uow, payload))
        return referral

    return shared.create_first(command.idempotency_key, repository, replay, create)


def acknowledge_referral(
    command: AcknowledgeReferral, uow: UnitOfWork, repository: ReferralRepository
) -> Referral:
    require_worker(uow)
    required("referral_id", command.referral_id)
    subject = uow.principal.subject

    def change(referral: Referral) -> tuple[Referral, list[EventEnvelope]]:
        step = first_response.acknowledge(referral, subject, uow.now)
        return shared.if_changed(
            uow, REFERRAL_ACKNOWLEDGED, step, first_response.acknowledged_event_payload
        )

    return repository.update(command.referral_id, change)


def record_first_contact(
    command: RecordFirstContact, uow: UnitOfWork, repository: ReferralRepository
) -> Referral:
    require_worker(uow)
    subject = uow.principal.subject

    def change(referral: Referral) -> tuple[Referral, list[EventEnvelope]]:
        step = first_response.record_first_contact(
            referral, subject, command.channel, command.note, uow.now
        )
        return shared.if_changed(
            uow, REFERRAL_FIRST_CONTACT, step, first_response.first_contact_event_payload
        )

    required("referral_id", command.referral_id)
    return repository.update(command.referral_id, change)


def escalate_overdue(
    uow: UnitOfWork,
    organisations: Mapping[str, Organisation],
    repository_of: Callable[[str], ReferralRepository],
    overdue: list[Referral],
) -> int:
    """Tell the centre manager about each overdue referral, once: the escalation mark
    and its event are one version-guarded write, so two timers racing (two replicas)
    store and emit it once; the loser's Conflict is skipped."""

    def escalate(current: Referral) -> tuple[Referral, list[EventEnvelope]]:
        organisation = organisations.get(current.organisation)
        centre = organisation.centre(current.centre_id) if organisation else None
        if centre is None or not first_response.is_overdue(current, uow.now):
            return current, []  # acknowledged or escalated meanwhile
        marked = first_response.escalate(current, uow.now)
        payload = first_response.overdue_event_payload(marked, centre.manager)
        return shared.with_event(uow, REFERRAL_OVERDUE, marked, payload)

    return shared.mark_each(
        overdue,
        lambda item, change: repository_of(item.organisation).update(item.referral_id, change),
        escalate,
    )
