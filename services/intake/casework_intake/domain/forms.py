"""Eligibility (intake) forms that an organisation defines, and the rules that read them.

An organisation decides for itself what it asks before taking someone on: a couple of
questions or several steps, some of which may be handed to the client to fill in alone.
The answers then decide which of the organisation's programmes the person fits.

Pure domain code: no I/O and no clock. "Today" is always passed in, so that a verdict
given on one day can be reproduced later, and so that the api and events processes
reach the same answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from types import MappingProxyType

from casework_intake.domain.form_checks import (
    validate_answers,
    validate_definition,
)
from casework_intake.domain.form_eligibility import (
    EligibilityVerdict,
    evaluate_eligibility,
)
from casework_intake.domain.form_model import (
    CHOICE_TYPES,
    DEFAULT_REASON_TEMPLATE,
    MAX_CONDITION_DEPTH,
    REASON_PLACEHOLDERS,
    AgeAtLeast,
    AllOf,
    Answer,
    Answered,
    AnyOf,
    Choice,
    Condition,
    Equals,
    FieldError,
    FormDefinition,
    FormRuleViolation,
    GreaterThan,
    In,
    InvalidAnswers,
    InvalidFormDefinition,
    Leaf,
    LessThan,
    Not,
    NotEquals,
    Programme,
    Question,
    QuestionType,
    Scalar,
    Step,
    UnknownFormVersion,
    all_of,
    any_of,
    referenced_questions,
    self_fill_question_ids,
)

# ------------------------------------------------------------ versions and answers


@dataclasses.dataclass(frozen=True)
class AnswerSet:
    """Answers as given, tied to the exact form version they were given on, so that a
    later edit of the form never changes what an earlier answer meant."""

    form_id: str
    version: int
    answers: Mapping[str, object]
    submitted_at: datetime


def record_answers(
    defn: FormDefinition,
    answers: Mapping[str, object],
    submitted_at: datetime,
    today: date | None = None,
    only_self_fill: bool = False,
) -> AnswerSet:
    """Check the answers against `defn` and pin them to its version.

    `today` defaults to the day of `submitted_at` in its own time zone; pass the
    centre's local day when that differs.
    """
    day = submitted_at.date() if today is None else today
    errors = validate_answers(defn, answers, day, only_self_fill=only_self_fill)
    if errors:
        raise InvalidAnswers(errors)
    # A read-only copy: the caller keeps no handle through which the record could change.
    frozen = MappingProxyType(dict(answers))
    return AnswerSet(defn.form_id, defn.version, frozen, submitted_at)


class FormCatalogue:
    """All versions of an organisation's forms.

    Publishing never edits a version in place: it adds the next one, and earlier ones
    stay readable for the answers given on them until they are explicitly retired
    (say, once no kept answer refers to them any more). Version numbers are never
    reused, so an old AnswerSet can never be read against a different form.
    """

    def __init__(self, definitions: Iterable[FormDefinition] = ()) -> None:
        self._versions: dict[str, dict[int, FormDefinition]] = {}
        self._highest: dict[str, int] = {}
        for defn in definitions:
            self._versions.setdefault(defn.form_id, {})[defn.version] = defn
            self._highest[defn.form_id] = max(self._highest.get(defn.form_id, 0), defn.version)

    def publish(self, draft: FormDefinition) -> FormDefinition:
        """Store `draft` as the next version of its form and return it with that version.

        The draft's own version number is ignored: the catalogue alone decides it, so
        two editors cannot both publish "version 3".
        """
        published = dataclasses.replace(draft, version=self._highest.get(draft.form_id, 0) + 1)
        errors = validate_definition(published)
        current = self._current(draft.form_id)
        if current is not None and current.organisation != draft.organisation:
            errors.append(
                FieldError("organisation", "a form belongs to the organisation that created it")
            )
        if errors:
            raise InvalidFormDefinition(errors)
        self._versions.setdefault(published.form_id, {})[published.version] = published
        self._highest[published.form_id] = published.version
        return published

    def get(self, form_id: str, version: int) -> FormDefinition:
        """The given version; UnknownFormVersion if the form or that version is gone."""
        versions = self._versions.get(form_id)
        if not versions:
            raise UnknownFormVersion(
                form_id, version, FieldError("form_id", f"there is no form '{form_id}'")
            )
        found = versions.get(version)
        if found is None:
            was = "was retired" if 1 <= version <= self._highest[form_id] else "does not exist"
            raise UnknownFormVersion(
                form_id,
                version,
                FieldError("form_version", f"version {version} of form '{form_id}' {was}"),
            )
        return found

    def latest(self, form_id: str) -> FormDefinition:
        current = self._current(form_id)
        if current is None:
            raise UnknownFormVersion(
                form_id, None, FieldError("form_id", f"there is no form '{form_id}'")
            )
        return current

    def versions(self, form_id: str) -> tuple[int, ...]:
        """Versions still readable, oldest first."""
        return tuple(sorted(self._versions.get(form_id, {})))

    def definition_for(self, answer_set: AnswerSet) -> FormDefinition:
        return self.get(answer_set.form_id, answer_set.version)

    def retire(self, form_id: str, version: int) -> None:
        """Make an old version unreadable. The current version cannot be retired, as
        new answers are being given on it."""
        self.get(form_id, version)  # refuses unknown and already retired versions
        if version == self._highest[form_id]:
            raise FormRuleViolation(
                [
                    FieldError(
                        "form_version",
                        "the current version cannot be retired; publish a newer one first",
                    )
                ]
            )
        del self._versions[form_id][version]

    def _current(self, form_id: str) -> FormDefinition | None:
        versions = self._versions.get(form_id)
        return versions[max(versions)] if versions else None


# What this module answers for: the form, its checks, its eligibility rules and its
# versions (one import point for the rest of intake).
__all__ = [
    "CHOICE_TYPES",
    "DEFAULT_REASON_TEMPLATE",
    "MAX_CONDITION_DEPTH",
    "REASON_PLACEHOLDERS",
    "AgeAtLeast",
    "AllOf",
    "Answer",
    "AnswerSet",
    "Answered",
    "AnyOf",
    "Choice",
    "Condition",
    "EligibilityVerdict",
    "Equals",
    "FieldError",
    "FormCatalogue",
    "FormDefinition",
    "FormRuleViolation",
    "GreaterThan",
    "In",
    "InvalidAnswers",
    "InvalidFormDefinition",
    "Leaf",
    "LessThan",
    "Not",
    "NotEquals",
    "Programme",
    "Question",
    "QuestionType",
    "Scalar",
    "Step",
    "UnknownFormVersion",
    "all_of",
    "any_of",
    "evaluate_eligibility",
    "record_answers",
    "referenced_questions",
    "self_fill_question_ids",
    "validate_answers",
    "validate_definition",
]
