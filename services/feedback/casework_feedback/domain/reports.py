"""Reports over responses: by centre, department, worker, aspect and period, with trends.

Every group smaller than the minimum is suppressed: its row says so and carries no
figures. When exactly one group of a period is suppressed, the next smallest is
suppressed with it, or the period's total minus the others would give the hidden one
away. Reports by worker count named responses only: an anonymous response never names
a worker, and a report must not be a way to guess who answered.

A report is a reading aid, not a verdict: a low score on "problem solved" may have
causes outside the centre.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from casework_feedback.domain.responses import NEGATIVE_SCORE

DEFAULT_MINIMUM_GROUP = 5


class Dimension(enum.StrEnum):
    CENTRE = "centre"
    DEPARTMENT = "department"
    WORKER = "worker"
    ASPECT = "aspect"


class Granularity(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclasses.dataclass(frozen=True)
class Fact:
    """One scored answer of one counted response, flattened for aggregation."""

    response_id: str
    centre_id: str
    department_id: str
    worker_id: str
    """Empty for an anonymous response."""
    aspect: str
    """Empty for a question without an aspect."""
    received_at: datetime
    score: float


@dataclasses.dataclass(frozen=True)
class ReportRow:
    group: str
    period: str
    suppressed: bool
    responses: int | None
    mean_score: float | None
    negative_share: float | None
    change: float | None
    """Mean score minus the group's previous shown period; None when either is hidden."""


def period_of(moment: datetime, granularity: Granularity) -> str:
    if granularity is Granularity.DAY:
        return moment.date().isoformat()
    if granularity is Granularity.WEEK:
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{moment.year}-{moment.month:02d}"


def _group_of(fact: Fact, dimension: Dimension) -> str:
    if dimension is Dimension.CENTRE:
        return fact.centre_id
    if dimension is Dimension.DEPARTMENT:
        return fact.department_id
    if dimension is Dimension.WORKER:
        return fact.worker_id
    return fact.aspect


@dataclasses.dataclass(frozen=True)
class GroupFigures:
    """The sums of one group in one period, as a database aggregation answers them."""

    group: str
    period: str
    responses: int
    score_total: float
    answers: int
    negative: int


def group_facts(
    facts: Iterable[Fact], dimension: Dimension, granularity: Granularity
) -> list[GroupFigures]:
    """The same sums the database aggregation makes, in Python (tests, small data)."""
    responses: dict[tuple[str, str], set[str]] = defaultdict(set)
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for fact in facts:
        group = _group_of(fact, dimension)
        if not group:
            continue  # anonymous for a worker report, or no aspect for an aspect report
        key = (group, period_of(fact.received_at, granularity))
        responses[key].add(fact.response_id)
        acc = sums[key]
        acc[0] += fact.score
        acc[1] += 1
        if fact.score <= NEGATIVE_SCORE:
            acc[2] += 1
    return [
        GroupFigures(
            g,
            p,
            len(responses[(g, p)]),
            sums[(g, p)][0],
            int(sums[(g, p)][1]),
            int(sums[(g, p)][2]),
        )
        for (g, p) in responses
    ]


def build_report(
    facts: Iterable[Fact],
    dimension: Dimension,
    granularity: Granularity = Granularity.MONTH,
    minimum_group: int = DEFAULT_MINIMUM_GROUP,
) -> list[ReportRow]:
    return report_rows(group_facts(facts, dimension, granularity), minimum_group)


def report_rows(
    figures: Iterable[GroupFigures], minimum_group: int = DEFAULT_MINIMUM_GROUP
) -> list[ReportRow]:
    """Rows with trends from the groups' sums; groups below the minimum suppressed."""
    minimum = max(1, minimum_group)
    by_key = {(f.group, f.period): f for f in figures if f.group and f.answers > 0}
    hidden = _suppressed({key: f.responses for key, f in by_key.items()}, minimum)
    rows: list[ReportRow] = []
    previous: dict[str, float | None] = {}
    for key in sorted(by_key):
        group, period = key
        if key in hidden:
            rows.append(ReportRow(group, period, True, None, None, None, None))
            previous[group] = None
            continue
        f = by_key[key]
        mean = f.score_total / f.answers
        before = previous.get(group)
        rows.append(
            ReportRow(
                group,
                period,
                False,
                f.responses,
                round(mean, 4),
                round(f.negative / f.answers, 4),
                None if before is None else round(mean - before, 4),
            )
        )
        previous[group] = mean
    return rows


def _suppressed(counts: dict[tuple[str, str], int], minimum: int) -> set[tuple[str, str]]:
    hidden = {key for key, n in counts.items() if n < minimum}
    by_period: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in counts:
        by_period[key[1]].append(key)
    for keys in by_period.values():
        small = [k for k in keys if k in hidden]
        shown = sorted((k for k in keys if k not in hidden), key=lambda k: (counts[k], k[0]))
        if len(small) == 1 and shown:
            hidden.add(shown[0])
    return hidden


CSV_COLUMNS = (
    "group",
    "period",
    "suppressed",
    "responses",
    "mean_score",
    "negative_share",
    "change",
)


def to_csv(rows: Sequence[ReportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _safe_cell(row.group),
                row.period,
                "yes" if row.suppressed else "no",
                "" if row.responses is None else row.responses,
                "" if row.mean_score is None else row.mean_score,
                "" if row.negative_share is None else row.negative_share,
                "" if row.change is None else row.change,
            ]
        )
    return out.getvalue()


def _safe_cell(text: str) -> str:
    # A spreadsheet runs a cell starting with one of these as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclasses.dataclass(frozen=True)
class Theme:
    """An aspect that keeps coming out negative across a centre: for the manager's report."""

    centre_id: str
    aspect: str
    negative_responses: int
    responses: int


def themes_from_figures(
    figures: Iterable[tuple[str, AspectCount]],
    minimum_group: int = DEFAULT_MINIMUM_GROUP,
    share: float = 0.3,
) -> list[Theme]:
    """(centre, figures of one aspect over the whole period) -> themes: an aspect
    answered by at least the minimum of responses, negative in at least `share`."""
    return sorted(
        (
            Theme(centre, f.group, f.negative_responses, f.responses)
            for centre, f in figures
            if f.responses >= max(1, minimum_group) and f.negative_responses >= share * f.responses
        ),
        key=lambda t: (t.centre_id, -t.negative_responses, t.aspect),
    )


@dataclasses.dataclass(frozen=True)
class AspectCount:
    group: str
    responses: int
    negative_responses: int


def repeating_themes(
    facts: Iterable[Fact], minimum_group: int = DEFAULT_MINIMUM_GROUP, share: float = 0.3
) -> list[Theme]:
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    negative: dict[tuple[str, str], set[str]] = defaultdict(set)
    for fact in facts:
        if not fact.aspect:
            continue
        key = (fact.centre_id, fact.aspect)
        seen[key].add(fact.response_id)
        if fact.score <= NEGATIVE_SCORE:
            negative[key].add(fact.response_id)
    return themes_from_figures(
        (
            (centre, AspectCount(aspect, len(ids), len(negative[(centre, aspect)])))
            for (centre, aspect), ids in seen.items()
        ),
        minimum_group,
        share,
    )
