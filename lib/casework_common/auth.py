"""Bearer tokens (JWT) and the principal they name.

A worker's token lists the centres they serve; repositories read that list to scope
every query. A worker's roles, a partner's or service's scopes, decide which calls they
may make at all (each service's access map, enforced by the gRPC interceptor).

Tokens are signed with Ed25519 (EdDSA) by the identity provider; services hold only the
public keys, as a JWKS file, so no service can mint a token. Every key has an id (`kid`):
keys rotate by adding the new key to the JWKS before tokens are signed with it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from casework_common.config import DEV_KEYS_DIR, InvalidConfiguration, Settings
from casework_common.errors import PermissionDenied, Unauthenticated

ISSUER = "casework"
ALGORITHM = "EdDSA"
DEFAULT_AUDIENCE = "casework"
DEVELOPMENT_KID_PREFIX = "development-"
# Clock skew tolerated between the identity provider and a service, for a token issued
# "in the future" only: expiry is exact, an expired token is never given extra time.
ISSUED_AT_LEEWAY = timedelta(seconds=30)

FRONT_LINE = "front_line"
CASE_WORKER = "case_worker"
MANAGER = "manager"
ADMIN = "admin"
DATA_PROTECTION_OFFICER = "data_protection_officer"
ROLES = frozenset({FRONT_LINE, CASE_WORKER, MANAGER, ADMIN, DATA_PROTECTION_OFFICER})
# The casework roles nest: a case worker does all a front-line worker does, a manager all a
# case worker does. An admin configures the organisation and a data-protection officer
# oversees personal data; neither works cases, so neither is in these groups.
FRONT_LINE_AND_ABOVE = frozenset({FRONT_LINE, CASE_WORKER, MANAGER})
CASE_WORKER_AND_ABOVE = frozenset({CASE_WORKER, MANAGER})
# Pseudo-roles in an access map: the kinds of caller that act through scopes. A partner
# or service may make a call only when the map admits its kind and its token lists the call.
PARTNER = "partner"
SERVICE = "service"

# Full method name ("casework.intake.v1.IntakeService/SubmitReferral") -> the roles (and
# pseudo-roles) admitted. A method missing from the map is refused to everyone.
AccessMap = Mapping[str, frozenset[str]]


def access_map(service: str, roles_by_method: Mapping[str, Iterable[str]]) -> AccessMap:
    """A service's access map from its methods' short names: each becomes the full
    gRPC method name (`/<service>/<method>` without the leading slash)."""
    return {f"{service}/{method}": frozenset(roles) for method, roles in roles_by_method.items()}


@dataclass(frozen=True)
class Principal:
    organisation: str
    subject: str
    kind: str  # "worker" | "partner" | "service"
    centres: frozenset[str]
    roles: frozenset[str]
    scopes: frozenset[str]

    def may_call(self, method: str, access: AccessMap) -> bool:
        admitted = access.get(method)
        if admitted is None:
            return False
        if self.kind == "worker":
            return bool(self.roles & admitted)
        # Partners and services act through scopes, and only on calls open to their kind.
        return self.kind in admitted and method in self.scopes

    def require_call(self, method: str, access: AccessMap) -> None:
        if not self.may_call(method, access):
            raise PermissionDenied(f"{self.kind} {self.subject} may not call {method}")

    def require_centre(self, centre_id: str) -> None:
        if centre_id not in self.centres:
            raise PermissionDenied(f"centre {centre_id} is not one the caller serves")


# ------------------------------------------------------------------------ keys


@dataclass(frozen=True)
class SigningKey:
    """A private key and its id: held by the identity provider (and, in development,
    by `make token` and the tests), never by a service."""

    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.kid, self.private_key.public_key())


def generate_signing_key(kid: str) -> SigningKey:
    return SigningKey(kid, Ed25519PrivateKey.generate())


def public_jwk(kid: str, public_key: Ed25519PublicKey) -> dict[str, str]:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public_key))
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def jwks(keys: Iterable[SigningKey]) -> dict[str, list[dict[str, str]]]:
    """The public half of the keys, as a JWKS document."""
    return {"keys": [key.public_jwk for key in keys]}


def read_jwks(path: Path) -> dict[str, Ed25519PublicKey]:
    """Public keys by kid; ValueError names what is wrong with the file."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read a JWKS from {path}: {exc}") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path} has no keys")
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in entries:
        kid = entry.get("kid") if isinstance(entry, dict) else None
        if not isinstance(kid, str) or not kid:
            raise ValueError(f"{path}: every key needs a kid")
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or "d" in entry:
            raise ValueError(f"{path}: key {kid} must be a public Ed25519 key (kty OKP)")
        try:
            key = jwt.algorithms.OKPAlgorithm.from_jwk(entry)
        except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: key {kid} is not valid: {exc}") from None
        if not isinstance(key, Ed25519PublicKey) or kid in keys:
            raise ValueError(f"{path}: key {kid} is not a distinct public Ed25519 key")
        keys[kid] = key
    return keys


def write_key_pair(directory: Path, kid: str) -> SigningKey:
    """A new key pair in `directory`: private.pem and jwks.json (its public half)."""
    key = generate_signing_key(kid)
    directory.mkdir(parents=True, exist_ok=True)
    pem = directory / "private.pem"
    pem.write_bytes(
        key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pem.chmod(0o600)
    (directory / "jwks.json").write_text(json.dumps(jwks([key]), indent=2) + "\n")
    (directory / "kid").write_text(kid + "\n")
    return key


def read_signing_key(directory: Path) -> SigningKey:
    private_key = serialization.load_pem_private_key(
        (directory / "private.pem").read_bytes(), password=None
    )
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"{directory}/private.pem is not an Ed25519 key")
    return SigningKey((directory / "kid").read_text().strip(), private_key)


def ensure_development_keys(directory: Path = DEV_KEYS_DIR) -> SigningKey:
    """The development key pair, generated on first use and kept in var/keys/.

    Written to a temporary directory and renamed into place, so that processes starting
    together agree on one pair instead of overwriting each other's."""
    if not (directory / "kid").exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".keys-", dir=directory.parent))
        write_key_pair(staging, f"{DEVELOPMENT_KID_PREFIX}{os.urandom(4).hex()}")
        try:
            staging.rename(directory)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process won the race
    return read_signing_key(directory)


# ------------------------------------------------------------------------ tokens


def issue_token(
    private_key: Ed25519PrivateKey,
    kid: str,
    *,
    organisation: str,
    subject: str,
    kind: str = "worker",
    centres: Iterable[str] = (),
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    audience: str = DEFAULT_AUDIENCE,
    ttl: timedelta = timedelta(hours=8),
    now: datetime | None = None,
) -> str:
    now = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": audience,
        "sub": subject,
        "org": organisation,
        "kind": kind,
        "centres": sorted(centres),
        "roles": sorted(roles),
        "scopes": sorted(scopes),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})


class TokenVerifier:
    """Verifies tokens against the public keys of a JWKS file.

    A token naming a kid the verifier does not know makes it read the file again when the
    file has changed, so a key added to the JWKS (mounted from a ConfigMap) is taken up
    without a restart."""

    def __init__(
        self,
        keys: Mapping[str, Ed25519PublicKey],
        *,
        audience: str = DEFAULT_AUDIENCE,
        max_lifetime: timedelta = timedelta(hours=12),
        jwks_file: Path | None = None,
    ) -> None:
        self._keys = dict(keys)
        self._audience = audience
        self._max_lifetime = max_lifetime
        self._jwks_file = jwks_file
        self._jwks_mtime = _mtime(jwks_file)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def _key(self, kid: str) -> Ed25519PublicKey | None:
        if kid not in self._keys and self._jwks_file is not None:
            mtime = _mtime(self._jwks_file)
            if mtime != self._jwks_mtime:
                try:
                    keys = read_jwks(self._jwks_file)
                except ValueError:
                    keys = None  # a half-written file: keep the keys we have
                if keys is not None:
                    self._keys, self._jwks_mtime = keys, mtime
        return self._keys.get(kid)

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated("invalid token: not a JWT") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(f"invalid token: must be signed with {ALGORITHM}")
        kid = header.get("kid")
        key = self._key(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthenticated("invalid token: unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_iat": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
            raise Unauthenticated("invalid token: iat and exp must be whole seconds")
        if claims["iat"] > (datetime.now(UTC) + ISSUED_AT_LEEWAY).timestamp():
            raise Unauthenticated("invalid token: issued in the future")
        if claims["exp"] - claims["iat"] > self._max_lifetime.total_seconds():
            raise Unauthenticated("invalid token: lives longer than the services accept")
        return _principal(claims)


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime if path is not None else None
    except OSError:
        return None


def _principal(claims: Mapping[str, Any]) -> Principal:
    org = claims.get("org")
    kind = claims.get("kind")
    if not isinstance(org, str) or not org:
        raise Unauthenticated("invalid token: no organisation")
    if kind not in ("worker", "partner", "service"):
        raise Unauthenticated("invalid token: unknown kind")

    def strings(key: str) -> frozenset[str]:
        value = claims.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Unauthenticated(f"invalid token: {key} must be a list of strings")
        return frozenset(value)

    return Principal(
        organisation=org,
        subject=str(claims["sub"]),
        kind=kind,
        centres=strings("centres"),
        roles=strings("roles"),
        scopes=strings("scopes"),
    )


def token_verifier(settings: Settings) -> TokenVerifier:
    """The verifier of an api process, from JWT_JWKS_FILE.

    Outside development a development key (kid `development-…`) stops the process: its
    private half lies in a developer's var/keys/, so anyone could mint tokens with it."""
    path = settings.jwt_jwks_file
    if path is None:
        # Development only (load_settings requires the variable elsewhere).
        ensure_development_keys()
        path = DEV_KEYS_DIR / "jwks.json"
    try:
        keys = read_jwks(path)
    except ValueError as exc:
        raise InvalidConfiguration("JWT_JWKS_FILE", str(exc)) from None
    if not settings.development:
        development = sorted(k for k in keys if k.startswith(DEVELOPMENT_KID_PREFIX))
        if development:
            raise InvalidConfiguration(
                "JWT_JWKS_FILE",
                f"development key(s) {', '.join(development)} are refused with "
                f"CASEWORK_ENV={settings.environment}",
            )
    return TokenVerifier(
        keys,
        audience=settings.jwt_audience,
        max_lifetime=settings.jwt_max_lifetime,
        jwks_file=path,
    )


def bearer(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    for key, value in metadata:
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("authorization must be 'Bearer <token>'")
            return token.strip()
    raise Unauthenticated("missing bearer token")
