"""The shape of an eligibility form: its questions, the conditions rules are written
in, steps, programmes and the definition itself (see `forms` for what they are for).
Pure data: no I/O and no clock."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from datetime import date
from enum import Enum
from typing import TypeAlias

# --------------------------------------------------------------------------- errors


@dataclasses.dataclass(frozen=True)
class FieldError:
    """One problem with one input field.

    `field` is a dotted path (``answers.date_of_birth``, ``steps[0].questions[1].choices``)
    so that the gRPC layer can hand it on unchanged as a BadRequest field violation.
    The same shape as ``casework_common.errors.FieldError``; it is repeated here because
    that module imports grpc, and the domain core must import nothing but the stdlib.
    """

    field: str
    description: str


class FormRuleViolation(Exception):
    """Base of every refusal in this module; carries the per-field reasons."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: list[FieldError] = list(errors)
        summary = "; ".join(f"{e.field}: {e.description}" for e in self.errors)
        super().__init__(summary or "form rule violated")


class InvalidFormDefinition(FormRuleViolation):
    """A form that validate_definition finds fault with was about to be used."""


class InvalidAnswers(FormRuleViolation):
    """Answers that validate_answers finds fault with were about to be used."""


class UnknownFormVersion(FormRuleViolation):
    """The form, or the given version of it, does not exist (any more)."""

    def __init__(self, form_id: str, version: int | None, error: FieldError) -> None:
        self.form_id = form_id
        self.version = version
        super().__init__([error])


# ------------------------------------------------------------------------ questions


class QuestionType(Enum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    YES_NO = "yes_no"


CHOICE_TYPES = frozenset({QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE})

# Question ids end up inside field paths (answers.<id>) and inside self-fill links, so
# they are kept to characters that need no quoting in either place.
_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

# re's \d also matches non-ASCII digits, which date.fromisoformat would then reject
# with a less helpful message; only the plain ISO calendar form is accepted.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Conditions come from organisation administrators; a bound on nesting keeps both the
# validator and the evaluator clear of Python's recursion limit.
MAX_CONDITION_DEPTH = 16

Scalar: TypeAlias = str | int | float | bool | date
"""A value a condition compares an answer with."""

Answer: TypeAlias = str | int | float | bool | date | tuple[str, ...]
"""An answer after validation: dates parsed, multiple choices as a tuple in form order."""


@dataclasses.dataclass(frozen=True)
class Choice:
    """One option of a choice question. `value` is what is stored and what rules compare
    with, so labels can be reworded in a later version without breaking old answers."""

    value: str
    label: str


# ----------------------------------------------------------------------- conditions
# A closed set of data-only nodes: a rule is never evaluated as code, so an
# organisation's form definition cannot run anything on the server.


@dataclasses.dataclass(frozen=True)
class Equals:
    """The answer is `value`; for a multiple-choice question, `value` is among those picked."""

    question_id: str
    value: Scalar


@dataclasses.dataclass(frozen=True)
class NotEquals:
    """The question was answered with something other than `value`.

    An unanswered question satisfies no comparison, this one included: "not from the
    north" should not count someone who never said where they live. Wrap an Equals in
    Not for the other reading.
    """

    question_id: str
    value: Scalar


@dataclasses.dataclass(frozen=True)
class In:
    """The answer is one of `values`; for multiple choice, at least one pick is."""

    question_id: str
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))


@dataclasses.dataclass(frozen=True)
class GreaterThan:
    """A NUMBER answer above `value`, or a DATE answer after it."""

    question_id: str
    value: int | float | date


@dataclasses.dataclass(frozen=True)
class LessThan:
    """A NUMBER answer below `value`, or a DATE answer before it."""

    question_id: str
    value: int | float | date


@dataclasses.dataclass(frozen=True)
class AgeAtLeast:
    """A DATE answer (a date of birth) makes the person at least `years` old.

    The age is taken on `on` when given (a programme may count age on the first day of
    a school year, say), otherwise on the day the answers are evaluated.
    """

    question_id: str
    years: int
    on: date | None = None


@dataclasses.dataclass(frozen=True)
class Answered:
    question_id: str


@dataclasses.dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", tuple(self.conditions))


@dataclasses.dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", tuple(self.conditions))


@dataclasses.dataclass(frozen=True)
class Not:
    condition: Condition


Leaf: TypeAlias = Equals | NotEquals | In | GreaterThan | LessThan | AgeAtLeast | Answered
"""A condition that reads one answer."""

Condition: TypeAlias = Leaf | AllOf | AnyOf | Not


def all_of(*conditions: Condition) -> AllOf:
    return AllOf(conditions)


def any_of(*conditions: Condition) -> AnyOf:
    return AnyOf(conditions)


def referenced_questions(condition: Condition) -> frozenset[str]:
    """Every question id the condition reads."""
    return frozenset(leaf.question_id for leaf in _leaves(condition))


def _leaves(condition: Condition) -> Iterator[Leaf]:
    match condition:
        case AllOf(conditions=children) | AnyOf(conditions=children):
            for child in children:
                yield from _leaves(child)
        case Not(condition=child):
            yield from _leaves(child)
        case _:
            yield condition


# ----------------------------------------------------------------------------- form


@dataclasses.dataclass(frozen=True)
class Question:
    id: str
    label: str
    type: QuestionType
    required: bool = False
    choices: tuple[Choice, ...] = ()
    minimum: int | float | None = None
    maximum: int | float | None = None
    max_length: int | None = None
    show_if: Condition | None = None
    self_fill: bool = False
    """May be sent to the client to answer on their own."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))


@dataclasses.dataclass(frozen=True)
class Step:
    id: str
    title: str
    questions: tuple[Question, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "questions", tuple(self.questions))


REASON_PLACEHOLDERS = frozenset({"programme", "outcome", "answers"})
DEFAULT_REASON_TEMPLATE = "$programme: $outcome, because $answers."


@dataclasses.dataclass(frozen=True)
class Programme:
    """A programme the form decides about.

    `reason_template` uses $-placeholders ($programme, $outcome, $answers) rather than
    str.format, whose {x.attr} syntax would let a template written by an organisation
    reach into Python objects.
    """

    id: str
    name: str
    rule: Condition
    reason_template: str = DEFAULT_REASON_TEMPLATE


@dataclasses.dataclass(frozen=True)
class FormDefinition:
    form_id: str
    version: int
    organisation: str
    title: str
    steps: tuple[Step, ...]
    programmes: tuple[Programme, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "programmes", tuple(self.programmes))

    def questions(self) -> Iterator[Question]:
        """Questions in the order the person meets them, which is the order conditions
        are allowed to depend on."""
        for step in self.steps:
            yield from step.questions

    def birth_questions(self) -> frozenset[str]:
        """The date questions that ask for a date of birth: those an age is worked out
        from, and those whose id says so."""
        conditions = [p.rule for p in self.programmes] + [
            q.show_if for q in self.questions() if q.show_if is not None
        ]
        aged = {
            leaf.question_id
            for condition in conditions
            for leaf in _leaves(condition)
            if isinstance(leaf, AgeAtLeast)
        }
        named = {
            q.id
            for q in self.questions()
            if q.type is QuestionType.DATE and "birth" in q.id.lower()
        }
        return frozenset(aged | named)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions() if q.id == question_id), None)


def self_fill_question_ids(defn: FormDefinition) -> tuple[str, ...]:
    """The part of the form that may be sent to the client, in form order."""
    return tuple(q.id for q in defn.questions() if q.self_fill)
