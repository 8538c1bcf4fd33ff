"""Documents on a client's card: generated from a template and the card, signed in one
step, contracts ended, versions listed, files handed out through short-lived links.

Everything slow or fallible (reading the card, rendering, converting, sealing) happens
before the first byte is written; files go to the archive before the database records
them, so a record never points at a file that is not there."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from google.protobuf.message import Message

from casework.documents.v1 import events_pb2
from casework_common import contracts, idempotency
from casework_common.envelope import EventEnvelope
from casework_common.errors import FailedPrecondition, FieldError, NotFound, raise_if_any
from casework_common.organisation import Organisation
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork
from casework_documents.adapters.archive import Archive
from casework_documents.adapters.audit import AuditEntry, AuditTrail
from casework_documents.adapters.cards import ClientCards
from casework_documents.adapters.plans import ClientPlans
from casework_documents.adapters.rendering import Renderer
from casework_documents.adapters.repository import DocumentRepository, TemplateRepository
from casework_documents.adapters.signing import OrganisationSigner
from casework_documents.domain import documents as docs
from casework_documents.domain.context import (
    Card,
    ClientPlan,
    Decision,
    Party,
    needs_goals,
    plan_in_effect,
    render_context,
    require_complete,
    signing_facts,
)
from casework_documents.domain.documents import (
    CONTENT_TYPES,
    ContractTerms,
    Document,
    DocumentFormat,
    DocumentVersion,
    Signer,
    SigningEvidence,
    SigningMethod,
    StoredFile,
    sha256_hex,
)
from casework_documents.domain.signatures import png_errors
from casework_documents.domain.templates import SIGNATURE_FIELDS, TemplateKind, TemplateVersion
from casework_documents.use_cases.templates import template_content

CONTRACT_SIGNED = events_pb2.ContractSigned
CONTRACT_ENDED = events_pb2.ContractEnded


@dataclass(frozen=True)
class GenerateDocument:
    template_id: str
    client_id: str
    document_id: str = ""
    valid_from: date | None = None
    valid_until: date | None = None
    pdf: bool = False
    decision: Decision | None = None
    idempotency_key: str = ""
    plan_id: str = ""

    def fingerprint(self, caller: str) -> str:
        # plan_id counts only when named, so keys stored before it existed still replay.
        named = {"plan_id": self.plan_id} if self.plan_id else {}
        return idempotency.fingerprint(
            {
                **named,
                "caller": caller,
                "template_id": self.template_id,
                "client_id": self.client_id,
                "valid_from": self.valid_from,
                "valid_until": self.valid_until,
                "pdf": self.pdf,
                "decision": self.decision,
            }
        )


@dataclass(frozen=True)
class SignDocument:
    document_id: str
    client_signature: bytes
    worker_signature: bytes
    method: SigningMethod | None
    replaces_contract_id: str = ""


@dataclass(frozen=True)
class EndContract:
    contract_id: str
    ended_on: date | None
    reason: str


@dataclass
class Ports:
    """What the document use cases read and write, for one call."""

    organisation: Organisation
    templates: TemplateRepository
    documents: DocumentRepository
    archive: Archive
    cards: ClientCards
    renderer: Renderer
    plans: ClientPlans | None = None
    trail: AuditTrail = field(default_factory=AuditTrail)


def _event(message_type: type[Message], uow: UnitOfWork, payload: dict[str, str]) -> EventEnvelope:
    message = contracts.from_facts(message_type, payload)
    return contracts.envelope(
        message, organisation=uow.organisation, actor=uow.actor, trace=uow.trace.carrier
    )


def audit(
    ports: Ports, uow: UnitOfWork, action: str, client_id: str, document_id: str = ""
) -> None:
    """Every read or change of a client's documents, in the service's audit trail."""
    ports.trail.record(
        AuditEntry(
            organisation=uow.organisation,
            client_id=client_id,
            document_id=document_id,
            subject=uow.actor.subject,
            action=action,
            at=uow.now,
            trace_id=uow.trace.trace_id,
        )
    )


def audit_entries(
    client_id: str, uow: UnitOfWork, ports: Ports, offset: int, limit: int
) -> list[AuditEntry]:
    """The trail of a client of a centre the caller serves (NOT_FOUND for any other
    client, as for one that does not exist)."""
    card = visible_card(ports, uow, client_id)
    return ports.trail.of_client(uow.organisation, card.client_id, offset, limit)


def visible_card(ports: Ports, uow: UnitOfWork, client_id: str) -> Card:
    """The card, when the caller serves one of its centres (NotFound otherwise, exactly as
    for a client that does not exist)."""
    if not client_id:
        raise_if_any([FieldError("client_id", "is required")])
    card = ports.cards.get(uow.organisation, client_id, dict(uow.trace.carrier))
    if not card.visible_to(uow.principal.centres):
        raise NotFound(f"client {client_id} not found")
    return card


def goals_plan(
    ports: Ports, uow: UnitOfWork, template: TemplateVersion, card: Card, plan_id: str
) -> ClientPlan | None:
    """The plan whose goals the template prints (None when it prints none): read from
    plans with documents' service token, kept only when of a centre the caller serves."""
    if not needs_goals(template.placeholders):
        return None
    if ports.plans is None:
        raise FailedPrecondition("documents is not configured to read plans: set PLANS_GRPC_TARGET")
    plans = ports.plans.of_client(uow.organisation, card.client_id, dict(uow.trace.carrier))
    plan = plan_in_effect(plans, uow.principal.centres, card.client_id, plan_id)
    audit(ports, uow, "plan.read", card.client_id)
    return plan


def _printed(
    ports: Ports,
    uow: UnitOfWork,
    card: Card,
    document: Document,
    plan: ClientPlan | None,
    **facts: Any,
) -> tuple[dict[str, Any], Party]:
    """What the document's template prints (the card, the parties, the plan's goals and
    `facts`: terms, a decision, the signing), and the worker who is its party."""
    organisation, centre, worker = _parties(ports, uow, card)
    context = render_context(
        card,
        organisation=organisation,
        centre=centre,
        worker=worker,
        document_id=document.document_id,
        created_on=uow.now.date(),
        goals=plan.goals or () if plan else (),
        **facts,
    )
    return context, worker


def _parties(ports: Ports, uow: UnitOfWork, card: Card) -> tuple[Party, Party, Party]:
    org = ports.organisation
    centre_id = next(c for c in card.centre_ids if c in uow.principal.centres)
    centre = org.centres.get(centre_id)
    worker = org.workers.get(uow.principal.subject)
    return (
        Party(org.id, org.name),
        Party(centre_id, centre.name if centre else ""),
        Party(uow.principal.subject, worker.name if worker else ""),
    )


def _store_files(
    ports: Ports,
    uow: UnitOfWork,
    document: Document,
    number: int,
    files: dict[DocumentFormat, bytes],
) -> tuple[StoredFile, ...]:
    until = docs.retain_until(document.kind, uow.now)
    nonce = uow.new_id().replace("-", "")[:12]
    stored = []
    for fmt, data in files.items():
        key = docs.object_key(document, number, fmt, nonce)
        written = ports.archive.put(
            key,
            data,
            content_type=CONTENT_TYPES[fmt],
            metadata={
                "organisation": document.organisation,
                "client-id": document.client_id,
                "document-id": document.document_id,
                "version": str(number),
            },
            retain_until=until,
        )
        stored.append(StoredFile(fmt, key, written.sha256, written.size, until))
    return tuple(stored)


def generate_document(command: GenerateDocument, uow: UnitOfWork, ports: Ports) -> Document:
    errors = []
    if not command.template_id:
        errors.append(FieldError("template_id", "is required"))
    if not command.client_id:
        errors.append(FieldError("client_id", "is required"))
    if command.idempotency_key:
        errors += idempotency.key_errors(command.idempotency_key)
        if command.document_id:
            errors.append(FieldError("idempotency_key", "is for a new document only"))
    raise_if_any(errors)
    if not command.idempotency_key:
        return _generate(command, uow, ports)
    fingerprint = command.fingerprint(uow.principal.subject)

    def replay(stored: Document) -> Document:
        idempotency.check(stored.fingerprint, command.idempotency_key, fingerprint, "a document")
        return stored

    document, _ = idempotency.create_once(
        command.idempotency_key,
        find=ports.documents.by_idempotency_key,
        replay=replay,
        create=lambda: _generate(command, uow, ports, fingerprint),
        race=DuplicateAggregate,
    )
    return document


def _generate(
    command: GenerateDocument, uow: UnitOfWork, ports: Ports, fingerprint: str = ""
) -> Document:
    template, content = template_content(ports.templates, ports.archive, command.template_id)
    card = visible_card(ports, uow, command.client_id)
    today = uow.now.date()
    terms = None
    if template.kind is TemplateKind.CONTRACT:
        terms = ContractTerms(command.valid_from or today, command.valid_until)
        raise_if_any(docs.terms_errors(terms, today))
    expected = 0
    if command.document_id:
        document, expected = ports.documents.get_for_change(command.document_id)
        if document.client_id != card.client_id or document.template_id != template.template_id:
            raise FailedPrecondition(
                f"document {document.document_id} belongs to another client or template",
                field="document_id",
            )
        if document.signed:
            raise FailedPrecondition(
                f"document {document.document_id} is signed; generate a new one",
                field="document_id",
            )
        document = dataclasses.replace(document, terms=terms or document.terms)
    else:
        document = Document(
            document_id=uow.new_id(),
            organisation=uow.organisation,
            client_id=card.client_id,
            centre_ids=card.centre_ids,
            kind=template.kind,
            template_id=template.template_id,
            title=template.name,
            created_at=uow.now,
            created_by=uow.principal.subject,
            terms=terms,
            idempotency_key=command.idempotency_key,
            fingerprint=fingerprint,
        )
    plan = goals_plan(ports, uow, template, card, command.plan_id or document.plan_id)
    document = dataclasses.replace(document, plan_id=plan.plan_id if plan else "")
    context, _ = _printed(ports, uow, card, document, plan, terms=terms, decision=command.decision)
    require_complete(template.placeholders, context)
    files = {DocumentFormat.DOCX: ports.renderer.render_docx(content, context)}
    if command.pdf:
        files[DocumentFormat.PDF] = ports.renderer.docx_to_pdf(files[DocumentFormat.DOCX])
    number = document.next_version_number()
    stored = _store_files(ports, uow, document, number, files)
    version = DocumentVersion(number, uow.now, uow.principal.subject, template.version, stored)
    document = docs.with_version(document, version)
    if expected:
        ports.documents.store(document, expected, [])
    else:
        ports.documents.add_new(document, [])
    audit(ports, uow, "document.generated", document.client_id, document.document_id)
    return document


def sign_document(
    command: SignDocument, uow: UnitOfWork, ports: Ports, signer: OrganisationSigner
) -> Document:
    errors = []
    if not command.document_id:
        errors.append(FieldError("document_id", "is required"))
    errors += png_errors("client_signature_png", command.client_signature)
    errors += png_errors("worker_signature_png", command.worker_signature)
    if command.method is None:
        errors.append(FieldError("method", "is required (drawn, in person or tablet)"))
    raise_if_any(errors)
    assert command.method is not None
    document, expected = ports.documents.get_for_change(command.document_id)
    if document.signed:
        raise FailedPrecondition(f"document {document.document_id} is already signed")
    if not document.versions:
        raise FailedPrecondition(f"document {document.document_id} has nothing to sign")
    template, content = template_content(
        ports.templates, ports.archive, document.template_id, document.latest.template_version
    )
    _require_signature_places(template)
    replaced: tuple[Document, int] | None = None
    if command.replaces_contract_id:
        replaced = _replaceable(ports, document, command.replaces_contract_id, uow.now.date())
    card = visible_card(ports, uow, document.client_id)
    today = uow.now.date()
    plan = goals_plan(ports, uow, template, card, document.plan_id)
    context, worker = _printed(
        ports,
        uow,
        card,
        document,
        plan,
        terms=document.terms,
        signed_on=today,
        signing=signing_facts(command.method.value, uow.now),
    )
    require_complete(template.placeholders, context)
    images = {
        "client_signature": command.client_signature,
        "worker_signature": command.worker_signature,
    }
    docx = ports.renderer.render_docx(content, context, images)
    pdf = ports.renderer.docx_to_pdf(docx)
    sealed = signer.seal(
        pdf, reason=f"{document.title}: signed by {card.full_name} and {worker.name}"
    )
    number = document.next_version_number()
    stored = _store_files(
        ports, uow, document, number, {DocumentFormat.DOCX: docx, DocumentFormat.PDF: sealed}
    )
    evidence = SigningEvidence(
        signers=(
            Signer("client", card.full_name, card.client_id),
            Signer("worker", worker.name or worker.id, worker.id),
        ),
        method=command.method,
        signed_at=uow.now,
        recorded_by=uow.principal.subject,
        signed_bytes_sha256=sha256_hex(pdf),
        signature_images_sha256=(
            sha256_hex(command.client_signature),
            sha256_hex(command.worker_signature),
        ),
        sealed_sha256=sha256_hex(sealed),
        certificate_subject=signer.subject,
    )
    version = DocumentVersion(
        number, uow.now, uow.principal.subject, template.version, stored, evidence
    )
    signed = docs.sign_contract(document, version, today)
    events = [_event(CONTRACT_SIGNED, uow, docs.signed_payload(signed))] if signed.contract else []
    ports.documents.store(signed, expected, events)
    audit(ports, uow, "document.signed", signed.client_id, signed.document_id)
    if replaced is not None and signed.contract is not None:
        old, old_expected = replaced
        ended = docs.end_contract(
            old,
            signed.contract.terms.valid_from,
            "replaced",
            today,
            replaced_by=signed.document_id,
        )
        ports.documents.store(
            ended, old_expected, [_event(CONTRACT_ENDED, uow, docs.ended_payload(ended))]
        )
        audit(ports, uow, "contract.replaced", ended.client_id, ended.document_id)
    return signed


def _require_signature_places(template: TemplateVersion) -> None:
    missing = [f for f in SIGNATURE_FIELDS if f not in template.placeholders]
    if missing:
        raise FailedPrecondition(
            f"template {template.template_id} v{template.version} has no place for "
            + " and ".join(missing)
            + "; add the placeholder where the signature goes",
            field="document_id",
        )


def _replaceable(
    ports: Ports, document: Document, contract_id: str, today: date
) -> tuple[Document, int]:
    old, expected = ports.documents.get_for_change(contract_id)
    if old.client_id != document.client_id or old.contract is None:
        raise FailedPrecondition(
            f"{contract_id} is not a signed contract of this client", field="replaces_contract_id"
        )
    if document.kind is not TemplateKind.CONTRACT:
        raise FailedPrecondition(
            "only a contract replaces a contract", field="replaces_contract_id"
        )
    # Fails now, before anything is signed, if the old one cannot end.
    docs.end_contract(old, today, "replaced", today, replaced_by=document.document_id)
    return old, expected


def end_contract(command: EndContract, uow: UnitOfWork, ports: Ports) -> Document:
    errors = docs.end_errors(command.ended_on, command.reason, uow.now.date())
    if not command.contract_id:
        errors.insert(0, FieldError("contract_id", "is required"))
    raise_if_any(errors)
    assert command.ended_on is not None
    document, expected = ports.documents.get_for_change(command.contract_id)
    ended = docs.end_contract(document, command.ended_on, command.reason.strip(), uow.now.date())
    ports.documents.store(ended, expected, [_event(CONTRACT_ENDED, uow, docs.ended_payload(ended))])
    audit(ports, uow, "contract.ended", ended.client_id, ended.document_id)
    return ended


def list_documents(client_id: str, uow: UnitOfWork, ports: Ports) -> list[Document]:
    if not client_id:
        raise_if_any([FieldError("client_id", "is required")])
    found = ports.documents.of_client(client_id)
    audit(ports, uow, "documents.listed", client_id)
    return found


def get_document(document_id: str, uow: UnitOfWork, ports: Ports) -> Document:
    if not document_id:
        raise_if_any([FieldError("document_id", "is required")])
    document = ports.documents.get(document_id)
    audit(ports, uow, "document.read", document.client_id, document.document_id)
    return document


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: datetime
    sha256: str


def download_url(
    document_id: str,
    version: int,
    fmt: DocumentFormat | None,
    uow: UnitOfWork,
    ports: Ports,
    lifetime: timedelta,
) -> DownloadLink:
    """A presigned link to exactly the stored version just checked against its SHA-256;
    a document of a client the caller may not see is not found."""
    if not document_id:
        raise_if_any([FieldError("document_id", "is required")])
    document = ports.documents.get(document_id)
    chosen = document.version(version)
    if chosen is None:
        raise NotFound(f"document {document_id} has no version {version}")
    stored = chosen.file(fmt) if fmt else (chosen.file(DocumentFormat.PDF) or chosen.files[0])
    if stored is None:
        raise NotFound(
            f"version {chosen.number} of {document_id} has no {fmt.value if fmt else ''} file"
        )
    verified = ports.archive.read_verified(stored.key, stored.sha256)
    url = ports.archive.presigned_url(stored.key, verified.version_id, lifetime)
    audit(ports, uow, "document.download_link", document.client_id, document.document_id)
    return DownloadLink(url, uow.now + lifetime, stored.sha256)
