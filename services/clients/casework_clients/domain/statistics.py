"""Statistics over a period: statuses, closing reasons and flows, for clients and families.

Built on the status engine's own counting (count_statuses, flows, family_status), so
the figures mean exactly what the published rules say.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from casework_clients.domain.status import (
    ClientStatus,
    StatusHistory,
    StatusSettings,
    count_family_statuses,
    count_statuses,
    flows,
)

__all__ = ["StatusReport", "client_report", "family_report"]

Flow = tuple[ClientStatus | None, ClientStatus]


@dataclass(frozen=True)
class StatusReport:
    period_start: date
    period_end: date
    #: How many histories had this status at the end of the period (every status present).
    statuses: Counter[ClientStatus]
    rejection_reasons: Counter[str]
    termination_reasons: Counter[str]
    flows: Counter[Flow]
    total: int


def client_report(histories: Iterable[StatusHistory], start: date, end: date) -> StatusReport:
    """One pass over the histories would do, but the engine's two functions are the
    reference; histories are materialised once and given to both."""
    items: Sequence[StatusHistory] = (
        histories if isinstance(histories, Sequence) else list(histories)
    )
    counts = count_statuses(items, start, end)
    moved = flows(items, start, end)
    return StatusReport(
        start,
        end,
        counts.statuses,
        counts.rejection_reasons,
        counts.termination_reasons,
        moved,
        sum(counts.statuses.values()),
    )


def family_report(
    own_histories: Iterable[StatusHistory],
    member_histories: Iterable[Sequence[StatusHistory]],
    settings: StatusSettings,
    start: date,
    end: date,
) -> StatusReport:
    """Families: from their members when status is shared (statuses only: reasons and
    flows belong to the members), else from the families' own histories."""
    if settings.shared_with_family:
        flows((), start, end)  # the same period check as for clients
        statuses = count_family_statuses(member_histories, settings, end)
        return StatusReport(
            start, end, statuses, Counter(), Counter(), Counter(), sum(statuses.values())
        )
    return client_report(list(own_histories), start, end)
