"""Signed links through which a client fills in part of an eligibility form on their own.

A link is a token: a base64url payload and a base64url HMAC-SHA256 tag, joined by a
dot. The payload holds ids and an expiry only (link, referral, form, version, question
ids), never anything about the person: links travel by e-mail and text message and end
up in browser histories, so whoever sees one must learn nothing from it. The payload is
signed, not encrypted, for the same reason: there is nothing in it to hide.

Pure functions: the secret, the clock and the record of used links are passed in, so
the api and events processes agree and tests need no patching. Only the default link
id comes from the operating system's random source.

A link lives at most MAX_VALIDITY from the moment it was issued, and that is checked
again when it is used, not only when it is issued: a link signed with a longer life
(a key that leaked, an issuing bug, a policy since shortened) is refused all the same.
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
from collections.abc import Callable, Container, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from casework_intake.domain.forms import FieldError, FormRuleViolation

# Format 2 carries the issue time ("iat"); format 1 links (no issue time) are still
# accepted while they can be, held to MAX_VALIDITY from the moment they are used.
TOKEN_FORMAT = 2
LEGACY_TOKEN_FORMAT = 1

# The longest a link may be valid: 30 days from its issue.
MAX_VALIDITY = timedelta(hours=720)

# Binds the tag to this use of the key: a tag the same secret produced for some other
# purpose can never pass as a self-fill link.
_MAC_CONTEXT = b"casework.intake.self-fill-link\x00"

# HMAC-SHA256 is only as strong as its key; a short one could be guessed offline from a
# single link.
MIN_SECRET_BYTES = 32

# Links are pasted into URLs and SMS; anything far longer than a real link is refused
# before any decoding work is spent on it.
MAX_TOKEN_LENGTH = 4096

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_LEGACY_PAYLOAD_KEYS = frozenset({"v", "lid", "ref", "form", "ver", "q", "exp"})
_PAYLOAD_KEYS = _LEGACY_PAYLOAD_KEYS | {"iat"}

UsedLinks: TypeAlias = Container[str] | Callable[[str], bool]
"""Link ids already used up: a set (or any container), or a function answering for one id."""


class SelfFillLinkRefused(Exception):
    """Base of the reasons a link is not accepted."""


class LinkTampered(SelfFillLinkRefused):
    """Not a link this system issued with this secret, or altered since."""


class LinkExpired(SelfFillLinkRefused):
    def __init__(self, link_id: str, expired_at: datetime) -> None:
        self.link_id = link_id
        self.expired_at = expired_at
        super().__init__(f"self-fill link {link_id} expired at {expired_at.isoformat()}")


class LinkValidTooLong(SelfFillLinkRefused):
    """Signed, but valid for longer after its issue than any link may be."""

    def __init__(self, link_id: str, valid_for: timedelta, limit: timedelta) -> None:
        self.link_id = link_id
        super().__init__(
            f"self-fill link {link_id} is valid for {valid_for}, longer than {limit} allows"
        )


class LinkAlreadyUsed(SelfFillLinkRefused):
    def __init__(self, link_id: str) -> None:
        self.link_id = link_id
        super().__init__(f"self-fill link {link_id} was already used")


@dataclasses.dataclass(frozen=True)
class SelfFillGrant:
    """What a verified link allows: answering these questions of this form version for
    this referral, until `expires_at`."""

    link_id: str
    referral_id: str
    form_id: str
    version: int
    question_ids: tuple[str, ...]
    expires_at: datetime

    def permits(self, question_id: str) -> bool:
        return question_id in self.question_ids

    def answers_outside(self, answers: Mapping[str, object]) -> list[FieldError]:
        """Answers to questions the link was not issued for. The link is the client's
        only authority, so a question left out of it stays the worker's, even when the
        form marks it as self-fill."""
        return [
            FieldError(f"answers.{key}", "was not sent to the client with this link")
            for key in answers
            if not (isinstance(key, str) and self.permits(key))
        ]


def new_link_id() -> str:
    """128 random bits: a used-link record must never be hit by a fresh link."""
    return secrets.token_urlsafe(16)


def issue_link(
    secret: bytes,
    referral_id: str,
    form_id: str,
    version: int,
    question_ids: Iterable[str],
    expires_at: datetime,
    *,
    issued_at: datetime,
    link_id: str | None = None,
) -> str:
    """A URL-safe token for the client. `link_id` is random unless given (for tests, or
    to re-create a token already recorded elsewhere).

    The expiry is kept to the whole second, rounded down, so a link never outlives the
    time it was issued for; it must fall within MAX_VALIDITY of `issued_at`.
    """
    _check_secret(secret)
    _check_aware(expires_at, "expires_at")
    _check_aware(issued_at, "issued_at")
    lid = new_link_id() if link_id is None else link_id
    # A lone string is iterable too, and would turn into one "question" per character.
    questions = sorted({question_ids} if isinstance(question_ids, str) else set(question_ids))
    errors = [
        FieldError(name, "must not be empty")
        for name, value in (
            ("link_id", lid),
            ("referral_id", referral_id),
            ("form_id", form_id),
        )
        if not value
    ]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        errors.append(FieldError("version", "must be a whole number, 1 or higher"))
    iat, exp = math.floor(issued_at.timestamp()), math.floor(expires_at.timestamp())
    if not iat < exp <= iat + MAX_VALIDITY.total_seconds():
        errors.append(
            FieldError("expires_at", f"must be after its issue and within {MAX_VALIDITY} of it")
        )
    if not questions:
        errors.append(FieldError("question_ids", "a link must offer at least one question"))
    elif not all(questions):
        errors.append(FieldError("question_ids", "question ids must not be empty"))
    if errors:
        raise FormRuleViolation(errors)

    payload = {
        "v": TOKEN_FORMAT,
        "lid": lid,
        "ref": referral_id,
        "form": form_id,
        "ver": version,
        "q": questions,
        "iat": iat,
        "exp": exp,
    }
    # One canonical byte string per payload: the same link always gets the same token.
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    raw = body.encode("ascii")
    return f"{_encode(raw)}.{_encode(_tag(secret, raw))}"


def verify_link(
    secret: bytes,
    token: str,
    now: datetime,
    used: UsedLinks = frozenset(),
    *,
    max_validity: timedelta = MAX_VALIDITY,
) -> SelfFillGrant:
    """The grant a token carries, or the reason it is refused.

    The signature is checked before anything in the payload is believed, expiry, the
    cap on its validity and use afterwards: an altered link is always reported as
    tampered, never as expired, so tampering teaches nothing about which links exist.
    """
    _check_secret(secret)
    _check_aware(now, "now")
    raw = _authenticated_payload(secret, token)
    grant, issued_at = _grant_from(raw)
    if now >= grant.expires_at:
        raise LinkExpired(grant.link_id, grant.expires_at)
    # A link without an issue time was issued no later than now.
    valid_for = grant.expires_at - (now if issued_at is None else issued_at)
    if valid_for > max_validity:
        raise LinkValidTooLong(grant.link_id, valid_for, max_validity)
    already = used(grant.link_id) if callable(used) else grant.link_id in used
    if already:
        raise LinkAlreadyUsed(grant.link_id)
    return grant


def _authenticated_payload(secret: bytes, token: object) -> bytes:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise LinkTampered("not a self-fill link")
    parts = token.split(".")
    if len(parts) != 2:
        raise LinkTampered("not a self-fill link")
    raw, tag = (_decode(part) for part in parts)
    if not hmac.compare_digest(tag, _tag(secret, raw)):
        raise LinkTampered("the link's signature does not match")
    return raw


def _grant_from(raw: bytes) -> tuple[SelfFillGrant, datetime | None]:
    # The signature proved we wrote this payload; the shape is still checked, since a
    # payload of another token format signed with the same key must not crash us.
    try:
        data = json.loads(raw)
    except ValueError:
        raise LinkTampered("the link's payload is unreadable") from None
    version = data.get("v") if isinstance(data, dict) else None
    if type(version) is not int or (version, set(data)) not in (
        (TOKEN_FORMAT, _PAYLOAD_KEYS),
        (LEGACY_TOKEN_FORMAT, _LEGACY_PAYLOAD_KEYS),
    ):
        raise LinkTampered("the link's payload has an unknown shape")
    iat = data.get("iat", 0)
    lid, ref, form, ver, questions, exp = (
        data[k] for k in ("lid", "ref", "form", "ver", "q", "exp")
    )
    shaped = (
        all(isinstance(x, str) and x for x in (lid, ref, form))
        and type(ver) is int
        and isinstance(questions, list)
        and questions
        and all(isinstance(q, str) and q for q in questions)
        and type(exp) is int
        and type(iat) is int
    )
    if not shaped:
        raise LinkTampered("the link's payload has an unknown shape")
    try:
        expires_at = datetime.fromtimestamp(exp, tz=UTC)
        issued_at = datetime.fromtimestamp(iat, tz=UTC) if "iat" in data else None
    except (OverflowError, OSError, ValueError):
        raise LinkTampered("the link's times are out of range") from None
    return SelfFillGrant(lid, ref, form, ver, tuple(questions), expires_at), issued_at


def _tag(secret: bytes, raw: bytes) -> bytes:
    return hmac.new(secret, _MAC_CONTEXT + raw, hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(part: str) -> bytes:
    # urlsafe_b64decode silently skips characters outside the alphabet, and the last
    # character of a base64 string has spare bits that decode to the same bytes when
    # changed. Either would let a different token carry the same signed payload, so only
    # the one canonical spelling of the bytes is accepted.
    if not _B64URL.fullmatch(part):
        raise LinkTampered("the link holds characters a link never has")
    try:
        data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise LinkTampered("the link is not valid base64url") from None
    if _encode(data) != part:
        raise LinkTampered("the link is not in its canonical form")
    return data


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the link secret must be at least {MIN_SECRET_BYTES} bytes")


def _check_aware(moment: datetime, name: str) -> None:
    # A naive datetime means different instants in different centres' time zones; for
    # an expiry that ambiguity is a security bug, so it is refused outright.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone")
