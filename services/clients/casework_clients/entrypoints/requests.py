"""gRPC requests of clients as the domain's commands: fields copied, wire enums named.

No rule is applied here: a command carries what the caller sent and the domain
(``casework_clients.domain.commands``) decides what is acceptable. The only refusals
are of enum numbers the wire's own schema does not define.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum

from casework.clients.v1 import clients_pb2
from casework_clients.domain import commands
from casework_clients.domain.enrolments import EndEnrolment, EnrolClient
from casework_clients.domain.families import FamilyMember
from casework_clients.domain.records import ContactPoint
from casework_clients.entrypoints.translate import (
    CHANNEL_OF,
    COLOUR_OF,
    CONTACT_KIND_OF,
    DETAIL_OF,
    PROPOSAL_STATUS_OF,
    PURPOSE_OF,
    SHARING_STATUS_OF,
    STATUS_NAME,
)
from casework_clients.use_cases.reading import ListFilter
from casework_common.errors import FieldError, InvalidArgument, raise_if_any


def status_name(value: int) -> str:
    """The status's name; an unknown number is passed on as written, for the domain to
    refuse by name."""
    if value == clients_pb2.CLIENT_STATUS_UNSPECIFIED:
        return ""
    return STATUS_NAME.get(value, str(value))


def register_client(request: clients_pb2.RegisterClientRequest) -> commands.RegisterClient:
    return commands.RegisterClient(
        given_name=request.given_name,
        family_name=request.family_name,
        date_of_birth=request.date_of_birth,
        phone=request.phone,
        email=request.email,
        address=request.address,
        centre_id=request.centre_id,
        client_type=request.client_type,
        problem_type=request.problem_type,
        dismissed_client_ids=frozenset(request.dismissed_client_ids),
        project_id=request.project_id,
        channel=request.channel,
        first_status=status_name(request.first_status),
    )


def search_clients(request: clients_pb2.SearchClientsRequest) -> commands.SearchClients:
    return commands.SearchClients(
        given_name=request.given_name,
        family_name=request.family_name,
        date_of_birth=request.date_of_birth,
        phone=request.phone,
        email=request.email,
        min_score=request.min_score,
        limit=request.limit,
    )


def record_status(
    subject_id: str, status: int, reason: str, effective_on: str
) -> commands.RecordStatus:
    return commands.RecordStatus(subject_id, status_name(status), reason, effective_on)


def record_contract_signed(
    request: clients_pb2.RecordContractSignedRequest,
) -> commands.RecordContractSigned:
    return commands.RecordContractSigned(
        request.client_id, request.contract_id, request.signed_on, request.valid_until
    )


def update_client(request: clients_pb2.UpdateClientRequest) -> commands.UpdateClient:
    c = request.changes
    paths = tuple(request.update_mask.paths)
    points = []
    errors: list[FieldError] = []
    if "contacts" in paths:
        for i, p in enumerate(c.contacts):
            kind = CONTACT_KIND_OF.get(p.kind)
            if kind is None:
                errors.append(FieldError(f"changes.contacts[{i}].kind", "phone or e-mail"))
                continue
            points.append(ContactPoint(kind, p.value, p.label))
    raise_if_any(errors)
    return commands.UpdateClient(
        client_id=request.client_id,
        paths=paths,
        given_name=c.given_name,
        family_name=c.family_name,
        date_of_birth=c.date_of_birth,
        contacts=tuple(points),
        address=c.address,
        centre_ids=tuple(c.centre_ids),
        client_type=c.client_type,
        problem_types=tuple(c.problem_types),
    )


def record_consent(
    request: clients_pb2.RecordConsentRequest | clients_pb2.WithdrawConsentRequest,
) -> commands.RecordConsent:
    if isinstance(request, clients_pb2.WithdrawConsentRequest):
        return commands.RecordConsent(
            client_id=request.client_id,
            purpose=PURPOSE_OF.get(request.purpose),
            purpose_raw=request.purpose,
            partner=request.partner,
            on=request.withdrawn_on,
            document_ref=request.document_ref,
            reason=request.reason,
            withdraw=True,
        )
    return commands.RecordConsent(
        client_id=request.client_id,
        purpose=PURPOSE_OF.get(request.purpose),
        purpose_raw=request.purpose,
        partner=request.partner,
        on=request.given_on,
        document_ref=request.document_ref,
    )


def record_contact(request: clients_pb2.RecordContactRequest) -> commands.RecordContact:
    return commands.RecordContact(
        client_id=request.client_id,
        contacted_on=request.contacted_on,
        channel=CHANNEL_OF.get(request.channel),
        channel_raw=request.channel,
        worker_id=request.worker_id,
        summary=request.summary,
    )


def get_statistics(request: clients_pb2.GetStatisticsRequest) -> commands.GetStatistics:
    return commands.GetStatistics(
        request.period_start, request.period_end, request.centre_id, request.region_id
    )


def merge_details(request: clients_pb2.ConfirmMatchProposalRequest) -> tuple[str, ...]:
    """The referral's details the worker trusts, by name."""
    names: list[str] = []
    errors: list[FieldError] = []
    for i, value in enumerate(request.merge_details):
        name = DETAIL_OF.get(value)
        if name is None:
            errors.append(FieldError(f"merge_details[{i}]", "phone, e-mail or address"))
        else:
            names.append(name)
    raise_if_any(errors)
    return tuple(names)


def proposal_status(value: int) -> str | None:
    """The proposals' status filter by name (None: any status)."""
    return _status_filter(value, PROPOSAL_STATUS_OF)


def sharing_status(value: int) -> str | None:
    """The sharing requests' status filter by name (None: any status)."""
    return _status_filter(value, SHARING_STATUS_OF)


def _status_filter(value: int, known: Mapping[int, Enum]) -> str | None:
    if not value:
        return None
    status = known.get(value)
    if status is None:
        raise InvalidArgument([FieldError("status", f"unknown status {value}")])
    return str(status.value)


def family_members(
    members: Iterable[clients_pb2.FamilyMember],
) -> tuple[FamilyMember, ...]:
    return tuple(FamilyMember(m.client_id, m.role, tuple(m.parent_client_ids)) for m in members)


def list_filter(
    centre_id: str,
    statuses: Iterable[int],
    colours: Iterable[int],
    responsible_worker_id: str = "",
    mine: bool = False,
    project_id: str = "",
) -> ListFilter:
    """A list's filters; a status or colour number the schema does not define is
    INVALID_ARGUMENT (field statuses / colours)."""
    errors = []
    names = []
    for value in statuses:
        if value not in STATUS_NAME:
            errors.append(FieldError("statuses", f"unknown status {value}"))
        else:
            names.append(STATUS_NAME[value])
    wanted = []
    for value in colours:
        if value not in COLOUR_OF:
            errors.append(FieldError("colours", f"unknown colour {value}"))
        else:
            wanted.append(COLOUR_OF[value])
    raise_if_any(errors)
    return ListFilter(
        centre_id=centre_id,
        statuses=tuple(dict.fromkeys(names)),
        colours=frozenset(wanted),
        responsible_worker_id=responsible_worker_id.strip(),
        mine=mine,
        project_id=project_id.strip(),
    )


def enrol_client(request: clients_pb2.EnrolClientRequest) -> EnrolClient:
    return EnrolClient(request.client_id, request.project_id, request.since, request.lead)


def end_enrolment(request: clients_pb2.EndEnrolmentRequest) -> EndEnrolment:
    return EndEnrolment(request.client_id, request.project_id, request.until, request.reason)
