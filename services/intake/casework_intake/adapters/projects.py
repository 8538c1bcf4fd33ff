"""Projects in the intake database, their tasks and comments inside them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import mongoengine as me

from casework_common.repository import AggregateRepository
from casework_common.storage import AggregateDocument
from casework_intake.domain.projects import (
    Comment,
    Project,
    Task,
    TaskStatus,
    next_overdue_check,
)


class ProjectDocument(AggregateDocument):
    """A project with its tasks and their comments, replaced whole on every change
    (never positional updates such as tasks.0.status)."""

    meta = {
        "collection": "projects",
        "indexes": [
            # A key is used once per organisation; documents stored before keys existed
            # have none and are left out of the index.
            {
                "fields": ["organisation", "idempotency_key"],
                "unique": True,
                "partialFilterExpression": {"idempotency_key": {"$type": "string"}},
            },
            {"fields": ["organisation", "centre_id", "-created_at"]},
            {"fields": ["next_overdue_check"]},
        ],
    }

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    name = me.StringField(required=True)
    description = me.StringField(default="")
    members = me.ListField(me.StringField())
    created_by = me.StringField(required=True)
    created_at = me.DateTimeField(required=True)
    tasks = me.ListField(me.DictField())
    # Unset (not stored) on projects created before keys were required. The keys of
    # AddTask and CommentOnTask are kept on the tasks and comments themselves.
    idempotency_key = me.StringField()
    fingerprint = me.StringField(default="")
    # When the earliest open task not yet reported becomes overdue (none: unset).
    next_overdue_check = me.DateTimeField()


def _task_to_dict(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "title": task.title,
        "assignee_id": task.assignee_id,
        "due_at": task.due_at,
        "created_by": task.created_by,
        "created_at": task.created_at,
        "status": task.status.value,
        "completed_at": task.completed_at,
        "completed_by": task.completed_by,
        "overdue_notified_at": task.overdue_notified_at,
        "comments": [
            {
                "comment_id": c.comment_id,
                "author_id": c.author_id,
                "text": c.text,
                "created_at": c.created_at,
                "idempotency_key": c.idempotency_key,
                "fingerprint": c.fingerprint,
            }
            for c in task.comments
        ],
        "idempotency_key": task.idempotency_key,
        "fingerprint": task.fingerprint,
    }


def _task(raw: dict[str, Any]) -> Task:
    return Task(
        task_id=raw["task_id"],
        title=raw["title"],
        assignee_id=raw["assignee_id"],
        due_at=_aware(raw["due_at"]),
        created_by=raw["created_by"],
        created_at=_aware(raw["created_at"]),
        status=TaskStatus(raw["status"]),
        completed_at=_aware(raw.get("completed_at")),
        completed_by=raw.get("completed_by") or "",
        overdue_notified_at=_aware(raw.get("overdue_notified_at")),
        comments=tuple(
            Comment(
                comment_id=c["comment_id"],
                author_id=c["author_id"],
                text=c["text"],
                created_at=_aware(c["created_at"]),
                idempotency_key=c.get("idempotency_key") or "",
                fingerprint=c.get("fingerprint") or "",
            )
            for c in raw.get("comments") or []
        ),
        idempotency_key=raw.get("idempotency_key") or "",
        fingerprint=raw.get("fingerprint") or "",
    )


def _aware(value: Any) -> Any:
    """Datetimes nested in a dict come back as the driver gives them; make them UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _project(doc: ProjectDocument) -> Project:
    return Project(
        project_id=doc.id,
        organisation=doc.organisation,
        centre_id=doc.centre_id,
        name=doc.name,
        description=doc.description or "",
        members=tuple(doc.members),
        created_by=doc.created_by,
        created_at=doc.created_at,
        tasks=tuple(_task(dict(raw)) for raw in doc.tasks),
        idempotency_key=doc.idempotency_key or "",
        fingerprint=doc.fingerprint or "",
    )


def _write_project(doc: ProjectDocument, p: Project) -> None:
    doc.organisation = p.organisation
    doc.centre_id = p.centre_id
    doc.name = p.name
    doc.description = p.description
    doc.members = list(p.members)
    doc.created_by = p.created_by
    doc.created_at = p.created_at
    doc.tasks = [_task_to_dict(t) for t in p.tasks]
    doc.idempotency_key = p.idempotency_key or None
    doc.fingerprint = p.fingerprint
    doc.next_overdue_check = next_overdue_check(p)


class ProjectRepository(AggregateRepository[ProjectDocument, Project]):
    """Projects of one organisation; reads are limited to the centres given."""

    document = ProjectDocument
    what = "project"

    def _read(self, doc: ProjectDocument) -> Project:
        return _project(doc)

    def _write(self, doc: ProjectDocument, aggregate: Project) -> None:
        _write_project(doc, aggregate)

    def _id_of(self, aggregate: Project) -> str:
        return aggregate.project_id

    def page(self, *, centre_id: str, offset: int, limit: int) -> list[Project]:
        query = self._scoped()
        if centre_id:
            query = query.filter(centre_id=centre_id)
        docs = query.order_by("-created_at", "id").skip(offset).limit(limit)
        return [_project(doc) for doc in docs]


def projects_with_overdue_tasks(now: datetime, limit: int = 100) -> list[Project]:
    """Projects of every organisation with an open task past its due time whose
    assignee was not told yet (the timer's query)."""
    docs = ProjectDocument.objects(next_overdue_check__lte=now).limit(limit)
    return [_project(doc) for doc in docs]
