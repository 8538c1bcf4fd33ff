"""Requests per address in minute windows: the rule the public endpoints refuse by
(pure; the counting itself is `casework_common.public_http.RateCounters`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after_seconds: int


def window_of(now: datetime) -> int:
    """The minute window a moment falls into (seconds since the epoch // 60)."""
    return int(now.timestamp()) // WINDOW_SECONDS


def decide(count: int, limit: int, now: datetime) -> RateDecision:
    """`count` is this address's requests in the current window, this one included."""
    retry = WINDOW_SECONDS - int(now.timestamp()) % WINDOW_SECONDS
    return RateDecision(count <= limit, count, retry)
