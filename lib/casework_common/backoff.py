"""How long a failed delivery waits before it is tried again."""

from __future__ import annotations

from datetime import timedelta


def backoff(attempts: int, base: float, ceiling: float) -> timedelta:
    """Wait after the `attempts`-th failure: base, 2 base, 4 base ... up to the ceiling."""
    return timedelta(seconds=min(ceiling, base * (2 ** max(0, attempts - 1))))
