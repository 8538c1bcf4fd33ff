"""gRPC entry point of documents: each call translates its request to a command, runs
the use case in the call's unit of work, and translates the answer back."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, TypeVar

import grpc

from casework.documents.v1 import documents_pb2 as pb
from casework.documents.v1 import documents_pb2_grpc
from casework_common.errors import CaseworkError, FieldError, raise_if_any
from casework_common.messages import enum_codes, guard_requests, same_fields
from casework_common.messages import timestamp as _stamp
from casework_common.paging import paged
from casework_common.unit_of_work import UnitOfWork, current_unit_of_work
from casework_documents.adapters.archive import ArchiveUnavailable, TamperedObject
from casework_documents.adapters.cards import CardsUnavailable
from casework_documents.adapters.plans import PlansUnavailable
from casework_documents.adapters.rendering import ConversionFailed
from casework_documents.bootstrap import Documents, bootstrap
from casework_documents.domain.context import Decision
from casework_documents.domain.documents import (
    Contract,
    ContractState,
    Document,
    DocumentFormat,
    DocumentVersion,
    SigningMethod,
)
from casework_documents.domain.templates import TemplateKind, TemplateVersion
from casework_documents.use_cases import documents as uc
from casework_documents.use_cases import templates as tuc

KINDS = enum_codes(pb.TemplateKind, TemplateKind)
KIND_MESSAGES = {v: k for k, v in KINDS.items()}
FORMATS = enum_codes(pb.DocumentFormat, DocumentFormat)
FORMAT_MESSAGES = {v: k for k, v in FORMATS.items()}
METHODS = enum_codes(pb.SigningMethod, SigningMethod)
METHOD_MESSAGES = {v: k for k, v in METHODS.items()}
STATES = {state: code for code, state in enum_codes(pb.ContractState, ContractState).items()}

F = TypeVar("F", bound=Callable[..., Any])


class DataLoss(CaseworkError):
    code = "DATA_LOSS"


class Unavailable(CaseworkError):
    code = "UNAVAILABLE"


def archive_faults(method: F) -> F:
    """What the archive, clients or LibreOffice answered, as precise codes: a stored file
    that is not the one written is DATA_LOSS (never served), a peer that is down is
    UNAVAILABLE."""

    @functools.wraps(method)
    def call(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except TamperedObject as exc:
            raise DataLoss(f"the archived file was tampered with: {exc}") from None
        except (ArchiveUnavailable, CardsUnavailable, PlansUnavailable, ConversionFailed) as exc:
            raise Unavailable(str(exc)) from None

    return call  # type: ignore[return-value]


def _day(field: str, value: str, errors: list[FieldError]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(FieldError(field, "must be a date, YYYY-MM-DD"))
        return None


def template_message(t: TemplateVersion) -> pb.Template:
    return pb.Template(
        **same_fields(t, "template_id name version sha256 size uploaded_by"),
        kind=KIND_MESSAGES[t.kind],
        placeholders=sorted(t.placeholders),
        uploaded_at=_stamp(t.uploaded_at),
    )


def _version_message(v: DocumentVersion) -> pb.DocumentVersion:
    out = pb.DocumentVersion(
        version=v.number,
        created_at=_stamp(v.created_at),
        created_by=v.created_by,
        template_version=v.template_version,
        files=[
            pb.StoredFile(
                format=FORMAT_MESSAGES[f.format],
                sha256=f.sha256,
                size=f.size,
                retain_until=_stamp(f.retain_until),
            )
            for f in v.files
        ],
    )
    if v.evidence is not None:
        e = v.evidence
        out.evidence.CopyFrom(
            pb.SigningEvidence(
                signers=[
                    pb.Signer(role=s.role, name=s.name, subject_id=s.subject) for s in e.signers
                ],
                method=METHOD_MESSAGES[e.method],
                signed_at=_stamp(e.signed_at),
                **same_fields(
                    e,
                    "recorded_by signed_bytes_sha256 sealed_sha256 certificate_subject",
                ),
                signature_images_sha256=list(e.signature_images_sha256),
            )
        )
    return out


def _contract_message(c: Contract, today: date) -> pb.Contract:
    return pb.Contract(
        state=STATES[c.state_on(today)],
        signed_on=c.signed_on.isoformat(),
        valid_from=c.terms.valid_from.isoformat(),
        valid_until=c.terms.valid_until.isoformat() if c.terms.valid_until else "",
        ended_on=c.ended_on.isoformat() if c.ended_on else "",
        end_reason=c.end_reason,
        replaced_by_contract_id=c.replaced_by,
    )


def document_message(d: Document, today: date) -> pb.Document:
    out = pb.Document(
        **same_fields(d, "document_id client_id template_id title created_by plan_id"),
        kind=KIND_MESSAGES[d.kind],
        created_at=_stamp(d.created_at),
        versions=[_version_message(v) for v in d.versions],
    )
    if d.contract is not None:
        out.contract.CopyFrom(_contract_message(d.contract, today))
    return out


@guard_requests
class DocumentsServicer(documents_pb2_grpc.DocumentsServiceServicer):
    def __init__(self, documents: Documents) -> None:
        self._app = documents

    def _ports(self, uow: UnitOfWork) -> uc.Ports:
        app = self._app
        return uc.Ports(
            organisation=app.organisation_of(uow),
            templates=app.templates_of(uow),
            documents=app.documents_for(uow),
            archive=app.archive,
            cards=app.cards,
            plans=app.plans,
            renderer=app.renderer,
        )

    @archive_faults
    def GetDocument(
        self, request: pb.GetDocumentRequest, context: grpc.ServicerContext
    ) -> pb.GetDocumentResponse:
        uow = current_unit_of_work()
        document = uc.get_document(request.document_id, uow, self._ports(uow))
        return pb.GetDocumentResponse(
            document_id=document.document_id,
            client_id=document.client_id,
            document=document_message(document, uow.now.date()),
        )

    @archive_faults
    def UploadTemplate(
        self, request: pb.UploadTemplateRequest, context: grpc.ServicerContext
    ) -> pb.UploadTemplateResponse:
        uow = current_unit_of_work()
        ports = self._ports(uow)
        template = tuc.upload_template(
            tuc.UploadTemplate(
                template_id=request.template_id,
                kind=KINDS.get(request.kind),
                name=request.name,
                content=request.content,
            ),
            uow,
            ports.templates,
            ports.archive,
            ports.renderer,
        )
        return pb.UploadTemplateResponse(template=template_message(template))

    def ListTemplates(
        self, request: pb.ListTemplatesRequest, context: grpc.ServicerContext
    ) -> pb.ListTemplatesResponse:
        uow = current_unit_of_work()
        found = self._app.templates_of(uow).all(KINDS.get(request.kind))
        return pb.ListTemplatesResponse(templates=[template_message(t) for t in found])

    @archive_faults
    def PreviewTemplate(
        self, request: pb.PreviewTemplateRequest, context: grpc.ServicerContext
    ) -> pb.PreviewTemplateResponse:
        uow = current_unit_of_work()
        ports = self._ports(uow)
        fmt = FORMATS.get(request.format, DocumentFormat.DOCX)
        if request.version < 0:
            raise_if_any([FieldError("version", "must be 0 (newest) or more")])
        content = tuc.preview_template(
            request.template_id,
            request.version,
            fmt,
            ports.templates,
            ports.archive,
            ports.renderer,
        )
        return pb.PreviewTemplateResponse(format=FORMAT_MESSAGES[fmt], content=content)

    @archive_faults
    def GenerateDocument(
        self, request: pb.GenerateDocumentRequest, context: grpc.ServicerContext
    ) -> pb.GenerateDocumentResponse:
        uow = current_unit_of_work()
        errors: list[FieldError] = []
        valid_from = _day("valid_from", request.valid_from, errors)
        valid_until = _day("valid_until", request.valid_until, errors)
        raise_if_any(errors)
        decision = (
            Decision(request.decision_granted, request.decision_reason)
            if request.decision_granted or request.decision_reason
            else None
        )
        document = uc.generate_document(
            uc.GenerateDocument(
                template_id=request.template_id,
                client_id=request.client_id,
                document_id=request.document_id,
                valid_from=valid_from,
                valid_until=valid_until,
                pdf=request.pdf,
                decision=decision,
                idempotency_key=request.idempotency_key,
                plan_id=request.plan_id,
            ),
            uow,
            self._ports(uow),
        )
        return pb.GenerateDocumentResponse(document=document_message(document, uow.now.date()))

    @archive_faults
    def SignDocument(
        self, request: pb.SignDocumentRequest, context: grpc.ServicerContext
    ) -> pb.SignDocumentResponse:
        uow = current_unit_of_work()
        command = uc.SignDocument(
            document_id=request.document_id,
            client_signature=request.client_signature_png,
            worker_signature=request.worker_signature_png,
            method=METHODS.get(request.method),
            replaces_contract_id=request.replaces_contract_id,
        )
        document = uc.sign_document(command, uow, self._ports(uow), self._app.signer())
        return pb.SignDocumentResponse(document=document_message(document, uow.now.date()))

    def EndContract(
        self, request: pb.EndContractRequest, context: grpc.ServicerContext
    ) -> pb.EndContractResponse:
        uow = current_unit_of_work()
        errors: list[FieldError] = []
        ended_on = _day("ended_on", request.ended_on, errors)
        raise_if_any(errors)
        document = uc.end_contract(
            uc.EndContract(request.contract_id, ended_on, request.reason), uow, self._ports(uow)
        )
        return pb.EndContractResponse(document=document_message(document, uow.now.date()))

    def ListDocuments(
        self, request: pb.ListDocumentsRequest, context: grpc.ServicerContext
    ) -> pb.ListDocumentsResponse:
        uow = current_unit_of_work()
        found = uc.list_documents(request.client_id, uow, self._ports(uow))
        today = uow.now.date()
        return pb.ListDocumentsResponse(documents=[document_message(d, today) for d in found])

    def ListAuditEntries(
        self, request: pb.ListAuditEntriesRequest, context: grpc.ServicerContext
    ) -> pb.ListAuditEntriesResponse:
        uow = current_unit_of_work()
        found, token = paged(
            request,
            lambda offset, limit: uc.audit_entries(
                request.client_id, uow, self._ports(uow), offset, limit
            ),
        )
        return pb.ListAuditEntriesResponse(
            entries=[
                pb.AuditEntry(
                    **same_fields(e, "client_id document_id subject action trace_id"),
                    at=_stamp(e.at),
                )
                for e in found
            ],
            next_page_token=token,
        )

    @archive_faults
    def GetDownloadUrl(
        self, request: pb.GetDownloadUrlRequest, context: grpc.ServicerContext
    ) -> pb.GetDownloadUrlResponse:
        uow = current_unit_of_work()
        if request.version < 0:
            raise_if_any([FieldError("version", "must be 0 (newest) or more")])
        link = uc.download_url(
            request.document_id,
            request.version,
            FORMATS.get(request.format),
            uow,
            self._ports(uow),
            self._app.url_lifetime,
        )
        return pb.GetDownloadUrlResponse(
            url=link.url, expires_at=_stamp(link.expires_at), sha256=link.sha256
        )


def register(server: grpc.Server) -> Iterable[str]:
    documents_pb2_grpc.add_DocumentsServiceServicer_to_server(
        DocumentsServicer(bootstrap()), server
    )
    return [pb.DESCRIPTOR.services_by_name["DocumentsService"].full_name]
