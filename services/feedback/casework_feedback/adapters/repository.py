"""feedback's records in its own database (mongoengine), each scoped to the caller's
centres by `casework_common.repository`: another centre's record is not there.

Stored shapes keep user-chosen names (question ids, options) as values, never as keys:
a key with a dot or a dollar is not a valid field name in MongoDB.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import mongoengine as me
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict, NotFound
from casework_common.repository import ScopedRepository
from casework_common.storage import AggregateDocument
from casework_feedback.domain import campaigns, complaints, followup, reports
from casework_feedback.domain.responses import AspectFigures, Channel, Response
from casework_feedback.domain.surveys import (
    Aspect,
    Audience,
    DefinitionStatus,
    Question,
    QuestionKind,
    SurveyDefinition,
)
from casework_feedback.domain.visits import Visit


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _at(moment: datetime | None) -> datetime:
    value = _utc(moment)
    assert value is not None
    return value


# ------------------------------------------------------------------ surveys


class SurveyDocument(AggregateDocument):
    meta = {
        "collection": "survey_definitions",
        "indexes": [{"fields": ["organisation", "centre_id", "audience", "status"]}],
    }

    id = me.StringField(primary_key=True)  # "<survey_id>:<version>"
    survey_id = me.StringField(required=True)
    survey_version = me.IntField(required=True)
    centre_id = me.StringField(required=True)
    title = me.StringField(required=True)
    audience = me.StringField(required=True)
    language = me.StringField(default="en")
    status = me.StringField(required=True)
    department_id = me.StringField(default="")
    questions = me.ListField(me.DictField())
    created_by = me.StringField(default="")
    created_at = me.DateTimeField()


def _question_to_dict(q: Question) -> dict[str, Any]:
    return {
        "question_id": q.question_id,
        "kind": q.kind.value,
        "text": q.text,
        "aspect": q.aspect.value if q.aspect else "",
        "options": list(q.options),
        "scale_min": q.scale_min,
        "scale_max": q.scale_max,
        "required": q.required,
    }


def _question_from_dict(d: Mapping[str, Any]) -> Question:
    return Question(
        question_id=d["question_id"],
        kind=QuestionKind(d["kind"]),
        text=d["text"],
        aspect=Aspect(d["aspect"]) if d.get("aspect") else None,
        options=tuple(d.get("options") or ()),
        scale_min=int(d.get("scale_min", 1)),
        scale_max=int(d.get("scale_max", 5)),
        required=bool(d.get("required")),
    )


def survey_to_dict(s: SurveyDefinition) -> dict[str, Any]:
    return {
        "survey_id": s.survey_id,
        "version": s.version,
        "centre_id": s.centre_id,
        "title": s.title,
        "audience": s.audience.value,
        "language": s.language,
        "status": s.status.value,
        "department_id": s.department_id,
        "questions": [_question_to_dict(q) for q in s.questions],
    }


def survey_from_dict(d: Mapping[str, Any]) -> SurveyDefinition:
    return SurveyDefinition(
        survey_id=d["survey_id"],
        version=int(d["version"]),
        centre_id=d["centre_id"],
        title=d["title"],
        audience=Audience(d["audience"]),
        language=d.get("language") or "en",
        questions=tuple(_question_from_dict(q) for q in d.get("questions") or ()),
        status=DefinitionStatus(d["status"]),
        department_id=d.get("department_id") or "",
    )


def _survey(doc: SurveyDocument) -> SurveyDefinition:
    return dataclasses.replace(
        survey_from_dict(
            {
                "survey_id": doc.survey_id,
                "version": doc.survey_version,
                "centre_id": doc.centre_id,
                "title": doc.title,
                "audience": doc.audience,
                "language": doc.language,
                "status": doc.status,
                "department_id": doc.department_id,
                "questions": list(doc.questions),
            }
        ),
        created_by=doc.created_by,
        created_at=_utc(doc.created_at),
    )


def _write_survey(doc: SurveyDocument, s: SurveyDefinition) -> None:
    doc.survey_id = s.survey_id
    doc.survey_version = s.version
    doc.centre_id = s.centre_id
    doc.title = s.title
    doc.audience = s.audience.value
    doc.language = s.language
    doc.status = s.status.value
    doc.department_id = s.department_id
    doc.questions = [_question_to_dict(q) for q in s.questions]
    doc.created_by = s.created_by
    doc.created_at = s.created_at


class SurveyRepository(ScopedRepository[SurveyDocument]):
    document = SurveyDocument
    what = "survey"

    def get(self, survey_id: str, version: int = 0) -> SurveyDefinition:
        if version > 0:
            return _survey(self._one(f"{survey_id}:{version}"))
        doc = self._scoped().filter(survey_id=survey_id).order_by("-survey_version").first()
        if doc is None or not survey_id:
            raise NotFound(f"survey {survey_id} not found")
        return _survey(doc)

    def latest_version(self, survey_id: str) -> int:
        """The newest version number of a survey in any centre of the organisation
        (0 for none): a new version never reuses a number."""
        doc = self._unscoped().filter(survey_id=survey_id).order_by("-survey_version").first()
        return int(doc.survey_version) if doc else 0

    def add(self, survey: SurveyDefinition) -> None:
        doc = SurveyDocument(
            id=f"{survey.survey_id}:{survey.version}", organisation=self._organisation
        )
        _write_survey(doc, survey)
        self._save(doc)

    def change(self, survey: SurveyDefinition) -> None:
        doc = self._one(f"{survey.survey_id}:{survey.version}")
        _write_survey(doc, survey)
        self._save(doc)

    def taking_responses(self, centre_id: str, audience: Audience) -> list[SurveyDefinition]:
        docs = self._scoped().filter(
            centre_id=centre_id,
            audience=audience.value,
            status__in=[DefinitionStatus.PILOT.value, DefinitionStatus.PUBLISHED.value],
        )
        return [_survey(d) for d in docs]


# ------------------------------------------------------------------- visits


class VisitDocument(AggregateDocument):
    meta = {
        "collection": "visits",
        "indexes": [{"fields": ["sample_at"]}, {"fields": ["later_at"]}],
    }

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    department_id = me.StringField(default="")
    client_id = me.StringField(default="")
    worker_id = me.StringField(default="")
    visited_at = me.DateTimeField(required=True)
    answered = me.BooleanField(default=False)
    refused = me.BooleanField(default=False)
    later_call_welcome = me.BooleanField(default=False)
    sample_at = me.DateTimeField()
    later_at = me.DateTimeField()


def _visit(doc: VisitDocument) -> Visit:
    return Visit(
        visit_id=doc.id,
        centre_id=doc.centre_id,
        kind=Audience(doc.kind),
        department_id=doc.department_id,
        client_id=doc.client_id,
        worker_id=doc.worker_id,
        visited_at=_at(doc.visited_at),
        answered=bool(doc.answered),
        refused=bool(doc.refused),
        later_call_welcome=bool(doc.later_call_welcome),
        sample_at=_utc(doc.sample_at),
        later_at=_utc(doc.later_at),
    )


def _write_visit(doc: VisitDocument, v: Visit) -> None:
    doc.centre_id = v.centre_id
    doc.kind = v.kind.value
    doc.department_id = v.department_id
    doc.client_id = v.client_id
    doc.worker_id = v.worker_id
    doc.visited_at = v.visited_at
    doc.answered = v.answered
    doc.refused = v.refused
    doc.later_call_welcome = v.later_call_welcome
    doc.sample_at = v.sample_at
    doc.later_at = v.later_at


class VisitRepository(ScopedRepository[VisitDocument]):
    document = VisitDocument
    what = "visit"

    def get(self, visit_id: str) -> Visit:
        return _visit(self._one(visit_id))

    def add(self, visit: Visit) -> None:
        doc = VisitDocument(id=visit.visit_id, organisation=self._organisation)
        _write_visit(doc, visit)
        self._save(doc)

    def change(self, visit: Visit, events: Iterable[EventEnvelope] = ()) -> None:
        doc = self._one(visit.visit_id)
        looked_at = doc.later_at is None
        _write_visit(doc, visit)
        if looked_at:  # a stale copy never brings a later survey back
            doc.later_at = None
        self._save(doc, events)

    def due_for_sampling(self, now: datetime, limit: int = 100) -> list[Visit]:
        return [_visit(d) for d in self._scoped().filter(sample_at__lte=now).limit(limit)]

    def claim_later_survey(self, visit_id: str, events: Iterable[EventEnvelope]) -> bool:
        """Mark the visit's later survey looked at, with its events, in one
        version-guarded write; False when another process got there first."""
        doc = self._one(visit_id)
        if doc.later_at is None:
            return False
        doc.later_at = None
        try:
            self._save(doc, events)
        except Conflict:
            return False
        return True

    def due_for_later_survey(self, now: datetime, limit: int = 100) -> list[Visit]:
        return [_visit(d) for d in self._scoped().filter(later_at__lte=now).limit(limit)]


def organisations_with_later_surveys_due(now: datetime) -> list[str]:
    return sorted(VisitDocument.objects(later_at__lte=now).distinct("organisation"))


def client_refused_surveys(organisation: str, client_id: str) -> bool:
    """Whether the client ever refused surveys in this organisation (not counting a
    refusal that said a later call or a sent survey is fine)."""
    refusals = RefusalDocument.objects(
        organisation=organisation, client_id=client_id, later_call_welcome=False
    )
    return bool(client_id) and refusals.first() is not None


def organisations_with_visits_due(now: datetime) -> list[str]:
    return sorted(VisitDocument.objects(sample_at__lte=now).distinct("organisation"))


# -------------------------------------------------------------------- links


class LinkDocument(me.Document):
    """What a survey link opens, kept here so the link itself carries nothing personal."""

    meta = {"collection": "survey_links"}

    id = me.StringField(primary_key=True)  # the link id inside the token
    organisation = me.StringField(required=True)
    centre_id = me.StringField(required=True)
    department_id = me.StringField(default="")
    survey_id = me.StringField(required=True)
    survey_version = me.IntField(required=True)
    visit_id = me.StringField(default="")
    channel = me.StringField(default="link")
    expires_at = me.DateTimeField(required=True)
    used_at = me.DateTimeField()


@dataclasses.dataclass(frozen=True)
class LinkRecord:
    link_id: str
    organisation: str
    centre_id: str
    department_id: str
    survey_id: str
    version: int
    visit_id: str
    channel: str
    expires_at: datetime
    used: bool


def _link(doc: LinkDocument) -> LinkRecord:
    return LinkRecord(
        doc.id,
        doc.organisation,
        doc.centre_id,
        doc.department_id,
        doc.survey_id,
        doc.survey_version,
        doc.visit_id,
        doc.channel,
        _at(doc.expires_at),
        doc.used_at is not None,
    )


class LinkRepository:
    """Links are found by id alone: the public endpoint knows no organisation until
    the link names one."""

    def add(self, link: LinkRecord) -> None:
        LinkDocument(
            id=link.link_id,
            organisation=link.organisation,
            centre_id=link.centre_id,
            department_id=link.department_id,
            survey_id=link.survey_id,
            survey_version=link.version,
            visit_id=link.visit_id,
            channel=link.channel,
            expires_at=link.expires_at,
        ).save(force_insert=True)

    def get(self, link_id: str) -> LinkRecord | None:
        doc = LinkDocument.objects(id=link_id).first()
        return _link(doc) if doc else None

    def claim(self, link_id: str, now: datetime) -> bool:
        """Mark the link used; False when someone used it first (one atomic update)."""
        raw = LinkDocument._get_collection().find_one_and_update(
            {"_id": link_id, "used_at": None},
            {"$set": {"used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return raw is not None

    def release(self, link_id: str) -> None:
        """Give a claimed link back when its response could not be stored."""
        LinkDocument._get_collection().update_one({"_id": link_id}, {"$set": {"used_at": None}})


# ---------------------------------------------------------------- responses


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


def response_document(
    organisation: str, response: Response, figures: list[AspectFigures]
) -> ResponseDocument:
    at = response.received_at
    return ResponseDocument(
        **report_fields(response, figures),
        id=response.response_id,
        organisation=organisation,
        centre_id=response.centre_id,
        department_id=response.department_id,
        worker_id=response.worker_id,
        client_id=response.client_id,
        visit_id=response.occasion_id,
        survey_id=response.survey_id,
        survey_version=response.version,
        audience=response.audience.value,
        channel=response.channel.value,
        answers=[{"question_id": k, "value": v} for k, v in response.answers.items()],
        comment=response.comment,
        received_at=at,
        pilot=response.pilot,
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


def _response(doc: ResponseDocument) -> Response:
    return Response(
        response_id=doc.id,
        survey_id=doc.survey_id,
        version=doc.survey_version,
        centre_id=doc.centre_id,
        department_id=doc.department_id,
        audience=Audience(doc.audience),
        channel=Channel(doc.channel),
        answers={a["question_id"]: a["value"] for a in doc.answers},
        comment=doc.comment,
        received_at=_at(doc.received_at),
        pilot=bool(doc.pilot),
        client_id=doc.client_id,
        worker_id=doc.worker_id,
        occasion_id=doc.visit_id,
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


class RefusalDocument(me.Document):
    meta = {"collection": "refusals"}

    id = me.StringField(primary_key=True)
    organisation = me.StringField(required=True)
    centre_id = me.StringField(required=True)
    visit_id = me.StringField(required=True)
    client_id = me.StringField(default="")
    recorded_by = me.StringField(required=True)
    recorded_at = me.DateTimeField(required=True)
    later_call_welcome = me.BooleanField(default=False)


# -------------------------------------------------------------------- calls


class CallDocument(AggregateDocument):
    meta = {
        "collection": "follow_up_calls",
        "indexes": [{"fields": ["organisation", "client_id", "status"]}],
    }

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    client_id = me.StringField(required=True)
    occasion_id = me.StringField(default="")
    due_at = me.DateTimeField(required=True)
    status = me.StringField(required=True)
    assignee_id = me.StringField(default="")
    cancelled_because = me.StringField(default="")


def _call(doc: CallDocument) -> followup.FollowUpCall:
    return followup.FollowUpCall(
        call_id=doc.id,
        kind=followup.CallKind(doc.kind),
        centre_id=doc.centre_id,
        client_id=doc.client_id,
        occasion_id=doc.occasion_id,
        due_at=_at(doc.due_at),
        status=followup.CallStatus(doc.status),
        assignee_id=doc.assignee_id,
        cancelled_because=doc.cancelled_because,
    )


def _write_call(doc: CallDocument, c: followup.FollowUpCall) -> None:
    doc.centre_id = c.centre_id
    doc.kind = c.kind.value
    doc.client_id = c.client_id
    doc.occasion_id = c.occasion_id
    doc.due_at = c.due_at
    doc.status = c.status.value
    doc.assignee_id = c.assignee_id
    doc.cancelled_because = c.cancelled_because


class CallRepository(ScopedRepository[CallDocument]):
    document = CallDocument
    what = "follow-up call"

    def get(self, call_id: str) -> followup.FollowUpCall:
        return _call(self._one(call_id))

    def add(self, call: followup.FollowUpCall, events: Iterable[EventEnvelope]) -> None:
        doc = CallDocument(id=call.call_id, organisation=self._organisation)
        _write_call(doc, call)
        self._save(doc, events)

    def change(self, call: followup.FollowUpCall, events: Iterable[EventEnvelope]) -> None:
        doc = self._one(call.call_id)
        _write_call(doc, call)
        self._save(doc, events)

    def of_centre(self, centre_id: str, status: str = "") -> list[followup.FollowUpCall]:
        query = self._scoped().filter(centre_id=centre_id)
        if status:
            query = query.filter(status=status)
        return [_call(d) for d in query.order_by("due_at", "id")]

    def pending_of_client(self, client_id: str) -> list[followup.FollowUpCall]:
        query = self._scoped().filter(client_id=client_id, status=followup.CallStatus.PENDING.value)
        return [_call(d) for d in query]


# ------------------------------------------------------------------ consent


class ConsentDocument(me.Document):
    """feedback's read model of clients' consent to feedback calls."""

    meta = {"collection": "consent_feedback_calls"}

    id = me.StringField(primary_key=True)  # "<organisation>|<client_id>"
    organisation = me.StringField(required=True)
    client_id = me.StringField(required=True)
    granted = me.BooleanField(required=True)
    as_of = me.DateTimeField(required=True)
    event_id = me.StringField(default="")


class ConsentRepository:
    def __init__(self, organisation: str) -> None:
        self._organisation = organisation

    def _key(self, client_id: str) -> str:
        return f"{self._organisation}|{client_id}"

    def get(self, client_id: str) -> followup.ConsentState | None:
        doc = ConsentDocument.objects(id=self._key(client_id)).first()
        if doc is None:
            return None
        return followup.ConsentState(doc.client_id, bool(doc.granted), _at(doc.as_of))

    def keep(self, state: followup.ConsentState) -> None:
        """Store the state `apply_consent` decided (it already refused older news)."""
        ConsentDocument._get_collection().replace_one(
            {"_id": self._key(state.client_id)},
            {
                "_id": self._key(state.client_id),
                "organisation": self._organisation,
                "client_id": state.client_id,
                "granted": state.granted,
                "as_of": state.as_of,
            },
            upsert=True,
        )


# --------------------------------------------------------------- complaints


class ComplaintDocument(AggregateDocument):
    meta = {
        "collection": "complaints",
        "indexes": [{"fields": ["next_notice_at"]}, {"fields": ["organisation", "centre_id"]}],
    }

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    channel = me.StringField(required=True)
    subject = me.StringField(required=True)
    subject_ref = me.StringField(default="")
    client_id = me.StringField(default="")
    received_at = me.DateTimeField(required=True)
    answer_due = me.DateTimeField(required=True)
    entries = me.ListField(me.DictField())
    notices_sent = me.ListField(me.StringField())
    reply_to = me.StringField(default="")
    answered = me.BooleanField(default=False)
    # When the deadline timer next has something to say (None: nothing more).
    next_notice_at = me.DateTimeField()


def _complaint(doc: ComplaintDocument) -> complaints.Complaint:
    return complaints.Complaint(
        complaint_id=doc.id,
        centre_id=doc.centre_id,
        kind=complaints.ComplaintKind(doc.kind),
        channel=complaints.ComplaintChannel(doc.channel),
        subject=complaints.Subject(doc.subject),
        subject_ref=doc.subject_ref,
        client_id=doc.client_id,
        received_at=_at(doc.received_at),
        answer_due=_at(doc.answer_due),
        entries=tuple(
            complaints.Entry(
                e["entry_id"],
                complaints.EntryKind(e["kind"]),
                e["text"],
                e["by"],
                _at(e["at"]),
                e.get("corrects") or "",
            )
            for e in doc.entries
        ),
        notices_sent=frozenset(complaints.Notice(n) for n in doc.notices_sent),
        reply_to=doc.reply_to,
    )


def _write_complaint(doc: ComplaintDocument, c: complaints.Complaint, remind_before: Any) -> None:
    doc.centre_id = c.centre_id
    doc.kind = c.kind.value
    doc.channel = c.channel.value
    doc.subject = c.subject.value
    doc.subject_ref = c.subject_ref
    doc.client_id = c.client_id
    doc.received_at = c.received_at
    doc.answer_due = c.answer_due
    doc.entries = [
        {
            "entry_id": e.entry_id,
            "kind": e.kind.value,
            "text": e.text,
            "by": e.by,
            "at": e.at,
            "corrects": e.corrects,
        }
        for e in c.entries
    ]
    doc.notices_sent = sorted(n.value for n in c.notices_sent)
    doc.reply_to = c.reply_to
    doc.answered = c.answered
    doc.next_notice_at = complaints.next_notice_at(c, remind_before)


class ComplaintRepository(ScopedRepository[ComplaintDocument]):
    document = ComplaintDocument
    what = "complaint"
    remind_before = complaints.DEFAULT_REMIND_BEFORE

    def get(self, complaint_id: str) -> complaints.Complaint:
        return _complaint(self._one(complaint_id))

    def add(self, complaint: complaints.Complaint, events: Iterable[EventEnvelope]) -> None:
        doc = ComplaintDocument(id=complaint.complaint_id, organisation=self._organisation)
        _write_complaint(doc, complaint, self.remind_before)
        self._save(doc, events)

    def append(
        self,
        complaint: complaints.Complaint,
        events: Iterable[EventEnvelope] = (),
    ) -> None:
        """Store a complaint whose entries only grew (the domain never rewrites one):
        the stored entries must be a prefix of the new ones, else nothing is written."""
        doc = self._one(complaint.complaint_id)
        stored = [e["entry_id"] for e in doc.entries]
        if [e.entry_id for e in complaint.entries[: len(stored)]] != stored:
            raise complaints.refuse_change("rewritten")
        _write_complaint(doc, complaint, self.remind_before)
        self._save(doc, events)

    def with_notices_due(self, now: datetime, limit: int = 100) -> list[complaints.Complaint]:
        return [_complaint(d) for d in self._scoped().filter(next_notice_at__lte=now).limit(limit)]


def organisations_with_notices_due(now: datetime) -> list[str]:
    return sorted(ComplaintDocument.objects(next_notice_at__lte=now).distinct("organisation"))


# ---------------------------------------------------------------- campaigns


class CampaignDocument(AggregateDocument):
    meta = {"collection": "campaigns"}

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    provider_id = me.StringField(required=True)
    template = me.DictField(required=True)
    assignments = me.ListField(me.DictField())
    status = me.StringField(required=True)
    decision = me.StringField(default="")
    decision_note = me.StringField(default="")


def _campaign(doc: CampaignDocument) -> campaigns.Campaign:
    return campaigns.Campaign(
        campaign_id=doc.id,
        centre_id=doc.centre_id,
        provider_id=doc.provider_id,
        template=survey_from_dict(doc.template),
        assignments=tuple(
            campaigns.Assignment(
                client_id=a["client_id"],
                area=a["area"],
                reviewer_id=a["reviewer_id"],
                answers=None
                if a.get("answers") is None
                else {x["question_id"]: x["value"] for x in a["answers"]},
                answered_at=_utc(a.get("answered_at")),
                unreachable=bool(a.get("unreachable")),
                collected_by=campaigns.CollectedBy(a["collected_by"])
                if a.get("collected_by")
                else None,
            )
            for a in doc.assignments
        ),
        status=campaigns.CampaignStatus(doc.status),
        decision=campaigns.Decision(doc.decision) if doc.decision else None,
        decision_note=doc.decision_note,
    )


def _write_campaign(doc: CampaignDocument, c: campaigns.Campaign) -> None:
    doc.centre_id = c.centre_id
    doc.provider_id = c.provider_id
    doc.template = survey_to_dict(c.template)
    doc.assignments = [
        {
            "client_id": a.client_id,
            "area": a.area,
            "reviewer_id": a.reviewer_id,
            "answers": None
            if a.answers is None
            else [{"question_id": k, "value": v} for k, v in a.answers.items()],
            "answered_at": a.answered_at,
            "unreachable": a.unreachable,
            "collected_by": a.collected_by.value if a.collected_by else "",
        }
        for a in c.assignments
    ]
    doc.status = c.status.value
    doc.decision = c.decision.value if c.decision else ""
    doc.decision_note = c.decision_note


class CampaignRepository(ScopedRepository[CampaignDocument]):
    document = CampaignDocument
    what = "campaign"

    def get(self, campaign_id: str) -> campaigns.Campaign:
        return _campaign(self._one(campaign_id))

    def add(self, campaign: campaigns.Campaign) -> None:
        doc = CampaignDocument(id=campaign.campaign_id, organisation=self._organisation)
        _write_campaign(doc, campaign)
        self._save(doc)

    def change(self, campaign: campaigns.Campaign) -> None:
        doc = self._one(campaign.campaign_id)
        _write_campaign(doc, campaign)
        self._save(doc)


def insert_once(document: me.Document) -> bool:
    """Insert; False when a document with its id is already stored."""
    try:
        document.save(force_insert=True)
    except (me.NotUniqueError, DuplicateKeyError):
        return False
    return True


OUTBOX_DOCUMENTS = (
    SurveyDocument,
    VisitDocument,
    ResponseDocument,
    CallDocument,
    ComplaintDocument,
    CampaignDocument,
)
