"""Specification of outreach activities and projects with tasks: what may be planned,
when a worker is reminded and asked for the outcome (each once, whatever the timer
does), and how tasks are assigned, checked off, reopened, commented and flagged
overdue."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from casework_dev.testing.organisations import create_organisation
from casework_intake.domain import outreach, projects
from casework_intake.domain.outreach import (
    ActivityType,
    Outcome,
    Outreach,
    OutreachStatus,
    PlanOutreach,
)
from casework_intake.domain.projects import CreateProject, Project, TaskStatus

DEV = create_organisation()
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def create_plan(**overrides: Any) -> PlanOutreach:
    """Anna plans an afternoon of field work at the station, two days ahead."""
    fields: dict[str, Any] = {
        "worker_id": "w-anna",
        "centre_id": "ctr-north-town",
        "activity_type": ActivityType.FIELD_WORK,
        "planned_at": T0 + 48 * HOUR,
        "place": "main railway station",
        "description": "talk to people sleeping rough",
        "idempotency_key": "plan-key-0001",
    }
    fields.update(overrides)
    return PlanOutreach(**fields)


def create_outreach(reminder_hours: float = 24.0, **overrides: Any) -> Outreach:
    return outreach.plan(
        create_plan(**overrides),
        DEV,
        outreach_id="o-1",
        planned_by="w-anna",
        now=T0,
        reminder_hours=reminder_hours,
    )


def create_project(**overrides: Any) -> Project:
    fields: dict[str, Any] = {
        "name": "Open day",
        "centre_id": "ctr-north-town",
        "description": "information day in the town hall",
        "members": ("w-petr",),
        "idempotency_key": "project-key-0001",
    }
    fields.update(overrides)
    return projects.create(CreateProject(**fields), DEV, project_id="p-1", creator="w-anna", now=T0)


def fields_of(exc: InvalidArgument) -> set[str]:
    return {e.field for e in exc.errors}


# ----------------------------------------------------------------------- outreach


def test_a_plan_is_stored_with_its_reminder_time_before_it() -> None:
    planned = create_outreach(reminder_hours=6)
    assert planned.status is OutreachStatus.PLANNED
    assert planned.remind_at == T0 + 42 * HOUR
    assert (planned.place, planned.worker_id, planned.planned_by) == (
        "main railway station",
        "w-anna",
        "w-anna",
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"worker_id": ""}, "worker_id"),
        ({"worker_id": "w-nobody"}, "worker_id"),
        ({"worker_id": "w-ilze"}, "worker_id"),  # serves the south only
        ({"centre_id": ""}, "centre_id"),
        ({"centre_id": "ctr-moon"}, "centre_id"),
        ({"activity_type": None}, "activity_type"),
        ({"planned_at": None}, "planned_at"),
        ({"planned_at": T0 - timedelta(minutes=1)}, "planned_at"),
        ({"planned_at": T0 + timedelta(days=800)}, "planned_at"),
        ({"place": "x" * 201}, "place"),
        ({"description": "x" * 4001}, "description"),
    ],
)
def test_each_bad_plan_field_is_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        create_outreach(**overrides)
    assert fields_of(caught.value) == {field}


def test_the_reminder_hours_setting_refuses_nonsense() -> None:
    assert outreach.check_hours(24) == 24.0
    for bad in (0, -1, True, "24", float("nan"), 24 * 31 + 1):
        with pytest.raises(ValueError):
            outreach.check_hours(bad)


def test_the_reminder_is_due_inside_the_lead_time_and_only_before_the_activity() -> None:
    planned = create_outreach()  # at T0+48h, reminded from T0+24h
    assert not outreach.reminder_due(planned, T0 + 23 * HOUR)
    assert outreach.reminder_due(planned, T0 + 24 * HOUR)
    assert not outreach.reminder_due(planned, T0 + 48 * HOUR)
    assert not outreach.outcome_due(planned, T0 + 47 * HOUR)
    assert outreach.outcome_due(planned, T0 + 48 * HOUR)


def test_an_outcome_is_recorded_once_and_only_after_the_activity() -> None:
    planned = create_outreach()
    outcome = Outcome("met 12 people, 3 want advice", 12, 3)
    with pytest.raises(FailedPrecondition):
        outreach.record_outcome(planned, outcome, "w-anna", T0 + 47 * HOUR)
    done = outreach.record_outcome(planned, outcome, "w-anna", T0 + 49 * HOUR)
    assert done.status is OutreachStatus.DONE and done.outcome == outcome
    assert not outreach.outcome_due(done, T0 + 50 * HOUR)
    with pytest.raises(FailedPrecondition):
        outreach.record_outcome(done, outcome, "w-anna", T0 + 50 * HOUR)


@pytest.mark.parametrize(
    ("outcome", "field"),
    [
        (Outcome("", 1, 0), "outcome"),
        (Outcome("x" * 4001, 1, 0), "outcome"),
        (Outcome("ok", -1, 0), "people_reached"),
        (Outcome("ok", 1, -1), "contacts_made"),
        (Outcome("ok", 2, 3), "contacts_made"),
    ],
)
def test_each_bad_outcome_field_is_named(outcome: Outcome, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        outreach.record_outcome(create_outreach(), outcome, "w-anna", T0 + 49 * HOUR)
    assert fields_of(caught.value) == {field}


def test_a_cancelled_activity_is_never_reminded_nor_asked_about() -> None:
    cancelled, changed = outreach.cancel(create_outreach(), "w-anna", T0)
    assert changed and cancelled.status is OutreachStatus.CANCELLED
    again, changed_again = outreach.cancel(cancelled, "w-petr", T0 + HOUR)
    assert not changed_again and again.cancelled_by == "w-anna"
    for moment in (T0 + 30 * HOUR, T0 + 50 * HOUR):
        assert not outreach.reminder_due(cancelled, moment)
        assert not outreach.outcome_due(cancelled, moment)
    with pytest.raises(FailedPrecondition):
        outreach.record_outcome(cancelled, Outcome("x", 0, 0), "w-anna", T0 + 50 * HOUR)
    done = outreach.record_outcome(create_outreach(), Outcome("x", 0, 0), "w-anna", T0 + 50 * HOUR)
    with pytest.raises(FailedPrecondition):
        outreach.cancel(done, "w-anna", T0 + 51 * HOUR)


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["tick", "tick", "tick", "outcome", "cancel"]),
            st.integers(min_value=0, max_value=4 * 24 * 60),
        ),
        max_size=30,
    ),
    reminder_hours=st.sampled_from([0.5, 1, 24, 72]),
)
def test_reminder_and_outcome_request_are_each_emitted_at_most_once(
    steps: list[tuple[str, int]], reminder_hours: float
) -> None:
    """Whatever the order of timer ticks, outcomes and cancellations: at most one
    reminder, at most one outcome request, never after a cancellation or an outcome,
    and never a reminder once the activity has begun."""
    current = create_outreach(reminder_hours=reminder_hours)
    reminders = requests = 0
    moment = T0
    for action, minutes in sorted(steps, key=lambda s: s[1]):
        moment = T0 + timedelta(minutes=minutes)
        if action == "tick":
            if outreach.reminder_due(current, moment):
                assert moment < current.planned_at
                current = outreach.mark_reminded(current, moment)
                reminders += 1
            if outreach.outcome_due(current, moment):
                assert current.status is OutreachStatus.PLANNED
                current = outreach.mark_outcome_requested(current, moment)
                requests += 1
        elif action == "outcome":
            try:
                current = outreach.record_outcome(current, Outcome("ok", 1, 0), "w-anna", moment)
            except FailedPrecondition:
                assert moment < current.planned_at or current.status is not OutreachStatus.PLANNED
        else:
            try:
                current, _ = outreach.cancel(current, "w-anna", moment)
            except FailedPrecondition:
                assert current.status is OutreachStatus.DONE
    assert reminders <= 1 and requests <= 1
    # Once sent, neither is due again at any later moment.
    later = moment + timedelta(days=10)
    if reminders:
        assert not outreach.reminder_due(current, later)
    if requests:
        assert not outreach.outcome_due(current, later)
        with pytest.raises(FailedPrecondition):
            outreach.mark_outcome_requested(current, later)


# ----------------------------------------------------------------------- projects


def test_the_creator_is_a_member_and_members_are_not_repeated() -> None:
    project = create_project(members=("w-petr", "w-anna", "w-petr"))
    assert project.members == ("w-anna", "w-petr")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": " "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"description": "x" * 4001}, "description"),
        ({"centre_id": ""}, "centre_id"),
        ({"centre_id": "ctr-moon"}, "centre_id"),
        ({"members": ("w-nobody",)}, "members[0]"),
        ({"members": ("w-petr", "w-ilze")}, "members[1]"),
    ],
)
def test_each_bad_project_field_is_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        create_project(**overrides)
    assert fields_of(caught.value) == {field}


def add(project: Project, **overrides: Any) -> tuple[Project, projects.Task]:
    fields: dict[str, Any] = {
        "task_id": f"t-{len(project.tasks) + 1}",
        "title": "book the hall",
        "assignee_id": "w-petr",
        "due_at": T0 + 24 * HOUR,
        "by": "w-anna",
        "now": T0,
        "idempotency_key": f"task-key-{len(project.tasks) + 1:04d}",
    }
    fields.update(overrides)
    return projects.add_task(project, **fields)


def test_a_task_is_assigned_only_to_a_member_and_only_by_a_member() -> None:
    project, task = add(create_project())
    assert task.status is TaskStatus.OPEN and project.tasks == (task,)
    with pytest.raises(FailedPrecondition):
        add(project, assignee_id="w-duty-north")  # serves the centre, not a member
    with pytest.raises(PermissionDenied):
        add(project, by="w-duty-north")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"assignee_id": ""}, "assignee_id"),
        ({"due_at": None}, "due_at"),
        ({"due_at": T0 - HOUR}, "due_at"),
    ],
)
def test_each_bad_task_field_is_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        add(create_project(), **overrides)
    assert fields_of(caught.value) == {field}


def test_complete_reopen_and_comment() -> None:
    project, task = add(create_project())
    done = projects.complete_task(project, task.task_id, "w-petr", T0 + HOUR)
    assert done.task(task.task_id).status is TaskStatus.DONE
    with pytest.raises(FailedPrecondition):
        projects.complete_task(done, task.task_id, "w-petr", T0 + HOUR)
    with pytest.raises(FailedPrecondition):
        projects.reopen_task(project, task.task_id, None, "w-anna", T0 + HOUR)
    reopened = projects.reopen_task(done, task.task_id, None, "w-anna", T0 + 2 * HOUR)
    assert reopened.task(task.task_id).status is TaskStatus.OPEN
    assert reopened.task(task.task_id).completed_at is None
    commented, comment = projects.comment_on_task(
        reopened,
        task.task_id,
        comment_id="c-1",
        idempotency_key="comment-key-c-1",
        text=" hall booked ",
        by="w-petr",
        now=T0,
    )
    assert commented.task(task.task_id).comments == (comment,)
    assert comment.text == "hall booked"
    with pytest.raises(PermissionDenied):
        projects.comment_on_task(
            reopened,
            task.task_id,
            comment_id="c-2",
            idempotency_key="comment-key-c-2",
            text="hi",
            by="w-duty-north",
            now=T0,
        )
    with pytest.raises(InvalidArgument):
        projects.comment_on_task(
            reopened,
            task.task_id,
            comment_id="c-2",
            idempotency_key="comment-key-c-2",
            text="  ",
            by="w-petr",
            now=T0,
        )
    with pytest.raises(NotFound):
        projects.complete_task(project, "t-missing", "w-petr", T0)


def test_an_overdue_task_is_flagged_once_and_again_only_with_a_new_due_time() -> None:
    project, task = add(create_project())
    late = T0 + 25 * HOUR
    assert projects.next_overdue_check(project) == task.due_at
    flagged, marked = projects.mark_overdue(project, late)
    assert [t.task_id for t in marked] == [task.task_id]
    assert projects.next_overdue_check(flagged) is None
    assert projects.mark_overdue(flagged, late + HOUR)[1] == []
    done = projects.complete_task(flagged, task.task_id, "w-petr", late)
    same_date = projects.reopen_task(done, task.task_id, None, "w-petr", late)
    assert projects.mark_overdue(same_date, late + HOUR)[1] == []
    done = projects.complete_task(same_date, task.task_id, "w-petr", late)
    new_date = projects.reopen_task(done, task.task_id, late + HOUR, "w-petr", late)
    assert projects.next_overdue_check(new_date) == late + HOUR
    assert [t.task_id for t in projects.mark_overdue(new_date, late + 2 * HOUR)[1]] == [
        task.task_id
    ]


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["tick", "tick", "complete", "reopen", "reopen_new"]),
            st.integers(min_value=0, max_value=96),
        ),
        max_size=30,
    )
)
def test_a_task_is_flagged_at_most_once_per_due_time(steps: list[tuple[str, int]]) -> None:
    """Whatever the sequence of ticks, completions and reopenings: one overdue flag per
    due time at most, never for a done task, and the stored next check always names the
    earliest moment a flag can be due."""
    project, task = add(create_project())
    flags: dict[datetime, int] = {}
    for action, hours in sorted(steps, key=lambda s: s[1]):
        now = T0 + hours * HOUR
        current = project.task(task.task_id)
        if action == "tick":
            project, marked = projects.mark_overdue(project, now)
            for t in marked:
                assert now >= t.due_at
                flags[t.due_at] = flags.get(t.due_at, 0) + 1
        elif action == "complete" and current.status is TaskStatus.OPEN:
            project = projects.complete_task(project, task.task_id, "w-petr", now)
        elif action.startswith("reopen") and current.status is TaskStatus.DONE:
            due = now + 3 * HOUR if action == "reopen_new" else None
            project = projects.reopen_task(project, task.task_id, due, "w-petr", now)
        after = project.task(task.task_id)
        expected = (
            after.due_at
            if after.status is TaskStatus.OPEN and after.overdue_notified_at is None
            else None
        )
        assert projects.next_overdue_check(project) == expected
    assert all(count == 1 for count in flags.values())


def test_event_payloads_carry_ids_and_no_free_text() -> None:
    planned = create_outreach()
    payload = outreach.event_payload(planned)
    assert "description" not in payload and payload["worker_id"] == "w-anna"
    project, task = add(create_project())
    task_payload = projects.task_event_payload(project, task)
    assert task_payload["assignee_id"] == "w-petr"
    assert task_payload["due_at"] == task.due_at.isoformat()
    assert projects.created_event_payload(replace(project, tasks=()))["members"] == [
        "w-anna",
        "w-petr",
    ]


def test_the_reminder_lead_time_is_read_from_the_organisation_file(tmp_path: Path) -> None:
    from casework_common.organisation import InvalidOrganisation
    from casework_intake.bootstrap import outreach_reminder_hours

    data = {"id": "org-demo"}
    path = tmp_path / "org.json"
    data.pop("outreach_reminder_hours", None)
    path.write_text(json.dumps(data))
    assert outreach_reminder_hours(path) == {"org-demo": 24.0}
    path.write_text(json.dumps(data | {"outreach_reminder_hours": 6}))
    assert outreach_reminder_hours(path) == {"org-demo": 6.0}
    path.write_text(json.dumps(data | {"outreach_reminder_hours": 0}))
    with pytest.raises(InvalidOrganisation):
        outreach_reminder_hours(path)
