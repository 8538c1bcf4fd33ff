"""Bearer tokens (JWT) and the principal they name.

A worker's token lists the centres they serve; repositories read that list to scope
every query. A partner's token lists the calls it may make, so a portal that may submit
referrals cannot read client cards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from casework_common.errors import PermissionDenied, Unauthenticated

ISSUER = "casework"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    organisation: str
    subject: str
    kind: str  # "worker" | "partner" | "service"
    centres: frozenset[str]
    roles: frozenset[str]
    scopes: frozenset[str]

    def may_call(self, scope: str) -> bool:
        # Workers act through their roles; scopes restrict partners and services.
        return self.kind == "worker" or scope in self.scopes

    def require_scope(self, scope: str) -> None:
        if not self.may_call(scope):
            raise PermissionDenied(f"{self.kind} {self.subject} may not call {scope}")

    def require_centre(self, centre_id: str) -> None:
        if centre_id not in self.centres:
            raise PermissionDenied(f"centre {centre_id} is not one the caller serves")


def issue_token(
    secret: str,
    *,
    organisation: str,
    subject: str,
    kind: str = "worker",
    centres: Iterable[str] = (),
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    ttl: timedelta = timedelta(hours=8),
    now: datetime | None = None,
) -> str:
    now = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "org": organisation,
        "kind": kind,
        "centres": sorted(centres),
        "roles": sorted(roles),
        "scopes": sorted(scopes),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
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


def bearer(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    for key, value in metadata:
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("authorization must be 'Bearer <token>'")
            return token.strip()
    raise Unauthenticated("missing bearer token")
