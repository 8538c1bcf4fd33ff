"""Specification of bearer tokens and the principal they name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from casework_common.auth import (
    ALGORITHM,
    ISSUER,
    Principal,
    bearer,
    issue_token,
    verify_token,
)
from casework_common.config import DEV_JWT_SECRET
from casework_common.errors import PermissionDenied, Unauthenticated
from casework_common.testing.fixtures import create_partner_token, create_token

SECRET = "test-secret-at-least-32-bytes-long-0123"
SUBMIT = "casework.intake.v1.IntakeService/SubmitReferral"
READ_CLIENT = "casework.clients.v1.ClientsService/GetClient"


def create_claims(**overrides: Any) -> dict[str, Any]:
    """Raw claims of a valid worker token, for tokens issue_token would never make."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "w-anna",
        "org": "org-demo",
        "kind": "worker",
        "centres": ["ctr-north-town"],
        "roles": ["case_worker"],
        "scopes": [],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def encode(claims: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def create_principal(**overrides: Any) -> Principal:
    fields: dict[str, Any] = {
        "organisation": "org-demo",
        "subject": "w-anna",
        "kind": "worker",
        "centres": frozenset({"ctr-north-town"}),
        "roles": frozenset({"case_worker"}),
        "scopes": frozenset(),
    }
    fields.update(overrides)
    return Principal(**fields)


def unauthenticated(token: str) -> str:
    with pytest.raises(Unauthenticated) as raised:
        verify_token(SECRET, token)
    return str(raised.value)


# ------------------------------------------------------------------------ tokens


def test_an_issued_token_verifies_to_its_principal() -> None:
    token = issue_token(
        SECRET,
        organisation="org-demo",
        subject="w-petr",
        kind="worker",
        centres=["ctr-north-village", "ctr-north-town"],
        roles=["case_worker", "manager"],
        scopes=[SUBMIT],
    )

    assert verify_token(SECRET, token) == Principal(
        organisation="org-demo",
        subject="w-petr",
        kind="worker",
        centres=frozenset({"ctr-north-town", "ctr-north-village"}),
        roles=frozenset({"case_worker", "manager"}),
        scopes=frozenset({SUBMIT}),
    )


def test_the_test_factories_issue_development_tokens() -> None:
    worker = verify_token(DEV_JWT_SECRET, create_token())
    partner = verify_token(DEV_JWT_SECRET, create_partner_token())

    assert (worker.kind, worker.subject, worker.centres) == (
        "worker", "w-anna", frozenset({"ctr-north-town"}),
    )
    assert (partner.kind, partner.scopes) == ("partner", frozenset({SUBMIT}))


def test_an_expired_token_is_refused() -> None:
    token = issue_token(
        SECRET,
        organisation="org-demo",
        subject="w-anna",
        ttl=timedelta(minutes=5),
        now=datetime.now(UTC) - timedelta(hours=1),
    )

    assert unauthenticated(token) == "token expired"


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue_token("another-secret-also-32-bytes-long-xyz", organisation="o", subject="s")

    assert unauthenticated(token).startswith("invalid token:")


def test_a_token_of_another_issuer_is_refused() -> None:
    assert unauthenticated(encode(create_claims(iss="someone-else"))).startswith("invalid token:")


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss"])
def test_a_token_without_a_required_claim_is_refused(claim: str) -> None:
    assert claim in unauthenticated(encode(create_claims(**{claim: None})))


def test_an_unsigned_token_is_refused() -> None:
    token = jwt.encode(create_claims(), key=None, algorithm="none")

    assert unauthenticated(token).startswith("invalid token:")


def test_garbage_is_refused() -> None:
    assert unauthenticated("not.a.token").startswith("invalid token:")


@pytest.mark.parametrize("org", [None, "", 42])
def test_a_token_without_an_organisation_is_refused(org: Any) -> None:
    claims = create_claims(org=None)
    if org is not None:
        claims["org"] = org

    assert unauthenticated(encode(claims)) == "invalid token: no organisation"


@pytest.mark.parametrize("kind", [None, "admin", "Worker", ""])
def test_a_token_of_an_unknown_kind_is_refused(kind: Any) -> None:
    claims = create_claims(kind=None)
    if kind is not None:
        claims["kind"] = kind

    assert unauthenticated(encode(claims)) == "invalid token: unknown kind"


@pytest.mark.parametrize("key", ["centres", "roles", "scopes"])
@pytest.mark.parametrize("value", ["ctr-north-town", {"a": 1}, [1, 2], ["ok", None]])
def test_a_list_claim_that_is_not_a_list_of_strings_is_refused(key: str, value: Any) -> None:
    message = unauthenticated(encode(create_claims(**{key: value})))

    assert message == f"invalid token: {key} must be a list of strings"


def test_missing_list_claims_read_as_empty() -> None:
    principal = verify_token(SECRET, encode(create_claims(centres=None, roles=None, scopes=None)))

    assert (principal.centres, principal.roles, principal.scopes) == (
        frozenset(), frozenset(), frozenset(),
    )


# ------------------------------------------------------------------------ bearer


@pytest.mark.parametrize(
    "metadata",
    [
        [("authorization", "Bearer abc.def.ghi")],
        [("Authorization", "bearer abc.def.ghi")],
        [("authorization", b"Bearer abc.def.ghi")],
        [("x-request-id", "1"), ("authorization", "Bearer   abc.def.ghi  ")],
    ],
)
def test_bearer_reads_the_token_from_the_authorization_header(
    metadata: list[tuple[str, str | bytes]],
) -> None:
    assert bearer(metadata) == "abc.def.ghi"


@pytest.mark.parametrize("metadata", [[], [("x-request-id", "1")]])
def test_bearer_without_an_authorization_header_is_refused(
    metadata: list[tuple[str, str]],
) -> None:
    with pytest.raises(Unauthenticated, match="missing bearer token"):
        bearer(metadata)


@pytest.mark.parametrize(
    "value", ["Basic dXNlcjpwYXNz", "abc.def.ghi", "Token abc", "Bearer", "Bearer ", "Bearer    "]
)
def test_bearer_with_another_scheme_or_an_empty_token_is_refused(value: str) -> None:
    with pytest.raises(Unauthenticated, match="authorization must be 'Bearer <token>'"):
        bearer([("authorization", value)])


# ------------------------------------------------------------------------ principal


def test_a_worker_may_call_anything_their_roles_allow() -> None:
    worker = create_principal(kind="worker", scopes=frozenset())

    assert worker.may_call(SUBMIT) is True
    assert worker.may_call(READ_CLIENT) is True
    worker.require_scope(READ_CLIENT)


@pytest.mark.parametrize("kind", ["partner", "service"])
def test_partners_and_services_may_call_only_their_scopes(kind: str) -> None:
    caller = create_principal(kind=kind, subject="portal", scopes=frozenset({SUBMIT}))

    assert caller.may_call(SUBMIT) is True
    assert caller.may_call(READ_CLIENT) is False
    caller.require_scope(SUBMIT)
    with pytest.raises(PermissionDenied, match=f"{kind} portal may not call {READ_CLIENT}"):
        caller.require_scope(READ_CLIENT)


def test_require_centre_accepts_only_the_callers_centres() -> None:
    worker = create_principal(centres=frozenset({"ctr-north-town", "ctr-north-village"}))

    worker.require_centre("ctr-north-village")
    with pytest.raises(PermissionDenied, match="centre ctr-south-city"):
        worker.require_centre("ctr-south-city")
    with pytest.raises(PermissionDenied):
        create_principal(centres=frozenset()).require_centre("ctr-north-town")
