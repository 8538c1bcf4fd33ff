"""Projects: created (idempotent), their tasks assigned, completed, reopened and
commented on (each keyed change checked inside the project's own write), and the timer
that tells assignees of overdue tasks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message

from casework.intake.v1 import events_pb2
from casework_common.envelope import EventEnvelope
from casework_common.errors import raise_if_any
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork
from casework_intake.adapters.projects import ProjectRepository
from casework_intake.domain import projects
from casework_intake.domain.projects import Comment, CreateProject, Project, Task
from casework_intake.use_cases import _common as shared
from casework_intake.use_cases._common import event, require_worker, required

PROJECT_CREATED = events_pb2.ProjectCreated
TASK_ASSIGNED = events_pb2.TaskAssigned
TASK_COMPLETED = events_pb2.TaskCompleted
TASK_REOPENED = events_pb2.TaskReopened
TASK_COMMENTED = events_pb2.TaskCommented
TASK_OVERDUE = events_pb2.TaskOverdue
X = TypeVar("X", Task, Comment)


@dataclass(frozen=True)
class AddTask:
    project_id: str
    title: str
    assignee_id: str
    due_at: datetime | None
    idempotency_key: str


@dataclass(frozen=True)
class CompleteTask:
    project_id: str
    task_id: str


@dataclass(frozen=True)
class ReopenTask:
    project_id: str
    task_id: str
    due_at: datetime | None = None


@dataclass(frozen=True)
class CommentOnTask:
    project_id: str
    task_id: str
    text: str
    idempotency_key: str


def create_project(
    command: CreateProject,
    uow: UnitOfWork,
    organisation: Organisation,
    repository: ProjectRepository,
) -> Project:
    require_worker(uow)
    principal = uow.principal

    def create() -> Project:
        raise_if_any(projects.validate(command, organisation, principal.subject))
        principal.require_centre(command.centre_id)
        project = projects.create(
            command, organisation, project_id=uow.new_id(), creator=principal.subject, now=uow.now
        )
        payload = projects.created_event_payload(project)
        repository.add(project, event(PROJECT_CREATED, organisation.id, uow, payload))
        return project

    def replay(stored: Project) -> Project:
        return projects.check_replay(stored, command, principal.subject)

    return shared.create_once(command.idempotency_key, repository, replay, create)[0]


def add_task(
    command: AddTask, uow: UnitOfWork, repository: ProjectRepository
) -> tuple[Project, Task]:
    """The key is checked against those kept in the project, in the same
    version-guarded write that adds the task: a retry answers the first task and
    stores and emits nothing."""
    require_worker(uow)
    required("project_id", command.project_id)
    principal, now, new_id = uow.principal, uow.now, uow.new_id
    project_id, title, assignee_id = command.project_id, command.title, command.assignee_id
    due_at, idempotency_key = command.due_at, command.idempotency_key
    fingerprint = projects.task_fingerprint(title, assignee_id, due_at, principal.subject)

    def add(current: Project) -> tuple[Project, Task, EventEnvelope]:
        changed, task = projects.add_task(
            current,
            task_id=new_id(),
            title=title,
            assignee_id=assignee_id,
            due_at=due_at,
            by=principal.subject,
            now=now,
            idempotency_key=idempotency_key,
        )
        payload = projects.task_event_payload(changed, task) | {"assigned_by": principal.subject}
        return changed, task, event(TASK_ASSIGNED, changed.organisation, uow, payload)

    project, task = _add_keyed(
        repository,
        project_id,
        lambda current: projects.task_replay(
            current, idempotency_key, fingerprint, principal.subject
        ),
        add,
    )
    return project, project.task(task.task_id)


def _add_keyed(
    repository: ProjectRepository,
    project_id: str,
    replayed: Callable[[Project], X | None],
    add: Callable[[Project], tuple[Project, X, EventEnvelope]],
) -> tuple[Project, X]:
    """Add a task or a comment under the caller's key, checked against the keys kept in
    the project in the same version-guarded write: a retry answers what was added
    first and stores and emits nothing. A change that lost a race is tried again on
    the project as it now stands, where a concurrent retry of the same call then finds
    its key and answers the first."""
    added: list[X] = []

    def change(current: Project) -> tuple[Project, list[EventEnvelope]]:
        first = replayed(current)
        if first is not None:
            added.append(first)
            return current, []
        changed, item, emitted = add(current)
        added.append(item)
        return changed, [emitted]

    # The repository works a lost race out again on the project as it now stands.
    return repository.update(project_id, change), added[-1]


def _task_change(
    uow: UnitOfWork,
    command: CompleteTask | ReopenTask,
    repository: ProjectRepository,
    event_type: type[Message],
    extra: Mapping[str, object],
    apply: Callable[[Project], Project],
) -> tuple[Project, Task]:
    require_worker(uow)
    required("project_id", command.project_id)
    required("task_id", command.task_id)
    project_id, task_id = command.project_id, command.task_id

    def change(current: Project) -> tuple[Project, list[EventEnvelope]]:
        changed = apply(current)
        payload = projects.task_event_payload(changed, changed.task(task_id)) | dict(extra)
        return shared.with_event(uow, event_type, changed, payload)

    project = repository.update(project_id, change)
    return project, project.task(task_id)


def complete_task(
    command: CompleteTask, uow: UnitOfWork, repository: ProjectRepository
) -> tuple[Project, Task]:
    subject, now = uow.principal.subject, uow.now

    def complete(project: Project) -> Project:
        return projects.complete_task(project, command.task_id, subject, now)

    done = {"completed_by": subject, "completed_at": now.isoformat()}
    return _task_change(uow, command, repository, TASK_COMPLETED, done, complete)


def reopen_task(
    command: ReopenTask, uow: UnitOfWork, repository: ProjectRepository
) -> tuple[Project, Task]:
    subject, now = uow.principal.subject, uow.now

    def reopen(project: Project) -> Project:
        return projects.reopen_task(project, command.task_id, command.due_at, subject, now)

    return _task_change(uow, command, repository, TASK_REOPENED, {"reopened_by": subject}, reopen)


def comment_on_task(
    command: CommentOnTask, uow: UnitOfWork, repository: ProjectRepository
) -> tuple[Project, Comment]:
    """The comment is stored in the project; its event names it but carries no text
    (that stays in intake). The key is checked as for add_task."""
    require_worker(uow)
    required("project_id", command.project_id)
    required("task_id", command.task_id)
    principal, now, new_id = uow.principal, uow.now, uow.new_id
    project_id, task_id, text = command.project_id, command.task_id, command.text
    idempotency_key = command.idempotency_key
    fingerprint = projects.comment_fingerprint(task_id, text, principal.subject)

    def add(current: Project) -> tuple[Project, Comment, EventEnvelope]:
        changed, comment = projects.comment_on_task(
            current,
            task_id,
            comment_id=new_id(),
            text=text,
            by=principal.subject,
            now=now,
            idempotency_key=idempotency_key,
        )
        payload = projects.task_event_payload(changed, changed.task(task_id)) | {
            "comment_id": comment.comment_id,
            "author_id": comment.author_id,
        }
        return changed, comment, event(TASK_COMMENTED, changed.organisation, uow, payload)

    return _add_keyed(
        repository,
        project_id,
        lambda current: projects.comment_replay(
            current, idempotency_key, fingerprint, principal.subject
        ),
        add,
    )


def flag_overdue_tasks(
    uow: UnitOfWork,
    due: list[Project],
    repository_of: Callable[[str], ProjectRepository],
) -> int:
    """Tell each assignee of an overdue open task, once per due date: the marks and
    their intake.task.overdue events are one version-guarded write of the project."""

    def change(current: Project) -> tuple[Project, list[EventEnvelope]]:
        changed, marked = projects.mark_overdue(current, uow.now)
        events = [
            event(TASK_OVERDUE, changed.organisation, uow, projects.task_event_payload(changed, t))
            for t in marked
        ]
        return changed, events

    return shared.mark_each(
        due,
        lambda item, change: repository_of(item.organisation).update(item.project_id, change),
        change,
    )
