"""No input yields an internal error: every RPC of every service, and every public HTTP
endpoint, is sent random and mutated requests by a worker who holds every role, and
none may answer INTERNAL, UNKNOWN or RESOURCE_EXHAUSTED (an error too large to send
back), nor HTTP 5xx.

The RPCs are enumerated from the generated descriptors, so a new RPC is fuzzed the day
it is added. Requests come from a seeded generator (CASEWORK_FUZZ_SEED; the seed and
the number of calls are printed), built from each request message's own fields: huge
and hostile strings, control and bidi characters, out-of-range timestamps, extreme and
out-of-range numbers and enums, long repeated fields, bogus page tokens, Structs with
NaN, infinities and huge numbers. Half of the calls mutate a valid request (one field
made hostile), so the hostile value reaches the use case and not only the first check.
"""

from __future__ import annotations

import base64
import http.client
import importlib
import json
import math
import os
import random
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework_common.config import SERVICES
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("CASEWORK_FUZZ_SEED") or secrets.randbelow(2**32))
ROUNDS = int(os.environ.get("CASEWORK_FUZZ_ROUNDS") or 120)
FORBIDDEN = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
CENTRES = ["ctr-north-town", "ctr-north-village", "ctr-south-city"]
# Ids of records the valid requests created: random requests name them now and then,
# so that hostile values reach the records' use cases and not only "not found".
KNOWN_IDS: list[str] = []
ALL_ROLES = ["front_line", "case_worker", "manager", "admin", "data_protection_officer"]
EVERY_ROLE = auth(create_token(subject="w-anna", centres=CENTRES, roles=ALL_ROLES))
WEB_FORM = "/public/v1/organisations/org-demo/web-form"
REFERRALS = "/public/v1/organisations/org-demo/referrals"
SELF_FILL = "/public/v1/self-fill/"

FORM = {
    "title": "Fuzz intake",
    "steps": [
        {
            "id": "about",
            "title": "About you",
            "questions": [
                {"id": "date_of_birth", "label": "Born", "type": "date", "self_fill": True},
                {"id": "household", "label": "People", "type": "number", "self_fill": True},
                {"id": "note", "label": "Note", "type": "text", "self_fill": True},
                {"id": "has_home", "label": "Has a home", "type": "yes_no"},
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


# ------------------------------------------------------------------ hostile values


def _token_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def hostile_strings(rng: random.Random) -> list[str]:
    return [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u202eevil\u202c",
        "\u2066x\u2069",
        "<script>alert(1)</script>@x.y",
        "x" * rng.choice([129, 1_001, 10_001, 70_000, 300_000]),
        "é" * 5_000,
        "\n\t\r",
        "9999-12-31",
        "0001-01-01",
        "2025-02-30",
        "-1",
        "1e400",
        "NaN",
        _token_of(str(2**63)),
        _token_of(str(2**64 + 7)),
        _token_of("-1"),
        "!!!",
        "%00",
        "../../etc/passwd",
        "$where",
        '{"$gt": ""}',
        "a" * 64 + "@" + "b" * 250 + ".com",
        "😀" * 1_000,
        rng.choice(CENTRES),
        rng.choice(KNOWN_IDS or CENTRES),
        rng.choice(KNOWN_IDS or CENTRES),
        rng.choice(KNOWN_IDS or CENTRES),
        "org-demo",
        "w-anna",
        secrets.token_hex(rng.randint(1, 40)),
    ]


INT32 = [0, 1, -1, 2**31 - 1, -(2**31), 7, 600, 601, 10**6]
INT64 = [*INT32, 2**63 - 1, -(2**63)]
UINT = [0, 1, 2**32 - 1]
DOUBLES = [0.0, -1.0, math.nan, math.inf, -math.inf, 1e308, 2.0**63, 5e-324]
TIMESTAMPS = [
    (0, 0),
    (-62_135_596_801, 0),
    (-62_135_596_800, 0),
    (253_402_300_799, 999_999_999),
    (253_402_300_800, 0),
    (2**62, 0),
    (-(2**62), 0),
    (0, -1),
    (0, 1_000_000_000),
    (0, 2**31 - 1),
]


def hostile_json(rng: random.Random, depth: int = 0) -> Any:
    """A JSON-shaped value; protobuf's Struct keeps what it can of it."""
    choice = rng.randrange(10 if depth < 40 else 6)
    if choice == 0:
        return rng.choice(DOUBLES)
    if choice == 1:
        return rng.choice([2**63, -(2**63), 2**53 + 1, 10**30, 3])
    if choice == 2:
        return rng.choice(hostile_strings(rng))
    if choice == 3:
        return rng.choice([True, False, None])
    if choice in (4, 5):
        return rng.choice(["2025-01-01", "9999-12-31", "1899-01-01", "x", 1, ["a"]])
    if choice in (6, 7):
        return {
            rng.choice(["date_of_birth", "household", "note", "has_home", "x" * 300, "$x"]): (
                hostile_json(rng, depth + 1)
            )
            for _ in range(rng.randint(0, 4))
        }
    return [hostile_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def nested(depth: int) -> str:
    """JSON objects nested `depth` deep (json.dumps itself would overflow the stack)."""
    return '{"a": ' * depth + "{}" + "}" * depth


# ------------------------------------------------------------------ request building


def _scalar(field: FieldDescriptor, rng: random.Random) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return rng.choice(hostile_strings(rng))
    if kind == FieldDescriptor.TYPE_BYTES:
        return rng.choice([b"", b"\x00" * 10, b"\xff" * 1000])
    if kind == FieldDescriptor.TYPE_BOOL:
        return rng.choice([True, False])
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return rng.choice(DOUBLES) if kind == FieldDescriptor.TYPE_DOUBLE else 1.0
    if kind == FieldDescriptor.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        return rng.choice([*numbers, *numbers, 999, -1])
    if kind in (
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
    ):
        return rng.choice(INT64)
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return rng.choice(UINT)
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return rng.choice([*UINT, 2**64 - 1])
    return rng.choice(INT32)


def _fill_message(message: Message, field: FieldDescriptor, rng: random.Random, depth: int) -> None:
    name = field.message_type.full_name
    if name == "google.protobuf.Timestamp":
        seconds, nanos = rng.choice(TIMESTAMPS)
        message.seconds, message.nanos = seconds, nanos  # type: ignore[attr-defined]
    elif name == "google.protobuf.Struct":
        value = hostile_json(rng)
        message.update(value if isinstance(value, dict) else {"q": value})  # type: ignore[attr-defined]
    elif name == "google.protobuf.FieldMask":
        message.paths.extend(  # type: ignore[attr-defined]
            rng.sample(["given_name", "contacts", "centre_ids", "x", "", "a.b"], rng.randint(0, 3))
        )
    elif not name.startswith("google.protobuf.") and depth < 4:
        randomise(message, rng, depth + 1)


def set_random_field(
    message: Message, field: FieldDescriptor, rng: random.Random, depth: int = 0
) -> None:
    if field.is_repeated:
        container = getattr(message, field.name)
        del container[:]
        count = rng.choice([0, 1, 2, 3, 250, 1_001])
        for _ in range(count):
            if field.message_type is not None and count > 3:
                # Many items, each small: the request stays below the 4 MB a server takes.
                container.add()
            elif field.message_type is not None:
                _fill_message(container.add(), field, rng, depth)
            elif field.type == FieldDescriptor.TYPE_STRING and count > 3:
                container.append(rng.choice([*CENTRES, "x" * 300]))
            else:
                container.append(_scalar(field, rng))
        return
    if field.message_type is not None:
        target = getattr(message, field.name)
        target.Clear()
        _fill_message(target, field, rng, depth)
        target.SetInParent()
        return
    setattr(message, field.name, _scalar(field, rng))


def randomise(message: Message, rng: random.Random, depth: int = 0) -> Message:
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.7:
            set_random_field(message, field, rng, depth)
    return message


def mutate(valid: Message, rng: random.Random) -> Message:
    """The valid request with one field, at any depth, made hostile."""
    copy = type(valid)()
    copy.CopyFrom(valid)
    target = copy
    while True:
        fields = list(target.DESCRIPTOR.fields)
        field = rng.choice(fields)
        inner = field.message_type
        if (
            inner is not None
            and not field.is_repeated
            and not inner.full_name.startswith("google.protobuf.")
            and rng.random() < 0.6
        ):
            target = getattr(target, field.name)
            continue
        set_random_field(target, field, rng)
        return copy


def every_rpc() -> Iterator[tuple[str, MethodDescriptor]]:
    for service in SERVICES:
        module = importlib.import_module(f"casework.{service}.v1.{service}_pb2")
        for descriptor in module.DESCRIPTOR.services_by_name.values():
            for method in descriptor.methods:
                yield service, method


def message_class(descriptor: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


class Caller:
    """Calls any RPC by its full name on the service's port, counting the calls."""

    def __init__(self, suite: Suite) -> None:
        self._channels = {
            name: grpc.insecure_channel(
                f"127.0.0.1:{suite.grpc_ports[name]}",
                options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
            )
            for name in SERVICES
        }
        self.calls = 0

    def __call__(self, service: str, method: MethodDescriptor, request: Message) -> grpc.StatusCode:
        output = message_class(method.output_type)
        call = self._channels[service].unary_unary(
            f"/{method.containing_service.full_name}/{method.name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=output.FromString,
        )
        self.calls += 1
        try:
            call(request, metadata=EVERY_ROLE, timeout=30)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return]
        return grpc.StatusCode.OK

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()


# ------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def suite(suite_factory: Any, s3_endpoint: str) -> Suite:
    return suite_factory(
        SERVICES,
        env={
            "INTAKE_WEB_FORM_PER_MINUTE": "100000",
            "FEEDBACK_PUBLIC_PER_MINUTE": "100000",
            "S3_ENDPOINT": s3_endpoint,
            "S3_BUCKET": f"fuzz-{secrets.token_hex(4)}",
        },
    )


@pytest.fixture(scope="module")
def caller(suite: Suite) -> Iterator[Caller]:
    calling = Caller(suite)
    yield calling
    calling.close()


@pytest.fixture(scope="module")
def valid(suite: Suite) -> dict[str, Message]:
    """A valid request of the RPCs that create something, and of those that need it."""
    intake = intake_pb2_grpc.IntakeServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports['intake']}")
    )
    soon = datetime.now(UTC) + timedelta(days=3)
    referral = intake_pb2.SubmitReferralRequest(
        idempotency_key=f"fuzz-{secrets.token_hex(8)}",
        person=intake_pb2.Person(
            given_name="Jana", family_name="Fuzzová", date_of_birth="1980-02-03"
        ),
        contact=intake_pb2.Contact(phone="+420 601 000 111", email="jana@example.org"),
        centre_id="ctr-north-town",
        client_type="senior",
        problem_type="housing",
        channel=intake_pb2.CHANNEL_PHONE,
        free_text="Needs help.",
    )
    made = intake.SubmitReferral(referral, metadata=EVERY_ROLE).referral
    form_id = f"fuzz_{secrets.token_hex(3)}"
    intake.PublishForm(
        intake_pb2.PublishFormRequest(form_id=form_id, definition_json=json.dumps(FORM)),
        metadata=EVERY_ROLE,
    )
    project = intake.CreateProject(
        intake_pb2.CreateProjectRequest(
            name="Fuzz",
            centre_id="ctr-north-town",
            members=["w-anna"],
            idempotency_key=f"fuzz-{secrets.token_hex(8)}",
        ),
        metadata=EVERY_ROLE,
    ).project
    requests: dict[str, Message] = {
        "SubmitReferral": referral,
        "GetReferral": intake_pb2.GetReferralRequest(referral_id=made.referral_id),
        "PublishForm": intake_pb2.PublishFormRequest(
            form_id=form_id, definition_json=json.dumps(FORM)
        ),
        "SubmitFormAnswers": intake_pb2.SubmitFormAnswersRequest(
            referral_id=made.referral_id, form_id=form_id, form_version=1
        ),
        "IssueSelfFillLink": intake_pb2.IssueSelfFillLinkRequest(
            referral_id=made.referral_id, form_id=form_id, form_version=1, valid_hours=2
        ),
        "PlanOutreach": intake_pb2.PlanOutreachRequest(
            worker_id="w-anna",
            centre_id="ctr-north-town",
            activity_type=intake_pb2.OUTREACH_ACTIVITY_TYPE_FIELD_WORK,
            place="Market",
            idempotency_key=f"fuzz-{secrets.token_hex(8)}",
        ),
        "AddTask": intake_pb2.AddTaskRequest(
            project_id=project.project_id,
            title="Call",
            assignee_id="w-anna",
            idempotency_key=f"fuzz-{secrets.token_hex(8)}",
        ),
    }
    requests["PlanOutreach"].planned_at.FromDatetime(soon)  # type: ignore[attr-defined]
    requests["AddTask"].due_at.FromDatetime(soon)  # type: ignore[attr-defined]
    requests["SubmitFormAnswers"].answers.update(  # type: ignore[attr-defined]
        {"date_of_birth": "1980-02-03", "household": 2, "has_home": False}
    )
    clients = clients_pb2_grpc.ClientsServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports['clients']}")
    )
    card = clients.RegisterClient(
        clients_pb2.RegisterClientRequest(
            given_name=f"Fuzz{secrets.token_hex(4)}",
            family_name="Fuzzová",
            date_of_birth="1975-05-06",
            phone="+420 602 000 333",
            centre_id="ctr-north-town",
            client_type="senior",
        ),
        metadata=EVERY_ROLE,
    ).client
    client_id = card.client_id
    requests |= {
        "GetClient": clients_pb2.GetClientRequest(client_id=client_id),
        "AddNote": clients_pb2.AddNoteRequest(client_id=client_id, text="Called back."),
        "RecordContact": clients_pb2.RecordContactRequest(
            client_id=client_id, channel=clients_pb2.CONTACT_CHANNEL_PHONE, summary="Call"
        ),
        "UpdateClient": clients_pb2.UpdateClientRequest(
            client_id=client_id,
            changes=clients_pb2.ClientChanges(given_name="Jana", address="Main street 1"),
        ),
    }
    requests["UpdateClient"].update_mask.paths.extend(["given_name", "address"])  # type: ignore[attr-defined]
    KNOWN_IDS.extend([made.referral_id, project.project_id, client_id, form_id])
    link = intake.IssueSelfFillLink(requests["IssueSelfFillLink"], metadata=EVERY_ROLE)
    requests["self-fill-token"] = intake_pb2.IssueSelfFillLinkResponse(token=link.token)
    return requests


# --------------------------------------------------------------------------- gRPC


def test_no_rpc_answers_an_internal_error_whatever_it_is_sent(
    caller: Caller, valid: dict[str, Message]
) -> None:
    rng = random.Random(SEED)
    rpcs = list(every_rpc())
    assert {service for service, _ in rpcs} == set(SERVICES)
    failures: list[str] = []
    for round_number in range(ROUNDS):
        for service, method in rpcs:
            seed = rng.randrange(2**32)
            local = random.Random(seed)
            known = valid.get(method.name)
            if known is not None and round_number % 2:
                request = mutate(known, local)
            else:
                request = randomise(message_class(method.input_type)(), local)
            code = caller(service, method, request)
            if code in FORBIDDEN:
                failures.append(f"{method.full_name} answered {code.name} (call seed {seed})")
    print(f"fuzz seed {SEED}: {caller.calls} calls to {len(rpcs)} RPCs")
    assert not failures, "\n".join(failures[:30])


# --------------------------------------------------------------------------- HTTP


def _send(
    suite: Suite,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    chunked: bool = False,
    port: int | None = None,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port or suite.public_port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            connection.putheader(key, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        elif body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        if body is not None and chunked:
            for start in range(0, len(body), 4096):
                part = body[start : start + 4096]
                connection.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            connection.send(b"0\r\n\r\n")
        elif body is not None:
            connection.send(body)
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def hostile_bodies(rng: random.Random) -> list[tuple[bytes, str]]:
    deep = "[" * 100_000 + "]" * 100_000
    valid_form = {
        "given_name": "Eva",
        "family_name": "Nováková",
        "date_of_birth": "1990-01-01",
        "phone": "+420 601 000 222",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
    }
    mutated = dict(valid_form)
    mutated[rng.choice(list(valid_form))] = rng.choice(hostile_strings(rng))
    json_type = "application/json"
    return [
        (deep.encode(), json_type),
        (('{"answers": ' + nested(5_000) + "}").encode(), json_type),
        (b'{"given_name": NaN}', json_type),
        (b'{"answers": {"household": Infinity}}', json_type),
        (b'{"answers": {"household": 1e400}}', json_type),
        (b'{"answers": {"household": 99999999999999999999999}}', json_type),
        (b'{"answers": {"note": "\\ud800"}, "free_text": "\\udc00"}', json_type),
        (b'{"given_name": "\\ud800"}', json_type),
        (b'{"answers": {"date_of_birth": "9999-12-31"}}', json_type),
        (b"\xff\xfe not utf-8", json_type),
        (b"[1, 2", json_type),
        (b"[]", json_type),
        (b"1" * 5000, json_type),
        (json.dumps(mutated).encode(), json_type),
        (json.dumps(hostile_json(rng)).encode(), json_type),
        (json.dumps({"answers": hostile_json(rng)}).encode(), json_type),
        (
            b"given_name=%00&family_name=%E2%80%AE&email=%3Cscript%3E%40x.y",
            "application/x-www-form-urlencoded",
        ),
        (b"a=" + b"x" * 200_000, "application/x-www-form-urlencoded"),
        (
            b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n\x00\r\n',
            "multipart/form-data; boundary=b",
        ),
        (b"x" * 70_000, json_type),
    ]


def test_no_public_endpoint_answers_a_server_error_whatever_it_is_sent(
    suite: Suite, valid: dict[str, Message]
) -> None:
    rng = random.Random(SEED)
    token = valid["self-fill-token"].token  # type: ignore[attr-defined]
    paths = [
        ("POST", REFERRALS),
        ("POST", f"{SELF_FILL}{token}"),
        ("POST", f"{SELF_FILL}{secrets.token_urlsafe(20)}"),
    ]
    failures: list[str] = []
    calls = 0
    for _ in range(max(2, ROUNDS // 8)):
        for method, path in paths:
            for body, content_type in hostile_bodies(rng):
                for chunked in (False, True):
                    status, reply = _send(
                        suite, method, path, body, {"Content-Type": content_type}, chunked
                    )
                    calls += 1
                    if status >= 500:
                        failures.append(f"{method} {path} {body[:80]!r} answered {status}")
                    elif b"Traceback" in reply or b"Error:" in reply:
                        failures.append(f"{method} {path} {body[:80]!r} showed {reply[:200]!r}")
        for path in (
            WEB_FORM,
            "/public/v1/organisations/%00/web-form",
            f"/public/v1/organisations/{'x' * 5000}/web-form",
            f"{SELF_FILL}{token}",
            f"{SELF_FILL}{'A' * 5000}",
            f"{SELF_FILL}%ED%A0%80",
            f"{SELF_FILL}{rng.choice(hostile_strings(rng))[:100].encode().hex()}",
        ):
            status, _ = _send(suite, "GET", path)
            calls += 1
            if status >= 500:
                failures.append(f"GET {path[:120]} answered {status}")
    print(f"fuzz seed {SEED}: {calls} public HTTP requests")
    assert not failures, "\n".join(failures[:30])


def test_no_feedback_public_endpoint_answers_a_server_error_whatever_it_is_sent(
    suite: Suite,
) -> None:
    """feedback's kiosk page and survey links, sent hostile bodies and paths."""
    rng = random.Random(SEED)
    port = suite.feedback_public_port
    feedback = "/public/v1/feedback/"
    paths = [
        ("POST", f"{feedback}{secrets.token_urlsafe(20)}"),
        ("POST", f"{feedback}{secrets.token_urlsafe(30)}.{secrets.token_urlsafe(30)}"),
    ]
    failures: list[str] = []
    calls = 0
    for _ in range(max(2, ROUNDS // 16)):
        for method, path in paths:
            for body, content_type in hostile_bodies(rng):
                status, reply = _send(
                    suite, method, path, body, {"Content-Type": content_type}, port=port
                )
                calls += 1
                if status >= 500 or b"Traceback" in reply:
                    failures.append(f"{method} {path} {body[:80]!r} answered {status}")
        for path in (
            f"{feedback}kiosks/org-demo/ctr-north-town",
            f"{feedback}kiosks/%00/{'x' * 5000}",
            f"{feedback}{'A' * 5000}",
            f"{feedback}%ED%A0%80",
            f"{feedback}{rng.choice(hostile_strings(rng))[:100].encode().hex()}",
        ):
            status, _ = _send(suite, "GET", path, port=port)
            calls += 1
            if status >= 500:
                failures.append(f"GET {path[:120]} answered {status}")
    print(f"fuzz seed {SEED}: {calls} feedback public HTTP requests")
    assert not failures, "\n".join(failures[:30])
