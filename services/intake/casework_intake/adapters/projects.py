"""Projects in the intake database, their tasks and comments inside them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import mongoengine as me

from casework_common.repository import (
    LIST,
    OPTIONAL_KEY,
    AggregateRepository,
    Stored,
    StoredFields,
    idempotency_key_index,
)
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
            idempotency_key_index(keyless_records=True),
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


FIELDS = StoredFields(
    Project,
    "project_id",
    members=LIST,
    tasks=Stored(
        lambda tasks: [_task_to_dict(t) for t in tasks],
        lambda raw: tuple(_task(dict(task)) for task in raw),
    ),
    idempotency_key=OPTIONAL_KEY,
)


class ProjectRepository(AggregateRepository[ProjectDocument, Project]):
    """Projects of one organisation; reads are limited to the centres given."""

    document = ProjectDocument
    fields = FIELDS
    what = "project"

    def _write(self, doc: ProjectDocument, aggregate: Project) -> None:
        FIELDS.write(doc, aggregate)
        doc.next_overdue_check = next_overdue_check(aggregate)

    def page(self, *, centre_id: str, offset: int, limit: int) -> list[Project]:
        return self._page(("-created_at", "id"), offset, limit, centre_id=centre_id)


def projects_with_overdue_tasks(now: datetime, limit: int = 100) -> list[Project]:
    """Projects of every organisation with an open task past its due time whose
    assignee was not told yet (the timer's query)."""
    docs = ProjectDocument.objects(next_overdue_check__lte=now).limit(limit)
    return [FIELDS.read(doc) for doc in docs]
