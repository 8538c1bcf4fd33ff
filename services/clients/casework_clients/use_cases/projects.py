"""Projects and programmes, and the status settings an administrator sets per project."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from casework_clients.adapters.repository import ProjectRepository
from casework_clients.domain.projects import (
    PROJECT_ID_PATTERN,
    Project,
    SettingsBook,
    StaleSettingsVersion,
    change_settings,
    define_project,
)
from casework_clients.domain.status import (
    InvalidSettings,
    StatusMode,
    StatusRuleViolation,
    StatusSettings,
)
from casework_common.errors import (
    Conflict,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    raise_if_any,
)
from casework_common.storage import DuplicateAggregate
from casework_common.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class SettingsValues:
    """Status settings as a request carries them (the domain decides what is valid)."""

    mode: str  # "automatic", "manual" or "" (not given)
    use_approached: bool
    inactivity_days: int  # 0: the rule is off
    shared_with_family: bool
    rejection_reasons: tuple[str, ...]
    termination_reasons: tuple[str, ...]


@dataclass(frozen=True)
class SetProjectSettings:
    project_id: str
    name: str
    settings: SettingsValues | None
    effective_from: date
    expected_version: int
    note: str


def settings_of(values: SettingsValues | None) -> StatusSettings:
    """The domain's settings from the request's values; INVALID_ARGUMENT naming the
    field (settings.<name>) otherwise."""
    if values is None:
        raise InvalidArgument([FieldError("settings", "is required")])
    errors: list[FieldError] = []
    try:
        mode = StatusMode(values.mode)
    except ValueError:
        errors.append(FieldError("settings.mode", "choose automatic or manual"))
        mode = StatusMode.AUTOMATIC
    if values.inactivity_days < 0:
        errors.append(FieldError("settings.inactivity_days", "0 (off) or a number of days"))
    raise_if_any(errors)
    defaults = StatusSettings()
    try:
        return StatusSettings(
            mode=mode,
            use_approached=values.use_approached,
            inactivity_days=values.inactivity_days or None,
            shared_with_family=values.shared_with_family,
            rejection_reasons=values.rejection_reasons or defaults.rejection_reasons,
            termination_reasons=values.termination_reasons or defaults.termination_reasons,
        )
    except InvalidSettings as exc:
        raise InvalidArgument([FieldError(f"settings.{exc.field}", exc.message)]) from None


def set_project_settings(
    command: SetProjectSettings, uow: UnitOfWork, repository: ProjectRepository
) -> Project:
    """Define a project with its first settings, or add a version to an existing one.
    Every version keeps who set it and when (the settings' own audit trail)."""
    principal, now = uow.principal, uow.now
    settings = settings_of(command.settings)
    for _ in range(5):
        existing = repository.find(command.project_id.strip())
        try:
            if existing is None:
                if not command.name.strip():
                    raise InvalidArgument([FieldError("name", "a new project needs a name")])
                project = define_project(
                    command.project_id, principal.organisation, command.name, settings,
                    command.effective_from, principal.subject, now, note=command.note,
                )  # fmt: skip
            else:
                project = change_settings(
                    existing, settings, command.effective_from, principal.subject, now,
                    expected_version=command.expected_version, name=command.name,
                    note=command.note,
                )  # fmt: skip
        except StaleSettingsVersion as exc:
            raise FailedPrecondition(f"expected_version: {exc.message}") from None
        except StatusRuleViolation as exc:
            raise InvalidArgument([FieldError(exc.field, exc.message)]) from None
        try:
            return repository.save(project, [])
        except (Conflict, DuplicateAggregate):
            # Another administrator saved meanwhile: read again and re-check.
            continue
    raise Conflict("the project's settings changed meanwhile too often; try again")


def list_projects(repository: ProjectRepository, default: StatusSettings) -> SettingsBook:
    return repository.book(default)


def read_project(project_id: str, repository: ProjectRepository) -> Project:
    if not PROJECT_ID_PATTERN.match(project_id.strip()):
        raise InvalidArgument([FieldError("project_id", "is not a project id (see ListProjects)")])
    return repository.get(project_id.strip())
