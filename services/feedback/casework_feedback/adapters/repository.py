"""feedback's records in its own database (mongoengine), each scoped to the caller's
centres by `casework_common.repository`: another centre's record is not there. This
module keeps survey definitions, visits, refusals and survey links; responses,
follow-up calls (and consent), complaints and campaigns each have a module of their
own beside it (`*_repository`), and `documents` lists those that carry an outbox.

Stored shapes keep user-chosen names (question ids, options) as values, never as keys:
a key with a dot or a dollar is not a valid field name in MongoDB.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import mongoengine as me
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict, NotFound
from casework_common.repository import (
    FLAG,
    UTC_INSTANT,
    AggregateRepository,
    StoredFields,
    as_utc,
    enum_value,
)
from casework_common.storage import AggregateDocument
from casework_feedback.domain import surveys
from casework_feedback.domain.visits import Visit


def at(moment: datetime | None) -> datetime:
    """An instant that is always stored, as an aware UTC datetime."""
    value = as_utc(moment)
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


def _question_to_dict(q: surveys.Question) -> dict[str, Any]:
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


def _question_from_dict(d: Mapping[str, Any]) -> surveys.Question:
    return surveys.Question(
        question_id=d["question_id"],
        kind=surveys.QuestionKind(d["kind"]),
        text=d["text"],
        aspect=surveys.Aspect(d["aspect"]) if d.get("aspect") else None,
        options=tuple(d.get("options") or ()),
        scale_min=int(d.get("scale_min", 1)),
        scale_max=int(d.get("scale_max", 5)),
        required=bool(d.get("required")),
    )


def survey_to_dict(s: surveys.SurveyDefinition) -> dict[str, Any]:
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


def survey_from_dict(d: Mapping[str, Any]) -> surveys.SurveyDefinition:
    return surveys.SurveyDefinition(
        survey_id=d["survey_id"],
        version=int(d["version"]),
        centre_id=d["centre_id"],
        title=d["title"],
        audience=surveys.Audience(d["audience"]),
        language=d.get("language") or "en",
        questions=tuple(_question_from_dict(q) for q in d.get("questions") or ()),
        status=surveys.DefinitionStatus(d["status"]),
        department_id=d.get("department_id") or "",
    )


def _survey(doc: SurveyDocument) -> surveys.SurveyDefinition:
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
        created_at=as_utc(doc.created_at),
    )


def _write_survey(doc: SurveyDocument, s: surveys.SurveyDefinition) -> None:
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


class SurveyRepository(AggregateRepository[SurveyDocument, surveys.SurveyDefinition]):
    """Survey definitions, one record per version (`<survey_id>:<version>`)."""

    document = SurveyDocument
    what = "survey"

    def _read(self, doc: SurveyDocument) -> surveys.SurveyDefinition:
        return _survey(doc)

    def _write(self, doc: SurveyDocument, survey: surveys.SurveyDefinition) -> None:
        _write_survey(doc, survey)

    def _id_of(self, survey: surveys.SurveyDefinition) -> str:
        return f"{survey.survey_id}:{survey.version}"

    def get(self, survey_id: str, version: int = 0) -> surveys.SurveyDefinition:
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

    def taking_responses(
        self, centre_id: str, audience: surveys.Audience
    ) -> list[surveys.SurveyDefinition]:
        docs = self._scoped().filter(
            centre_id=centre_id,
            audience=audience.value,
            status__in=[
                surveys.DefinitionStatus.PILOT.value,
                surveys.DefinitionStatus.PUBLISHED.value,
            ],
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


VISIT_FIELDS = StoredFields(
    Visit,
    "visit_id",
    kind=enum_value(surveys.Audience),
    visited_at=UTC_INSTANT,
    sample_at=UTC_INSTANT,
    later_at=UTC_INSTANT,
    answered=FLAG,
    refused=FLAG,
    later_call_welcome=FLAG,
)


class VisitRepository(AggregateRepository[VisitDocument, Visit]):
    document = VisitDocument
    fields = VISIT_FIELDS
    what = "visit"
    # Answered, or sampled: marks only feedback reads, stored without an event.
    quiet_changes = True

    def change(self, visit: Visit, events: Iterable[EventEnvelope] = ()) -> None:
        doc = self._one(visit.visit_id)
        looked_at = doc.later_at is None
        VISIT_FIELDS.write(doc, visit)
        if looked_at:  # a stale copy never brings a later survey back
            doc.later_at = None
        self._save(doc, events)

    def due_for_sampling(self, now: datetime, limit: int = 100) -> list[Visit]:
        due = self._scoped().filter(sample_at__lte=now).limit(limit)
        return [VISIT_FIELDS.read(d) for d in due]

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
        return [VISIT_FIELDS.read(d) for d in self._scoped().filter(later_at__lte=now).limit(limit)]


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


def insert_once(document: me.Document) -> bool:
    """Insert; False when a document with its id is already stored."""
    try:
        document.save(force_insert=True)
    except (me.NotUniqueError, DuplicateKeyError):
        return False
    return True


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
        at(doc.expires_at),
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
