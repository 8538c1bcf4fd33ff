"""An organisation's templates: uploaded (checked whole before anything is stored),
listed, previewed with sample data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from casework_common.errors import FailedPrecondition, FieldError, NotFound, raise_if_any
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork
from casework_documents.adapters.archive import Archive
from casework_documents.adapters.rendering import Renderer
from casework_documents.adapters.repository import TemplateRepository
from casework_documents.domain.documents import (
    CONTENT_TYPES,
    RETENTION_DAYS,
    DocumentFormat,
    sha256_hex,
)
from casework_documents.domain.package import check_docx
from casework_documents.domain.templates import (
    SAMPLE_CONTEXT,
    TemplateKind,
    TemplateVerdict,
    TemplateVersion,
    inspect_source,
    refuse_unless_acceptable,
)


@dataclass(frozen=True)
class UploadTemplate:
    template_id: str
    kind: TemplateKind | None
    name: str
    content: bytes


def inspect_template(
    content: bytes, renderer: Renderer, kind: TemplateKind | None = None
) -> TemplateVerdict:
    """Refuses what is not a safe .docx, then reads every piece of Jinja in it (in the
    limited child process) and what each uses."""
    check_docx(content)
    verdicts = [inspect_source(s, kind) for s in renderer.template_sources(content)]
    return TemplateVerdict(
        placeholders=frozenset().union(*(v.placeholders for v in verdicts)),
        unknown=frozenset().union(*(v.unknown for v in verdicts)),
        forbidden=tuple(dict.fromkeys(f for v in verdicts for f in v.forbidden)),
    )


def template_key(organisation: str, template_id: str, version: int, nonce: str) -> str:
    """Unique per upload: two uploads racing for one version number never share a key."""
    return f"templates/{organisation}/{template_id}/v{version}-{nonce}.docx"


def upload_template(
    command: UploadTemplate,
    uow: UnitOfWork,
    repository: TemplateRepository,
    archive: Archive,
    renderer: Renderer,
) -> TemplateVersion:
    errors = []
    if command.kind is None:
        errors.append(FieldError("kind", "is required"))
    if not command.name.strip() or len(command.name) > 200:
        errors.append(FieldError("name", "is required, at most 200 characters"))
    raise_if_any(errors)
    assert command.kind is not None
    verdict = inspect_template(command.content, renderer, command.kind)
    refuse_unless_acceptable(verdict)
    version = 1
    template_id = command.template_id
    if template_id:
        earlier = repository.versions(template_id)
        if not earlier:
            raise NotFound(f"template {template_id} not found")
        if earlier[-1].kind is not command.kind:
            raise FailedPrecondition(
                f"template {template_id} is a {earlier[-1].kind.value} template", field="kind"
            )
        version = earlier[-1].version + 1
    else:
        template_id = uow.new_id()
    organisation = uow.principal.organisation
    template = TemplateVersion(
        template_id=template_id,
        organisation=organisation,
        kind=command.kind,
        name=command.name.strip(),
        version=version,
        sha256=sha256_hex(command.content),
        size=len(command.content),
        placeholders=verdict.placeholders,
        uploaded_by=uow.principal.subject,
        uploaded_at=uow.now,
    )
    key = template_key(organisation, template_id, version, uow.new_id().replace("-", "")[:12])
    archive.put(
        key,
        command.content,
        content_type=CONTENT_TYPES[DocumentFormat.DOCX],
        metadata={"organisation": organisation, "template-id": template_id},
        retain_until=uow.now + timedelta(days=RETENTION_DAYS[command.kind]),
    )
    try:
        repository.add(template, key)
    except DuplicateAggregate:
        raise FailedPrecondition(
            f"another version of template {template_id} was uploaded at the same time; "
            "upload again",
            field="template_id",
        ) from None
    return template


def template_content(
    repository: TemplateRepository, archive: Archive, template_id: str, version: int = 0
) -> tuple[TemplateVersion, bytes]:
    template, key = repository.get(template_id, version)
    return template, archive.read_verified(key, template.sha256).data


def preview_template(
    template_id: str,
    version: int,
    fmt: DocumentFormat,
    repository: TemplateRepository,
    archive: Archive,
    renderer: Renderer,
) -> bytes:
    if not template_id:
        raise_if_any([FieldError("template_id", "is required")])
    _template, content = template_content(repository, archive, template_id, version)
    docx = renderer.render_docx(content, dict(SAMPLE_CONTEXT))
    return renderer.docx_to_pdf(docx) if fmt is DocumentFormat.PDF else docx
