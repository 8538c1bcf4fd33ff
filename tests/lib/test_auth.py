"""Specification of bearer tokens, the keys that sign them and the principal they name."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from casework_common.auth import (
    ADMIN,
    ALGORITHM,
    DEVELOPMENT_KID_PREFIX,
    FRONT_LINE_AND_ABOVE,
    ISSUER,
    PARTNER,
    SERVICE,
    AccessMap,
    Principal,
    SigningKey,
    TokenVerifier,
    bearer,
    ensure_development_keys,
    generate_signing_key,
    issue_token,
    jwks,
    read_jwks,
    write_key_pair,
)
from casework_common.errors import PermissionDenied, Unauthenticated
from casework_dev.testing.fixtures import (
    create_partner_token,
    create_token,
    session_jwks_file,
)

KEY = generate_signing_key("idp-2026-01")
OLD_DEV_JWT_SECRET = "casework-development-secret-not-for-production"
SUBMIT = "casework.intake.v1.IntakeService/SubmitReferral"
READ_CLIENT = "casework.clients.v1.ClientsService/GetClient"
ARCHIVE = "casework.clients.v1.ClientsService/ArchiveClient"
ACCESS: AccessMap = {
    SUBMIT: FRONT_LINE_AND_ABOVE | {PARTNER, SERVICE},
    READ_CLIENT: FRONT_LINE_AND_ABOVE,
    ARCHIVE: frozenset({"manager"}),
}


def create_verifier(*keys: SigningKey, **options: Any) -> TokenVerifier:
    return TokenVerifier({k.kid: k.private_key.public_key() for k in (keys or (KEY,))}, **options)


def create_claims(**overrides: Any) -> dict[str, Any]:
    """Raw claims of a valid worker token, for tokens issue_token would never make."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "casework",
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


def encode(claims: dict[str, Any], key: SigningKey = KEY) -> str:
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


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


def unauthenticated(token: str, verifier: TokenVerifier | None = None) -> str:
    with pytest.raises(Unauthenticated) as raised:
        (verifier or create_verifier()).verify(token)
    return str(raised.value)


# ------------------------------------------------------------------------ tokens


def test_an_issued_token_verifies_to_its_principal() -> None:
    token = issue_token(
        KEY.private_key,
        KEY.kid,
        organisation="org-demo",
        subject="w-petr",
        kind="worker",
        centres=["ctr-north-village", "ctr-north-town"],
        roles=["case_worker", "manager"],
        scopes=[SUBMIT],
    )

    assert jwt.get_unverified_header(token)["kid"] == "idp-2026-01"
    assert create_verifier().verify(token) == Principal(
        organisation="org-demo",
        subject="w-petr",
        kind="worker",
        centres=frozenset({"ctr-north-town", "ctr-north-village"}),
        roles=frozenset({"case_worker", "manager"}),
        scopes=frozenset({SUBMIT}),
    )


def test_the_test_factories_sign_with_the_sessions_key_the_processes_trust() -> None:
    verifier = TokenVerifier(read_jwks(session_jwks_file()))
    worker = verifier.verify(create_token())
    partner = verifier.verify(create_partner_token())

    assert (worker.kind, worker.subject, worker.centres) == (
        "worker",
        "w-anna",
        frozenset({"ctr-north-town"}),
    )
    assert (partner.kind, partner.scopes) == ("partner", frozenset({SUBMIT}))


def test_an_expired_token_is_refused() -> None:
    token = issue_token(
        KEY.private_key,
        KEY.kid,
        organisation="org-demo",
        subject="w-anna",
        ttl=timedelta(minutes=5),
        now=datetime.now(UTC) - timedelta(hours=1),
    )

    assert unauthenticated(token) == "token expired"


def test_a_token_for_another_audience_is_refused() -> None:
    token = issue_token(
        KEY.private_key, KEY.kid, organisation="o", subject="s", audience="another-suite"
    )

    assert unauthenticated(token).startswith("invalid token:")
    assert create_verifier(audience="another-suite").verify(token).subject == "s"


def test_a_token_living_longer_than_the_cap_is_refused() -> None:
    token = issue_token(
        KEY.private_key, KEY.kid, organisation="o", subject="s", ttl=timedelta(hours=13)
    )

    capped = create_verifier(max_lifetime=timedelta(hours=12))
    assert unauthenticated(token, capped) == "invalid token: lives longer than the services accept"
    assert create_verifier(max_lifetime=timedelta(hours=13)).verify(token).subject == "s"


def test_a_token_signed_with_an_unknown_kid_is_refused() -> None:
    stranger = generate_signing_key("someone-elses-key")
    token = issue_token(stranger.private_key, stranger.kid, organisation="o", subject="s")

    assert unauthenticated(token) == "invalid token: unknown signing key"


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused() -> None:
    forger = SigningKey(KEY.kid, generate_signing_key("x").private_key)
    token = issue_token(forger.private_key, forger.kid, organisation="o", subject="s")

    assert unauthenticated(token).startswith("invalid token:")


def test_an_hs256_token_signed_with_the_old_development_secret_is_refused() -> None:
    token = jwt.encode(create_claims(), OLD_DEV_JWT_SECRET, algorithm="HS256")

    assert unauthenticated(token) == "invalid token: must be signed with EdDSA"


def test_an_hs256_token_keyed_with_the_public_key_is_refused() -> None:
    # The classic confusion attack: the public key (known to all) as an HMAC secret.
    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    public = KEY.private_key.public_key().public_bytes_raw()
    signed = b".".join(
        [
            b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KEY.kid}).encode()),
            b64(json.dumps(create_claims()).encode()),
        ]
    )
    signature = hmac.new(public, signed, hashlib.sha256).digest()
    token = (signed + b"." + b64(signature)).decode()

    assert unauthenticated(token) == "invalid token: must be signed with EdDSA"


def test_an_unsigned_token_is_refused() -> None:
    token = jwt.encode(create_claims(), key=None, algorithm="none", headers={"kid": KEY.kid})

    assert unauthenticated(token) == "invalid token: must be signed with EdDSA"


def test_a_token_of_another_issuer_is_refused() -> None:
    assert unauthenticated(encode(create_claims(iss="someone-else"))).startswith("invalid token:")


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud"])
def test_a_token_without_a_required_claim_is_refused(claim: str) -> None:
    assert claim in unauthenticated(encode(create_claims(**{claim: None})))


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
    principal = create_verifier().verify(
        encode(create_claims(centres=None, roles=None, scopes=None))
    )

    assert (principal.centres, principal.roles, principal.scopes) == (
        frozenset(),
        frozenset(),
        frozenset(),
    )


# ------------------------------------------------------------------------ keys


def test_during_a_rotation_tokens_of_both_keys_in_the_jwks_verify(tmp_path: Path) -> None:
    old, new = generate_signing_key("idp-2026-01"), generate_signing_key("idp-2026-07")
    (tmp_path / "jwks.json").write_text(json.dumps(jwks([old, new])))
    verifier = TokenVerifier(read_jwks(tmp_path / "jwks.json"))

    for key in (old, new):
        token = issue_token(key.private_key, key.kid, organisation="o", subject=key.kid)
        assert verifier.verify(token).subject == key.kid


def test_a_key_added_to_the_jwks_file_is_taken_up_without_a_restart(tmp_path: Path) -> None:
    old, new = generate_signing_key("idp-2026-01"), generate_signing_key("idp-2026-07")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks([old])))
    verifier = TokenVerifier(read_jwks(path), jwks_file=path)
    token = issue_token(new.private_key, new.kid, organisation="o", subject="s")
    assert unauthenticated(token, verifier) == "invalid token: unknown signing key"

    path.write_text(json.dumps(jwks([old, new])))
    os.utime(path, (1, 1))  # a changed file, whatever the clock's resolution

    assert verifier.verify(token).subject == "s"


def test_the_jwks_holds_only_public_keys() -> None:
    document = jwks([KEY])

    assert [set(k) for k in document["keys"]] == [{"kty", "crv", "x", "kid", "alg", "use"}]


def test_development_keys_are_created_once_and_named_as_such(tmp_path: Path) -> None:
    first = ensure_development_keys(tmp_path / "keys")
    again = ensure_development_keys(tmp_path / "keys")

    assert first.kid.startswith(DEVELOPMENT_KID_PREFIX)
    assert again.kid == first.kid
    assert read_jwks(tmp_path / "keys" / "jwks.json").keys() == {first.kid}
    assert (tmp_path / "keys" / "private.pem").stat().st_mode & 0o077 == 0


def test_a_written_key_pair_reads_back(tmp_path: Path) -> None:
    key = write_key_pair(tmp_path, "k1")
    token = issue_token(key.private_key, key.kid, organisation="o", subject="s")

    assert TokenVerifier(read_jwks(tmp_path / "jwks.json")).verify(token).subject == "s"


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


# ------------------------------------------------------------------------ access


def test_a_worker_may_make_the_calls_their_roles_are_mapped_to() -> None:
    worker = create_principal(roles=frozenset({"case_worker"}))

    assert worker.may_call(SUBMIT, ACCESS) is True
    assert worker.may_call(READ_CLIENT, ACCESS) is True
    assert worker.may_call(ARCHIVE, ACCESS) is False
    with pytest.raises(PermissionDenied, match=f"worker w-anna may not call {ARCHIVE}"):
        worker.require_call(ARCHIVE, ACCESS)


def test_a_worker_without_a_role_may_call_nothing() -> None:
    worker = create_principal(roles=frozenset())

    assert [m for m in ACCESS if worker.may_call(m, ACCESS)] == []


def test_a_worker_scope_grants_nothing_beyond_their_roles() -> None:
    worker = create_principal(roles=frozenset({ADMIN}), scopes=frozenset({READ_CLIENT}))

    assert worker.may_call(READ_CLIENT, ACCESS) is False


def test_a_call_missing_from_the_map_is_refused_to_every_caller() -> None:
    unmapped = "casework.clients.v1.ClientsService/DeleteEverything"
    callers = [
        create_principal(roles=frozenset({"manager", "admin", "case_worker"})),
        create_principal(kind="partner", scopes=frozenset({unmapped})),
        create_principal(kind="service", scopes=frozenset({unmapped})),
    ]

    assert [c.may_call(unmapped, ACCESS) for c in callers] == [False, False, False]


@pytest.mark.parametrize("kind", ["partner", "service"])
def test_partners_and_services_may_make_only_the_mapped_calls_their_scopes_name(
    kind: str,
) -> None:
    caller = create_principal(
        kind=kind, subject="portal", roles=frozenset({"manager"}),
        scopes=frozenset({SUBMIT, READ_CLIENT}),
    )  # fmt: skip

    assert caller.may_call(SUBMIT, ACCESS) is True
    # Scoped for it, but the map does not open the call to partners or services; and a
    # role in such a token counts for nothing.
    assert caller.may_call(READ_CLIENT, ACCESS) is False
    assert caller.may_call(ARCHIVE, ACCESS) is False
    caller.require_call(SUBMIT, ACCESS)
    with pytest.raises(PermissionDenied, match=f"{kind} portal may not call {READ_CLIENT}"):
        caller.require_call(READ_CLIENT, ACCESS)


def test_require_centre_accepts_only_the_callers_centres() -> None:
    worker = create_principal(centres=frozenset({"ctr-north-town", "ctr-north-village"}))

    worker.require_centre("ctr-north-village")
    with pytest.raises(PermissionDenied, match="centre ctr-south-city"):
        worker.require_centre("ctr-south-city")
    with pytest.raises(PermissionDenied):
        create_principal(centres=frozenset()).require_centre("ctr-north-town")


def test_a_token_issued_in_the_future_beyond_clock_skew_is_refused() -> None:
    later = datetime.now(UTC) + timedelta(minutes=5)
    skewed = datetime.now(UTC) + timedelta(seconds=10)

    assert unauthenticated(encode(create_claims(
        iat=int(later.timestamp()), exp=int((later + timedelta(hours=1)).timestamp())
    ))) == "invalid token: issued in the future"  # fmt: skip
    assert create_verifier().verify(encode(create_claims(iat=int(skewed.timestamp()))))


def test_an_expired_token_gets_no_grace() -> None:
    token = encode(create_claims(exp=int(datetime.now(UTC).timestamp()) - 2))

    assert unauthenticated(token) == "token expired"
