"""Outreach and projects against the database MONGO_URI names (the development wire
server by default): the timers' queries, reminder / outcome request / overdue flag
each stored and announced once, tasks and comments kept inside the project by whole-
document replace, scoping by centre, and refused input storing nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from casework_common.auth import Principal
from casework_common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from casework_common.organisation import parse
from casework_common.unit_of_work import SystemActor, UnitOfWork
from casework_intake import services
from casework_intake.adapters import repository as repo
from casework_intake.adapters.repository import (
    OutreachDocument,
    OutreachRepository,
    ProjectDocument,
    ProjectRepository,
)
from casework_intake.domain.outreach import ActivityType, Outcome, OutreachStatus, PlanOutreach
from casework_intake.domain.projects import CreateProject, TaskStatus

DEV = parse(
    json.loads(
        (Path(__file__).resolve().parents[4] / "config" / "organisation.dev.json").read_text()
    )
)
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


TIMERS = SystemActor("intake")


def unit(caller: Principal | SystemActor = TIMERS, at: datetime = T0) -> UnitOfWork:
    return UnitOfWork(caller, now=at)


def create_principal(**overrides: Any) -> Principal:
    fields: dict[str, Any] = {
        "organisation": "org-demo",
        "subject": "w-anna",
        "kind": "worker",
        "centres": frozenset({"ctr-north-town"}),
        "roles": frozenset({"case_worker"}),
        "scopes": frozenset(),
    }
    fields.update(overrides)
    return Principal(**fields)


ANNA = create_principal()
PETR = create_principal(
    subject="w-petr", centres=frozenset({"ctr-north-town", "ctr-north-village"})
)
ILZE = create_principal(subject="w-ilze", centres=frozenset({"ctr-south-city"}))

pytestmark = pytest.mark.usefixtures("mongo_db")


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


def create_plan(**overrides: Any) -> PlanOutreach:
    fields: dict[str, Any] = {
        "worker_id": "",
        "centre_id": "ctr-north-town",
        "activity_type": ActivityType.GROUP_EVENT,
        "planned_at": T0 + 48 * HOUR,
        "place": "town library",
        "description": "talk on housing benefit",
        "idempotency_key": new_key(),
    }
    fields.update(overrides)
    return PlanOutreach(**fields)


def plan(principal: Principal = ANNA, **overrides: Any) -> Any:
    return services.plan_outreach(
        create_plan(**overrides),
        unit(principal),
        DEV,
        OutreachRepository("org-demo", principal.centres),
        reminder_hours=24,
    )


def unscoped(org: str) -> OutreachRepository:
    return OutreachRepository(org, None)


def outbox_types(doc: Any) -> list[str]:
    return [e["type"] for e in doc.outbox]


def test_a_planned_activity_is_stored_with_its_event_and_listed_in_scope() -> None:
    planned = plan()
    doc = OutreachDocument.objects(id=planned.outreach_id).get()
    assert doc.worker_id == "w-anna" and doc.status == "planned"
    assert outbox_types(doc) == ["intake.outreach.planned"]
    assert doc.remind_at == T0 + 24 * HOUR
    mine = OutreachRepository("org-demo", ANNA.centres)
    listed = mine.page(centre_id="", worker_id="w-anna", status="planned", offset=0, limit=10)
    assert [o.outreach_id for o in listed] == [planned.outreach_id]
    assert mine.page(centre_id="", worker_id="w-petr", status="", offset=0, limit=10) == []
    assert mine.page(centre_id="", worker_id="", status="done", offset=0, limit=10) == []
    south = OutreachRepository("org-demo", ILZE.centres)
    assert south.page(centre_id="", worker_id="", status="", offset=0, limit=10) == []
    with pytest.raises(NotFound):
        south.get(planned.outreach_id)


def test_a_refused_plan_stores_nothing() -> None:
    with pytest.raises(InvalidArgument):
        plan(planned_at=T0 - HOUR)
    with pytest.raises(PermissionDenied):
        plan(ANNA, centre_id="ctr-north-village", worker_id="w-petr")
    assert OutreachDocument.objects.count() == 0


def test_the_reminder_and_the_outcome_request_are_stored_and_announced_once() -> None:
    planned = plan()
    early = plan(planned_at=T0 + 100 * HOUR)
    moment = T0 + 30 * HOUR
    due = repo.outreach_needing_reminder(moment)
    assert [o.outreach_id for o in due] == [planned.outreach_id]
    assert services.remind_outreach(unit(at=moment), due, unscoped) == 1
    # A second timer working from the same stale read emits nothing more.
    assert services.remind_outreach(unit(at=moment), due, unscoped) == 0
    assert repo.outreach_needing_reminder(moment) == []
    after = T0 + 50 * HOUR
    due = repo.outreach_needing_outcome(after)
    assert [o.outreach_id for o in due] == [planned.outreach_id]
    assert services.request_outreach_outcomes(unit(at=after), due, unscoped) == 1
    assert services.request_outreach_outcomes(unit(at=after), due, unscoped) == 0
    doc = OutreachDocument.objects(id=planned.outreach_id).get()
    assert outbox_types(doc) == [
        "intake.outreach.planned",
        "intake.outreach.reminder_due",
        "intake.outreach.outcome_due",
    ]
    assert doc.reminded_at == moment and doc.outcome_requested_at == after
    untouched = OutreachDocument.objects(id=early.outreach_id).get()
    assert untouched.reminded_at is None


def test_an_outcome_is_recorded_once_after_the_activity_and_a_second_stores_nothing() -> None:
    planned = plan()
    mine = OutreachRepository("org-demo", PETR.centres)
    outcome = Outcome("14 visitors, 4 asked for an appointment", 14, 4)
    with pytest.raises(FailedPrecondition):
        services.record_outreach_outcome(
            services.RecordOutreachOutcome(planned.outreach_id, outcome),
            unit(PETR, T0 + HOUR),
            mine,
        )
    done = services.record_outreach_outcome(
        services.RecordOutreachOutcome(planned.outreach_id, outcome),
        unit(PETR, T0 + 49 * HOUR),
        mine,
    )
    assert done.status is OutreachStatus.DONE and done.outcome_recorded_by == "w-petr"
    version = OutreachDocument.objects(id=planned.outreach_id).get().version
    with pytest.raises(FailedPrecondition):
        services.record_outreach_outcome(
            services.RecordOutreachOutcome(planned.outreach_id, Outcome("again", 1, 0)),
            unit(PETR, T0 + 50 * HOUR),
            mine,
        )
    doc = OutreachDocument.objects(id=planned.outreach_id).get()
    assert doc.version == version and doc.outcome == outcome.text and doc.people_reached == 14
    # Nothing is asked about an activity whose outcome is in.
    assert repo.outreach_needing_outcome(T0 + 60 * HOUR) == []


def test_a_cancelled_activity_is_left_alone_by_the_timer() -> None:
    planned = plan()
    services.cancel_outreach(
        services.CancelOutreach(planned.outreach_id),
        unit(ANNA),
        OutreachRepository("org-demo", ANNA.centres),
    )
    assert repo.outreach_needing_reminder(T0 + 30 * HOUR) == []
    assert repo.outreach_needing_outcome(T0 + 60 * HOUR) == []


# ----------------------------------------------------------------------- projects


def create_project(principal: Principal = ANNA, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "name": "Open day",
        "centre_id": "ctr-north-town",
        "description": "",
        "members": ("w-petr",),
        "idempotency_key": new_key(),
    }
    fields.update(overrides)
    return services.create_project(
        CreateProject(**fields),
        unit(principal),
        DEV,
        ProjectRepository("org-demo", principal.centres),
    )


def projects_of(principal: Principal) -> ProjectRepository:
    return ProjectRepository("org-demo", principal.centres)


def test_tasks_and_comments_live_in_the_project_and_survive_each_whole_replace() -> None:
    project = create_project()
    repo_anna = projects_of(ANNA)
    _, first = services.add_task(
        services.AddTask(project.project_id, "book the hall", "w-petr", T0 + 24 * HOUR, new_key()),
        unit(ANNA, T0),
        repo_anna,
    )
    _, second = services.add_task(
        services.AddTask(project.project_id, "print leaflets", "w-anna", T0 + 30 * HOUR, new_key()),
        unit(ANNA, T0),
        repo_anna,
    )
    services.comment_on_task(
        services.CommentOnTask(project.project_id, second.task_id, "ordered 200", new_key()),
        unit(PETR, T0 + HOUR),
        projects_of(PETR),
    )
    services.complete_task(
        services.CompleteTask(project.project_id, second.task_id),
        unit(PETR, T0 + 2 * HOUR),
        projects_of(PETR),
    )
    stored = repo_anna.get(project.project_id)
    assert [t.task_id for t in stored.tasks] == [first.task_id, second.task_id]
    assert stored.task(second.task_id).status is TaskStatus.DONE
    assert stored.task(second.task_id).comments[0].text == "ordered 200"
    assert stored.task(second.task_id).comments[0].created_at == T0 + HOUR
    assert stored.task(first.task_id).status is TaskStatus.OPEN
    raw = ProjectDocument._get_collection().find_one({"_id": project.project_id})
    assert isinstance(raw["tasks"][1]["comments"][0], dict)  # a sub-document, not a string
    assert raw["next_overdue_check"].replace(tzinfo=UTC) == T0 + 24 * HOUR
    assert [e["type"] for e in raw["outbox"]] == [
        "intake.project.created",
        "intake.task.assigned",
        "intake.task.assigned",
        "intake.task.commented",
        "intake.task.completed",
    ]


def test_another_centres_project_is_not_found_and_refused_changes_store_nothing() -> None:
    project = create_project()
    with pytest.raises(NotFound):
        projects_of(ILZE).get(project.project_id)
    with pytest.raises(NotFound):
        services.add_task(
            services.AddTask(project.project_id, "x", "w-ilze", T0 + HOUR, new_key()),
            unit(ILZE, T0),
            projects_of(ILZE),
        )
    with pytest.raises(FailedPrecondition):
        services.add_task(
            services.AddTask(project.project_id, "x", "w-duty-north", T0 + HOUR, new_key()),
            unit(ANNA, T0),
            projects_of(ANNA),
        )
    with pytest.raises(InvalidArgument):
        services.add_task(
            services.AddTask(project.project_id, "", "w-petr", T0 - HOUR, new_key()),
            unit(ANNA, T0),
            projects_of(ANNA),
        )
    doc = ProjectDocument.objects(id=project.project_id).get()
    assert doc.version == 1 and doc.tasks == []
    with pytest.raises(PermissionDenied):
        create_project(ILZE, centre_id="ctr-north-town", members=())
    with pytest.raises(InvalidArgument):
        create_project(members=("w-ilze",))
    assert ProjectDocument.objects.count() == 1


def test_an_overdue_task_is_flagged_once_and_again_after_reopening_with_a_new_due_time() -> None:
    project = create_project()
    mine = projects_of(ANNA)
    _, task = services.add_task(
        services.AddTask(project.project_id, "book the hall", "w-petr", T0 + HOUR, new_key()),
        unit(ANNA, T0),
        mine,
    )
    late = T0 + 2 * HOUR
    assert repo.projects_with_overdue_tasks(T0) == []
    due = repo.projects_with_overdue_tasks(late)
    assert [p.project_id for p in due] == [project.project_id]

    def unscoped_projects(org: str) -> ProjectRepository:
        return ProjectRepository(org, None)

    assert services.flag_overdue_tasks(unit(at=late), due, unscoped_projects) == 1
    assert services.flag_overdue_tasks(unit(at=late), due, unscoped_projects) == 0
    assert repo.projects_with_overdue_tasks(late + HOUR) == []
    services.complete_task(
        services.CompleteTask(project.project_id, task.task_id), unit(PETR, late), projects_of(PETR)
    )
    services.reopen_task(
        services.ReopenTask(project.project_id, task.task_id, late + HOUR),
        unit(PETR, late),
        projects_of(PETR),
    )
    later = late + 2 * HOUR
    due = repo.projects_with_overdue_tasks(later)
    assert services.flag_overdue_tasks(unit(at=later), due, unscoped_projects) == 1
    raw = ProjectDocument._get_collection().find_one({"_id": project.project_id})
    assert [e["type"] for e in raw["outbox"]].count("intake.task.overdue") == 2


# ------------------------------------------------------------ idempotency keys


def stored_types(document: Any, aggregate_id: str) -> list[str]:
    raw = document._get_collection().find_one({"_id": aggregate_id})
    return [e["type"] for e in raw["outbox"]]


def test_a_retried_plan_answers_the_first_activity_and_other_content_is_refused() -> None:
    key = new_key()
    first = plan(idempotency_key=key)
    again = plan(idempotency_key=key)
    assert again.outreach_id == first.outreach_id
    assert OutreachDocument.objects(idempotency_key=key).count() == 1
    assert stored_types(OutreachDocument, first.outreach_id) == ["intake.outreach.planned"]
    with pytest.raises(AlreadyExists, match="idempotency_key"):
        plan(idempotency_key=key, place="somewhere else")
    with pytest.raises(AlreadyExists, match="idempotency_key"):
        plan(PETR, idempotency_key=key)  # another caller's key
    doc = OutreachDocument.objects(idempotency_key=key).get()
    assert (doc.place, doc.version) == ("town library", 1)
    with pytest.raises(InvalidArgument) as caught:
        plan(idempotency_key="")
    assert [e.field for e in caught.value.errors] == ["idempotency_key"]


def test_a_retried_project_answers_the_first_and_other_content_is_refused() -> None:
    key = new_key()
    first = create_project(idempotency_key=key)
    assert create_project(idempotency_key=key).project_id == first.project_id
    with pytest.raises(AlreadyExists, match="idempotency_key"):
        create_project(idempotency_key=key, name="Another day")
    assert ProjectDocument.objects(idempotency_key=key).count() == 1
    assert stored_types(ProjectDocument, first.project_id) == ["intake.project.created"]
    with pytest.raises(InvalidArgument) as caught:
        create_project(idempotency_key="short")
    assert [e.field for e in caught.value.errors] == ["idempotency_key"]


def test_a_retried_task_or_comment_is_added_once_and_other_content_is_refused() -> None:
    project = create_project()
    pid = project.project_id
    task_key, comment_key = new_key(), new_key()

    def add(title: str = "book the hall", key: str = task_key) -> Any:
        return services.add_task(
            services.AddTask(pid, title, "w-petr", T0 + HOUR, key),
            unit(ANNA, T0),
            projects_of(ANNA),
        )

    def comment(text: str = "hall booked", key: str = comment_key) -> Any:
        return services.comment_on_task(
            services.CommentOnTask(pid, task.task_id, text, key),
            unit(PETR, T0),
            projects_of(PETR),
        )

    _, task = add()
    _, again = add()
    assert again.task_id == task.task_id
    _, said = comment()
    _, said_again = comment()
    assert said_again.comment_id == said.comment_id
    before = ProjectDocument._get_collection().find_one({"_id": pid})
    assert before["version"] == 3
    assert len(before["tasks"]) == 1 and len(before["tasks"][0]["comments"]) == 1
    assert before["tasks"][0]["idempotency_key"] == task_key
    assert before["tasks"][0]["comments"][0]["idempotency_key"] == comment_key

    with pytest.raises(AlreadyExists, match="idempotency_key"):
        add(title="print leaflets")
    with pytest.raises(AlreadyExists, match="idempotency_key"):
        comment(text="hall not free")
    with pytest.raises(AlreadyExists, match="idempotency_key"):
        add(key=comment_key)  # a comment's key is not a task's
    with pytest.raises(InvalidArgument) as caught:
        add(key="")
    assert [e.field for e in caught.value.errors] == ["idempotency_key"]
    after = ProjectDocument._get_collection().find_one({"_id": pid})
    assert after["version"] == 3 and after["tasks"] == before["tasks"]
    assert stored_types(ProjectDocument, pid) == [
        "intake.project.created",
        "intake.task.assigned",
        "intake.task.commented",
    ]
