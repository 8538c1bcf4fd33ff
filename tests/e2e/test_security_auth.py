"""Who may call what, through the suite's real processes: tokens the suite must not
trust, the roles' access maps, partners and services kept to their scopes, inboxes kept
to workers, a body that does not parse, and the log line each refusal leaves."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import jwt
import pytest

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.auth import generate_signing_key, write_key_pair
from casework_common.rpc_errors import field_violations
from casework_dev.clients_testing import register
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

OLD_DEV_JWT_SECRET = "casework-development-secret-not-for-production"
GET_CLIENT = "casework.clients.v1.ClientsService/GetClient"
LIST_INBOX = "casework.notify.v1.NotifyService/ListInbox"
GARBAGE = b"\x0f\xff\xff\xff\xff"  # wire type 7: no protobuf parser accepts it
TODAY = date.today()


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    started: Suite = suite_factory(("intake", "clients", "notify"))
    return started


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def intake(suite: Suite) -> Any:
    return stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)


@pytest.fixture(scope="module")
def notify(suite: Suite) -> Any:
    return stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)


def worker(role: str, **overrides: Any) -> list[tuple[str, str]]:
    claims: dict[str, Any] = {"subject": f"w-{role}", "roles": [role] if role else []}
    claims.update(overrides)
    return auth(create_token(**claims))


def refused(call: Any, request: Any, metadata: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, metadata=metadata, timeout=10)
    return raised.value


def outcome(call: Any, request: Any, metadata: Any) -> grpc.StatusCode:
    try:
        call(request, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def raw_call(suite: Suite, service: str, method: str) -> Any:
    channel = grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports[service]}")
    return channel.unary_unary(
        f"/{method}", request_serializer=lambda b: b, response_deserializer=lambda b: b
    )


def log_entries(suite: Suite, process: str) -> list[dict[str, Any]]:
    entries = []
    for line in (suite.run_dir / f"{process}.log").read_text(errors="replace").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            entries.append({"message": line})  # a line no logger wrote (a traceback, say)
    return entries


def raw_claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "iss": "casework", "aud": "casework", "sub": "w-anna", "org": "org-demo",
        "kind": "worker", "centres": ["ctr-north-town"], "roles": ["manager"],
        "iat": int(now.timestamp()), "exp": int((now + timedelta(hours=1)).timestamp()),
    }  # fmt: skip
    claims.update(overrides)
    return claims


# ------------------------------------------------------------------ tokens


UNTRUSTED_TOKENS = {
    "wrong-audience": lambda: create_token(roles=["manager"], audience="another-suite"),
    "too-long-lived": lambda: create_token(roles=["manager"], ttl=timedelta(hours=13)),
    "unknown-kid": lambda: create_token(
        roles=["manager"], signing_key=generate_signing_key("test-not-in-the-jwks")
    ),
    "hs256-old-dev-secret": lambda: jwt.encode(raw_claims(), OLD_DEV_JWT_SECRET, "HS256"),
    "alg-none": lambda: jwt.encode(raw_claims(), None, "none"),
    "expired": lambda: create_token(
        roles=["manager"],
        ttl=timedelta(minutes=5),
        now=datetime.now(UTC) - timedelta(hours=1),
    ),
}


@pytest.mark.parametrize("make_token", UNTRUSTED_TOKENS.values(), ids=UNTRUSTED_TOKENS.keys())
def test_a_token_the_suite_must_not_trust_is_unauthenticated_and_changes_nothing(
    clients: Any, make_token: Any
) -> None:
    card = register(clients)

    error = refused(
        clients.ArchiveClient, pb.ArchiveClientRequest(client_id=card.client_id), auth(make_token())
    )

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    reread = clients.GetClient(
        pb.GetClientRequest(client_id=card.client_id), metadata=worker("case_worker")
    ).client
    assert (reread.archived, reread.status) == (False, card.status)


# ------------------------------------------------------------------ roles


ROLE_CALLS = [
    # (role, service, call, request, allowed)
    ("front_line", "clients", "ListClients", pb.ListClientsRequest(), True),
    ("front_line", "clients", "RecordStatus", pb.RecordStatusRequest(client_id="c-x"), False),
    ("front_line", "clients", "GetStatistics", pb.GetStatisticsRequest(), False),
    ("front_line", "intake", "SaveRoutingRules", intake_pb2.SaveRoutingRulesRequest(), False),
    ("case_worker", "clients", "RecordStatus", pb.RecordStatusRequest(client_id="c-x"), True),
    ("case_worker", "clients", "ArchiveClient", pb.ArchiveClientRequest(client_id="c-x"), False),
    ("case_worker", "intake", "PublishForm", intake_pb2.PublishFormRequest(), False),
    ("manager", "clients", "ArchiveClient", pb.ArchiveClientRequest(client_id="c-x"), True),
    ("manager", "intake", "ListRoutingRuleSets", intake_pb2.ListRoutingRuleSetsRequest(), True),
    ("admin", "intake", "ListRoutingRuleSets", intake_pb2.ListRoutingRuleSetsRequest(), True),
    ("admin", "clients", "GetClient", pb.GetClientRequest(client_id="c-x"), False),
    ("admin", "clients", "ListClients", pb.ListClientsRequest(), False),
    ("data_protection_officer", "clients", "GetClient", pb.GetClientRequest(client_id="c-x"), True),
    ("data_protection_officer", "clients", "RegisterClient", pb.RegisterClientRequest(), False),
    ("data_protection_officer", "notify", "ListInbox", notify_pb2.ListInboxRequest(), True),
    ("", "notify", "ListInbox", notify_pb2.ListInboxRequest(), False),
    ("auditor", "clients", "ListClients", pb.ListClientsRequest(), False),
]


@pytest.mark.parametrize(
    ("role", "service", "call", "request_", "allowed"),
    ROLE_CALLS,
    ids=[f"{r[0] or 'no-role'}-{r[2]}-{'allowed' if r[4] else 'refused'}" for r in ROLE_CALLS],
)
def test_each_role_makes_only_the_calls_its_map_allows(
    suite: Suite, clients: Any, intake: Any, notify: Any,
    role: str, service: str, call: str, request_: Any, allowed: bool,
) -> None:  # fmt: skip
    stubs = {"clients": clients, "intake": intake, "notify": notify}

    code = outcome(getattr(stubs[service], call), request_, worker(role))

    if allowed:
        # Past the map; the use case may still refuse the record (an unknown id, say).
        assert code != grpc.StatusCode.PERMISSION_DENIED
    else:
        assert code == grpc.StatusCode.PERMISSION_DENIED


def test_a_front_line_worker_cannot_archive_a_card_they_serve(clients: Any) -> None:
    card = register(clients)

    error = refused(
        clients.ArchiveClient,
        pb.ArchiveClientRequest(client_id=card.client_id),
        worker("front_line"),
    )

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    reread = clients.GetClient(
        pb.GetClientRequest(client_id=card.client_id), metadata=worker("front_line")
    ).client
    assert (reread.archived, reread.status) == (False, card.status)


def test_a_partner_scoped_to_submit_referrals_cannot_read_a_card(clients: Any) -> None:
    card = register(clients)
    partner = auth(create_partner_token())  # scopes: SubmitReferral only

    error = refused(clients.GetClient, pb.GetClientRequest(client_id=card.client_id), partner)

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert card.client_id not in error.details()


def test_a_partner_scoped_for_a_card_still_cannot_read_it(clients: Any) -> None:
    card = register(clients)
    caller = auth(create_partner_token(kind="partner", subject="portal", scopes=[GET_CLIENT]))

    error = refused(clients.GetClient, pb.GetClientRequest(client_id=card.client_id), caller)

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_service_reads_a_card_only_with_the_scope_it_was_issued(clients: Any) -> None:
    # documents fills templates from the card: its token (signed by the operator's key)
    # names GetClient. Any other service token, or one without that scope, is refused.
    card = register(clients)
    unscoped = auth(create_partner_token(kind="service", subject="plans", scopes=[]))
    scoped = auth(create_partner_token(kind="service", subject="documents", scopes=[GET_CLIENT]))

    error = refused(clients.GetClient, pb.GetClientRequest(client_id=card.client_id), unscoped)
    read = clients.GetClient(pb.GetClientRequest(client_id=card.client_id), metadata=scoped)

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert read.client.client_id == card.client_id


# ------------------------------------------------------------------ inboxes


@pytest.mark.parametrize("kind", ["partner", "service"])
def test_a_partner_or_service_named_like_a_worker_gets_no_inbox(
    intake: Any, notify: Any, kind: str
) -> None:
    # Anna's inbox is not empty: a referral to her centre reaches it.
    anna = worker("case_worker", subject="w-anna")
    referral = intake.SubmitReferral(
        intake_pb2.SubmitReferralRequest(
            idempotency_key=f"key-{secrets.token_hex(8)}",
            person=intake_pb2.Person(
                given_name="Jana",
                family_name=f"Kováčová{secrets.token_hex(3)}",
                date_of_birth="1961-04-12",
            ),
            contact=intake_pb2.Contact(phone="+421 900 123 456"),
            centre_id="ctr-north-town",
            client_type="senior",
            problem_type="housing",
            channel=intake_pb2.CHANNEL_PARTNER_REFERRAL,
        ),
        metadata=auth(create_partner_token()),
    ).referral

    def in_annas_inbox() -> list[Any]:
        reply = notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200), metadata=anna)
        return [n for n in reply.notifications if n.referral_id == referral.referral_id]

    worker_sees = eventually(in_annas_inbox, timeout=30)
    assert worker_sees
    impostor = auth(
        create_partner_token(
            kind=kind, subject="w-anna", centres=["ctr-north-town"], scopes=[LIST_INBOX]
        )
    )

    error = refused(notify.ListInbox, notify_pb2.ListInboxRequest(), impostor)

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


# ------------------------------------------------------------------ request bodies


def test_a_body_that_does_not_parse_is_invalid_argument_without_a_traceback(
    suite: Suite,
) -> None:
    call = raw_call(suite, "clients", GET_CLIENT)

    error = refused(call, GARBAGE, worker("case_worker"))
    anonymous = refused(call, GARBAGE, [])

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error) == {"request": "is not a valid message of this call"}
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED
    entries = eventually(
        lambda: [
            e
            for e in log_entries(suite, "clients-api")
            if e.get("method") == f"/{GET_CLIENT}" and e.get("code") == "INVALID_ARGUMENT"
        ]
    )
    assert entries[-1]["message"] == "call refused"
    log = (suite.run_dir / "clients-api.log").read_text(errors="replace")
    assert "Traceback" not in log and '"level": "error"' not in log


# ------------------------------------------------------------------ the log


def test_each_refused_call_leaves_one_log_line_naming_who_asked_from_where(
    suite: Suite, clients: Any
) -> None:
    subject = f"w-probe-{secrets.token_hex(4)}"
    token = create_token(subject=subject, organisation="org-demo", roles=["admin"])
    forged = create_token(subject=subject, audience="another-suite")
    list_clients = "/casework.clients.v1.ClientsService/ListClients"

    def refusals(message: str) -> list[dict[str, Any]]:
        return [
            e
            for e in log_entries(suite, "clients-api")
            if e.get("message") == message and e.get("method") == list_clients
        ]

    authentications_before = len(refusals("authentication refused"))
    refused(clients.ListClients, pb.ListClientsRequest(), auth(token))
    refused(clients.ListClients, pb.ListClientsRequest(), auth(forged))

    [mine] = eventually(
        lambda: [e for e in refusals("authorisation refused") if e.get("subject") == subject]
    )
    assert (mine["organisation"], mine["kind"], mine["method"], mine["code"]) == (
        "org-demo",
        "worker",
        list_clients,
        "PERMISSION_DENIED",
    )
    assert mine["peer"].startswith(("ipv4:127.0.0.1:", "ipv6:"))
    authentications = eventually(
        lambda: (r := refusals("authentication refused")) and len(r) > authentications_before and r
    )
    [forgery] = authentications[authentications_before:]
    assert forgery["code"] == "UNAUTHENTICATED"
    assert forgery["peer"].startswith(("ipv4:127.0.0.1:", "ipv6:"))
    assert forgery["subject"] == ""  # an unverified token's claims are not facts to log
    log = (suite.run_dir / "clients-api.log").read_text(errors="replace")
    for part in [*token.split("."), *forged.split(".")]:
        assert part not in log


# ------------------------------------------------------------------ start-up


def exit_log(suite: Suite, service: str, env: dict[str, str]) -> str:
    """Start a service's api with `env` and wait for it to give up; its log."""
    suite.start(service, "api", extra_env=env)
    process = suite.processes.pop(f"{service}-api")
    assert process.wait(timeout=60) != 0
    return (suite.run_dir / f"{service}-api.log").read_text(errors="replace")


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "CASEWORK_ENV": "production",
        "S3_ENDPOINT": "http://127.0.0.1:9",
        "S3_ACCESS_KEY": "access",
        "S3_SECRET_KEY": "not-the-development-one",
        "SMTP_HOST": "127.0.0.1",
        "CASEWORK_ORGANISATION_FILE": "/nonexistent/organisation.json",
        **overrides,
    }


def test_an_api_with_an_unknown_environment_refuses_to_start(suite: Suite) -> None:
    log = exit_log(suite, "plans", {"CASEWORK_ENV": "prod"})

    assert "CASEWORK_ENV: must be one of development, production, got 'prod'" in log


def test_a_production_api_refuses_a_development_key(
    suite: Suite, tmp_path_factory: pytest.TempPathFactory
) -> None:
    keys = tmp_path_factory.mktemp("keys")
    write_key_pair(keys, "development-0badc0de")

    log = exit_log(suite, "documents", production_env(JWT_JWKS_FILE=str(keys / "jwks.json")))

    assert "JWT_JWKS_FILE: development key(s) development-0badc0de are refused" in log
