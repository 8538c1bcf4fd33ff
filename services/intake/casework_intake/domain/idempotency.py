"""Idempotency keys of intake's creating calls other than referrals and consultations
(which keep theirs beside their own fingerprint): outreach, projects, tasks and
comments.

The same key with the same content answers what the first call created; the same key
with other content is refused with ALREADY_EXISTS naming idempotency_key, so a retry
can never overwrite or duplicate what was first sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from casework_common.errors import AlreadyExists, FieldError
from casework_intake.domain.referrals import _KEY

FIELD = "idempotency_key"


def key_errors(key: str) -> list[FieldError]:
    """The same rule as for referrals: 8 to 128 characters of letters, digits, . _ : -"""
    if not key:
        return [FieldError(FIELD, "is required")]
    if not _KEY.match(key):
        return [FieldError(FIELD, "8 to 128 characters of letters, digits, . _ : -")]
    return []


def fingerprint(content: Mapping[str, object]) -> str:
    """A digest of what makes two calls 'the same call' (the caller included)."""
    canonical = json.dumps(dict(content), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def reused(key: str, what: str) -> AlreadyExists:
    return AlreadyExists(
        f"{FIELD} {key!r} was already used for {what} with different content (or by "
        "another caller); choose a new key for a new request"
    )


def check(stored_fingerprint: str, key: str, content_fingerprint: str, what: str) -> None:
    if stored_fingerprint != content_fingerprint:
        raise reused(key, what)
