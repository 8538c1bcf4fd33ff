"""A contract from the organisation's Word template, printing the goals of the plan
signed in plans, signed in one step in documents, reaches the client's card in clients
over the bus; ending it lets a terminated client's colour turn from red (closed with a
valid contract) to grey."""

from __future__ import annotations

import datetime as dt
import io
import secrets
import urllib.request
import zipfile
from typing import Any

import pytest

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework.documents.v1 import documents_pb2 as pb
from casework.documents.v1 import documents_pb2_grpc
from casework.plans.v1 import plans_pb2_grpc
from casework_dev.clients_testing import register
from casework_dev.devstack import Suite
from casework_dev.testing.documents import create_signature_png, create_template_docx
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub
from casework_dev.testing.plans import create_plan_request, sign_both

pytestmark = pytest.mark.e2e

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
MANAGER = auth(
    create_token(subject="w-manager-north", centres=["ctr-north-town"], roles=["manager"])
)


@pytest.fixture(scope="module")
def suite(suite_factory: Any, s3_endpoint: str) -> Suite:
    started: Suite = suite_factory(
        ("clients", "plans", "documents"),
        env={"S3_ENDPOINT": s3_endpoint, "S3_BUCKET": f"e2e-{secrets.token_hex(4)}"},
    )
    return started


def docx_text(documents: Any, document_id: str) -> str:
    link = documents.GetDownloadUrl(
        pb.GetDownloadUrlRequest(document_id=document_id, format=pb.DOCUMENT_FORMAT_DOCX),
        metadata=ANNA,
    )
    with urllib.request.urlopen(link.url, timeout=10) as reply:
        docx = reply.read()
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        return package.read("word/document.xml").decode()


def test_a_signed_contract_reaches_the_card_and_its_end_turns_a_terminated_client_grey(
    suite: Suite,
) -> None:
    clients = stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)
    documents = stub(suite, "documents", documents_pb2_grpc.DocumentsServiceStub)
    plans = stub(suite, "plans", plans_pb2_grpc.PlansServiceStub)
    client_id = register(clients, address="Hlavná 12, Košice").client_id
    plan = sign_both(
        plans, plans.CreatePlan(create_plan_request(client_id=client_id), metadata=ANNA).plan, ANNA
    )
    goal = plan.versions[-1].content.goals[0]
    template = documents.UploadTemplate(
        pb.UploadTemplateRequest(
            kind=pb.TEMPLATE_KIND_CONTRACT, name="Zmluva", content=create_template_docx()
        ),
        metadata=MANAGER,
    ).template
    draft = documents.GenerateDocument(
        pb.GenerateDocumentRequest(template_id=template.template_id, client_id=client_id),
        metadata=ANNA,
    ).document

    assert goal.description in docx_text(documents, draft.document_id)
    signed = documents.SignDocument(
        pb.SignDocumentRequest(
            document_id=draft.document_id,
            client_signature_png=create_signature_png(seed=2),
            worker_signature_png=create_signature_png(seed=7),
            method=pb.SIGNING_METHOD_DRAWN,
        ),
        metadata=ANNA,
    ).document
    # The signed contract lists the plan's goals with their target dates.
    text = docx_text(documents, signed.document_id)
    assert goal.description in text and goal.target_date in text

    def card() -> clients_pb2.Client:
        return clients.GetClient(
            clients_pb2.GetClientRequest(client_id=client_id), metadata=ANNA
        ).client

    on_card = eventually(lambda: card() if card().contracts else None)
    assert [c.contract_id for c in on_card.contracts] == [signed.document_id]
    assert on_card.status == clients_pb2.CLIENT_STATUS_SERVICE_USER

    clients.RecordStatus(
        clients_pb2.RecordStatusRequest(
            client_id=client_id, status=clients_pb2.CLIENT_STATUS_TERMINATED, reason="moved_away"
        ),
        metadata=ANNA,
    )
    assert card().colour.colour == clients_pb2.COLOUR_RED  # closed, yet a valid contract

    documents.EndContract(
        pb.EndContractRequest(
            contract_id=signed.document_id,
            ended_on=dt.date.today().isoformat(),
            reason="moved away",
        ),
        metadata=ANNA,
    )

    grey = eventually(lambda: card() if card().colour.colour == clients_pb2.COLOUR_GREY else None)
    assert "terminated" in grey.colour.explanation.lower()
