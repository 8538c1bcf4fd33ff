"""Reports over responses: one database aggregation, then the suppression rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from casework_common.errors import FieldError, InvalidArgument, NotFound
from casework_common.unit_of_work import UnitOfWork
from casework_feedback.adapters.response_repository import ResponseRepository
from casework_feedback.domain import reports
from casework_feedback.domain.reports import Dimension, Granularity, ReportRow, Theme
from casework_feedback.use_cases._common import choice


@dataclasses.dataclass(frozen=True)
class ReportRequest:
    dimension: str
    granularity: str
    centre_ids: Sequence[str]
    received_from: datetime | None
    received_before: datetime | None


@dataclasses.dataclass(frozen=True)
class Report:
    rows: list[ReportRow]
    themes: list[Theme]
    minimum_group: int


def feedback_report(
    request: ReportRequest, uow: UnitOfWork, repository: ResponseRepository, *, minimum_group: int
) -> Report:
    errors: list[FieldError] = []
    dimension = choice(Dimension, request.dimension, "dimension", errors)
    granularity = choice(Granularity, request.granularity or "month", "granularity", errors)
    if (
        request.received_from
        and request.received_before
        and request.received_from >= request.received_before
    ):
        errors.append(FieldError("received_before", "must be after received_from"))
    if errors or dimension is None or granularity is None:
        raise InvalidArgument(errors)
    for centre_id in request.centre_ids:
        if centre_id not in uow.principal.centres:
            raise NotFound(f"centre {centre_id} not found")
    centres = list(request.centre_ids) or sorted(uow.principal.centres)
    figures, aspect_counts = repository.report_figures(
        dimension, granularity, centres, request.received_from, request.received_before
    )
    rows = reports.report_rows(figures, minimum_group)
    themes = reports.themes_from_figures(aspect_counts, minimum_group)
    return Report(rows, themes, minimum_group)
