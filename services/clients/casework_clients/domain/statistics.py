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
    EntrySource,
    StatusEntry,
    StatusHistory,
    StatusSettings,
    count_family_statuses,
    count_statuses,
    family_status,
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


# --------------------------------------------------------------------------- stored facts
#
# The database counts statistics by aggregation (no card is read into Python): each
# card and family stores, with every write, the facts of its status timeline below.
# ``report_from_facts`` counts them exactly as the aggregation does, and the unit tests
# hold it equal to ``client_report`` (the engine's own counting) for any history.


@dataclass(frozen=True)
class Span:
    """The status held from ``since`` up to (not including) ``until`` (None: still)."""

    status: ClientStatus
    since: date
    until: date | None


@dataclass(frozen=True)
class Happening:
    """A closing reason ("rejected|no_capacity") or a flow ("applicant>service_user",
    ">applicant" for a first status) that took effect on ``on``."""

    key: str
    on: date


@dataclass(frozen=True)
class TimelineFacts:
    spans: tuple[Span, ...]
    closings: tuple[Happening, ...]
    flows: tuple[Happening, ...]


def flow_key(before: ClientStatus | None, after: ClientStatus) -> str:
    return f"{before.value if before else ''}>{after.value}"


def closing_key(status: ClientStatus, reason: str) -> str:
    return f"{status.value}|{reason}"


def timeline_facts(history: StatusHistory) -> TimelineFacts:
    """The facts statistics count of one history (see ``count_statuses`` and ``flows``)."""
    timeline = history.timeline
    spans: list[Span] = []
    for i, entry in enumerate(timeline):
        until = timeline[i + 1].effective_on if i + 1 < len(timeline) else None
        if until is not None and until <= entry.effective_on:
            continue  # another entry decides the same day
        spans.append(Span(entry.status, entry.effective_on, until))
    closings = tuple(
        Happening(closing_key(e.status, e.reason), e.effective_on)
        for e in timeline
        if e.reason is not None and e.status in (ClientStatus.REJECTED, ClientStatus.TERMINATED)
    )
    moved: list[Happening] = []
    previous: ClientStatus | None = None
    for entry in timeline:
        if entry.status is not previous:
            moved.append(Happening(flow_key(previous, entry.status), entry.effective_on))
        previous = entry.status
    return TimelineFacts(tuple(spans), closings, tuple(moved))


def _worker_entry_on(own: StatusHistory, day: date) -> StatusEntry | None:
    """The latest entry a worker recorded for the family itself, effective by ``day``."""
    recorded = [e for e in own.timeline if e.source is EntrySource.MANUAL and e.effective_on <= day]
    return recorded[-1] if recorded else None


def shared_family_facts(
    member_histories: Sequence[StatusHistory],
    settings: StatusSettings,
    own: StatusHistory | None = None,
) -> TimelineFacts:
    """The timeline facts of a family whose status is shared with its members: its
    status on each day a member's status changed (``family_status``), the flows between
    them, and, when the family closes, the reason of the entry that closed it. A
    worker's entry for the family itself (``own``) holds from its day until a member's
    status changes after it, as ``families.family_verdict`` shows it."""
    own = own or StatusHistory()
    member_days = sorted({e.effective_on for h in member_histories for e in h.timeline})
    worker_days = {e.effective_on for e in own.timeline if e.source is EntrySource.MANUAL}
    spans: list[Span] = []
    closings: list[Happening] = []
    moved: list[Happening] = []
    previous: ClientStatus | None = None
    for day in sorted({*member_days, *worker_days}):
        members_since = max((d for d in member_days if d <= day), default=None)
        worker = _worker_entry_on(own, day)
        if worker is not None and (members_since is None or worker.effective_on >= members_since):
            status: ClientStatus | None = worker.status
            reasons = [worker.reason] if worker.effective_on == day and worker.reason else []
        else:
            status = family_status(member_histories, settings, day).status
            reasons = [
                e.reason
                for h in member_histories
                for e in h.timeline
                if e.effective_on == day and e.status is status and e.reason
            ]
        if status is None or status is previous:
            continue
        if spans:
            last = spans[-1]
            spans[-1] = Span(last.status, last.since, day)
        spans.append(Span(status, day, None))
        moved.append(Happening(flow_key(previous, status), day))
        if status in (ClientStatus.REJECTED, ClientStatus.TERMINATED) and reasons:
            closings.append(Happening(closing_key(status, reasons[0]), day))
        previous = status
    return TimelineFacts(tuple(spans), tuple(closings), tuple(moved))


def report_from_facts(facts: Iterable[TimelineFacts], start: date, end: date) -> StatusReport:
    """Count stored facts as the database's aggregation does."""
    flows((), start, end)  # the same period check
    statuses: Counter[ClientStatus] = Counter({status: 0 for status in ClientStatus})
    rejections: Counter[str] = Counter()
    terminations: Counter[str] = Counter()
    moved: Counter[Flow] = Counter()
    for item in facts:
        for span in item.spans:
            if span.since <= end and (span.until is None or span.until > end):
                statuses[span.status] += 1
        for closing in item.closings:
            if start <= closing.on <= end:
                status, reason = closing.key.split("|", 1)
                target = rejections if status == ClientStatus.REJECTED.value else terminations
                target[reason] += 1
        for flow in item.flows:
            if start <= flow.on <= end:
                moved[parse_flow(flow.key)] += 1
    return StatusReport(
        start, end, statuses, rejections, terminations, moved, sum(statuses.values())
    )


def parse_flow(key: str) -> Flow:
    before, after = key.split(">", 1)
    return (ClientStatus(before) if before else None, ClientStatus(after))
