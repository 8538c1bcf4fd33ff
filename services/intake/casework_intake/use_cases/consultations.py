"""One-time consultations: recorded once per idempotency key."""

from __future__ import annotations

import dataclasses

from casework.intake.v1 import events_pb2
from casework_common import idempotency
from casework_common.errors import raise_if_any
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork
from casework_intake.adapters.consultations import ConsultationRepository
from casework_intake.domain import consultations
from casework_intake.domain.consultations import Consultation, RecordConsultation
from casework_intake.use_cases import _common as shared
from casework_intake.use_cases._common import event, require_worker

CONSULTATION_RECORDED = events_pb2.ConsultationRecorded


def record_consultation(
    command: RecordConsultation,
    uow: UnitOfWork,
    organisation: Organisation,
    repository: ConsultationRepository,
) -> tuple[Consultation, bool]:
    require_worker(uow)
    principal = uow.principal
    if not command.worker_id:
        command = dataclasses.replace(command, worker_id=principal.subject)

    def replay(existing: Consultation) -> Consultation:
        idempotency.check(
            existing.fingerprint,
            command.idempotency_key,
            consultations.fingerprint(command),
            "a consultation",
            stored_caller=existing.recorded_by,
            caller=principal.subject,
        )
        return existing

    def create() -> Consultation:
        raise_if_any(consultations.validate(command, organisation, uow.now.date()))
        principal.require_centre(command.centre_id)
        consultation = consultations.accept(
            command,
            organisation,
            consultation_id=uow.new_id(),
            recorded_by=principal.subject,
            now=uow.now,
        )
        payload = consultations.recorded_event_payload(consultation)
        repository.add(consultation, event(CONSULTATION_RECORDED, organisation.id, uow, payload))
        return consultation

    return shared.create_once(command.idempotency_key, repository, replay, create)
