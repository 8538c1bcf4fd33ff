"""Idempotent creation: a caller's key plus a fingerprint of what they sent answers the
first result; the same key with other content, or from another caller, is refused with
ALREADY_EXISTS naming the field `idempotency_key`, so a retry can never overwrite or
duplicate what was first sent.

The refusal never names what the key first created: the key may be another centre's,
and that record is not the caller's to know of. (To its own creator a use case may name
it, through `shown`.)

Pure on purpose (domains import it): the storage race a creation can lose is passed in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from casework_common.errors import AlreadyExists, FieldError

FIELD = "idempotency_key"
KEY = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
KEY_RULE = "8 to 128 characters of letters, digits, . _ : -"

T = TypeVar("T")


def key_errors(key: str, field: str = FIELD) -> list[FieldError]:
    if not key:
        return [FieldError(field, "is required")]
    if not KEY.match(key):
        return [FieldError(field, KEY_RULE)]
    return []


def fingerprint(content: Mapping[str, object]) -> str:
    """A digest of what makes two calls 'the same call' (put the caller in `content`
    when a key is the caller's own)."""
    canonical = json.dumps(dict(content), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def reused(key: str, what: str = "a request", shown: str = "") -> AlreadyExists:
    first = f" ({shown})" if shown else ""
    return AlreadyExists(
        f"{FIELD} {key!r} was already used for {what}{first} with different content (or "
        "by another caller); choose a new key for a new request",
        field=FIELD,
    )


def check(
    stored_fingerprint: str,
    key: str,
    content_fingerprint: str,
    what: str = "a request",
    *,
    stored_caller: str | None = None,
    caller: str | None = None,
    shown: str = "",
) -> None:
    """Refuse a key whose first use had other content or another caller; `shown` is
    named only to the caller who first used the key."""
    if stored_caller is not None and stored_caller != caller:
        raise reused(key, what)
    if stored_fingerprint != content_fingerprint:
        raise reused(key, what, shown)


def create_once(
    key: str,
    *,
    find: Callable[[str], T | None],
    replay: Callable[[T], T],
    create: Callable[[], T],
    race: type[Exception],
) -> tuple[T, bool]:
    """Answer (result, replayed): the first result of `key` (checked by `replay`, which
    raises AlreadyExists), else what `create` makes. When two calls with one key race,
    the store's unique key lets one through and the other's `create` raises `race`;
    that one then answers the winner's result, checked the same way."""
    existing = find(key)
    if existing is not None:
        return replay(existing), True
    try:
        return create(), False
    except race:
        stored = find(key)
        if stored is None:
            raise
        return replay(stored), True
