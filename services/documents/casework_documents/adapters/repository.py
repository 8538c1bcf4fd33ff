"""documents' database: template versions (their .docx lives in the archive) and
documents with their versions, files, signing evidence and contract, each stored whole
with its outbox. Documents are scoped to the caller's centres through the centres of
the card they belong to."""

from __future__ import annotations

from datetime import date
from typing import Any

import mongoengine as me

from casework_common.errors import Conflict, NotFound
from casework_common.repository import AggregateRepository, ScopedRepository
from casework_common.storage import AggregateDocument
from casework_documents.domain.documents import (
    Contract,
    ContractTerms,
    Document,
    DocumentFormat,
    DocumentVersion,
    Signer,
    SigningEvidence,
    SigningMethod,
    StoredFile,
)
from casework_documents.domain.templates import TemplateKind, TemplateVersion


class TemplateVersionDocument(AggregateDocument):
    meta = {
        "collection": "template_versions",
        "indexes": [
            {"fields": ["organisation", "template_id", "version"], "unique": True},
            {"fields": ["organisation", "kind"]},
        ],
    }

    id = me.StringField(primary_key=True)  # "<template_id>:v<version>"
    template_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    name = me.StringField(required=True)
    template_version = me.IntField(required=True, db_field="version_number")
    sha256 = me.StringField(required=True)
    size = me.IntField(required=True)
    placeholders = me.ListField(me.StringField())
    uploaded_by = me.StringField(required=True)
    uploaded_at = me.DateTimeField(required=True)
    object_key = me.StringField(required=True)


def _template(doc: TemplateVersionDocument) -> TemplateVersion:
    return TemplateVersion(
        template_id=doc.template_id,
        organisation=doc.organisation,
        kind=TemplateKind(doc.kind),
        name=doc.name,
        version=doc.template_version,
        sha256=doc.sha256,
        size=doc.size,
        placeholders=frozenset(doc.placeholders),
        uploaded_by=doc.uploaded_by,
        uploaded_at=doc.uploaded_at,
    )


class TemplateRepository(ScopedRepository[TemplateVersionDocument]):
    """An organisation's templates: every centre uses them."""

    document = TemplateVersionDocument
    what = "template"

    def __init__(self, organisation: str, uow: Any = None) -> None:
        super().__init__(organisation, None, uow)

    def add(self, template: TemplateVersion, object_key: str) -> None:
        doc = TemplateVersionDocument(
            id=f"{template.template_id}:v{template.version}",
            organisation=template.organisation,
            template_id=template.template_id,
            kind=template.kind.value,
            name=template.name,
            template_version=template.version,
            sha256=template.sha256,
            size=template.size,
            placeholders=sorted(template.placeholders),
            uploaded_by=template.uploaded_by,
            uploaded_at=template.uploaded_at,
            object_key=object_key,
        )
        self._save(doc)

    def versions(self, template_id: str) -> list[TemplateVersion]:
        docs = self._unscoped().filter(template_id=template_id).order_by("version_number")
        return [_template(d) for d in docs]

    def get(self, template_id: str, version: int = 0) -> tuple[TemplateVersion, str]:
        """The version (0: newest) and its object key; NotFound for another
        organisation's template."""
        query = self._unscoped().filter(template_id=template_id)
        doc = (
            query.filter(template_version=version).first()
            if version
            else query.order_by("-version_number").first()
        )
        if doc is None:
            raise NotFound(f"template {template_id} not found")
        return _template(doc), doc.object_key

    def all(self, kind: TemplateKind | None) -> list[TemplateVersion]:
        query = self._unscoped()
        if kind is not None:
            query = query.filter(kind=kind.value)
        docs = sorted(query, key=lambda d: (d.template_id, -d.template_version))
        return [_template(d) for d in docs]


class DocumentRecord(AggregateDocument):
    meta = {
        "collection": "documents",
        "indexes": [
            {"fields": ["organisation", "client_id"]},
            {"fields": ["organisation", "centre_ids"]},
            {
                "fields": ["organisation", "idempotency_key"],
                "unique": True,
                "partialFilterExpression": {"idempotency_key": {"$type": "string"}},
            },
        ],
    }

    id = me.StringField(primary_key=True)
    client_id = me.StringField(required=True)
    centre_ids = me.ListField(me.StringField())
    kind = me.StringField(required=True)
    template_id = me.StringField(required=True)
    title = me.StringField(default="")
    created_at = me.DateTimeField(required=True)
    created_by = me.StringField(required=True)
    terms = me.DictField()
    versions = me.ListField(me.DictField())
    contract = me.DictField()
    # Unset (not stored) on documents generated without a key.
    idempotency_key = me.StringField()
    fingerprint = me.StringField(default="")
    # The plan whose goals the document prints (empty: none).
    plan_id = me.StringField(default="")


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _terms_to(terms: ContractTerms | None) -> dict[str, Any]:
    if terms is None:
        return {}
    return {
        "valid_from": terms.valid_from.isoformat(),
        "valid_until": terms.valid_until.isoformat() if terms.valid_until else "",
    }


def _terms_from(raw: dict[str, Any]) -> ContractTerms | None:
    if not raw:
        return None
    start = _day(raw["valid_from"])
    assert start is not None
    return ContractTerms(start, _day(raw.get("valid_until")))


def _version_to(v: DocumentVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": v.number,
        "created_at": v.created_at,
        "created_by": v.created_by,
        "template_version": v.template_version,
        "files": [
            {
                "format": f.format.value,
                "key": f.key,
                "sha256": f.sha256,
                "size": f.size,
                "retain_until": f.retain_until,
            }
            for f in v.files
        ],
    }
    if v.evidence is not None:
        e = v.evidence
        out["evidence"] = {
            "signers": [{"role": s.role, "name": s.name, "subject": s.subject} for s in e.signers],
            "method": e.method.value,
            "signed_at": e.signed_at,
            "recorded_by": e.recorded_by,
            "signed_bytes_sha256": e.signed_bytes_sha256,
            "signature_images_sha256": list(e.signature_images_sha256),
            "sealed_sha256": e.sealed_sha256,
            "certificate_subject": e.certificate_subject,
        }
    return out


def _aware(value: Any) -> Any:
    from datetime import UTC, datetime

    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _version_from(raw: dict[str, Any]) -> DocumentVersion:
    evidence = None
    if raw.get("evidence"):
        e = raw["evidence"]
        evidence = SigningEvidence(
            signers=tuple(Signer(s["role"], s["name"], s["subject"]) for s in e["signers"]),
            method=SigningMethod(e["method"]),
            signed_at=_aware(e["signed_at"]),
            recorded_by=e["recorded_by"],
            signed_bytes_sha256=e["signed_bytes_sha256"],
            signature_images_sha256=tuple(e["signature_images_sha256"]),
            sealed_sha256=e["sealed_sha256"],
            certificate_subject=e["certificate_subject"],
        )
    return DocumentVersion(
        number=int(raw["number"]),
        created_at=_aware(raw["created_at"]),
        created_by=raw["created_by"],
        template_version=int(raw["template_version"]),
        files=tuple(
            StoredFile(
                DocumentFormat(f["format"]),
                f["key"],
                f["sha256"],
                int(f["size"]),
                _aware(f["retain_until"]),
            )
            for f in raw["files"]
        ),
        evidence=evidence,
    )


def _contract_to(c: Contract | None) -> dict[str, Any]:
    if c is None:
        return {}
    return {
        "terms": _terms_to(c.terms),
        "signed_on": c.signed_on.isoformat(),
        "ended_on": c.ended_on.isoformat() if c.ended_on else "",
        "end_reason": c.end_reason,
        "replaced_by": c.replaced_by,
    }


def _contract_from(raw: dict[str, Any]) -> Contract | None:
    if not raw:
        return None
    terms = _terms_from(raw["terms"])
    signed_on = _day(raw["signed_on"])
    assert terms is not None and signed_on is not None
    return Contract(
        terms=terms,
        signed_on=signed_on,
        ended_on=_day(raw.get("ended_on")),
        end_reason=raw.get("end_reason", ""),
        replaced_by=raw.get("replaced_by", ""),
    )


class DocumentRepository(AggregateRepository[DocumentRecord, Document]):
    document = DocumentRecord
    centre_field = "centre_ids"
    what = "document"

    def _read(self, doc: DocumentRecord) -> Document:
        return Document(
            document_id=doc.id,
            organisation=doc.organisation,
            client_id=doc.client_id,
            centre_ids=tuple(doc.centre_ids),
            kind=TemplateKind(doc.kind),
            template_id=doc.template_id,
            title=doc.title or "",
            created_at=_aware(doc.created_at),
            created_by=doc.created_by,
            terms=_terms_from(doc.terms),
            versions=tuple(_version_from(v) for v in doc.versions),
            contract=_contract_from(doc.contract),
            idempotency_key=doc.idempotency_key or "",
            fingerprint=doc.fingerprint or "",
            plan_id=doc.plan_id or "",
        )

    def _write(self, doc: DocumentRecord, aggregate: Document) -> None:
        doc.organisation = aggregate.organisation
        doc.client_id = aggregate.client_id
        doc.centre_ids = list(aggregate.centre_ids)
        doc.kind = aggregate.kind.value
        doc.template_id = aggregate.template_id
        doc.title = aggregate.title
        doc.created_at = aggregate.created_at
        doc.created_by = aggregate.created_by
        doc.terms = _terms_to(aggregate.terms)
        doc.versions = [_version_to(v) for v in aggregate.versions]
        doc.contract = _contract_to(aggregate.contract)
        doc.idempotency_key = aggregate.idempotency_key or None
        doc.fingerprint = aggregate.fingerprint
        doc.plan_id = aggregate.plan_id

    def _id_of(self, aggregate: Document) -> str:
        return aggregate.document_id

    def add_new(self, document: Document, events: list[Any]) -> None:
        doc = DocumentRecord(id=document.document_id)
        self._write(doc, document)
        self._save(doc, events)

    def get_for_change(self, document_id: str) -> tuple[Document, int]:
        """The document (in the caller's scope) and the stored version a change expects."""
        doc = self._one(document_id)
        return self._read(doc), doc.version

    def store(self, document: Document, expected: int, events: list[Any]) -> None:
        """Write the changed document with its events, only if nobody changed it since it
        was read at `expected` (Conflict otherwise): slow work (rendering, the archive)
        happens between the read and this write."""
        doc = self._one(document.document_id)
        if doc.version != expected:
            raise Conflict(f"document {document.document_id} was changed meanwhile; try again")
        self._write(doc, document)
        self._save(doc, events)

    def of_client(self, client_id: str) -> list[Document]:
        docs = self._scoped().filter(client_id=client_id)
        return sorted((self._read(d) for d in docs), key=lambda d: d.created_at)
