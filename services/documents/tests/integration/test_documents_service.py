"""documents through its real processes, with clients (the card) and plans (the goals of
the plan in effect), both read over gRPC with documents' service token, real S3 (object
lock), MongoDB-wire and RabbitMQ: a contract generated from a Word template, signed in one
step and archived; every bad input the issue lists refused with its own error and nothing
stored half-way."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import secrets
import urllib.request
import zipfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import grpc
import pymongo
import pypdf
import pytest
from minio import Minio
from minio.error import S3Error
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from casework.clients.v1 import clients_pb2_grpc
from casework.documents.v1 import documents_pb2 as pb
from casework.documents.v1 import documents_pb2_grpc
from casework.plans.v1 import plans_pb2_grpc
from casework_common.rpc_errors import field_violations, precondition_subjects
from casework_dev.clients_testing import register
from casework_dev.devstack import Suite
from casework_dev.testing.documents import (
    create_signature_png,
    create_template_docx,
    create_zip_bomb,
)
from casework_dev.testing.fixtures import create_partner_token, create_token, documents_env
from casework_dev.testing.helpers import auth, stub
from casework_dev.testing.plans import create_plan_request, sign_both

pytestmark = pytest.mark.e2e

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
MANAGER = auth(
    create_token(subject="w-manager-north", centres=["ctr-north-town"], roles=["manager"])
)
MANAGER_SOUTH = auth(
    create_token(subject="w-manager-south", centres=["ctr-south-city"], roles=["manager"])
)


@pytest.fixture(scope="module")
def bucket() -> str:
    return f"documents-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def suite(suite_factory: Any, s3_endpoint: str, bucket: str) -> Suite:
    started: Suite = suite_factory(
        ("clients", "plans", "documents"), env={"S3_ENDPOINT": s3_endpoint, "S3_BUCKET": bucket}
    )
    return started


@pytest.fixture(scope="module")
def documents(suite: Suite) -> Any:
    return stub(suite, "documents", documents_pb2_grpc.DocumentsServiceStub)


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def plans(suite: Suite) -> Any:
    return stub(suite, "plans", plans_pb2_grpc.PlansServiceStub)


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> Minio:
    return Minio(
        urlparse(s3_endpoint).netloc,
        "casework",
        "casework-secret",
        secure=False,
        region="us-east-1",
    )


@pytest.fixture(scope="module")
def db(suite: Suite) -> Iterator[Any]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    yield client[f"{suite.env['MONGO_DB_PREFIX']}_documents"]
    client.close()


@pytest.fixture(scope="module")
def contract_template(documents: Any) -> pb.Template:
    reply = documents.UploadTemplate(
        pb.UploadTemplateRequest(
            kind=pb.TEMPLATE_KIND_CONTRACT,
            name="Zmluva / Договор",
            content=create_template_docx(goals_table=False),
        ),
        metadata=MANAGER,
    )
    return reply.template


@pytest.fixture(scope="module")
def plan_template(documents: Any) -> pb.Template:
    """A service plan printing the plan's goals as a table: text, target date, actions."""
    content = create_template_docx(
        ["Individuálny plán / План: {{ client.full_name }}",
         "{% for goal in goals %}Cieľ {{ loop.index }}: {{ goal.description }} do "
         "{{ goal.target_date }} — {{ goal.actions }}{% endfor %}",
         "{{ client_signature }} {{ worker_signature }}"],
    )  # fmt: skip
    return documents.UploadTemplate(
        pb.UploadTemplateRequest(
            kind=pb.TEMPLATE_KIND_SERVICE_PLAN, name="Individuálny plán", content=content
        ),
        metadata=MANAGER,
    ).template


def plan_in_effect(plans: Any, client_id: str, metadata: Any = ANNA, **overrides: Any) -> Any:
    """A plan signed by client and worker in plans (North Town's unless told otherwise)."""
    created = plans.CreatePlan(
        create_plan_request(client_id=client_id, **overrides), metadata=metadata
    ).plan
    return sign_both(plans, created, metadata)


def docx_body(documents: Any, document_id: str) -> str:
    docx = download(documents, document_id, format=pb.DOCUMENT_FORMAT_DOCX)
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        return package.read("word/document.xml").decode()


def create_client(clients: Any, **overrides: Any) -> str:
    fields = {"given_name": "Žofia", "family_name": f"Ďurišová{secrets.token_hex(3)}"}
    fields.update({"address": "Hlavná 12, 040 01 Košice"})
    fields.update(overrides)
    return str(register(clients, **fields).client_id)


def generate(documents: Any, template_id: str, client_id: str, **extra: Any) -> pb.Document:
    reply = documents.GenerateDocument(
        pb.GenerateDocumentRequest(
            template_id=template_id, client_id=client_id, valid_until="2099-12-31", **extra
        ),
        metadata=ANNA,
    )
    return reply.document


def sign(documents: Any, document_id: str, **extra: Any) -> pb.Document:
    reply = documents.SignDocument(
        pb.SignDocumentRequest(
            document_id=document_id,
            client_signature_png=create_signature_png(seed=1),
            worker_signature_png=create_signature_png(seed=5),
            method=pb.SIGNING_METHOD_TABLET,
            **extra,
        ),
        metadata=ANNA,
    )
    return reply.document


def download(documents: Any, document_id: str, **extra: Any) -> bytes:
    link = documents.GetDownloadUrl(
        pb.GetDownloadUrlRequest(document_id=document_id, **extra), metadata=ANNA
    )
    with urllib.request.urlopen(link.url, timeout=10) as reply:
        return bytes(reply.read())


def prefix_digests(pdf: bytes) -> set[str]:
    """SHA-256 of every prefix of `pdf` ending at an end-of-file marker (and its newline)."""
    digests = set()
    at = pdf.find(b"%%EOF")
    while at != -1:
        for end in (at + 5, at + 6, at + 7):
            digests.add(hashlib.sha256(pdf[:end]).hexdigest())
        at = pdf.find(b"%%EOF", at + 1)
    return digests


def refused(call: Any, request: Any, metadata: Any = ANNA) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as error:
        call(request, metadata=metadata)
    return error.value


def test_a_contract_is_generated_signed_sealed_and_archived_with_its_evidence(
    documents: Any, clients: Any, contract_template: pb.Template
) -> None:
    client_id = create_client(clients)
    draft = generate(documents, contract_template.template_id, client_id, pdf=True)

    signed = sign(documents, draft.document_id)

    assert [v.version for v in signed.versions] == [1, 2]
    assert signed.contract.state == pb.CONTRACT_STATE_IN_FORCE
    evidence = signed.versions[-1].evidence
    assert [s.role for s in evidence.signers] == ["client", "worker"]
    assert evidence.method == pb.SIGNING_METHOD_TABLET and evidence.recorded_by == "w-anna"
    pdf = download(documents, signed.document_id)
    assert evidence.sealed_sha256 == signed.versions[-1].files[-1].sha256
    # The organisation's PAdES signature is intact and made with its certificate.
    cert = load_cert_from_pemder(documents_env()["DOCUMENTS_SIGNING_CERT_FILE"])
    seal = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    status = validate_pdf_signature(seal, ValidationContext(trust_roots=[cert]))
    assert status.intact and status.valid and status.trusted
    # What was signed is exactly the PDF before the seal, which the seal only appended to.
    assert evidence.signed_bytes_sha256 in prefix_digests(pdf)
    # Diacritics and Cyrillic survive the conversion; both drawn signatures are placed.
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    text = page.extract_text()
    assert "Žofia Ďurišová" in text and "Договор" in text and "Hlavná 12, 040 01 Košice" in text
    assert len(page.images) == 2
    docx = download(documents, signed.document_id, format=pb.DOCUMENT_FORMAT_DOCX)
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        body = package.read("word/document.xml").decode()
        media = [n for n in package.namelist() if n.startswith("word/media/")]
    assert "Žofia Ďurišová" in body and "Договор" in body and len(media) == 2
    # The card's document, as any worker of its centre reads it.
    read = documents.GetDocument(
        pb.GetDocumentRequest(document_id=signed.document_id), metadata=ANNA
    ).document
    assert read.versions[-1].evidence.signed_bytes_sha256 == evidence.signed_bytes_sha256
    listed = documents.ListTemplates(
        pb.ListTemplatesRequest(kind=pb.TEMPLATE_KIND_CONTRACT), metadata=ANNA
    )
    assert contract_template.template_id in {t.template_id for t in listed.templates}


def test_a_document_that_is_not_a_word_file_or_a_zip_bomb_is_refused_and_nothing_stored(
    documents: Any, db: Any
) -> None:
    before = db.template_versions.count_documents({})
    for content, why in ((b"%PDF-1.7 a scan", "not a .docx"), (create_zip_bomb(), "zip bomb")):
        error = refused(
            documents.UploadTemplate,
            pb.UploadTemplateRequest(kind=pb.TEMPLATE_KIND_CONSENT, name="x", content=content),
            MANAGER,
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert why in field_violations(error)["content"]
    assert db.template_versions.count_documents({}) == before


def test_every_unknown_placeholder_and_any_template_injection_is_named_in_the_refusal(
    documents: Any,
) -> None:
    unknown = create_template_docx(
        ["{{ client.shoe_size }} {{ salary }} {{ client.full_name }}"], goals_table=False
    )
    error = refused(
        documents.UploadTemplate,
        pb.UploadTemplateRequest(kind=pb.TEMPLATE_KIND_CONSENT, name="x", content=unknown),
        MANAGER,
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown placeholders: client.shoe_size, salary" in field_violations(error)["content"]

    injection = create_template_docx(
        ["{{ ''.__class__.__mro__[1].__subclasses__() }}"], goals_table=False
    )
    error = refused(
        documents.UploadTemplate,
        pb.UploadTemplateRequest(kind=pb.TEMPLATE_KIND_CONSENT, name="x", content=injection),
        MANAGER,
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "refused" in field_violations(error)["content"]


def test_missing_card_data_lists_every_missing_field_and_nothing_is_stored(
    documents: Any, clients: Any, db: Any
) -> None:
    template = documents.UploadTemplate(
        pb.UploadTemplateRequest(
            kind=pb.TEMPLATE_KIND_CLIENT_INFORMATION_PACK,
            name="Pack",
            content=create_template_docx(
                ["{{ client.full_name }}: {{ client.address }}, {{ client.email }}"],
                goals_table=False,
            ),
        ),
        metadata=MANAGER,
    ).template
    client_id = create_client(clients, address="")

    error = refused(
        documents.GenerateDocument,
        pb.GenerateDocumentRequest(template_id=template.template_id, client_id=client_id),
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "client.address, client.email" in (error.details() or "")
    assert db.documents.count_documents({"client_id": client_id}) == 0


def test_a_tampered_archived_file_is_reported_and_never_served(
    documents: Any, clients: Any, contract_template: pb.Template, s3: Minio, bucket: str
) -> None:
    document = generate(documents, contract_template.template_id, create_client(clients))
    key = next(
        o.object_name
        for o in s3.list_objects(bucket, prefix="org-demo/", recursive=True)
        if document.document_id in (o.object_name or "")
    )
    # Someone with storage credentials writes other bytes over the key (a new version).
    forged = b"forged contract"
    s3.put_object(
        bucket,
        str(key),
        io.BytesIO(forged),
        len(forged),
        metadata={
            "x-amz-sdk-checksum-algorithm": "SHA256",
            "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(forged).digest()).decode(),
        },
    )

    error = refused(
        documents.GetDownloadUrl, pb.GetDownloadUrlRequest(document_id=document.document_id)
    )

    assert error.code() == grpc.StatusCode.DATA_LOSS
    assert "SHA-256" in (error.details() or "")


def test_another_centres_worker_gets_no_link_and_no_list_and_cannot_generate(
    documents: Any, clients: Any, contract_template: pb.Template
) -> None:
    client_id = create_client(clients)
    document = generate(documents, contract_template.template_id, client_id)

    link = refused(
        documents.GetDownloadUrl, pb.GetDownloadUrlRequest(document_id=document.document_id), ILZE
    )
    listed = documents.ListDocuments(pb.ListDocumentsRequest(client_id=client_id), metadata=ILZE)
    generated = refused(
        documents.GenerateDocument,
        pb.GenerateDocumentRequest(template_id=contract_template.template_id, client_id=client_id),
        ILZE,
    )

    assert link.code() == grpc.StatusCode.NOT_FOUND
    assert list(listed.documents) == []
    assert generated.code() == grpc.StatusCode.NOT_FOUND


def test_a_locked_document_cannot_be_deleted_even_with_storage_credentials(
    documents: Any, clients: Any, contract_template: pb.Template, s3: Minio, bucket: str
) -> None:
    document = generate(documents, contract_template.template_id, create_client(clients))
    key = next(
        str(o.object_name)
        for o in s3.list_objects(bucket, prefix="org-demo/", recursive=True)
        if document.document_id in (o.object_name or "")
    )
    version_id = s3.stat_object(bucket, key).version_id

    with pytest.raises(S3Error) as refused_delete:
        s3.remove_object(bucket, key, version_id=version_id)

    assert refused_delete.value.code == "AccessDenied"
    assert s3.stat_object(bucket, key, version_id=version_id).version_id == version_id


def test_versions_are_listed_and_an_ended_contract_says_when_and_why(
    documents: Any, clients: Any, contract_template: pb.Template
) -> None:
    client_id = create_client(clients)
    first = generate(documents, contract_template.template_id, client_id)
    second = generate(
        documents, contract_template.template_id, client_id, document_id=first.document_id
    )
    signed = sign(documents, second.document_id)
    ended = documents.EndContract(
        pb.EndContractRequest(
            contract_id=signed.document_id, ended_on=dt.date.today().isoformat(), reason="moved"
        ),
        metadata=ANNA,
    ).document
    listed = documents.ListDocuments(pb.ListDocumentsRequest(client_id=client_id), metadata=ANNA)

    assert [v.version for v in listed.documents[0].versions] == [1, 2, 3]
    assert ended.contract.state == pb.CONTRACT_STATE_ENDED and ended.contract.end_reason == "moved"
    again = refused(
        documents.EndContract,
        pb.EndContractRequest(
            contract_id=signed.document_id, ended_on=dt.date.today().isoformat(), reason="x"
        ),
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_preview_renders_sample_data_and_a_signature_without_png_is_refused(
    documents: Any, contract_template: pb.Template
) -> None:
    preview = documents.PreviewTemplate(
        pb.PreviewTemplateRequest(
            template_id=contract_template.template_id, format=pb.DOCUMENT_FORMAT_PDF
        ),
        metadata=ANNA,
    )
    error = refused(
        documents.SignDocument,
        pb.SignDocumentRequest(document_id="whatever", client_signature_png=b"GIF89a"),
    )

    assert preview.content.startswith(b"%PDF")
    assert "Centrum Nádej" in pypdf.PdfReader(io.BytesIO(preview.content)).pages[0].extract_text()
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {
        "client_signature_png",
        "worker_signature_png",
        "method",
    }


def test_a_retried_generation_answers_the_first_document_and_a_reused_key_is_refused(
    documents: Any, clients: Any, contract_template: pb.Template, db: Any
) -> None:
    client_id = create_client(clients)
    key = f"gen-{secrets.token_hex(6)}"

    first = generate(documents, contract_template.template_id, client_id, idempotency_key=key)
    again = generate(documents, contract_template.template_id, client_id, idempotency_key=key)
    other = refused(
        documents.GenerateDocument,
        pb.GenerateDocumentRequest(
            template_id=contract_template.template_id,
            client_id=client_id,
            valid_until="2098-01-01",
            idempotency_key=key,
        ),
    )

    assert again.document_id == first.document_id
    assert other.code() == grpc.StatusCode.ALREADY_EXISTS
    assert db.documents.count_documents({"client_id": client_id}) == 1


# ------------------------------------------------------------------ the plan's goals


def test_a_service_plan_lists_the_goals_of_the_plan_in_effect_and_keeps_them_when_signed(
    documents: Any, clients: Any, plans: Any, plan_template: pb.Template
) -> None:
    client_id = create_client(clients)
    plan = plan_in_effect(plans, client_id)
    goal = plan.versions[-1].content.goals[0]

    draft = generate(documents, plan_template.template_id, client_id)
    signed = sign(documents, draft.document_id)

    for document_id in (draft.document_id, signed.document_id):
        body = docx_body(documents, document_id)
        assert f"Cieľ 1: eats three warm meals every day do {goal.target_date}" in body
        action = goal.actions[0]
        assert (
            f"hot meals brought home (partner Charity kitchen, 3 per day, by {action.deadline})"
        ) in body
    assert signed.versions[-1].evidence.signers


def test_a_contract_template_with_a_goals_table_prints_the_plan_named_in_the_request(
    documents: Any, clients: Any, plans: Any
) -> None:
    template = documents.UploadTemplate(
        pb.UploadTemplateRequest(
            kind=pb.TEMPLATE_KIND_CONTRACT, name="Zmluva s cieľmi", content=create_template_docx()
        ),
        metadata=MANAGER,
    ).template
    client_id = create_client(clients)
    plan = plan_in_effect(plans, client_id)

    document = generate(documents, template.template_id, client_id, plan_id=plan.plan_id)

    assert document.plan_id == plan.plan_id

    body = docx_body(documents, document.document_id)
    assert "eats three warm meals every day" in body
    assert plan.versions[-1].content.goals[0].target_date in body


def test_a_template_printing_goals_without_a_plan_in_effect_is_refused_naming_goals(
    documents: Any, clients: Any, plans: Any, plan_template: pb.Template, db: Any
) -> None:
    client_id = create_client(clients)
    plans.CreatePlan(create_plan_request(client_id=client_id), metadata=ANNA)  # a draft only

    error = refused(
        documents.GenerateDocument,
        pb.GenerateDocumentRequest(template_id=plan_template.template_id, client_id=client_id),
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert set(precondition_subjects(error)) == {"goals"}
    assert "no plan in effect" in (error.details() or "")
    assert db.documents.count_documents({"client_id": client_id}) == 0


def test_another_centres_plan_is_never_printed_for_a_worker_who_cannot_see_it(
    documents: Any, clients: Any, plans: Any, plan_template: pb.Template, db: Any
) -> None:
    client_id = create_client(clients)  # Anna's centre's card...
    southern = plan_in_effect(plans, client_id, ILZE, centre_id="ctr-south-city")  # ...Ilze's plan

    unnamed = refused(
        documents.GenerateDocument,
        pb.GenerateDocumentRequest(template_id=plan_template.template_id, client_id=client_id),
    )
    named = refused(
        documents.GenerateDocument,
        pb.GenerateDocumentRequest(
            template_id=plan_template.template_id, client_id=client_id, plan_id=southern.plan_id
        ),
    )

    assert unnamed.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert set(precondition_subjects(unnamed)) == {"goals"}
    assert named.code() == grpc.StatusCode.NOT_FOUND
    assert db.documents.count_documents({"client_id": client_id}) == 0


# ------------------------------------------------------------------ audit trail


def trail(documents: Any, client_id: str, metadata: Any = MANAGER, **extra: Any) -> Any:
    return documents.ListAuditEntries(
        pb.ListAuditEntriesRequest(client_id=client_id, **extra), metadata=metadata
    )


def test_a_manager_reads_who_read_and_changed_a_clients_documents_newest_first(
    documents: Any, clients: Any, contract_template: pb.Template
) -> None:
    client_id = create_client(clients)
    document = generate(documents, contract_template.template_id, client_id)
    documents.ListDocuments(pb.ListDocumentsRequest(client_id=client_id), metadata=ANNA)
    download(documents, document.document_id)

    entries = list(trail(documents, client_id).entries)

    assert [(e.subject, e.action) for e in entries] == [
        ("w-anna", "document.download_link"),
        ("w-anna", "documents.listed"),
        ("w-anna", "document.generated"),
    ]
    assert entries[0].document_id == entries[2].document_id == document.document_id
    assert all(e.client_id == client_id and e.trace_id for e in entries)
    first_page = trail(documents, client_id, page_size=2)
    rest = trail(documents, client_id, page_token=first_page.next_page_token)
    assert [e.action for e in [*first_page.entries, *rest.entries]] == [e.action for e in entries]


def test_the_trail_is_for_managers_of_the_clients_centre_only_and_needs_a_client(
    documents: Any, clients: Any, contract_template: pb.Template
) -> None:
    client_id = create_client(clients)
    generate(documents, contract_template.template_id, client_id)
    request = pb.ListAuditEntriesRequest(client_id=client_id)

    worker = refused(documents.ListAuditEntries, request, ANNA)
    partner = refused(documents.ListAuditEntries, request, auth(create_partner_token()))
    anonymous = refused(documents.ListAuditEntries, request, [])
    other_centre = refused(documents.ListAuditEntries, request, MANAGER_SOUTH)
    unknown = refused(
        documents.ListAuditEntries,
        pb.ListAuditEntriesRequest(client_id=f"cl-{secrets.token_hex(6)}"),
        MANAGER_SOUTH,
    )
    missing = refused(documents.ListAuditEntries, pb.ListAuditEntriesRequest(), MANAGER)
    too_big = refused(
        documents.ListAuditEntries,
        pb.ListAuditEntriesRequest(client_id=client_id, page_size=100_000),
        MANAGER,
    )

    assert worker.code() == partner.code() == grpc.StatusCode.PERMISSION_DENIED
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED
    assert other_centre.code() == unknown.code() == grpc.StatusCode.NOT_FOUND
    assert other_centre.details() == unknown.details().replace(
        unknown.details().split()[1], client_id
    )
    assert missing.code() == too_big.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "client_id" in field_violations(missing)
    assert "page_size" in field_violations(too_big)
