"""Projects and their status settings' versions in the clients database (mongoengine).

Projects are organisation-wide (not a centre's): every worker of the organisation reads
them, only an administrator changes them (the access map decides who may call)."""

from __future__ import annotations

from datetime import date
from types import MappingProxyType
from typing import Any

import mongoengine as me

from casework_clients.adapters.settings import parse_status_settings, settings_to_dict
from casework_clients.domain.projects import Project, SettingsBook, SettingsVersion
from casework_clients.domain.status import StatusSettings
from casework_common.envelope import EventEnvelope
from casework_common.errors import NotFound
from casework_common.repository import ScopedRepository
from casework_common.storage import AggregateDocument


class ProjectDocument(AggregateDocument):
    meta = {
        "collection": "projects",
        "indexes": [{"fields": ["organisation", "project_id"], "unique": True}],
    }

    # "<organisation>/<project id>": the same project id in two organisations is two
    # projects.
    id = me.StringField(primary_key=True)
    project_id = me.StringField(required=True)
    name = me.StringField(required=True)
    created_at = me.DateTimeField(required=True)
    versions = me.ListField(me.DictField())


def _version_to_dict(v: SettingsVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "effective_from": v.effective_from.isoformat(),
        "settings": settings_to_dict(v.settings),
        "changed_by": v.changed_by,
        "changed_at": v.changed_at,
        "note": v.note,
    }


def _stored(raw: dict[str, Any]) -> dict[str, Any]:
    # The development wire server may store a False written by `$set` as 0.
    out = dict(raw)
    for flag in ("use_approached", "shared_with_family"):
        if flag in out:
            out[flag] = bool(out[flag])
    return out


def _to_domain(doc: ProjectDocument) -> Project:
    return Project(
        project_id=doc.project_id,
        organisation=doc.organisation,
        name=doc.name,
        created_at=doc.created_at,
        versions=tuple(
            SettingsVersion(
                version=int(v["version"]),
                effective_from=date.fromisoformat(v["effective_from"]),
                settings=parse_status_settings(_stored(v["settings"]), f"project {doc.project_id}"),
                changed_by=v["changed_by"],
                changed_at=v["changed_at"],
                note=v.get("note", ""),
            )
            for v in doc.versions
        ),
        version=doc.version,
    )


class ProjectRepository(ScopedRepository[ProjectDocument]):
    """The projects of one organisation (a project belongs to no centre)."""

    document = ProjectDocument
    what = "project"

    def _query(self) -> me.QuerySet:
        return self._unscoped()

    def find(self, project_id: str) -> Project | None:
        doc = self._query().filter(project_id=project_id).first()
        return _to_domain(doc) if doc else None

    def get(self, project_id: str) -> Project:
        found = self.find(project_id)
        if found is None:
            raise NotFound(f"project {project_id} not found")
        return found

    def all(self) -> list[Project]:
        return [_to_domain(doc) for doc in self._query().order_by("project_id")]

    def book(self, default: StatusSettings) -> SettingsBook:
        """The organisation's settings: its default and every project's versions."""
        # Read-only: a process keeps the book between events (KeptBooks).
        return SettingsBook(default, MappingProxyType({p.project_id: p for p in self.all()}))

    def stamp(self) -> frozenset[tuple[str, int]]:
        """Each project's id with its stored version, in one small read. Every save of a
        project raises its version (save_aggregate) and none is ever deleted, so any
        change an administrator made changes the stamp; being the projects' own
        versions, it cannot miss a change the way a marker written beside them could
        (a crash between the two writes)."""
        rows = ProjectDocument._get_collection().find(
            {"organisation": self._organisation}, {"version": 1}
        )
        return frozenset((str(r["_id"]), int(r.get("version") or 0)) for r in rows)

    def save(self, project: Project, events: list[EventEnvelope]) -> Project:
        doc = ProjectDocument(
            id=f"{project.organisation}/{project.project_id}",
            organisation=project.organisation,
            project_id=project.project_id,
            name=project.name,
            created_at=project.created_at,
            versions=[_version_to_dict(v) for v in project.versions],
            version=project.version,
        )
        self._save(doc, events)
        return _to_domain(doc)


class KeptBooks:
    """The organisations' settings books one process keeps between events: a book is
    built again only when its projects' stamp changed, so an administrator's change,
    made in whichever process, governs the next decision here."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[frozenset[tuple[str, int]], SettingsBook]] = {}

    def book(self, organisation: str, default: StatusSettings) -> SettingsBook:
        projects = ProjectRepository(organisation)
        # The stamp is read before the projects: a change saved in between makes the
        # book newer than its stamp, never older, and the next read builds it again.
        stamp = projects.stamp()
        kept = self._kept.get(organisation)
        if kept is not None and kept[0] == stamp and kept[1].default == default:
            return kept[1]
        book = projects.book(default)
        self._kept[organisation] = (stamp, book)
        return book


def organisations_with_projects() -> list[str]:
    """Every organisation that has a project (the inactivity timer visits them)."""
    return sorted(str(o) for o in ProjectDocument.objects.distinct("organisation"))
