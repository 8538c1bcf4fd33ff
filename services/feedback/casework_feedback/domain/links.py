"""Public survey links: single-use, expiring, carrying nothing about the person.

A link is a base64url payload and a base64url HMAC-SHA256 tag joined by a dot, in the
shape of intake's self-fill links. The payload holds the link id, the survey id and
version, and the issue and expiry times; the visit it belongs to (centre, department,
and for a named survey the client) stays on the server, looked up by link id. Whoever
sees a link (a QR code photographed, a browser history) learns which survey it opens
and nothing else.

The secret, the clock and the record of used links are passed in, so the functions are
pure and tests need no patching.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

LINK_FORMAT = 1
MAX_VALIDITY = timedelta(days=14)
"""A survey about a visit asked weeks later is about a visit nobody remembers."""
MIN_SECRET_BYTES = 32
MAX_TOKEN_LENGTH = 1024
_CONTEXT = b"casework.feedback.survey-link\x00"
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_KEYS = frozenset({"v", "lid", "s", "ver", "iat", "exp"})


class LinkRefused(Exception):
    """Base of the reasons a link is not accepted."""


class LinkTampered(LinkRefused):
    """Not a link issued with this secret, or altered since."""


class LinkExpired(LinkRefused):
    pass


class LinkAlreadyUsed(LinkRefused):
    pass


@dataclasses.dataclass(frozen=True)
class LinkGrant:
    link_id: str
    survey_id: str
    version: int
    expires_at: datetime


def new_link_id() -> str:
    return secrets.token_urlsafe(16)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise LinkTampered("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise LinkTampered("not base64url") from exc


def _tag(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + body, hashlib.sha256).digest()


def check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the feedback link secret must be at least {MIN_SECRET_BYTES} bytes")


def issue_link(
    secret: bytes,
    *,
    survey_id: str,
    version: int,
    issued_at: datetime,
    expires_at: datetime,
    link_id: str | None = None,
) -> tuple[str, str]:
    """(link id, token)."""
    check_secret(secret)
    if issued_at.tzinfo is None or expires_at.tzinfo is None:
        raise ValueError("times must carry a time zone")
    iat, exp = math.floor(issued_at.timestamp()), math.floor(expires_at.timestamp())
    if not iat < exp <= iat + MAX_VALIDITY.total_seconds():
        raise ValueError(f"a link expires after its issue and within {MAX_VALIDITY}")
    if not survey_id or version < 1:
        raise ValueError("a link opens one version of one survey")
    lid = link_id or new_link_id()
    payload = {"v": LINK_FORMAT, "lid": lid, "s": survey_id, "ver": version, "iat": iat, "exp": exp}
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    return lid, f"{_encode(body)}.{_encode(_tag(secret, body))}"


def verify_link(
    secret: bytes, token: str, now: datetime, used: Callable[[str], bool] = lambda _lid: False
) -> LinkGrant:
    """The grant, or why not. The signature is checked before anything in the payload is
    believed, so an altered link is always "tampered", never "expired" or "used"."""
    check_secret(secret)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise LinkTampered("not a survey link")
    body_text, tag_text = token.split(".")
    body, tag = _decode(body_text), _decode(tag_text)
    if not hmac.compare_digest(tag, _tag(secret, body)):
        raise LinkTampered("signature does not match")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise LinkTampered("unreadable payload") from exc
    if not isinstance(payload, dict) or set(payload) != _KEYS or payload["v"] != LINK_FORMAT:
        raise LinkTampered("unknown payload")
    iat, exp = payload["iat"], payload["exp"]
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (iat, exp, payload["ver"])):
        raise LinkTampered("unknown payload")
    if exp - iat > MAX_VALIDITY.total_seconds() or now.timestamp() >= exp:
        raise LinkExpired(payload["lid"])
    if used(payload["lid"]):
        raise LinkAlreadyUsed(payload["lid"])
    return LinkGrant(payload["lid"], payload["s"], payload["ver"], datetime.fromtimestamp(exp, UTC))
