"""intake's outreach activities and projects through real processes (intake, notify):
a worker who plans outreach is reminded and then asked for the outcome, each once; a
project's tasks are assigned, checked off, reopened and commented, and an assignee is
told of a new task and, once per due time, of an overdue one.

The timers run every fraction of a second (INTAKE_OUTREACH_CHECK_INTERVAL,
INTAKE_TASK_CHECK_INTERVAL, read at import) and the organisation reminds 48 hours
ahead, so an activity planned a few seconds from now is due for its reminder at once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import kombu
import pymongo
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.rpc_errors import field_violations
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REMINDER_HOURS = 48
ACTIVITY_IN_SECONDS = 3.0
TASK_DUE_IN_SECONDS = 2.0

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
PETR = auth(create_token(subject="w-petr", centres=["ctr-north-town", "ctr-north-village"]))
DUTY_NORTH = auth(
    create_token(
        subject="w-duty-north",
        centres=["ctr-north-town", "ctr-north-village"],
        roles=["front_line"],
    )
)
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))


@pytest.fixture(scope="module")
def suite(suite_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    organisation = json.loads((ROOT / "config" / "organisation.dev.json").read_text())
    organisation["outreach_reminder_hours"] = REMINDER_HOURS
    org_file = tmp_path_factory.mktemp("org") / "organisation.json"
    org_file.write_text(json.dumps(organisation))
    # The timers read their intervals at import.
    yield suite_factory(
        ("intake", "notify"),
        env={
            "CASEWORK_ORGANISATION_FILE": str(org_file),
            "INTAKE_OUTREACH_CHECK_INTERVAL": "0.3",
            "INTAKE_TASK_CHECK_INTERVAL": "0.3",
        },
    )


@pytest.fixture(scope="module")
def intake(suite: Suite) -> Any:
    return stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)


@pytest.fixture(scope="module")
def notify(suite: Suite) -> Any:
    return stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)


@pytest.fixture(scope="module")
def db(suite: Suite) -> Iterator[Any]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    yield client[f"{suite.env['MONGO_DB_PREFIX']}_intake"]
    client.close()


class Captured:
    """Every intake event published on the suite's vhost, read from a queue of ours,
    once per event id: delivery is at least once (a relay whose clear missed publishes
    again), and "emitted once" means one event, however often it is delivered."""

    def __init__(self, uri: str) -> None:
        self._connection = kombu.Connection(uri)
        exchange = kombu.Exchange("casework.events", type="topic", passive=True)
        self._queue = self._connection.SimpleQueue(
            kombu.Queue(
                f"test-capture-{secrets.token_hex(4)}",
                exchange=exchange,
                routing_key="intake.#",
                exclusive=True,
                auto_delete=True,
            )
        )
        self.events: dict[str, dict[str, Any]] = {}

    def of(self, event_type: str, **payload: Any) -> list[dict[str, Any]]:
        while True:
            try:
                message = self._queue.get(timeout=0.05)
            except self._queue.Empty:
                break
            event = json.loads(message.body)
            self.events.setdefault(event["id"], event)
            message.ack()
        return [
            e
            for e in self.events.values()
            if e["type"] == event_type and all(e["payload"].get(k) == v for k, v in payload.items())
        ]

    def close(self) -> None:
        self._queue.close()
        self._connection.release()


@pytest.fixture(scope="module")
def captured(suite: Suite) -> Iterator[Captured]:
    capture = Captured(suite.env["AMQP_URI"])
    yield capture
    capture.close()


def in_seconds(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC) + timedelta(seconds=seconds))
    return stamp


def create_outreach(**overrides: Any) -> intake_pb2.PlanOutreachRequest:
    """Anna's field work at the railway station, a few seconds from now."""
    fields: dict[str, Any] = {
        "centre_id": "ctr-north-town",
        "activity_type": intake_pb2.OUTREACH_ACTIVITY_TYPE_FIELD_WORK,
        "planned_at": in_seconds(ACTIVITY_IN_SECONDS),
        "place": f"railway station {secrets.token_hex(3)}",
        "description": "talk to people sleeping rough",
        "idempotency_key": new_key(),
    }
    fields.update(overrides)
    return intake_pb2.PlanOutreachRequest(**fields)


def new_key() -> str:
    return f"key-{secrets.token_hex(8)}"


def create_project(**overrides: Any) -> intake_pb2.CreateProjectRequest:
    fields: dict[str, Any] = {
        "name": f"Open day {secrets.token_hex(3)}",
        "centre_id": "ctr-north-town",
        "description": "information day in the town hall",
        "members": ["w-petr"],
        "idempotency_key": new_key(),
    }
    fields.update(overrides)
    return intake_pb2.CreateProjectRequest(**fields)


def inbox(notify: Any, who: Any) -> list[Any]:
    reply = notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200), metadata=who)
    return list(reply.notifications)


def notes(notify: Any, who: Any, kind: str, text: str) -> list[Any]:
    return [n for n in inbox(notify, who) if n.kind == kind and text in n.body]


def precondition_subjects(error: grpc.RpcError) -> set[str]:
    """The inputs a FAILED_PRECONDITION answer names (google.rpc.PreconditionFailure)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    subjects: set[str] = set()
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            subjects |= {v.subject for v in failure.violations}
    return subjects


def refused(call: Any, request: Any, metadata: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata)
    return caught.value


# ----------------------------------------------------------------------- outreach


def test_planned_outreach_is_reminded_then_its_outcome_asked_for_once(
    intake: Any, notify: Any, captured: Captured, db: Any
) -> None:
    planned = intake.PlanOutreach(create_outreach(), metadata=ANNA).outreach
    oid = planned.outreach_id
    assert planned.worker_id == "w-anna"
    assert planned.status == intake_pb2.OUTREACH_STATUS_PLANNED
    too_early = refused(
        intake.RecordOutreachOutcome,
        intake_pb2.RecordOutreachOutcomeRequest(outreach_id=oid, outcome="x", people_reached=1),
        ANNA,
    )
    assert too_early.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert precondition_subjects(too_early) == {"outreach_id"}

    reminder = eventually(lambda: notes(notify, ANNA, "outreach_reminder", oid), timeout=15)
    assert planned.place in reminder[0].body
    assert (reminder[0].subject_kind, reminder[0].subject_id) == ("outreach", oid)
    asked = eventually(
        lambda: notes(notify, ANNA, "outreach_outcome_due", oid),
        timeout=ACTIVITY_IN_SECONDS + 15,
    )
    assert asked[0].worker_id == "w-anna"

    request = intake_pb2.RecordOutreachOutcomeRequest(
        outreach_id=oid, outcome="met 9 people, 2 want advice", people_reached=9, contacts_made=2
    )
    done = intake.RecordOutreachOutcome(request, metadata=ANNA).outreach
    assert done.status == intake_pb2.OUTREACH_STATUS_DONE and done.people_reached == 9
    twice = refused(intake.RecordOutreachOutcome, request, ANNA)
    assert twice.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert precondition_subjects(twice) == {"outreach_id"}

    # Later timer runs leave it alone. Outreach planned now is reminded at once and due
    # ACTIVITY_IN_SECONDS from now, many runs later; once both its notes are in Anna's
    # inbox, so is whatever the runs before them published about the first.
    later = intake.PlanOutreach(create_outreach(), metadata=ANNA).outreach.outreach_id
    eventually(lambda: notes(notify, ANNA, "outreach_reminder", later))
    eventually(
        lambda: notes(notify, ANNA, "outreach_outcome_due", later),
        timeout=ACTIVITY_IN_SECONDS + 15,
    )
    assert captured.of("intake.outreach.outcome_due", outreach_id=later)
    assert len(captured.of("intake.outreach.reminder_due", outreach_id=oid)) == 1
    assert len(captured.of("intake.outreach.outcome_due", outreach_id=oid)) == 1
    assert len(notes(notify, ANNA, "outreach_reminder", oid)) == 1
    assert len(notes(notify, ANNA, "outreach_outcome_due", oid)) == 1
    stored = db.outreach_activities.find_one({"_id": oid})
    assert stored["status"] == "done" and stored["outcome"] == "met 9 people, 2 want advice"

    listed = intake.ListOutreach(
        intake_pb2.ListOutreachRequest(worker_id="w-anna", status=intake_pb2.OUTREACH_STATUS_DONE),
        metadata=ANNA,
    ).outreach
    assert oid in [o.outreach_id for o in listed]
    south = intake.ListOutreach(intake_pb2.ListOutreachRequest(), metadata=ILZE).outreach
    assert oid not in [o.outreach_id for o in south]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"planned_at": in_seconds(-3600)}, "planned_at"),
        ({"planned_at": None}, "planned_at"),
        ({"activity_type": intake_pb2.OUTREACH_ACTIVITY_TYPE_UNSPECIFIED}, "activity_type"),
        ({"worker_id": "w-ilze"}, "worker_id"),
        ({"centre_id": "ctr-nowhere"}, "centre_id"),
        ({"place": "x" * 201}, "place"),
    ],
)
def test_bad_outreach_input_names_the_field_and_stores_nothing(
    intake: Any, db: Any, overrides: dict[str, Any], field: str
) -> None:
    request = create_outreach(**overrides)
    error = refused(intake.PlanOutreach, request, ANNA)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)
    assert db.outreach_activities.count_documents({"place": request.place}) == 0


def test_outreach_for_a_centre_outside_the_callers_scope_is_refused(intake: Any, db: Any) -> None:
    request = create_outreach(centre_id="ctr-south-city", worker_id="w-ilze")
    error = refused(intake.PlanOutreach, request, ANNA)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert db.outreach_activities.count_documents({"place": request.place}) == 0
    cancelled = intake.CancelOutreach(
        intake_pb2.CancelOutreachRequest(
            outreach_id=intake.PlanOutreach(
                create_outreach(planned_at=in_seconds(3 * 24 * 3600)), metadata=ANNA
            ).outreach.outreach_id
        ),
        metadata=ANNA,
    ).outreach
    assert cancelled.status == intake_pb2.OUTREACH_STATUS_CANCELLED
    other = refused(
        intake.CancelOutreach,
        intake_pb2.CancelOutreachRequest(outreach_id=cancelled.outreach_id),
        ILZE,
    )
    assert other.code() == grpc.StatusCode.NOT_FOUND


# ----------------------------------------------------------------------- projects


def test_a_project_task_is_assigned_overdue_once_and_again_after_a_new_due_time(
    intake: Any, notify: Any, captured: Captured, db: Any
) -> None:
    project = intake.CreateProject(create_project(), metadata=ANNA).project
    assert list(project.members) == ["w-anna", "w-petr"]
    title = f"book the hall {secrets.token_hex(3)}"
    added = intake.AddTask(
        intake_pb2.AddTaskRequest(
            idempotency_key=new_key(),
            project_id=project.project_id,
            title=title,
            assignee_id="w-petr",
            due_at=in_seconds(TASK_DUE_IN_SECONDS),
        ),
        metadata=ANNA,
    )
    task_id = added.task.task_id
    eventually(
        lambda: [n for n in inbox(notify, PETR) if n.kind == "task_assigned" and title in n.title]
    )
    overdue = eventually(
        lambda: [n for n in inbox(notify, PETR) if n.kind == "task_overdue" and title in n.title],
        timeout=TASK_DUE_IN_SECONDS + 15,
    )
    assert len(overdue) == 1
    assert (overdue[0].subject_kind, overdue[0].subject_id) == ("task", task_id)

    comment = intake.CommentOnTask(
        intake_pb2.CommentOnTaskRequest(
            idempotency_key=new_key(),
            project_id=project.project_id,
            task_id=task_id,
            text="hall is free on Friday",
        ),
        metadata=PETR,
    ).comment
    assert comment.author_id == "w-petr"
    done = intake.CompleteTask(
        intake_pb2.CompleteTaskRequest(project_id=project.project_id, task_id=task_id),
        metadata=PETR,
    ).task
    assert done.status == intake_pb2.TASK_STATUS_DONE and done.completed_by == "w-petr"
    again = refused(
        intake.CompleteTask,
        intake_pb2.CompleteTaskRequest(project_id=project.project_id, task_id=task_id),
        PETR,
    )
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert precondition_subjects(again) == {"task_id"}
    assert len(captured.of("intake.task.overdue", task_id=task_id)) == 1

    reopened = intake.ReopenTask(
        intake_pb2.ReopenTaskRequest(
            project_id=project.project_id, task_id=task_id, due_at=in_seconds(1.0)
        ),
        metadata=ANNA,
    ).task
    assert reopened.status == intake_pb2.TASK_STATUS_OPEN
    assert not reopened.HasField("overdue_notified_at")
    eventually(
        lambda: (
            len([n for n in inbox(notify, PETR) if n.kind == "task_overdue" and title in n.title])
            == 2
        ),
        timeout=15,
    )
    # Later timer runs leave it alone. A task added now is overdue TASK_DUE_IN_SECONDS
    # from now, many runs later; once Petr is told, so is whatever the runs before it
    # published about the reopened one.
    later_title = f"sweep the hall {secrets.token_hex(3)}"
    later = intake.AddTask(
        intake_pb2.AddTaskRequest(
            idempotency_key=new_key(),
            project_id=project.project_id,
            title=later_title,
            assignee_id="w-petr",
            due_at=in_seconds(TASK_DUE_IN_SECONDS),
        ),
        metadata=ANNA,
    ).task
    eventually(
        lambda: [
            n for n in inbox(notify, PETR) if n.kind == "task_overdue" and later_title in n.title
        ],
        timeout=TASK_DUE_IN_SECONDS + 15,
    )
    assert captured.of("intake.task.overdue", task_id=later.task_id)
    assert (
        len([n for n in inbox(notify, PETR) if n.kind == "task_overdue" and title in n.title]) == 2
    )
    assert len(captured.of("intake.task.overdue", task_id=task_id)) == 2
    assert len(captured.of("intake.task.assigned", task_id=task_id)) == 1
    assert len(captured.of("intake.task.completed", task_id=task_id)) == 1
    assert len(captured.of("intake.project.created", project_id=project.project_id)) == 1

    stored = intake.GetProject(
        intake_pb2.GetProjectRequest(project_id=project.project_id), metadata=PETR
    ).project
    assert [c.text for c in stored.tasks[0].comments] == ["hall is free on Friday"]
    raw = db.projects.find_one({"_id": project.project_id})
    assert isinstance(raw["tasks"][0]["comments"][0], dict)
    listed = intake.ListProjects(intake_pb2.ListProjectsRequest(), metadata=PETR).projects
    assert project.project_id in [p.project_id for p in listed]


def test_project_rules_are_enforced_with_specific_codes_and_nothing_is_stored(
    intake: Any, db: Any
) -> None:
    project = intake.CreateProject(create_project(), metadata=ANNA).project
    pid = project.project_id

    def task_count() -> int:
        return len(db.projects.find_one({"_id": pid})["tasks"])

    non_member = refused(
        intake.AddTask,
        intake_pb2.AddTaskRequest(
            idempotency_key=new_key(),
            project_id=pid,
            title="x",
            assignee_id="w-duty-north",
            due_at=in_seconds(3600),
        ),
        ANNA,
    )
    assert non_member.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert precondition_subjects(non_member) == {"assignee_id"}
    bad = refused(
        intake.AddTask,
        intake_pb2.AddTaskRequest(
            idempotency_key=new_key(), project_id=pid, title="", assignee_id="w-petr"
        ),
        ANNA,
    )
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"title", "due_at"} <= set(field_violations(bad))
    outsider = refused(
        intake.AddTask,
        intake_pb2.AddTaskRequest(
            idempotency_key=new_key(),
            project_id=pid,
            title="x",
            assignee_id="w-petr",
            due_at=in_seconds(3600),
        ),
        DUTY_NORTH,
    )
    assert outsider.code() == grpc.StatusCode.PERMISSION_DENIED
    assert task_count() == 0

    task = intake.AddTask(
        intake_pb2.AddTaskRequest(
            idempotency_key=new_key(),
            project_id=pid,
            title="print leaflets",
            assignee_id="w-anna",
            due_at=in_seconds(3600),
        ),
        metadata=ANNA,
    ).task
    not_a_member = refused(
        intake.CommentOnTask,
        intake_pb2.CommentOnTaskRequest(
            idempotency_key=new_key(), project_id=pid, task_id=task.task_id, text="hi"
        ),
        DUTY_NORTH,
    )
    assert not_a_member.code() == grpc.StatusCode.PERMISSION_DENIED
    assert db.projects.find_one({"_id": pid})["tasks"][0]["comments"] == []

    hidden = refused(intake.GetProject, intake_pb2.GetProjectRequest(project_id=pid), ILZE)
    assert hidden.code() == grpc.StatusCode.NOT_FOUND

    name = f"South fair {secrets.token_hex(3)}"
    wrong_members = refused(
        intake.CreateProject, create_project(name=name, members=["w-ilze"]), ANNA
    )
    assert wrong_members.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "members[0]" in field_violations(wrong_members)
    out_of_scope = refused(
        intake.CreateProject,
        create_project(name=name, centre_id="ctr-south-city", members=[]),
        ANNA,
    )
    assert out_of_scope.code() == grpc.StatusCode.PERMISSION_DENIED
    assert db.projects.count_documents({"name": name}) == 0


def test_retried_creating_calls_answer_the_first_and_reused_keys_change_nothing(
    intake: Any, captured: Captured, db: Any
) -> None:
    plan_request = create_outreach(planned_at=in_seconds(3 * 24 * 3600))
    planned = intake.PlanOutreach(plan_request, metadata=ANNA).outreach
    assert intake.PlanOutreach(plan_request, metadata=ANNA).outreach == planned
    other_plan = intake_pb2.PlanOutreachRequest()
    other_plan.CopyFrom(plan_request)
    other_plan.place = "somewhere else"
    reused = refused(intake.PlanOutreach, other_plan, ANNA)
    assert reused.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "idempotency_key" in (reused.details() or "")
    assert (
        db.outreach_activities.count_documents({"idempotency_key": plan_request.idempotency_key})
        == 1
    )
    assert db.outreach_activities.count_documents({"place": "somewhere else"}) == 0

    project_request = create_project()
    project = intake.CreateProject(project_request, metadata=ANNA).project
    assert intake.CreateProject(project_request, metadata=ANNA).project == project
    pid = project.project_id
    task_request = intake_pb2.AddTaskRequest(
        idempotency_key=new_key(),
        project_id=pid,
        title="print leaflets",
        assignee_id="w-anna",
        due_at=in_seconds(3600),
    )
    task = intake.AddTask(task_request, metadata=ANNA).task
    assert intake.AddTask(task_request, metadata=ANNA).task.task_id == task.task_id
    comment_request = intake_pb2.CommentOnTaskRequest(
        idempotency_key=new_key(), project_id=pid, task_id=task.task_id, text="200 copies"
    )
    comment = intake.CommentOnTask(comment_request, metadata=PETR).comment
    assert intake.CommentOnTask(comment_request, metadata=PETR).comment == comment
    before = db.projects.find_one({"_id": pid})

    other_task = intake_pb2.AddTaskRequest()
    other_task.CopyFrom(task_request)
    other_task.title = "print posters"
    assert refused(intake.AddTask, other_task, ANNA).code() == grpc.StatusCode.ALREADY_EXISTS
    other_comment = intake_pb2.CommentOnTaskRequest()
    other_comment.CopyFrom(comment_request)
    other_comment.text = "300 copies"
    assert (
        refused(intake.CommentOnTask, other_comment, PETR).code() == grpc.StatusCode.ALREADY_EXISTS
    )
    missing = refused(
        intake.AddTask,
        intake_pb2.AddTaskRequest(
            project_id=pid, title="x", assignee_id="w-anna", due_at=in_seconds(3600)
        ),
        ANNA,
    )
    assert missing.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "idempotency_key" in field_violations(missing)
    after = db.projects.find_one({"_id": pid})
    assert (after["version"], after["tasks"]) == (before["version"], before["tasks"])
    assert db.projects.count_documents({"idempotency_key": project_request.idempotency_key}) == 1
    # Anything the retried and refused calls published is on the queue before the event
    # of a task added after them.
    marker = intake.AddTask(
        intake_pb2.AddTaskRequest(
            idempotency_key=new_key(),
            project_id=pid,
            title="fold leaflets",
            assignee_id="w-anna",
            due_at=in_seconds(3600),
        ),
        metadata=ANNA,
    ).task
    eventually(lambda: captured.of("intake.task.assigned", task_id=marker.task_id))
    assert len(captured.of("intake.outreach.planned", outreach_id=planned.outreach_id)) == 1
    assert len(captured.of("intake.project.created", project_id=pid)) == 1
    assert len(captured.of("intake.task.assigned", task_id=task.task_id)) == 1
    assert len(captured.of("intake.task.commented", task_id=task.task_id)) == 1
