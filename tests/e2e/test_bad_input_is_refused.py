"""Input that once answered INTERNAL or HTTP 500, through the real processes (intake,
clients, notify): each now answers INVALID_ARGUMENT / 400 naming the field, and the
database is as it was before the call."""

from __future__ import annotations

import base64
import http.client
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pymongo
import pytest
from google.protobuf.message import Message

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.rpc_errors import field_violations
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, stub

pytestmark = pytest.mark.e2e

CENTRES = ["ctr-north-town", "ctr-north-village", "ctr-south-city"]
MANAGER = auth(
    create_token(subject="w-anna", centres=CENTRES, roles=["case_worker", "manager", "admin"])
)
REFERRALS = "/public/v1/organisations/org-demo/referrals"
FORM = {
    "title": "Housing",
    "steps": [
        {
            "id": "about",
            "title": "About you",
            "questions": [
                {"id": "date_of_birth", "label": "Born", "type": "date", "self_fill": True},
                {"id": "household", "label": "People", "type": "number", "self_fill": True},
            ],
        }
    ],
    "programmes": [
        {
            "id": "adult",
            "name": "Adults",
            "rule": {"age_at_least": {"question": "date_of_birth", "years": 18}},
        }
    ],
}


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    return suite_factory(
        ("intake", "clients", "notify"), env={"INTAKE_WEB_FORM_PER_MINUTE": "1000"}
    )


@pytest.fixture(scope="module")
def intake(suite: Suite) -> Any:
    return stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def notify(suite: Suite) -> Any:
    return stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)


@pytest.fixture(scope="module")
def mongo(suite: Suite) -> Iterator[Any]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    yield client
    client.close()


def snapshot(mongo: Any, suite: Suite, service: str, *collections: str) -> dict[str, Any]:
    """The stored documents, without what the outbox relay changes on its own."""
    db = mongo[f"{suite.env['MONGO_DB_PREFIX']}_{service}"]
    return {
        name: sorted(
            repr({k: v for k, v in doc.items() if not k.startswith("outbox")})
            for doc in db[name].find()
        )
        for name in collections
    }


def refused(call: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=MANAGER)
    return caught.value


def create_referral(**overrides: Any) -> intake_pb2.SubmitReferralRequest:
    request = intake_pb2.SubmitReferralRequest(
        idempotency_key=f"bad-input-{secrets.token_hex(8)}",
        person=intake_pb2.Person(
            given_name="Jana", family_name="Nováková", date_of_birth="1980-02-03"
        ),
        contact=intake_pb2.Contact(phone="+420 601 000 111"),
        centre_id="ctr-north-town",
        client_type="senior",
        problem_type="housing",
        channel=intake_pb2.CHANNEL_PHONE,
    )
    for key, value in overrides.items():
        if isinstance(value, Message):
            getattr(request, key).CopyFrom(value)
        else:
            setattr(request, key, value)
    return request


@pytest.fixture(scope="module")
def referral(intake: Any) -> Any:
    return intake.SubmitReferral(create_referral(), metadata=MANAGER).referral


@pytest.fixture(scope="module")
def form_id(intake: Any) -> str:
    form_id = f"housing_{secrets.token_hex(3)}"
    intake.PublishForm(
        intake_pb2.PublishFormRequest(form_id=form_id, definition_json=json.dumps(FORM)),
        metadata=MANAGER,
    )
    return form_id


@pytest.fixture(scope="module")
def project(intake: Any) -> Any:
    created = intake.CreateProject(
        intake_pb2.CreateProjectRequest(
            name="Winter fair",
            centre_id="ctr-north-town",
            members=["w-anna"],
            idempotency_key=f"bad-input-{secrets.token_hex(8)}",
        ),
        metadata=MANAGER,
    ).project
    due = datetime.now(UTC) + timedelta(days=2)
    request = intake_pb2.AddTaskRequest(
        project_id=created.project_id,
        title="Posters",
        assignee_id="w-anna",
        idempotency_key=f"bad-input-{secrets.token_hex(8)}",
    )
    request.due_at.FromDatetime(due)
    return intake.AddTask(request, metadata=MANAGER)


@pytest.fixture(scope="module")
def card(clients: Any) -> Any:
    return clients.RegisterClient(
        clients_pb2.RegisterClientRequest(
            given_name=f"Eva{secrets.token_hex(3)}",
            family_name="Malá",
            date_of_birth="1970-01-02",
            phone="+420 602 000 333",
            centre_id="ctr-north-town",
            client_type="senior",
        ),
        metadata=MANAGER,
    ).client


def post(
    suite: Suite, path: str, body: bytes, content_type: str, chunked: bool = False
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", suite.public_port, timeout=30)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", content_type)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        else:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        if chunked:
            for start in range(0, len(body), 1000):
                part = body[start : start + 1000]
                connection.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            connection.send(b"0\r\n\r\n")
        else:
            connection.send(body)
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


def web_form(**overrides: str) -> dict[str, str]:
    fields = {
        "given_name": "Eva",
        "family_name": "Nováková",
        "date_of_birth": "1990-01-01",
        "phone": "+420 601 000 222",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
    }
    fields.update(overrides)
    return fields


# ------------------------------------------------------------------- timestamps

OUT_OF_RANGE = [(253_402_300_800, 0), (-62_135_596_801, 0), (2**62, 0), (0, -1), (0, 10**9)]


@pytest.mark.parametrize(("seconds", "nanos"), OUT_OF_RANGE)
def test_outreach_planned_outside_the_calendar_is_refused_naming_planned_at(
    intake: Any, suite: Suite, mongo: Any, seconds: int, nanos: int
) -> None:
    before = snapshot(mongo, suite, "intake", "outreach_activities")
    request = intake_pb2.PlanOutreachRequest(
        worker_id="w-anna",
        centre_id="ctr-north-town",
        activity_type=intake_pb2.OUTREACH_ACTIVITY_TYPE_FIELD_WORK,
        place="Market",
        idempotency_key=f"bad-input-{secrets.token_hex(8)}",
    )
    request.planned_at.seconds, request.planned_at.nanos = seconds, nanos
    error = refused(intake.PlanOutreach, request)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"planned_at"}
    assert snapshot(mongo, suite, "intake", "outreach_activities") == before


@pytest.mark.parametrize(("seconds", "nanos"), OUT_OF_RANGE)
def test_a_task_due_outside_the_calendar_is_refused_naming_due_at(
    intake: Any, project: Any, suite: Suite, mongo: Any, seconds: int, nanos: int
) -> None:
    before = snapshot(mongo, suite, "intake", "projects")
    add = intake_pb2.AddTaskRequest(
        project_id=project.project.project_id,
        title="Leaflets",
        assignee_id="w-anna",
        idempotency_key=f"bad-input-{secrets.token_hex(8)}",
    )
    add.due_at.seconds, add.due_at.nanos = seconds, nanos
    reopen = intake_pb2.ReopenTaskRequest(
        project_id=project.project.project_id, task_id=project.task.task_id
    )
    reopen.due_at.seconds, reopen.due_at.nanos = seconds, nanos
    for call, request in ((intake.AddTask, add), (intake.ReopenTask, reopen)):
        error = refused(call, request)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(error)) == {"due_at"}
    assert snapshot(mongo, suite, "intake", "projects") == before


# ------------------------------------------------------------------- page tokens


@pytest.mark.parametrize("offset", [2**63, 2**64 + 5, 10**30])
def test_a_page_token_past_any_offset_a_store_can_skip_is_refused_in_every_service(
    intake: Any, clients: Any, notify: Any, offset: int
) -> None:
    token = base64.urlsafe_b64encode(str(offset).encode()).decode()
    for call, request in (
        (intake.ListProjects, intake_pb2.ListProjectsRequest(page_token=token)),
        (intake.ListOutreach, intake_pb2.ListOutreachRequest(page_token=token)),
        (intake.ListConsultations, intake_pb2.ListConsultationsRequest(page_token=token)),
        (intake.ListRoutingRuleSets, intake_pb2.ListRoutingRuleSetsRequest(page_token=token)),
        (clients.ListClients, clients_pb2.ListClientsRequest(page_token=token)),
        (notify.ListInbox, notify_pb2.ListInboxRequest(page_token=token)),
    ):
        error = refused(call, request)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(error)) == {"page_token"}


# ------------------------------------------------------------- numbers and JSON


@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf"), 2.0**63])
def test_form_answers_with_a_number_no_store_keeps_are_refused_naming_it(
    intake: Any, referral: Any, form_id: str, suite: Suite, mongo: Any, number: float
) -> None:
    before = snapshot(mongo, suite, "intake", "form_answers")
    request = intake_pb2.SubmitFormAnswersRequest(
        referral_id=referral.referral_id, form_id=form_id, form_version=1
    )
    request.answers.update({"date_of_birth": "1980-02-03", "household": number})
    error = refused(intake.SubmitFormAnswers, request)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"answers.household"}
    assert snapshot(mongo, suite, "intake", "form_answers") == before


def test_form_answers_with_a_date_of_birth_in_year_9999_are_refused(
    intake: Any, referral: Any, form_id: str, suite: Suite, mongo: Any
) -> None:
    before = snapshot(mongo, suite, "intake", "form_answers")
    request = intake_pb2.SubmitFormAnswersRequest(
        referral_id=referral.referral_id, form_id=form_id, form_version=1
    )
    request.answers.update({"date_of_birth": "9999-12-31", "household": 2})
    error = refused(intake.SubmitFormAnswers, request)
    assert set(field_violations(error)) == {"answers.date_of_birth"}
    assert snapshot(mongo, suite, "intake", "form_answers") == before


@pytest.mark.parametrize(
    "definition",
    [
        json.dumps(FORM).replace('"self_fill": true}', '"self_fill": true, "minimum": NaN}', 1),
        json.dumps(FORM).replace('"self_fill": true}', '"self_fill": true, "maximum": 1e999}', 1),
        json.dumps(FORM).replace('"years": 18', '"years": 18446744073709551616'),
        json.dumps(FORM).replace('"Housing"', '"Hous\\ud800ing"'),
        '{"title": "Deep", "steps": ' + "[" * 5_000 + "]" * 5_000 + "}",
    ],
)
def test_a_form_definition_no_store_keeps_is_refused_naming_definition_json(
    intake: Any, suite: Suite, mongo: Any, definition: str
) -> None:
    before = snapshot(mongo, suite, "intake", "form_versions")
    form_id = f"bad_{secrets.token_hex(3)}"
    error = refused(
        intake.PublishForm,
        intake_pb2.PublishFormRequest(form_id=form_id, definition_json=definition),
    )
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    fields = set(field_violations(error))
    assert fields and all(f.startswith("definition_json") for f in fields)
    assert snapshot(mongo, suite, "intake", "form_versions") == before


# ------------------------------------------------------- lengths and their echo


def test_a_megabyte_id_is_refused_with_an_error_of_a_line(clients: Any, intake: Any) -> None:
    huge = "c" * 1_000_000
    for call, request, field in (
        (clients.GetClient, clients_pb2.GetClientRequest(client_id=huge), "client_id"),
        (intake.GetReferral, intake_pb2.GetReferralRequest(referral_id=huge), "referral_id"),
    ):
        error = refused(call, request)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(error)) == {field}
        assert len(error.details()) < 1_000


def test_a_thousand_members_are_refused_naming_the_repeated_field(
    intake: Any, suite: Suite, mongo: Any
) -> None:
    before = snapshot(mongo, suite, "intake", "projects")
    error = refused(
        intake.CreateProject,
        intake_pb2.CreateProjectRequest(
            name="Fair",
            centre_id="ctr-north-town",
            members=["w-anna"] * 1_000,
            idempotency_key=f"bad-input-{secrets.token_hex(8)}",
        ),
    )
    assert set(field_violations(error)) == {"members"}
    assert snapshot(mongo, suite, "intake", "projects") == before


# ---------------------------------------------------------------- hostile text


@pytest.mark.parametrize(
    ("text", "description"),
    [("Called\x00", "control"), ("Called \u202eback", "bidirectional")],
)
def test_a_card_note_with_nul_or_bidi_characters_is_refused(
    clients: Any, card: Any, suite: Suite, mongo: Any, text: str, description: str
) -> None:
    before = snapshot(mongo, suite, "clients", "clients")
    error = refused(
        clients.AddNote, clients_pb2.AddNoteRequest(client_id=card.client_id, text=text)
    )
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert description in field_violations(error)["text"]
    assert snapshot(mongo, suite, "clients", "clients") == before


def test_markup_as_an_e_mail_is_refused_by_intake_and_clients(
    intake: Any, clients: Any, suite: Suite, mongo: Any
) -> None:
    before = snapshot(mongo, suite, "intake", "referrals")
    markup = "<script>alert(1)</script>@x.y"
    referral = create_referral(contact=intake_pb2.Contact(email=markup))
    assert set(field_violations(refused(intake.SubmitReferral, referral))) == {"contact.email"}
    assert snapshot(mongo, suite, "intake", "referrals") == before
    registration = clients_pb2.RegisterClientRequest(
        given_name="Eva", family_name="Malá", date_of_birth="1970-01-02", email=markup,
        centre_id="ctr-north-town", client_type="senior",
    )  # fmt: skip
    assert "email" in field_violations(refused(clients.RegisterClient, registration))


# ------------------------------------------------------------------------- HTTP


def test_a_chunked_web_form_is_read_whole_and_accepted(suite: Suite) -> None:
    body = json.dumps(web_form(free_text="Needs help. " * 200)).encode()
    status, answer = post(suite, REFERRALS, body, "application/json", chunked=True)
    assert status == 201
    assert answer["reference_number"]


def test_a_chunked_body_over_the_limit_answers_413(suite: Suite, mongo: Any) -> None:
    before = snapshot(mongo, suite, "intake", "referrals")
    body = json.dumps(web_form(free_text="x" * 70_000)).encode()
    status, _ = post(suite, REFERRALS, body, "application/json", chunked=True)
    assert status == 413
    assert snapshot(mongo, suite, "intake", "referrals") == before


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        ("[" * 5_000 + "]" * 5_000, "application/json", "body"),
        ('{"given_name": NaN}', "application/json", "body"),
        (
            json.dumps(web_form())[:-1] + ', "free_text": "\\ud800"}',
            "application/json",
            "free_text",
        ),
        (json.dumps(web_form(given_name="Eva\x00")), "application/json", "given_name"),
        (json.dumps(web_form(family_name="Nov\u202eáková")), "application/json", "family_name"),
        (json.dumps(web_form(email="<script>alert(1)</script>@x.y")), "application/json", "email"),
        ("given_name=Eva%00&family_name=Nov", "application/x-www-form-urlencoded", "given_name"),
    ],
)
@pytest.mark.parametrize("chunked", [False, True])
def test_a_web_form_no_store_keeps_answers_400_naming_the_field(
    suite: Suite, mongo: Any, body: str, content_type: str, field: str, chunked: bool
) -> None:
    before = snapshot(mongo, suite, "intake", "referrals")
    status, answer = post(suite, REFERRALS, body.encode(), content_type, chunked=chunked)
    assert status == 400
    assert field in [e["field"] for e in answer["errors"]]
    assert snapshot(mongo, suite, "intake", "referrals") == before


def test_self_fill_answers_no_store_keeps_answer_400_and_leave_the_link_unused(
    intake: Any, referral: Any, form_id: str, suite: Suite, mongo: Any
) -> None:
    link = intake.IssueSelfFillLink(
        intake_pb2.IssueSelfFillLinkRequest(
            referral_id=referral.referral_id, form_id=form_id, form_version=1, valid_hours=2
        ),
        metadata=MANAGER,
    )
    path = f"/public/v1/self-fill/{link.token}"
    before = snapshot(mongo, suite, "intake", "form_answers")
    for body, field in (
        ('{"answers": {"household": NaN}}', "body"),
        ('{"answers": {"household": 1e400}}', "body"),
        ('{"answers": {"household": 99999999999999999999999}}', "body"),
        ('{"answers": ' + '{"a": ' * 5_000 + "{}" + "}" * 5_000 + "}", "body"),
        ('{"answers": {"date_of_birth": "\\ud800"}}', "answers.date_of_birth"),
        ('{"answers": {"date_of_birth": "9999-12-31"}}', "answers.date_of_birth"),
    ):
        status, answer = post(suite, path, body.encode(), "application/json")
        assert status == 400, body[:60]
        assert [e["field"] for e in answer["errors"]] == [field], body[:60]
    assert snapshot(mongo, suite, "intake", "form_answers") == before
    good = json.dumps({"answers": {"date_of_birth": "1980-02-03", "household": 2}})
    status, _ = post(suite, path, good.encode(), "application/json", chunked=True)
    assert status == 201
