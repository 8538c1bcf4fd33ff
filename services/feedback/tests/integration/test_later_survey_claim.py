"""The later survey's claim against a real MongoDB-wire server: two events processes
that read the same due visits issue each later survey once, and a client who refused
surveys gets none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import mongoengine as me
import pytest

from casework_common.auth import Principal
from casework_common.unit_of_work import SystemActor, UnitOfWork
from casework_feedback.adapters.repository import LinkRepository, SurveyRepository, VisitRepository
from casework_feedback.domain.surveys import (
    Aspect,
    Audience,
    DefinitionStatus,
    Question,
    QuestionKind,
    SurveyDefinition,
)
from casework_feedback.domain.visits import Visit
from casework_feedback.use_cases import visits as use_visits

pytestmark = pytest.mark.usefixtures("mongo_db")

ORG = "org-demo"
CENTRE = "ctr-north-town"
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
SECRET = b"later-survey-test-secret-32-bytes!"
ANNA = Principal(
    organisation=ORG,
    subject="w-anna",
    kind="worker",
    centres=frozenset({CENTRE}),
    roles=frozenset({"case_worker"}),
    scopes=frozenset(),
)


class SnapshotVisits(VisitRepository):
    """What one events process read before the other wrote."""

    def __init__(self, snapshot: list[Visit], uow: UnitOfWork) -> None:
        super().__init__(ORG, None, uow)
        self._snapshot = snapshot

    def due_for_later_survey(self, now: datetime, limit: int = 100) -> list[Visit]:
        return self._snapshot


def create_later_survey(**overrides: Any) -> SurveyDefinition:
    values: dict[str, Any] = {
        "survey_id": "srv-later",
        "version": 1,
        "centre_id": CENTRE,
        "title": "Some days after your visit",
        "audience": Audience.LATER,
        "language": "en",
        "questions": (
            Question("clear", QuestionKind.SMILEY, "Was it clear?", Aspect.COMMUNICATION),
        ),
        "status": DefinitionStatus.PUBLISHED,
    }
    values.update(overrides)
    return SurveyDefinition(**values)


def record_visit(client_id: str) -> str:
    with UnitOfWork(ANNA, now=T0) as uow:
        recorded = use_visits.record_visit(
            use_visits.RecordVisit(CENTRE, "front_line", "", client_id, ""),
            uow,
            VisitRepository.for_caller(ANNA, uow),
            SurveyRepository.for_caller(ANNA, uow),
            LinkRepository(),
            secret=SECRET,
            validity=timedelta(days=3),
            sample_after=timedelta(hours=2),
            later_after=WEEK,
        )
    return recorded.visit.visit_id


def issue(uow: UnitOfWork, repository: VisitRepository) -> int:
    return use_visits.issue_later_surveys(
        uow,
        ORG,
        repository,
        SurveyRepository(ORG, None),
        LinkRepository(),
        secret=SECRET,
        validity=timedelta(days=3),
    )


def later_issued() -> list[dict[str, Any]]:
    db = me.get_db()
    return [
        event
        for doc in db["visits"].find({})
        for event in doc.get("outbox") or []
        if event.get("type") == "feedback.survey.later_issued"
    ]


def test_two_events_processes_issue_each_later_survey_once_and_none_to_a_client_who_refused() -> (
    None
):
    SurveyRepository(ORG, None).add(create_later_survey())
    visit_id = record_visit("cl-willing")
    refused_at = record_visit("cl-refusing")
    with UnitOfWork(ANNA, now=T0) as uow:
        use_visits.record_refusal(refused_at, False, uow, VisitRepository.for_caller(ANNA, uow))
    refused_before = record_visit("cl-refusing")
    welcome_later = record_visit("cl-not-now")
    with UnitOfWork(ANNA, now=T0) as uow:
        use_visits.record_refusal(welcome_later, True, uow, VisitRepository.for_caller(ANNA, uow))

    due_at = T0 + WEEK + timedelta(minutes=1)
    snapshot = VisitRepository(ORG, None).due_for_later_survey(due_at)
    assert {v.visit_id for v in snapshot} == {visit_id, refused_before, welcome_later}
    for _ in range(2):  # two processes, each with what it read
        with UnitOfWork(SystemActor("feedback"), now=due_at) as uow:
            issue(uow, SnapshotVisits(snapshot, uow))
    with UnitOfWork(SystemActor("feedback"), now=due_at + WEEK) as uow:
        assert issue(uow, VisitRepository(ORG, None, uow)) == 0  # nothing left waiting

    issued = later_issued()
    # A refusal that said a sent survey is fine does not stop it.
    assert sorted(e["payload"]["visit_id"] for e in issued) == sorted([visit_id, welcome_later])
    willing = next(e["payload"] for e in issued if e["payload"]["visit_id"] == visit_id)
    assert willing["client_id"] == "cl-willing"
    assert "cl-willing" not in willing["link"]


def test_a_later_survey_not_yet_due_is_left_for_a_later_tick() -> None:
    SurveyRepository(ORG, None).add(create_later_survey())
    visit_id = record_visit("cl-early")
    early = T0 + WEEK - timedelta(minutes=1)
    snapshot = VisitRepository(ORG, None).due_for_later_survey(T0 + WEEK)
    with UnitOfWork(SystemActor("feedback"), now=early) as uow:
        issue(uow, SnapshotVisits(snapshot, uow))
    assert later_issued() == []
    with UnitOfWork(SystemActor("feedback"), now=T0 + WEEK) as uow:
        issue(uow, VisitRepository(ORG, None, uow))
    assert [e["payload"]["visit_id"] for e in later_issued()] == [visit_id]
