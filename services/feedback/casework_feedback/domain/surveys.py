"""Survey definitions: versioned questionnaires, their questions, and which one a visit gets.

A definition is written by a manager, tried on a few clients in pilot mode, then
published; a published version never changes (responses point at it), an edit is a new
version. Structural rules (a question needs options, a mini-survey is one or two smiley
questions) are errors; matters of judgement about wording are the linter's warnings
(`linter.py`), shown to the author and never blocking.

Answers are checked against the exact version they answer, so an answer to a question
that does not exist, a smiley outside its five faces or a choice that was never offered
is refused by field before anything is stored.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from datetime import datetime

from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument

SMILEY_FACES = 5
"""Very sad (1) .. very happy (5): the five faces of the smiley scale."""

MAX_MINI_QUESTIONS = 2
MAX_QUESTIONS = 30
MAX_OPTIONS = 20
MAX_COMMENT_CHARS = 2000


class QuestionKind(enum.StrEnum):
    SMILEY = "smiley"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    SCALE = "scale"
    FREE_TEXT = "free_text"


class Aspect(enum.StrEnum):
    """What a question is about; reports group by these."""

    PHYSICAL_ACCESSIBILITY = "physical_accessibility"
    ATTITUDE = "attitude"
    COMMUNICATION = "communication"
    COMFORT = "comfort"
    DURATION = "duration"
    PROBLEM_SOLVED = "problem_solved"


class Audience(enum.StrEnum):
    """When a survey is offered. The client never chooses this: it follows from the visit."""

    FRONT_LINE = "front_line"
    """After a contact at the front desk (one-time consultation, intake)."""
    DEPARTMENT = "department"
    """After a department's service (case work, a service of the plan)."""
    MINI = "mini"
    """One or two smiley questions right after a visit: kiosk, short link, QR code."""
    LATER = "later"
    """A later survey about other aspects, sent or asked by phone some days after."""
    REFERRAL = "referral"
    """A follow-up call about a service of another organisation the client was referred to."""


class DefinitionStatus(enum.StrEnum):
    DRAFT = "draft"
    PILOT = "pilot"
    """Offered to a few clients to test the wording; its responses stay out of reports."""
    PUBLISHED = "published"
    RETIRED = "retired"


@dataclasses.dataclass(frozen=True)
class Question:
    question_id: str
    kind: QuestionKind
    text: str
    aspect: Aspect | None = None
    options: tuple[str, ...] = ()
    """Choices for single/multiple choice, in the order shown."""
    scale_min: int = 1
    scale_max: int = 5
    required: bool = False

    def answer_error(self, value: object) -> str | None:
        """Why `value` cannot answer this question, or None."""
        if self.kind is QuestionKind.SMILEY:
            if not _is_int(value) or not 1 <= value <= SMILEY_FACES:  # type: ignore[operator]
                return f"a smiley answer is a face from 1 (very sad) to {SMILEY_FACES} (very happy)"
        elif self.kind is QuestionKind.SCALE:
            if not _is_int(value) or not self.scale_min <= value <= self.scale_max:  # type: ignore[operator]
                return f"must be a whole number from {self.scale_min} to {self.scale_max}"
        elif self.kind is QuestionKind.SINGLE_CHOICE:
            if not isinstance(value, str) or value not in self.options:
                return "must be one of the options offered"
        elif self.kind is QuestionKind.MULTIPLE_CHOICE:
            if (
                not isinstance(value, (list, tuple))
                or not value
                or any(not isinstance(v, str) or v not in self.options for v in value)
                or len(set(value)) != len(value)
            ):
                return "must be one or more different options offered"
        elif self.kind is QuestionKind.FREE_TEXT and (
            not isinstance(value, str) or len(value) > MAX_COMMENT_CHARS
        ):
            return f"must be text of at most {MAX_COMMENT_CHARS} characters"
        return None

    def score(self, value: object) -> float | None:
        """The answer on a 0..1 scale (0 worst), for questions that have an order."""
        if self.kind is QuestionKind.SMILEY and _is_int(value):
            return (int(value) - 1) / (SMILEY_FACES - 1)  # type: ignore[call-overload]
        if self.kind is QuestionKind.SCALE and _is_int(value) and self.scale_max > self.scale_min:
            return (int(value) - self.scale_min) / (self.scale_max - self.scale_min)  # type: ignore[call-overload]
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class SurveyDefinition:
    survey_id: str
    version: int
    centre_id: str
    title: str
    audience: Audience
    language: str
    questions: tuple[Question, ...]
    status: DefinitionStatus = DefinitionStatus.DRAFT
    department_id: str = ""
    """For a DEPARTMENT survey, the department it is for; empty means any department."""
    created_by: str = ""
    created_at: datetime | None = None

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.question_id == question_id), None)

    @property
    def takes_responses(self) -> bool:
        return self.status in (DefinitionStatus.PILOT, DefinitionStatus.PUBLISHED)

    @property
    def counts_in_reports(self) -> bool:
        return self.status is not DefinitionStatus.PILOT


def structure_errors(survey: SurveyDefinition) -> list[FieldError]:
    """What makes a definition unusable (not a matter of taste: those are lint warnings)."""
    errors: list[FieldError] = []
    if not survey.title.strip():
        errors.append(FieldError("title", "must not be empty"))
    if not survey.questions:
        errors.append(FieldError("questions", "a survey needs at least one question"))
    if len(survey.questions) > MAX_QUESTIONS:
        errors.append(FieldError("questions", f"at most {MAX_QUESTIONS} questions"))
    seen: set[str] = set()
    for i, q in enumerate(survey.questions):
        where = f"questions[{i}]"
        if not q.question_id:
            errors.append(FieldError(f"{where}.question_id", "must not be empty"))
        elif q.question_id in seen:
            errors.append(FieldError(f"{where}.question_id", "is used twice"))
        seen.add(q.question_id)
        if not q.text.strip():
            errors.append(FieldError(f"{where}.text", "must not be empty"))
        if q.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
            if len(q.options) < 2:
                errors.append(FieldError(f"{where}.options", "a choice needs two options or more"))
            if len(q.options) > MAX_OPTIONS:
                errors.append(FieldError(f"{where}.options", f"at most {MAX_OPTIONS} options"))
            if len(set(q.options)) != len(q.options) or not all(o.strip() for o in q.options):
                errors.append(
                    FieldError(f"{where}.options", "options must be different and not empty")
                )
        elif q.options:
            errors.append(FieldError(f"{where}.options", "only choice questions have options"))
        if q.kind is QuestionKind.SCALE and not q.scale_min < q.scale_max:
            errors.append(FieldError(f"{where}.scale_max", "must be above scale_min"))
    if survey.audience is Audience.MINI and (
        len(survey.questions) > MAX_MINI_QUESTIONS
        or any(q.kind is not QuestionKind.SMILEY for q in survey.questions)
    ):
        errors.append(FieldError("questions", "a mini-survey is one or two smiley questions"))
    return errors


def check_definition(survey: SurveyDefinition) -> None:
    errors = structure_errors(survey)
    if errors:
        raise InvalidArgument(errors)


def next_version(previous: SurveyDefinition | None, draft: SurveyDefinition) -> SurveyDefinition:
    """`draft` saved as the version after `previous`: published versions are never edited."""
    check_definition(draft)
    number = 1 if previous is None else previous.version + 1
    return dataclasses.replace(draft, version=number, status=DefinitionStatus.DRAFT)


_MOVES: Mapping[DefinitionStatus, frozenset[DefinitionStatus]] = {
    DefinitionStatus.DRAFT: frozenset({DefinitionStatus.PILOT, DefinitionStatus.PUBLISHED}),
    DefinitionStatus.PILOT: frozenset({DefinitionStatus.PUBLISHED, DefinitionStatus.RETIRED}),
    DefinitionStatus.PUBLISHED: frozenset({DefinitionStatus.RETIRED}),
    DefinitionStatus.RETIRED: frozenset(),
}


def move(survey: SurveyDefinition, to: DefinitionStatus) -> SurveyDefinition:
    if to not in _MOVES[survey.status]:
        raise FailedPrecondition(
            f"a {survey.status.value} survey cannot become {to.value}", field="status"
        )
    return dataclasses.replace(survey, status=to)


def answer_errors(survey: SurveyDefinition, answers: Mapping[str, object]) -> list[FieldError]:
    """Answers that do not fit this version: unknown questions, values out of range,
    required questions left out. A client may skip any question not marked required."""
    errors: list[FieldError] = []
    for key, value in answers.items():
        question = survey.question(key) if isinstance(key, str) else None
        if question is None:
            errors.append(FieldError(f"answers.{key}", "this survey has no such question"))
            continue
        problem = question.answer_error(value)
        if problem:
            errors.append(FieldError(f"answers.{key}", problem))
    for q in survey.questions:
        if q.required and q.question_id not in answers:
            errors.append(FieldError(f"answers.{q.question_id}", "must be answered"))
    return errors


@dataclasses.dataclass(frozen=True)
class Occasion:
    """What happened to the client, as the system recorded it (never asked of the client)."""

    centre_id: str
    kind: Audience
    department_id: str = ""


def choose_survey(
    occasion: Occasion, definitions: Sequence[SurveyDefinition]
) -> SurveyDefinition | None:
    """The survey this occasion gets: the newest published (else pilot) version for its
    audience at its centre, a department's own survey before a general department one."""

    def rank(d: SurveyDefinition) -> tuple[int, int, int]:
        own_department = int(bool(d.department_id))
        return (own_department, int(d.status is DefinitionStatus.PUBLISHED), d.version)

    fitting = [
        d
        for d in definitions
        if d.takes_responses
        and d.centre_id == occasion.centre_id
        and d.audience is occasion.kind
        and d.department_id in ("", occasion.department_id)
    ]
    newest_per_survey: dict[str, SurveyDefinition] = {}
    for d in fitting:
        kept = newest_per_survey.get(d.survey_id)
        if kept is None or rank(d) > rank(kept):
            newest_per_survey[d.survey_id] = d
    return max(newest_per_survey.values(), key=rank, default=None)
