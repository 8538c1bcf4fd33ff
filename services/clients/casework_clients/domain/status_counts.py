"""A family's shared status and the counting statistics are built on (``statistics``
stores these counts as facts; these functions are their reference)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from casework_clients.domain.status_model import (
    CLOSED_STATUSES,
    FAMILY_STATUS_PRECEDENCE,
    STATUS_LABELS,
    ClientStatus,
    FamilyStatusNotShared,
    InvalidPeriod,
    StatusHistory,
    StatusSettings,
)

# --------------------------------------------------------------------------- family


@dataclass(frozen=True)
class FamilyStatusVerdict:
    status: ClientStatus | None
    explanation: str


def family_status(
    member_histories: Iterable[StatusHistory],
    settings: StatusSettings,
    on: date | None = None,
) -> FamilyStatusVerdict:
    """Status of a household whose status is shared with its members.

    The first status of :data:`FAMILY_STATUS_PRECEDENCE` held by any member (at the
    end of ``on``, or now when ``on`` is None) is the family's status. Families whose
    status is not shared keep a history of their own, so asking here is an error.
    """
    if not settings.shared_with_family:
        raise FamilyStatusNotShared("this project keeps family status separately from its members")
    statuses = [
        history.current if on is None else history.status_on(on) for history in member_histories
    ]
    held = Counter(status for status in statuses if status is not None)
    for status in FAMILY_STATUS_PRECEDENCE:
        count = held[status]
        if not count:
            continue
        label = STATUS_LABELS[status]
        if status in CLOSED_STATUSES:
            why = f"no member has an open episode and {count} member(s) {label}"
        else:
            why = f"{count} of {len(statuses)} member(s) {label}, the most engaged status held"
        return FamilyStatusVerdict(status, f"The family is {label} because {why}.")
    return FamilyStatusVerdict(None, "No family member has a status yet.")


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class StatusCounts:
    period_start: date
    period_end: date
    #: How many histories are in each status at the end of the period (all keys present).
    statuses: Counter[ClientStatus]
    #: Rejections / terminations that took effect within the period, by reason.
    rejection_reasons: Counter[str]
    termination_reasons: Counter[str]


def check_period(start: date, end: date) -> None:
    _check_period(start, end)


def _check_period(start: date, end: date) -> None:
    if end < start:
        raise InvalidPeriod(
            f"the period ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        )


def count_statuses(
    histories: Iterable[StatusHistory], period_start: date, period_end: date
) -> StatusCounts:
    """Counts per status at the end of the period and per closing reason within it."""
    _check_period(period_start, period_end)
    statuses: Counter[ClientStatus] = Counter({status: 0 for status in ClientStatus})
    rejections: Counter[str] = Counter()
    terminations: Counter[str] = Counter()
    for history in histories:
        at_end = history.status_on(period_end)
        if at_end is not None:
            statuses[at_end] += 1
        for entry in history.timeline:
            if not period_start <= entry.effective_on <= period_end:
                continue
            if entry.reason is None:
                continue
            if entry.status is ClientStatus.REJECTED:
                rejections[entry.reason] += 1
            elif entry.status is ClientStatus.TERMINATED:
                terminations[entry.reason] += 1
    return StatusCounts(period_start, period_end, statuses, rejections, terminations)


def count_family_statuses(
    families: Iterable[Iterable[StatusHistory]], settings: StatusSettings, on: date
) -> Counter[ClientStatus]:
    """Families per shared status at the end of ``on`` (see :func:`family_status`)."""
    counts: Counter[ClientStatus] = Counter({status: 0 for status in ClientStatus})
    for members in families:
        verdict = family_status(members, settings, on)
        if verdict.status is not None:
            counts[verdict.status] += 1
    return counts


def flows(
    histories: Iterable[StatusHistory], start: date, end: date
) -> Counter[tuple[ClientStatus | None, ClientStatus]]:
    """Transitions that took effect within the period, as (from, to) pairs.

    ``from`` is None for a history's very first status, so new clients show up as
    flows into their starting status. Same-status steps (a manual entry confirming the
    status an automatic one had set) are not movements and are left out.
    """
    _check_period(start, end)
    counted: Counter[tuple[ClientStatus | None, ClientStatus]] = Counter()
    for history in histories:
        previous: ClientStatus | None = None
        for entry in history.timeline:
            if entry.status is not previous and start <= entry.effective_on <= end:
                counted[(previous, entry.status)] += 1
            previous = entry.status
    return counted
