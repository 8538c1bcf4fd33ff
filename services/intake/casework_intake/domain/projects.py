"""Projects: a set of tasks several workers of one centre plan together, assign, check
off and comment on; used to organise group events. A task's state and its comments
live inside the project, which is stored and changed as one aggregate.

Pure rules over the Project value; the clock is always passed in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from casework_common import idempotency
from casework_common.errors import (
    FailedPrecondition,
    FieldError,
    NotFound,
    PermissionDenied,
    raise_if_any,
)
from casework_common.organisation import Organisation
from casework_intake.domain import rules

MAX_NAME = 200
MAX_TEXT = 4000
MAX_COMMENT = 2000
MAX_MEMBERS = 100
# One stored document holds the whole project: keep it well below the 16 MB limit.
MAX_TASKS = 300
MAX_COMMENTS_PER_TASK = 200


class TaskStatus(enum.Enum):
    OPEN = "open"
    DONE = "done"


@dataclass(frozen=True)
class Comment:
    comment_id: str
    author_id: str
    text: str
    created_at: datetime
    # The key the comment was added with and the digest of that call (see
    # comment_fingerprint): kept in the project, so a retry is checked in the same
    # version-guarded write that would add the comment.
    idempotency_key: str = ""
    fingerprint: str = ""


@dataclass(frozen=True)
class Task:
    task_id: str
    title: str
    assignee_id: str
    due_at: datetime
    created_by: str
    created_at: datetime
    status: TaskStatus = TaskStatus.OPEN
    completed_at: datetime | None = None
    completed_by: str = ""
    overdue_notified_at: datetime | None = None
    comments: tuple[Comment, ...] = ()
    # As for Comment (see task_fingerprint).
    idempotency_key: str = ""
    fingerprint: str = ""


@dataclass(frozen=True)
class CreateProject:
    name: str
    centre_id: str
    description: str
    members: tuple[str, ...]
    # Caller-chosen key that makes a retry answer the first project (required).
    idempotency_key: str = ""


@dataclass(frozen=True)
class Project:
    project_id: str
    organisation: str
    centre_id: str
    name: str
    description: str
    members: tuple[str, ...]
    created_by: str
    created_at: datetime
    tasks: tuple[Task, ...] = ()
    idempotency_key: str = ""
    # Digest of the creating call (see project_fingerprint); a retry must match it.
    fingerprint: str = ""

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.task_id == task_id:
                return task
        raise NotFound(f"task {task_id} not found in project {self.project_id}")


def _with_task(project: Project, task: Task) -> Project:
    return replace(
        project, tasks=tuple(task if t.task_id == task.task_id else t for t in project.tasks)
    )


def require_member(project: Project, worker_id: str) -> None:
    if worker_id not in project.members:
        raise PermissionDenied(f"{worker_id} is not a member of project {project.project_id}")


def validate(command: CreateProject, organisation: Organisation, creator: str) -> list[FieldError]:
    errors = idempotency.key_errors(command.idempotency_key)
    if not command.name.strip():
        errors.append(FieldError("name", "is required"))
    elif len(command.name) > MAX_NAME:
        errors.append(FieldError("name", f"at most {MAX_NAME} characters"))
    if len(command.description) > MAX_TEXT:
        errors.append(FieldError("description", f"at most {MAX_TEXT} characters"))
    centre = organisation.centre(command.centre_id) if command.centre_id else None
    if not command.centre_id:
        errors.append(FieldError("centre_id", "is required"))
    elif centre is None:
        errors.append(FieldError("centre_id", "is not a centre of the organisation"))
    if len(set(command.members) | {creator}) > MAX_MEMBERS:
        errors.append(FieldError("members", f"at most {MAX_MEMBERS} workers"))
    for i, member in enumerate(command.members):
        worker = organisation.workers.get(member)
        if worker is None:
            errors.append(FieldError(f"members[{i}]", f"{member!r} is not a worker"))
        elif centre is not None and centre.id not in worker.centres:
            errors.append(FieldError(f"members[{i}]", f"{member} does not serve {centre.id}"))
    return errors


def project_fingerprint(command: CreateProject, creator: str) -> str:
    """What makes two creating calls 'the same project': the values create() stores."""
    return idempotency.fingerprint(
        {
            "name": command.name.strip(),
            "centre_id": command.centre_id,
            "description": command.description.strip(),
            "members": list(dict.fromkeys([creator, *command.members])),
            "created_by": creator,
        }
    )


def check_replay(existing: Project, command: CreateProject, creator: str) -> Project:
    idempotency.check(
        existing.fingerprint,
        command.idempotency_key,
        project_fingerprint(command, creator),
        # No id: the key may be another centre's, whose project the caller may not see.
        "a project",
    )
    return existing


def create(
    command: CreateProject,
    organisation: Organisation,
    *,
    project_id: str,
    creator: str,
    now: datetime,
) -> Project:
    """The creator is a member too: they plan the project with the others."""
    raise_if_any(validate(command, organisation, creator))
    members = tuple(dict.fromkeys([creator, *command.members]))
    return Project(
        project_id=project_id,
        organisation=organisation.id,
        centre_id=command.centre_id,
        name=command.name.strip(),
        description=command.description.strip(),
        members=members,
        created_by=creator,
        created_at=now,
        idempotency_key=command.idempotency_key,
        fingerprint=project_fingerprint(command, creator),
    )


# ------------------------------------------------- idempotency keys inside a project


def task_fingerprint(title: str, assignee_id: str, due_at: datetime | None, by: str) -> str:
    return idempotency.fingerprint(
        {
            "call": "add_task",
            "title": title.strip(),
            "assignee_id": assignee_id,
            "due_at": due_at.isoformat() if due_at else None,
            "by": by,
        }
    )


def comment_fingerprint(task_id: str, text: str, by: str) -> str:
    return idempotency.fingerprint(
        {"call": "comment_on_task", "task_id": task_id, "text": text.strip(), "by": by}
    )


def _key_user(project: Project, key: str) -> tuple[Task, Comment | None] | None:
    """The task, or the comment (with its task), added with `key` in this project."""
    for task in project.tasks:
        if task.idempotency_key == key:
            return task, None
        for comment in task.comments:
            if comment.idempotency_key == key:
                return task, comment
    return None


def _replayed(
    project: Project, key: str, fingerprint: str, by: str
) -> tuple[Task, Comment | None] | None:
    """What a retried call added already with `key` (None when the key is new); a key
    used for something else, or with other content, is refused."""
    require_member(project, by)
    used = _key_user(project, key) if key else None
    if used is None:
        return None
    task, comment = used
    stored = comment.fingerprint if comment is not None else task.fingerprint
    idempotency.check(stored, key, fingerprint, f"a request in project {project.project_id}")
    return used


def task_replay(project: Project, key: str, fingerprint: str, by: str) -> Task | None:
    """The task a retried AddTask added already (None when the key is new); a key used
    for something else, or with other content, is refused."""
    used = _replayed(project, key, fingerprint, by)
    return None if used is None else used[0]


def comment_replay(project: Project, key: str, fingerprint: str, by: str) -> Comment | None:
    """The comment a retried CommentOnTask added already (None when the key is new)."""
    used = _replayed(project, key, fingerprint, by)
    if used is None:
        return None
    comment = used[1]
    assert comment is not None  # a task's fingerprint never equals a comment's
    return comment


def add_task(
    project: Project,
    *,
    task_id: str,
    title: str,
    assignee_id: str,
    due_at: datetime | None,
    by: str,
    now: datetime,
    idempotency_key: str = "",
) -> tuple[Project, Task]:
    require_member(project, by)
    errors = idempotency.key_errors(idempotency_key)
    if not title.strip():
        errors.append(FieldError("title", "is required"))
    elif len(title) > MAX_NAME:
        errors.append(FieldError("title", f"at most {MAX_NAME} characters"))
    if not assignee_id:
        errors.append(FieldError("assignee_id", "is required"))
    errors += rules.planned_moment_errors(due_at, now, "due_at")
    raise_if_any(errors)
    assert due_at is not None
    if assignee_id not in project.members:
        raise FailedPrecondition(
            f"{assignee_id} is not a member of project {project.project_id}; only members"
            " can be assigned",
            field="assignee_id",
        )
    if len(project.tasks) >= MAX_TASKS:
        raise FailedPrecondition(
            f"project {project.project_id} has {MAX_TASKS} tasks already", field="project_id"
        )
    task = Task(
        task_id=task_id,
        title=title.strip(),
        assignee_id=assignee_id,
        due_at=due_at,
        created_by=by,
        created_at=now,
        idempotency_key=idempotency_key,
        fingerprint=task_fingerprint(title, assignee_id, due_at, by),
    )
    return replace(project, tasks=(*project.tasks, task)), task


def complete_task(project: Project, task_id: str, by: str, now: datetime) -> Project:
    require_member(project, by)
    task = project.task(task_id)
    if task.status is TaskStatus.DONE:
        raise FailedPrecondition(f"task {task_id} is done already", field="task_id")
    return _with_task(
        project, replace(task, status=TaskStatus.DONE, completed_at=now, completed_by=by)
    )


def reopen_task(
    project: Project, task_id: str, new_due_at: datetime | None, by: str, now: datetime
) -> Project:
    """A new due date starts the overdue watch afresh; without one the task keeps its
    date (and an overdue notice already given is not given again)."""
    require_member(project, by)
    task = project.task(task_id)
    if new_due_at is not None:
        raise_if_any(rules.planned_moment_errors(new_due_at, now, "due_at"))
    if task.status is not TaskStatus.DONE:
        raise FailedPrecondition(f"task {task_id} is open already", field="task_id")
    reopened = replace(task, status=TaskStatus.OPEN, completed_at=None, completed_by="")
    if new_due_at is not None and new_due_at != task.due_at:
        reopened = replace(reopened, due_at=new_due_at, overdue_notified_at=None)
    return _with_task(project, reopened)


def comment_on_task(
    project: Project,
    task_id: str,
    *,
    comment_id: str,
    text: str,
    by: str,
    now: datetime,
    idempotency_key: str = "",
) -> tuple[Project, Comment]:
    require_member(project, by)
    task = project.task(task_id)
    errors = idempotency.key_errors(idempotency_key)
    if not text.strip():
        errors.append(FieldError("text", "is required"))
    elif len(text) > MAX_COMMENT:
        errors.append(FieldError("text", f"at most {MAX_COMMENT} characters"))
    raise_if_any(errors)
    if len(task.comments) >= MAX_COMMENTS_PER_TASK:
        raise FailedPrecondition(
            f"task {task_id} has {MAX_COMMENTS_PER_TASK} comments already", field="task_id"
        )
    comment = Comment(
        comment_id=comment_id,
        author_id=by,
        text=text.strip(),
        created_at=now,
        idempotency_key=idempotency_key,
        fingerprint=comment_fingerprint(task_id, text, by),
    )
    return _with_task(project, replace(task, comments=(*task.comments, comment))), comment


# ----------------------------------------------------------------- the timer's rules


def task_overdue(task: Task, now: datetime) -> bool:
    """Open, past its due time, and its assignee not told yet."""
    return (
        task.status is TaskStatus.OPEN and task.overdue_notified_at is None and now >= task.due_at
    )


def overdue_tasks(project: Project, now: datetime) -> list[Task]:
    return [t for t in project.tasks if task_overdue(t, now)]


def mark_overdue(project: Project, now: datetime) -> tuple[Project, list[Task]]:
    """Mark every overdue task as told; answers the project and the tasks marked."""
    marked = [replace(t, overdue_notified_at=now) for t in overdue_tasks(project, now)]
    for task in marked:
        project = _with_task(project, task)
    return project, marked


def next_overdue_check(project: Project) -> datetime | None:
    """The earliest moment a task of the project becomes overdue, None when none can:
    stored beside the project so the timer finds due projects with one plain query."""
    pending = [
        t.due_at
        for t in project.tasks
        if t.status is TaskStatus.OPEN and t.overdue_notified_at is None
    ]
    return min(pending) if pending else None


# -------------------------------------------------------------------- event payloads


def created_event_payload(project: Project) -> dict[str, object]:
    return {
        "project_id": project.project_id,
        "centre_id": project.centre_id,
        "name": project.name,
        "members": list(project.members),
        "created_by": project.created_by,
        "created_at": project.created_at.isoformat(),
    }


def task_event_payload(project: Project, task: Task) -> dict[str, object]:
    """What every task event carries (comments stay in intake)."""
    return {
        "project_id": project.project_id,
        "project_name": project.name,
        "centre_id": project.centre_id,
        "task_id": task.task_id,
        "title": task.title,
        "assignee_id": task.assignee_id,
        "due_at": task.due_at.isoformat(),
        "status": task.status.value,
    }
