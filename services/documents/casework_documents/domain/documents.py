"""Documents on a client's card: each generated from one version of an organisation's
template, kept in the archive as versions that are never overwritten, and, when the
template is a contract, the contract's lifecycle.

A contract is signed, is in force from its first day, and ends: on a date with a reason,
or because a newer contract replaced it. The stored state is what people did (signed,
ended, replaced); "in force" is read from the dates on a given day, so no timer has to
move it on.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from casework_common.errors import FailedPrecondition, FieldError
from casework_documents.domain.templates import TemplateKind


class DocumentFormat(enum.Enum):
    DOCX = "docx"
    PDF = "pdf"


CONTENT_TYPES = {
    DocumentFormat.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    DocumentFormat.PDF: "application/pdf",
}

# How long the archive keeps each kind of document under compliance-mode object lock
# (nobody, not even the storage's administrator, can delete it before then). Contracts
# and decisions follow the usual ten-year keeping of social-service files; information
# packs and referral letters five.
RETENTION_DAYS: dict[TemplateKind, int] = {
    TemplateKind.CONTRACT: 3650,
    TemplateKind.SERVICE_PLAN: 3650,
    TemplateKind.CONSENT: 3650,
    TemplateKind.DECISION: 3650,
    TemplateKind.CLIENT_INFORMATION_PACK: 1825,
    TemplateKind.REFERRAL_LETTER: 1825,
}


def retain_until(
    kind: TemplateKind, written_at: datetime, days: dict[TemplateKind, int] | None = None
) -> datetime:
    return written_at + timedelta(days=(days or RETENTION_DAYS)[kind])


class SigningMethod(enum.Enum):
    DRAWN = "drawn"  # drawn with a mouse or finger on the worker's screen
    IN_PERSON = "in_person"  # signed on paper in front of the worker, scanned signature
    TABLET = "tablet"  # drawn on a signing tablet


@dataclass(frozen=True)
class Signer:
    role: str  # "client" | "worker"
    name: str
    subject: str  # the client's id, or the worker's id


@dataclass(frozen=True)
class SigningEvidence:
    """Who signed, when and how, and the SHA-256 of the exact bytes signed (the PDF as
    it was before the organisation's digital signature was added) and of the result."""

    signers: tuple[Signer, ...]
    method: SigningMethod
    signed_at: datetime
    recorded_by: str
    signed_bytes_sha256: str
    signature_images_sha256: tuple[str, ...]
    sealed_sha256: str
    certificate_subject: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredFile:
    format: DocumentFormat
    key: str
    sha256: str
    size: int
    retain_until: datetime


@dataclass(frozen=True)
class DocumentVersion:
    number: int
    created_at: datetime
    created_by: str
    template_version: int
    files: tuple[StoredFile, ...]
    evidence: SigningEvidence | None = None

    def file(self, fmt: DocumentFormat) -> StoredFile | None:
        return next((f for f in self.files if f.format is fmt), None)


class ContractState(enum.Enum):
    SIGNED = "signed"  # signed, its first day not reached yet
    IN_FORCE = "in_force"
    ENDED = "ended"  # ended early with a reason, or its last day has passed
    REPLACED = "replaced"


@dataclass(frozen=True)
class ContractTerms:
    valid_from: date
    valid_until: date | None  # None: open-ended


@dataclass(frozen=True)
class Contract:
    terms: ContractTerms
    signed_on: date
    ended_on: date | None = None  # the first day it is no longer in force
    end_reason: str = ""
    replaced_by: str = ""

    def state_on(self, day: date) -> ContractState:
        if self.replaced_by:
            return ContractState.REPLACED
        if self.ended_on is not None and day >= self.ended_on:
            return ContractState.ENDED
        if self.terms.valid_until is not None and day > self.terms.valid_until:
            return ContractState.ENDED
        if day < self.terms.valid_from:
            return ContractState.SIGNED
        return ContractState.IN_FORCE


def terms_errors(terms: ContractTerms, today: date) -> list[FieldError]:
    errors = []
    if terms.valid_until is not None and terms.valid_until < terms.valid_from:
        errors.append(FieldError("valid_until", "is before valid_from"))
    if terms.valid_until is not None and terms.valid_until < today:
        errors.append(FieldError("valid_until", "is in the past"))
    return errors


@dataclass(frozen=True)
class Document:
    document_id: str
    organisation: str
    client_id: str
    centre_ids: tuple[str, ...]
    kind: TemplateKind
    template_id: str
    title: str
    created_at: datetime
    created_by: str
    terms: ContractTerms | None
    versions: tuple[DocumentVersion, ...] = ()
    contract: Contract | None = None
    idempotency_key: str = ""
    # Digest of the call that created it with that key (casework_common.idempotency).
    fingerprint: str = ""
    # The plan (plans' plan_id) whose goals it prints; empty when it prints none.
    plan_id: str = ""

    @property
    def latest(self) -> DocumentVersion:
        return self.versions[-1]

    @property
    def signed(self) -> bool:
        return any(v.evidence is not None for v in self.versions)

    def version(self, number: int) -> DocumentVersion | None:
        if number == 0:
            return self.versions[-1] if self.versions else None
        return next((v for v in self.versions if v.number == number), None)

    def next_version_number(self) -> int:
        return (self.versions[-1].number if self.versions else 0) + 1


def with_version(document: Document, version: DocumentVersion) -> Document:
    """Versions are only ever added."""
    if version.number != document.next_version_number():
        raise ValueError(
            f"version {version.number} does not follow {document.next_version_number() - 1}"
        )
    return replace(document, versions=(*document.versions, version))


def sign_contract(document: Document, version: DocumentVersion, signed_on: date) -> Document:
    """The document with its signed version; for a contract, the contract it starts."""
    if document.signed:
        raise FailedPrecondition(f"document {document.document_id} is already signed")
    if version.evidence is None:
        raise ValueError("a signed version carries its evidence")
    signed = with_version(document, version)
    if document.kind is TemplateKind.CONTRACT:
        terms = document.terms or ContractTerms(signed_on, None)
        signed = replace(signed, contract=Contract(terms=terms, signed_on=signed_on))
    return signed


def end_contract(
    document: Document, ended_on: date, reason: str, today: date, replaced_by: str = ""
) -> Document:
    contract = document.contract
    if contract is None:
        raise FailedPrecondition(f"document {document.document_id} is not a signed contract")
    state = contract.state_on(today)
    if contract.ended_on is not None or contract.replaced_by:
        raise FailedPrecondition(f"contract {document.document_id} has already ended")
    if state is ContractState.ENDED:
        raise FailedPrecondition(
            f"contract {document.document_id} expired on {contract.terms.valid_until}"
        )
    if ended_on < contract.signed_on:
        raise FailedPrecondition("a contract cannot end before it was signed")
    return replace(
        document,
        contract=replace(contract, ended_on=ended_on, end_reason=reason, replaced_by=replaced_by),
    )


def end_errors(ended_on: date | None, reason: str, today: date) -> list[FieldError]:
    errors = []
    if ended_on is None:
        errors.append(FieldError("ended_on", "is required (YYYY-MM-DD)"))
    elif ended_on > today + timedelta(days=366):
        errors.append(FieldError("ended_on", "is more than a year ahead"))
    if not reason.strip():
        errors.append(FieldError("reason", "is required"))
    elif len(reason) > 500:
        errors.append(FieldError("reason", "is longer than 500 characters"))
    return errors


def object_key(document: Document, version: int, fmt: DocumentFormat, nonce: str) -> str:
    """Where one file is written: never a key another write may also use (two workers
    generating a version of the same document at once write different keys, and the
    loser's database write fails), so no write can ever become a newer S3 version of a
    file a record already points at."""
    prefix = f"{document.organisation}/{document.client_id}/{document.document_id}"
    return f"{prefix}/v{version}-{nonce}.{fmt.value}"


def signed_payload(document: Document) -> dict[str, str]:
    """documents.contract.signed.v1: what clients reads today."""
    assert document.contract is not None
    terms = document.contract.terms
    return {
        "client_id": document.client_id,
        "contract_id": document.document_id,
        "signed_on": document.contract.signed_on.isoformat(),
        "valid_until": terms.valid_until.isoformat() if terms.valid_until else "",
    }


def ended_payload(document: Document) -> dict[str, str]:
    assert document.contract is not None and document.contract.ended_on is not None
    return {
        "client_id": document.client_id,
        "contract_id": document.document_id,
        "ended_on": document.contract.ended_on.isoformat(),
        "reason": document.contract.end_reason,
        "replaced_by_contract_id": document.contract.replaced_by,
    }
