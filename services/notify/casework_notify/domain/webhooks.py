"""Partner webhooks: subscriptions per organisation and event type, one delivery per
(subscription, event), signed, retried with exponential backoff, dead after N attempts.

Signature: `X-Casework-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
`<t>.<body>` with the subscription's secret; a receiver recomputes it and refuses a
timestamp outside its replay window (`verify` is that check, for partners and tests).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from casework_common.backoff import backoff
from casework_common.errors import FieldError

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
SIGNATURE_HEADER = "X-Casework-Signature"
# Status of the mark an operator's replay leaves in the log; failures count after it.
REPLAYED = -1
REPLAY_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    organisation: str
    event_type: str
    url: str
    secret: str
    created_at: datetime
    active: bool = True


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int
    error: str


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    subscription_id: str
    organisation: str
    event_id: str
    event_type: str
    body: bytes
    next_attempt_at: datetime
    state: str = PENDING
    attempts: tuple[Attempt, ...] = ()
    created_at: datetime | None = None


def delivery_id(subscription_id: str, event_id: str) -> str:
    return f"{subscription_id}:{event_id}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: datetime) -> bool:
    """A receiver's check: the signature matches and its moment is within the window."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now.timestamp() - timestamp) > REPLAY_WINDOW.total_seconds():
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def after_attempt(
    delivery: Delivery,
    attempt: Attempt,
    *,
    max_attempts: int,
    base: float,
    ceiling: float,
) -> Delivery:
    """2xx delivers; otherwise retry later, dead after `max_attempts` tries."""
    attempts = (*delivery.attempts, attempt)
    if 200 <= attempt.status_code < 300:
        return replace(delivery, attempts=attempts, state=DELIVERED)
    failures = 0
    for earlier in attempts:
        failures = 0 if earlier.status_code == REPLAYED else failures + 1
    if failures >= max_attempts:
        return replace(delivery, attempts=attempts, state=DEAD)
    return replace(
        delivery,
        attempts=attempts,
        next_attempt_at=attempt.at + backoff(failures, base, ceiling),
    )


def url_errors(url: str, *, production: bool) -> list[FieldError]:
    """The URL's shape: http(s) with a host; https only in production."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [FieldError("url", "is not a URL")]
    schemes = ("https",) if production else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname:
        return [FieldError("url", f"must be {' or '.join(schemes)} with a host")]
    if parts.username or parts.password:
        return [FieldError("url", "must not carry credentials")]
    if len(url) > 2000:
        return [FieldError("url", "at most 2000 characters")]
    return []


def forbidden_address(address: str) -> str | None:
    """Why a resolved address must not be called from production (SSRF), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for why, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("unspecified", ip.is_unspecified),
    ):
        if flag:
            return f"resolves to a {why} address"
    return None


def refusal(addresses: list[str], *, production: bool) -> str | None:
    """In production a URL any of whose addresses is internal is refused; in
    development everything is allowed (the tests' receivers listen on loopback)."""
    if not production:
        return None
    if not addresses:
        return "does not resolve"
    for address in addresses:
        why = forbidden_address(address)
        if why:
            return why
    return None
