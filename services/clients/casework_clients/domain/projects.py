"""Projects and programmes a client is enrolled in, and the status settings of each.

Seed 000: the project or programme is chosen together with the client; seed 001: the
optional status functions (approached on/off, manual or automatic, inactivity days,
shared family status, reason lists) are set per project. An administrator changes a
project's settings; every change is a new *version* effective from a date, so the
rules a decision was taken under can always be read back, and nothing is rewritten
after the fact.

A card without a project (and a project without a version yet in force) follows the
organisation's default settings (the organisation file at start-up).

Pure domain code: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import MappingProxyType

from casework_clients.domain.status import InvalidSettings, StatusRuleViolation, StatusSettings

__all__ = [
    "PROJECT_ID_PATTERN",
    "Project",
    "ProjectRuleViolation",
    "SettingsBook",
    "SettingsSource",
    "SettingsVersion",
    "StaleSettingsVersion",
    "change_settings",
    "define_project",
    "settings_for",
]

PROJECT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NAME_LIMIT = 200


class ProjectRuleViolation(StatusRuleViolation):
    default_field = "project_id"


class StaleSettingsVersion(ProjectRuleViolation):
    """The administrator changed settings they read at an older version."""

    default_field = "expected_version"


@dataclass(frozen=True)
class SettingsVersion:
    """One version of a project's status settings, in force from ``effective_from``."""

    version: int
    effective_from: date
    settings: StatusSettings
    changed_by: str
    changed_at: datetime
    note: str = ""


@dataclass(frozen=True)
class Project:
    """A project or programme of one organisation with its settings' versions."""

    project_id: str
    organisation: str
    name: str
    created_at: datetime
    versions: tuple[SettingsVersion, ...] = ()
    #: The aggregate's storage version (optimistic concurrency), not a settings version.
    version: int = 0

    @property
    def latest(self) -> SettingsVersion | None:
        return self.versions[-1] if self.versions else None

    def version_on(self, day: date) -> SettingsVersion | None:
        """The version in force at ``day`` (the latest one effective by then)."""
        in_force = [v for v in self.versions if v.effective_from <= day]
        return in_force[-1] if in_force else None

    def settings_on(self, day: date, default: StatusSettings) -> StatusSettings:
        found = self.version_on(day)
        return found.settings if found is not None else default


def _check_project_id(project_id: str) -> str:
    value = (project_id or "").strip()
    if not PROJECT_ID_PATTERN.match(value):
        raise ProjectRuleViolation(
            "a project id is 1-64 lower-case letters, digits, '-' or '_', starting with "
            "a letter or digit",
            field="project_id",
        )
    return value


def _check_name(name: str) -> str:
    value = " ".join((name or "").split())
    if not value:
        raise ProjectRuleViolation("a project needs a name", field="name")
    if len(value) > NAME_LIMIT:
        raise ProjectRuleViolation(f"at most {NAME_LIMIT} characters", field="name")
    return value


def _check_actor(actor: str) -> str:
    if not actor or not actor.strip():
        raise ProjectRuleViolation("a settings change needs the administrator", field="actor")
    return actor.strip()


def define_project(
    project_id: str,
    organisation: str,
    name: str,
    settings: StatusSettings,
    effective_from: date,
    actor: str,
    now: datetime,
    note: str = "",
) -> Project:
    """A new project with its first settings version."""
    project = Project(
        project_id=_check_project_id(project_id),
        organisation=organisation,
        name=_check_name(name),
        created_at=now,
    )
    return change_settings(project, settings, effective_from, actor, now, note=note)


def change_settings(
    project: Project,
    settings: StatusSettings,
    effective_from: date,
    actor: str,
    now: datetime,
    *,
    expected_version: int = 0,
    name: str = "",
    note: str = "",
) -> Project:
    """A new settings version. Never retroactive: it takes effect today or later, and
    not before the latest version already set (decisions taken under a version stay
    explained by it). ``expected_version`` (when not 0) must be the latest version the
    administrator read, so two administrators cannot silently overwrite each other."""
    actor = _check_actor(actor)
    if not isinstance(settings, StatusSettings):
        raise InvalidSettings("settings are required")
    latest = project.latest
    current = latest.version if latest else 0
    if expected_version and expected_version != current:
        raise StaleSettingsVersion(
            f"the settings are at version {current}, not {expected_version}; read them again"
        )
    if effective_from < now.date():
        raise ProjectRuleViolation(
            f"settings take effect from today ({now.date().isoformat()}) or later, "
            f"not from {effective_from.isoformat()}",
            field="effective_from",
        )
    if latest is not None and effective_from < latest.effective_from:
        raise ProjectRuleViolation(
            f"version {latest.version} takes effect on {latest.effective_from.isoformat()}; "
            "a newer version cannot take effect before it",
            field="effective_from",
        )
    added = SettingsVersion(
        version=current + 1,
        effective_from=effective_from,
        settings=settings,
        changed_by=actor,
        changed_at=now,
        note=" ".join((note or "").split())[:500],
    )
    return replace(
        project,
        name=_check_name(name) if name else project.name,
        versions=(*project.versions, added),
    )


@dataclass(frozen=True)
class SettingsBook:
    """The status settings of one organisation: its default and its projects'."""

    default: StatusSettings = field(default_factory=StatusSettings)
    projects: Mapping[str, Project] = field(default_factory=lambda: MappingProxyType({}))

    def for_project(self, project_id: str, on: date) -> StatusSettings:
        project = self.projects.get(project_id) if project_id else None
        if project is None:
            return self.default
        return project.settings_on(on, self.default)


#: What use cases accept: one set of settings for everything (tests, the organisation
#: default) or the organisation's book resolved per card's project.
SettingsSource = StatusSettings | SettingsBook


def settings_for(source: SettingsSource, project_id: str, on: date) -> StatusSettings:
    if isinstance(source, StatusSettings):
        return source
    return source.for_project(project_id, on)


def default_of(source: SettingsSource) -> StatusSettings:
    return source if isinstance(source, StatusSettings) else source.default
