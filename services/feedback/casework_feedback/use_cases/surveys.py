"""Survey definitions: saved as versions, moved to pilot, published or retired."""

from __future__ import annotations

import dataclasses

from casework_common.errors import FieldError, InvalidArgument, NotFound
from casework_common.unit_of_work import UnitOfWork
from casework_feedback.adapters.repository import SurveyRepository
from casework_feedback.domain import linter, surveys
from casework_feedback.domain.surveys import DefinitionStatus, SurveyDefinition
from casework_feedback.use_cases._common import choice, require_centre


def save_definition(
    draft: SurveyDefinition, uow: UnitOfWork, repository: SurveyRepository
) -> tuple[SurveyDefinition, list[linter.LintWarning]]:
    """A new draft version of the survey (its first, when survey_id is empty)."""
    require_centre(uow, draft.centre_id, "definition.centre_id")
    previous: SurveyDefinition | None = None
    if draft.survey_id:
        previous = repository.get(draft.survey_id)  # NotFound outside the caller's centres
        if previous.centre_id != draft.centre_id:
            raise InvalidArgument(
                [FieldError("definition.centre_id", "a new version stays with its survey's centre")]
            )
    else:
        draft = dataclasses.replace(draft, survey_id=uow.new_id())
    try:
        saved = surveys.next_version(previous, draft)
    except InvalidArgument as exc:
        raise InvalidArgument(
            [FieldError(f"definition.{e.field}", e.description) for e in exc.errors]
        ) from None
    saved = dataclasses.replace(
        saved,
        version=max(saved.version, repository.latest_version(saved.survey_id) + 1),
        created_by=uow.actor.subject,
        created_at=uow.now,
    )
    repository.add(saved)
    return saved, linter.lint(saved)


def lint_definition(draft: SurveyDefinition) -> list[linter.LintWarning]:
    return linter.lint(draft)


def set_status(
    survey_id: str, version: int, status: str, uow: UnitOfWork, repository: SurveyRepository
) -> SurveyDefinition:
    errors: list[FieldError] = []
    to = choice(
        DefinitionStatus,
        status,
        "status",
        errors,
        (DefinitionStatus.PILOT, DefinitionStatus.PUBLISHED, DefinitionStatus.RETIRED),
    )
    if version < 1:
        errors.append(FieldError("version", "must be 1 or more"))
    if errors or to is None:
        raise InvalidArgument(errors)
    moved = surveys.move(repository.get(survey_id, version), to)
    repository.overwrite(moved)
    return moved


def get_definition(survey_id: str, version: int, repository: SurveyRepository) -> SurveyDefinition:
    if not survey_id:
        raise NotFound("survey not found")
    return repository.get(survey_id, max(version, 0))
