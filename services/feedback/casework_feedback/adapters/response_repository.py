"""Responses in feedback's database, stored with the flat figures a report groups and
sums on, and the reports' aggregations over them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import mongoengine as me

from casework_common.envelope import EventEnvelope
from casework_common.repository import FLAG, UTC_INSTANT, ScopedRepository, StoredFields, enum_value
from casework_common.storage import AggregateDocument
from casework_feedback.domain import reports
from casework_feedback.domain.responses import AspectFigures, Channel, Response
from casework_feedback.domain.surveys import Aspect, Audience

SEPARATOR = "\x1f"
"""Joins a group and its period into one key (the unit separator: no id holds it)."""

GROUP_KEYS = {
    (dimension, granularity): f"k_{dimension.value}_{granularity.value}"
    for dimension in (
        reports.Dimension.CENTRE,
        reports.Dimension.DEPARTMENT,
        reports.Dimension.WORKER,
    )
    for granularity in reports.Granularity
}
"""The stored key each report groups on: "<centre><SEPARATOR><group><SEPARATOR><period>"
(the centre too, so that one aggregation also gives the themes per centre)."""
ASPECT_SUMS = ("at", "an", "aneg", "ar", "arneg")
"""Per aspect: score total, answers, negative answers, whether answered (0/1), whether
any answer on it was negative (0/1)."""


def report_fields(response: Response, figures: list[AspectFigures]) -> dict[str, Any]:
    """What a report reads, stored flat with the response: the development server
    groups fast on a plain field and sums plain fields, but evaluates expressions
    (`$concat`, a dotted path after `$unwind`) slowly or not at all, so the keys and
    the per-aspect sums are written once here instead of computed at every report."""
    values = {
        reports.Dimension.CENTRE: response.centre_id,
        reports.Dimension.DEPARTMENT: response.department_id,
        reports.Dimension.WORKER: response.worker_id,
    }
    out: dict[str, Any] = {
        key: SEPARATOR.join(
            (
                response.centre_id,
                values[dimension],
                reports.period_of(response.received_at, granularity),
            )
        )
        for (dimension, granularity), key in GROUP_KEYS.items()
    }
    for f in figures:
        if not f.aspect:
            continue
        out[f"at_{f.aspect}"] = f.score_total
        out[f"an_{f.aspect}"] = float(f.answers)
        out[f"aneg_{f.aspect}"] = float(f.negative)
        out[f"ar_{f.aspect}"] = 1.0
        out[f"arneg_{f.aspect}"] = 1.0 if f.negative else 0.0
    return out


class ResponseDocument(AggregateDocument):
    """A response and the figures a report sums: per response (score_total, answers,
    negative) and per aspect (`figures`), and its periods precomputed so that the
    aggregation groups on plain fields."""

    meta = {
        "collection": "responses",
        "indexes": [{"fields": ["organisation", "centre_id", "pilot", "received_at"]}],
    }

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    department_id = me.StringField(default="")
    worker_id = me.StringField(default="")
    client_id = me.StringField(default="")
    visit_id = me.StringField(default="")
    survey_id = me.StringField(required=True)
    survey_version = me.IntField(required=True)
    audience = me.StringField(required=True)
    channel = me.StringField(required=True)
    answers = me.ListField(me.DictField())
    comment = me.StringField(default="")
    received_at = me.DateTimeField(required=True)
    pilot = me.BooleanField(default=False)
    day = me.StringField()
    week = me.StringField()
    month = me.StringField()
    score_total = me.FloatField(default=0.0)
    scored = me.IntField(default=0)
    negative = me.IntField(default=0)
    figures = me.ListField(me.DictField())
    # Flat fields a report groups and sums on (see `report_fields`).
    for _name, _field in (
        *((key, me.StringField(default="")) for key in GROUP_KEYS.values()),
        *(
            (f"{prefix}_{aspect.value}", me.FloatField(default=0.0))
            for aspect in Aspect
            for prefix in ASPECT_SUMS
        ),
    ):
        locals()[_name] = _field
    del _name, _field


# The response's own attributes, but for those its document names otherwise or keeps
# as a list (`apart`: mapped by hand below).
RESPONSE_FIELDS = StoredFields(
    Response,
    "response_id",
    apart=("version", "occasion_id", "answers"),
    audience=enum_value(Audience),
    channel=enum_value(Channel),
    received_at=UTC_INSTANT,
    pilot=FLAG,
)


def response_document(
    organisation: str, response: Response, figures: list[AspectFigures]
) -> ResponseDocument:
    at = response.received_at
    doc = ResponseDocument(
        **report_fields(response, figures),
        id=response.response_id,
        organisation=organisation,
        visit_id=response.occasion_id,
        survey_version=response.version,
        answers=[{"question_id": k, "value": v} for k, v in response.answers.items()],
        day=reports.period_of(at, reports.Granularity.DAY),
        week=reports.period_of(at, reports.Granularity.WEEK),
        month=reports.period_of(at, reports.Granularity.MONTH),
        score_total=sum(f.score_total for f in figures),
        scored=sum(f.answers for f in figures),
        negative=sum(f.negative for f in figures),
        figures=[
            {
                "aspect": f.aspect,
                "total": f.score_total,
                "answers": f.answers,
                "negative": f.negative,
            }
            for f in figures
        ],
    )
    RESPONSE_FIELDS.write(doc, response)
    return doc


def _response(doc: ResponseDocument) -> Response:
    return RESPONSE_FIELDS.read(
        doc,
        version=doc.survey_version,
        occasion_id=doc.visit_id,
        answers={a["question_id"]: a["value"] for a in doc.answers},
    )


class ResponseRepository(ScopedRepository[ResponseDocument]):
    document = ResponseDocument
    what = "response"

    def add(
        self, response: Response, figures: list[AspectFigures], events: Iterable[EventEnvelope] = ()
    ) -> None:
        self._save(response_document(self._organisation, response, figures), events)

    def get(self, response_id: str) -> Response:
        return _response(self._one(response_id))

    # ---------------------------------------------------------------- reports

    def _match(
        self,
        centre_ids: Iterable[str],
        received_from: datetime | None,
        received_before: datetime | None,
    ) -> dict[str, Any]:
        match: dict[str, Any] = {
            "organisation": self._organisation,
            "pilot": False,
            "centre_id": {"$in": sorted(centre_ids)},
        }
        if received_from or received_before:
            span: dict[str, Any] = {}
            if received_from:
                span["$gte"] = received_from
            if received_before:
                span["$lt"] = received_before
            match["received_at"] = span
        return match

    def report_figures(
        self,
        dimension: reports.Dimension,
        granularity: reports.Granularity,
        centre_ids: Iterable[str],
        received_from: datetime | None = None,
        received_before: datetime | None = None,
    ) -> tuple[list[reports.GroupFigures], list[tuple[str, reports.AspectCount]]]:
        """The report's sums per group and period, and per centre and aspect (the
        themes), each one database aggregation over plain stored fields, grouped by
        stored keys (centre, group, period) and folded here over the centres: a few
        rows per group, nothing per response comes back to the service.

        Two aggregations with few accumulators each, not one with all of them: the
        development server's cost grows with every accumulator it sums per document
        (measured: one pass with 34 sums took twice as long as these two)."""
        match = {"$match": self._match(self._allowed(centre_ids), received_from, received_before)}
        collection = ResponseDocument._get_collection()
        aspect_report = dimension is reports.Dimension.ASPECT
        by = reports.Dimension.CENTRE if aspect_report else dimension
        sums: dict[str, dict[str, object]]
        if aspect_report:
            sums = {
                f"{prefix}_{aspect.value}": {"$sum": f"${prefix}_{aspect.value}"}
                for aspect in Aspect
                for prefix in ("at", "an", "aneg", "ar")
            }
        else:
            sums = {
                "responses": {"$sum": 1},
                "total": {"$sum": "$score_total"},
                "answers": {"$sum": "$scored"},
                "negative": {"$sum": "$negative"},
            }
        groups: dict[tuple[str, str], list[float]] = {}

        def fold(
            key: tuple[str, str], responses: int, total: float, answers: int, negative: int
        ) -> None:
            acc = groups.setdefault(key, [0, 0.0, 0, 0])
            acc[0] += responses
            acc[1] += total
            acc[2] += answers
            acc[3] += negative

        rows = collection.aggregate(
            [match, {"$group": {"_id": f"${GROUP_KEYS[(by, granularity)]}", **sums}}]
        )
        for row in rows:
            parts = str(row["_id"] or "").split(SEPARATOR)
            _, group, period = (*parts, "", "", "")[:3]
            if not aspect_report:
                fold(
                    (group, period),
                    int(row["responses"]),
                    float(row["total"] or 0),
                    int(row["answers"] or 0),
                    int(row["negative"] or 0),
                )
                continue
            for aspect in Aspect:
                answered = int(row[f"ar_{aspect.value}"] or 0)
                if answered:
                    fold(
                        (aspect.value, period),
                        answered,
                        float(row[f"at_{aspect.value}"] or 0),
                        int(row[f"an_{aspect.value}"] or 0),
                        int(row[f"aneg_{aspect.value}"] or 0),
                    )
        figures = [
            reports.GroupFigures(group, period, int(a[0]), float(a[1]), int(a[2]), int(a[3]))
            for (group, period), a in groups.items()
        ]
        theme_sums = {
            f"{prefix}_{aspect.value}": {"$sum": f"${prefix}_{aspect.value}"}
            for aspect in Aspect
            for prefix in ("ar", "arneg")
        }
        counts = []
        for row in collection.aggregate([match, {"$group": {"_id": "$centre_id", **theme_sums}}]):
            for aspect in Aspect:
                answered = int(row[f"ar_{aspect.value}"] or 0)
                if answered:
                    negative = int(row[f"arneg_{aspect.value}"] or 0)
                    counts.append(
                        (str(row["_id"]), reports.AspectCount(aspect.value, answered, negative))
                    )
        return figures, counts

    def _allowed(self, centre_ids: Iterable[str]) -> list[str]:
        asked = set(centre_ids)
        if self._centres is None:
            return sorted(asked)
        return sorted(asked & self._centres) if asked else sorted(self._centres)
