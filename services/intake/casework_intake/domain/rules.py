"""Rules several of intake's aggregates share: an organisation's setting in hours
(checked when the service starts, so that nonsense stops it there) and a moment
planned ahead (an outreach activity, a task's due time)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from casework_common.errors import FieldError

# Planning further ahead than this is a typing error, not a plan.
MAX_DAYS_AHEAD = 731


def hours_setting(value: object, name: str, maximum: float) -> float:
    """A number of hours above 0 and at most `maximum`; ValueError naming the setting
    otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0 or number > maximum:
        raise ValueError(f"{name} must be above 0 and at most {maximum:g}")
    return number


def planned_moment_errors(moment: datetime | None, now: datetime, field: str) -> list[FieldError]:
    """A moment planned ahead: required, not past, at most MAX_DAYS_AHEAD days away."""
    if moment is None:
        return [FieldError(field, "is required")]
    if moment < now:
        return [FieldError(field, "is in the past")]
    if moment > now + timedelta(days=MAX_DAYS_AHEAD):
        return [FieldError(field, f"at most {MAX_DAYS_AHEAD} days ahead")]
    return []
