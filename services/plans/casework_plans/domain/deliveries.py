"""Delivered against planned: delivery records, a provider's CSV of them, and the
discrepancy check.

The check is a pure function of what was planned, what was delivered and when the
client stopped being a service user, so the same code runs when a delivery is recorded,
on an imported file, on a timer and in the benchmark.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from casework_common.errors import FieldError
from casework_common.values import text_error
from casework_plans.domain.plans import (
    Delivery,
    Discrepancy,
    DiscrepancyKind,
    Frequency,
    Period,
)

__all__ = ["Delivery", "Discrepancy", "DiscrepancyKind"]

MAX_QUANTITY = 1000
MAX_CSV_BYTES = 4 * 1024 * 1024
MAX_CSV_ROWS = 20_000
CSV_COLUMNS = ("plan_id", "service_code", "delivered_on", "quantity", "delivered_by", "receipt")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def periods(per: Period, start: date, end: date) -> list[tuple[date, date]]:
    """The whole periods (first and last day) lying within start..end inclusive: days,
    ISO weeks (Monday to Sunday) or calendar months. A period cut by either end is left
    out: its count is not comparable with the plan's."""
    out = []
    if per is Period.DAY:
        day = start
        while day <= end:
            out.append((day, day))
            day += timedelta(days=1)
        return out
    if per is Period.WEEK:
        monday = start + timedelta(days=(7 - start.weekday()) % 7)
        while monday + timedelta(days=6) <= end:
            out.append((monday, monday + timedelta(days=6)))
            monday += timedelta(days=7)
        return out
    first = start if start.day == 1 else _next_month(start)
    while True:
        following = _next_month(first)
        last = following - timedelta(days=1)
        if last > end:
            return out
        out.append((first, last))
        first = following


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def check(
    planned: Mapping[str, Frequency | None],
    deliveries: Iterable[Delivery],
    *,
    start: date,
    end: date,
    service_user_until: date | None = None,
) -> list[Discrepancy]:
    """Compare delivered with planned from `start` to `end` (inclusive).

    `planned` maps each service of the plan to how much of it per period (None: no
    measure, nothing to count). Each whole period of a measured service yields SHORT or
    OVER when the delivered quantity differs; deliveries of an unplanned service yield
    UNPLANNED; deliveries after `service_user_until` (the last day the client was a
    service user) yield AFTER_SERVICE_END, once per service, from the first such day.
    """
    by_service: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    after_end: dict[str, tuple[date, int]] = {}
    for d in deliveries:
        if not start <= d.delivered_on <= end:
            continue
        by_service[d.service_code][d.delivered_on] += d.quantity
        if service_user_until is not None and d.delivered_on > service_user_until:
            first, total = after_end.get(d.service_code, (d.delivered_on, 0))
            after_end[d.service_code] = (min(first, d.delivered_on), total + d.quantity)
    found: list[Discrepancy] = []
    for code in sorted(by_service.keys() - planned.keys()):
        days = by_service[code]
        found.append(
            Discrepancy(
                DiscrepancyKind.UNPLANNED, code, min(days), max(days), 0, sum(days.values())
            )
        )
    measured_end = end if service_user_until is None else min(end, service_user_until)
    for code, frequency in sorted(planned.items()):
        if frequency is None:
            continue
        days = by_service.get(code, {})
        for first, last in periods(frequency.per, start, measured_end):
            delivered = sum(q for day, q in days.items() if first <= day <= last)
            if delivered != frequency.amount:
                kind = (
                    DiscrepancyKind.SHORT if delivered < frequency.amount else DiscrepancyKind.OVER
                )
                found.append(Discrepancy(kind, code, first, last, frequency.amount, delivered))
    for code, (first, total) in sorted(after_end.items()):
        found.append(Discrepancy(DiscrepancyKind.AFTER_SERVICE_END, code, first, end, 0, total))
    return found


# --------------------------------------------------------------------- input rules


def delivery_errors(
    *,
    service_code: str,
    delivered_on: date | None,
    quantity: int,
    delivered_by: str,
    receipt: str,
    cost: int,
    today: date,
    prefix: str = "",
) -> list[FieldError]:
    errors = []
    if not _CODE.match(service_code):
        errors.append(FieldError(f"{prefix}service_code", "is not a service code"))
    if delivered_on is None:
        errors.append(FieldError(f"{prefix}delivered_on", "is required (YYYY-MM-DD)"))
    elif delivered_on > today:
        errors.append(FieldError(f"{prefix}delivered_on", "is in the future"))
    if not 1 <= quantity <= MAX_QUANTITY:
        errors.append(FieldError(f"{prefix}quantity", f"between 1 and {MAX_QUANTITY}"))
    for name, value, most in (("delivered_by", delivered_by, 200), ("receipt", receipt, 100)):
        if not value.strip():
            errors.append(FieldError(f"{prefix}{name}", "is required"))
        elif len(value) > most or text_error(value):
            errors.append(FieldError(f"{prefix}{name}", f"plain text of at most {most}"))
    if not 0 <= cost <= 10_000_000:
        errors.append(FieldError(f"{prefix}cost", "between 0 and 10000000"))
    return errors


@dataclass(frozen=True)
class CsvRow:
    line: int
    plan_id: str
    service_code: str
    delivered_on: date
    quantity: int
    delivered_by: str
    receipt: str


@dataclass(frozen=True)
class LineError:
    line: int
    field: str
    description: str


@dataclass(frozen=True)
class ParsedCsv:
    rows: tuple[CsvRow, ...]
    errors: tuple[LineError, ...]


class UnreadableCsv(ValueError):
    """The file as a whole cannot be read (not text, no header, wrong columns)."""


def parse_csv(data: bytes, *, today: date) -> ParsedCsv:
    """A provider's delivery file: a header naming CSV_COLUMNS (any order), then one
    delivery a line. Each bad line is reported by its line number (the header is line
    1) and field; the file as a whole is refused only when it cannot be read."""
    if len(data) > MAX_CSV_BYTES:
        raise UnreadableCsv(f"larger than {MAX_CSV_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableCsv("not UTF-8 text") from None
    if "\x00" in text:
        raise UnreadableCsv("not text")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise UnreadableCsv(f"header: {exc}") from None
    if header is None:
        raise UnreadableCsv("empty file")
    names = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in names]
    if missing:
        raise UnreadableCsv(f"header lacks {', '.join(missing)}")
    index = {c: names.index(c) for c in CSV_COLUMNS}
    rows: list[CsvRow] = []
    errors: list[LineError] = []
    try:
        for cells in reader:
            line = reader.line_num
            if len(rows) + len(errors) >= MAX_CSV_ROWS:
                raise UnreadableCsv(f"more than {MAX_CSV_ROWS} rows")
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(names):
                errors.append(LineError(line, "", f"{len(cells)} cells, {len(names)} expected"))
                continue
            row, problems = _row(line, {c: cells[i].strip() for c, i in index.items()}, today)
            if problems:
                errors += problems
            elif row is not None:
                rows.append(row)
    except csv.Error as exc:
        raise UnreadableCsv(f"line {reader.line_num}: {exc}") from None
    return ParsedCsv(tuple(rows), tuple(errors))


def _row(line: int, cell: Mapping[str, str], today: date) -> tuple[CsvRow | None, list[LineError]]:
    problems: list[FieldError] = []
    if not _ID.match(cell["plan_id"]):
        problems.append(FieldError("plan_id", "is not a plan id"))
    delivered_on: date | None = None
    try:
        delivered_on = date.fromisoformat(cell["delivered_on"])
    except ValueError:
        problems.append(FieldError("delivered_on", "is not a date (YYYY-MM-DD)"))
    quantity = 0
    if cell["quantity"].isdigit() and len(cell["quantity"]) <= 6:
        quantity = int(cell["quantity"])
    problems += [
        e
        for e in delivery_errors(
            service_code=cell["service_code"],
            delivered_on=delivered_on,
            quantity=quantity,
            delivered_by=cell["delivered_by"],
            receipt=cell["receipt"],
            cost=0,
            today=today,
        )
        if not (e.field == "delivered_on" and delivered_on is None)
    ]
    if problems or delivered_on is None:
        return None, [LineError(line, e.field, e.description) for e in problems]
    return (
        CsvRow(
            line,
            cell["plan_id"],
            cell["service_code"],
            delivered_on,
            quantity,
            cell["delivered_by"],
            cell["receipt"],
        ),
        [],
    )


def month_of(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    return first, _next_month(first) - timedelta(days=1)


def closed_periods_touched(
    planned: Mapping[str, Frequency | None], days: Sequence[date], *, today: date
) -> tuple[date, date] | None:
    """The span to re-check after deliveries on `days`: every whole period of the
    plan's services containing one of those days and already over by `today`."""
    if not days:
        return None
    spans = []
    for frequency in planned.values():
        if frequency is None:
            continue
        for day in days:
            first, last = _period_around(frequency.per, day)
            if last < today:
                spans.append((first, last))
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


def _period_around(per: Period, day: date) -> tuple[date, date]:
    if per is Period.DAY:
        return day, day
    if per is Period.WEEK:
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    return month_of(day)
