"""What every intake use case shares: events built from the domain's facts under the
unit of work's caller and trace, the worker-only rule, required ids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from google.protobuf.message import Message

from casework_common import contracts
from casework_common import errors as common
from casework_common.envelope import EventEnvelope
from casework_common.errors import InvalidArgument, PermissionDenied
from casework_common.unit_of_work import UnitOfWork
from casework_intake.domain import forms


def event(
    message_type: type[Message],
    organisation: str,
    uow: UnitOfWork,
    payload: Mapping[str, object],
) -> EventEnvelope:
    """The event whose payload is `message_type` built from the domain's facts: the
    domain lists what an event reveals in its own plain values and stays free of
    generated code; here, at the one seam, they become the contract message (strictly,
    so a fact the schema lacks fails in the producer) and the codec encodes it."""
    message = contracts.from_facts(message_type, payload)
    return contracts.envelope(
        message, organisation=organisation, actor=uow.actor, trace=uow.trace.carrier
    )


def to_common(errors: Iterable[forms.FieldError]) -> list[common.FieldError]:
    """The forms module's own field errors as the ones the gRPC layer reports."""
    return [common.FieldError(e.field, e.description) for e in errors]


def require_worker(uow: UnitOfWork) -> None:
    if uow.principal.kind != "worker":
        raise PermissionDenied("only a worker of the referral's centre may do this")


def required(field: str, value: str) -> None:
    if not value:
        raise InvalidArgument([common.FieldError(field, "is required")])
