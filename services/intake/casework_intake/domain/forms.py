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
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from enum import Enum
from string import Template
from types import MappingProxyType
from typing import TypeAlias, TypeGuard

from casework_common.values import birth_date_error

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


# ------------------------------------------------------------- definition checks


def validate_definition(defn: FormDefinition) -> list[FieldError]:
    """Everything wrong with a form definition; an empty list means it can be published."""
    errors: list[FieldError] = []
    if not defn.form_id.strip():
        errors.append(FieldError("form_id", "must not be empty"))
    if not defn.organisation.strip():
        errors.append(FieldError("organisation", "must not be empty"))
    if not defn.title.strip():
        errors.append(FieldError("title", "must not be empty"))
    if not _is_whole(defn.version, at_least=1):
        errors.append(FieldError("version", "must be a whole number, 1 or higher"))
    if not defn.steps:
        errors.append(FieldError("steps", "a form needs at least one step"))

    every_id = frozenset(q.id for q in defn.questions())
    # Only questions met so far are visible to a show_if: a condition on a later
    # question could form a cycle, and would make visibility depend on answers the
    # person has not reached yet.
    earlier: dict[str, Question] = {}
    step_ids: set[str] = set()
    for s, step in enumerate(defn.steps):
        path = f"steps[{s}]"
        errors.extend(_id_errors("step", step.id, step_ids, path))
        if not step.questions:
            errors.append(FieldError(f"{path}.questions", "a step needs at least one question"))
        for n, question in enumerate(step.questions):
            qpath = f"{path}.questions[{n}]"
            errors.extend(_question_errors(question, qpath))
            if question.id in earlier:
                errors.append(
                    FieldError(f"{qpath}.id", f"question id '{question.id}' is used twice")
                )
            if question.show_if is not None:
                errors.extend(
                    _condition_errors(
                        question.show_if,
                        f"{qpath}.show_if",
                        earlier,
                        every_id,
                        question.id,
                    )
                )
            earlier.setdefault(question.id, question)

    programme_ids: set[str] = set()
    for p, programme in enumerate(defn.programmes):
        path = f"programmes[{p}]"
        errors.extend(_id_errors("programme", programme.id, programme_ids, path))
        if not programme.name.strip():
            errors.append(FieldError(f"{path}.name", "must not be empty"))
        # Programme rules are read once the whole form is answered, so any question
        # of the form may be used.
        errors.extend(_condition_errors(programme.rule, f"{path}.rule", earlier, every_id, None))
        errors.extend(_template_errors(programme.reason_template, f"{path}.reason_template"))
    return errors


def _id_errors(kind: str, value: str, seen: set[str], path: str) -> list[FieldError]:
    """Checks an id is present and new, and records it as seen."""
    if not value.strip():
        return [FieldError(f"{path}.id", "must not be empty")]
    if value in seen:
        return [FieldError(f"{path}.id", f"{kind} id '{value}' is used twice")]
    seen.add(value)
    return []


def _question_errors(q: Question, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not _ID_PATTERN.fullmatch(q.id):
        errors.append(
            FieldError(
                f"{path}.id",
                "must start with a letter and hold only letters, digits, '_' or '-'"
                " (at most 64 characters)",
            )
        )
    if not q.label.strip():
        errors.append(FieldError(f"{path}.label", "must not be empty"))
    if not isinstance(q.type, QuestionType):
        errors.append(FieldError(f"{path}.type", "is not a known question type"))
        return errors
    if q.type in CHOICE_TYPES:
        if not q.choices:
            errors.append(FieldError(f"{path}.choices", "a choice question needs choices"))
        values = [c.value for c in q.choices]
        for c, value in enumerate(values):
            if not value.strip():
                errors.append(FieldError(f"{path}.choices[{c}].value", "must not be empty"))
            elif value in values[:c]:
                errors.append(
                    FieldError(
                        f"{path}.choices[{c}].value",
                        f"choice '{value}' is listed twice",
                    )
                )
    elif q.choices:
        errors.append(FieldError(f"{path}.choices", "only choice questions have choices"))

    if q.type is QuestionType.NUMBER:
        for name, bound in (("minimum", q.minimum), ("maximum", q.maximum)):
            if bound is not None and not _is_number(bound):
                errors.append(FieldError(f"{path}.{name}", "must be a finite number"))
        if _is_number(q.minimum) and _is_number(q.maximum) and q.minimum > q.maximum:
            errors.append(FieldError(f"{path}.maximum", "must not be below the minimum"))
    elif q.minimum is not None or q.maximum is not None:
        errors.append(FieldError(f"{path}.minimum", "only number questions have a range"))

    if q.type is QuestionType.TEXT:
        if q.max_length is not None and not _is_whole(q.max_length, at_least=1):
            errors.append(FieldError(f"{path}.max_length", "must be a whole number, 1 or higher"))
    elif q.max_length is not None:
        errors.append(FieldError(f"{path}.max_length", "only text questions have a length limit"))
    return errors


def _condition_errors(
    condition: object,
    path: str,
    known: Mapping[str, Question],
    every_id: frozenset[str],
    owner: str | None,
    depth: int = 0,
) -> list[FieldError]:
    """Problems with one condition. `known` holds the questions it may read; `owner` is
    the question the condition is attached to (None for a programme rule)."""
    if depth >= MAX_CONDITION_DEPTH:
        return [FieldError(path, f"is nested more than {MAX_CONDITION_DEPTH} levels deep")]
    match condition:
        case AllOf(conditions=children) | AnyOf(conditions=children):
            if not children:
                # An empty group is always true (all_of) or always false (any_of):
                # almost certainly an unfinished rule rather than an intended one.
                return [FieldError(f"{path}.conditions", "needs at least one condition")]
            errors: list[FieldError] = []
            for i, child in enumerate(children):
                errors.extend(
                    _condition_errors(
                        child,
                        f"{path}.conditions[{i}]",
                        known,
                        every_id,
                        owner,
                        depth + 1,
                    )
                )
            return errors
        case Not(condition=child):
            return _condition_errors(child, f"{path}.condition", known, every_id, owner, depth + 1)
        case Equals() | NotEquals() | In() | GreaterThan() | LessThan() | AgeAtLeast() | Answered():
            qid = condition.question_id
            question = known.get(qid)
            if question is None:
                if qid == owner:
                    problem = "a question's condition cannot depend on the question itself"
                elif qid in every_id:
                    problem = (
                        f"refers to '{qid}', which comes later in the form; a condition may"
                        " only depend on questions asked before it"
                    )
                else:
                    problem = f"refers to '{qid}', which is not a question of this form"
                return [FieldError(f"{path}.question_id", problem)]
            problem_with_value = _leaf_value_problem(condition, question)
            if problem_with_value is not None:
                return [FieldError(path, problem_with_value)]
            return []
        case _:
            return [FieldError(path, "is not a condition")]


def _leaf_value_problem(leaf: Leaf, question: Question) -> str | None:
    """Why the leaf can never be decided sensibly for this question, if it cannot.

    Caught here because a rule comparing a yes/no question with a number, say, would
    otherwise quietly be false for everyone.
    """
    match leaf:
        case Equals(value=value) | NotEquals(value=value):
            return _comparable_problem(question, value)
        case In(values=values):
            if not values:
                return "needs at least one value"
            for value in values:
                problem = _comparable_problem(question, value)
                if problem is not None:
                    return problem
            return None
        case GreaterThan(value=value) | LessThan(value=value):
            if question.type is QuestionType.NUMBER and _is_number(value):
                return None
            if question.type is QuestionType.DATE and _is_plain_date(value):
                return None
            return (
                "can only order a number question against a number or a date question"
                " against a date"
            )
        case AgeAtLeast(years=years, on=on):
            if question.type is not QuestionType.DATE:
                return "an age can only be worked out from a date question"
            if not _is_whole(years, at_least=0):
                return "years must be a whole number, 0 or higher"
            if on is not None and not _is_plain_date(on):
                return "the reference day must be a date"
            return None
        case _:
            return None


def _comparable_problem(question: Question, value: object) -> str | None:
    kind = question.type
    if kind is QuestionType.TEXT and isinstance(value, str):
        return None
    if kind is QuestionType.NUMBER and _is_number(value):
        return None
    if kind is QuestionType.DATE and _is_plain_date(value):
        return None
    if kind is QuestionType.YES_NO and isinstance(value, bool):
        return None
    if kind in CHOICE_TYPES:
        if isinstance(value, str) and value in {c.value for c in question.choices}:
            return None
        return f"{value!r} is not one of the choices of '{question.id}'"
    return f"{value!r} cannot be compared with a {kind.value} answer"


def _template_errors(template: str, path: str) -> list[FieldError]:
    parsed = Template(template)
    if not parsed.is_valid():
        return [FieldError(path, "has a '$' that does not start a placeholder; write '$$'")]
    unknown = sorted(set(parsed.get_identifiers()) - REASON_PLACEHOLDERS)
    if unknown:
        allowed = ", ".join(f"${name}" for name in sorted(REASON_PLACEHOLDERS))
        return [FieldError(path, f"unknown placeholder ${unknown[0]}; use {allowed}")]
    return []


# ------------------------------------------------------------------- answer checks


def validate_answers(
    defn: FormDefinition,
    answers: Mapping[str, object],
    today: date,
    only_self_fill: bool = False,
) -> list[FieldError]:
    """Everything wrong with a set of answers, one entry per field.

    Never raises, whatever `answers` holds: it is the first thing untrusted input from
    a partner or from the client's own browser meets.

    With `only_self_fill`, the answers come from the client through a self-fill link:
    answering a question the organisation kept for its workers is refused, and only
    self-fill questions are required, since the rest is the worker's part. A condition
    that reads a worker's question sees it unanswered here, as the client never saw it.
    """
    errors, _ = _read_answers(defn, answers, today, only_self_fill)
    return errors


def _read_answers(
    defn: FormDefinition,
    answers: object,
    today: date,
    only_self_fill: bool,
) -> tuple[list[FieldError], dict[str, Answer]]:
    """Validate and, in the same pass, collect the parsed answers of visible questions;
    visibility needs the parsed earlier answers, so the two cannot be separated."""
    if not isinstance(answers, Mapping):
        return [FieldError("answers", "must map question ids to answers")], {}
    errors: list[FieldError] = []
    seen: dict[str, Answer] = {}
    births = defn.birth_questions()
    # Questions whose answer was unusable, or whose visibility hangs on one: they get
    # no "required" or "hidden" complaints, which would only echo the first error.
    undecided: set[str] = set()

    for question in defn.questions():
        field = f"answers.{question.id}"
        raw = answers.get(question.id)
        given = not _is_blank(raw)
        if only_self_fill and not question.self_fill:
            if given:
                errors.append(FieldError(field, "is not part of what the client may fill in"))
            continue

        depends_on = (
            referenced_questions(question.show_if) if question.show_if is not None else frozenset()
        )
        if depends_on & undecided:
            visible: bool | None = None
        else:
            visible = question.show_if is None or _holds(question.show_if, seen, today)

        if not given:
            if visible and question.required:
                errors.append(FieldError(field, "is required"))
            continue
        if visible is False:
            errors.append(
                FieldError(
                    field,
                    "must not be answered: its condition hides it for these answers",
                )
            )
            continue
        parsed = _parse(question, raw)
        if question.id in births and _is_plain_date(parsed):
            problem = birth_date_error(parsed, today)
            if problem:
                parsed = _Refused(f"is a date of birth that {problem}")
        if isinstance(parsed, _Refused):
            errors.append(FieldError(field, parsed.description))
            undecided.add(question.id)
        elif visible is None:
            undecided.add(question.id)
        else:
            seen[question.id] = parsed

    ids = {q.id for q in defn.questions()}
    for key in answers:
        if isinstance(key, str):
            if key not in ids:
                errors.append(FieldError(f"answers.{key}", "is not a question of this form"))
        else:
            # The key's repr is left out: it could be anything, even something whose
            # repr raises, and this function promises not to.
            errors.append(
                FieldError(
                    "answers",
                    f"a key of type {type(key).__name__} is not a question id",
                )
            )
    return errors, seen


def _is_blank(raw: object) -> bool:
    # Browsers and partners send empty strings, empty lists or null for a skipped
    # question; all of them mean "not answered", so that hidden fields a web form still
    # submits are not mistaken for answers.
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, (list, tuple)):
        return len(raw) == 0
    return False


@dataclasses.dataclass(frozen=True)
class _Refused:
    """Why a raw answer cannot be used; kept apart from Answer so the two never mix."""

    description: str


def _parse(question: Question, raw: object) -> Answer | _Refused:
    kind = question.type
    if kind is QuestionType.TEXT:
        if not isinstance(raw, str):
            return _Refused("must be text")
        limit = question.max_length
        if isinstance(limit, int) and len(raw) > limit:
            return _Refused(f"is {len(raw)} characters long; at most {limit} allowed")
        return raw
    if kind is QuestionType.NUMBER:
        if not _is_number(raw):
            return _Refused("must be a number")
        # The bounds are re-checked so that a form which skipped validation still
        # cannot make this function raise.
        if _is_number(question.minimum) and raw < question.minimum:
            return _Refused(f"must be at least {question.minimum}")
        if _is_number(question.maximum) and raw > question.maximum:
            return _Refused(f"must be at most {question.maximum}")
        return raw
    if kind is QuestionType.DATE:
        if _is_plain_date(raw):
            return raw
        if not isinstance(raw, str) or not _ISO_DATE.fullmatch(raw):
            return _Refused("must be a date written as YYYY-MM-DD")
        try:
            return date.fromisoformat(raw)
        except ValueError:
            return _Refused(f"{raw} is not a day of the calendar")
    if kind is QuestionType.YES_NO:
        if not isinstance(raw, bool):
            return _Refused("must be yes or no (true or false)")
        return raw
    values = [c.value for c in question.choices]
    if kind is QuestionType.SINGLE_CHOICE:
        if not isinstance(raw, str) or raw not in values:
            return _Refused(f"must be one of: {', '.join(values)}")
        return raw
    # MULTIPLE_CHOICE
    if not isinstance(raw, (list, tuple)) or not all(isinstance(v, str) for v in raw):
        return _Refused("must be a list of choices")
    picked: list[str] = list(raw)
    strangers = [v for v in picked if v not in values]
    if strangers:
        return _Refused(f"{strangers[0]!r} is not one of: {', '.join(values)}")
    if len(set(picked)) != len(picked):
        return _Refused("lists the same choice twice")
    # Form order, so that equal selections read and compare the same way.
    return tuple(v for v in values if v in picked)


def _is_number(value: object) -> TypeGuard[int | float]:
    # bool is an int to Python but a yes/no to a person filling in a form.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True  # math.isfinite would overflow on very large ints
    return isinstance(value, float) and math.isfinite(value)


def _is_whole(value: object, at_least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= at_least


def _is_plain_date(value: object) -> TypeGuard[date]:
    # datetime is a subclass of date, but a time of day on a date question is a
    # caller's mistake, not something to silently drop.
    return isinstance(value, date) and not isinstance(value, datetime)


# --------------------------------------------------------------- condition logic


def _holds(condition: Condition, seen: Mapping[str, Answer], today: date) -> bool:
    """Whether the condition is true; `seen` holds only visible, valid answers, so a
    hidden or broken answer counts as not given."""
    match condition:
        case AllOf(conditions=children):
            return all(_holds(c, seen, today) for c in children)
        case AnyOf(conditions=children):
            return any(_holds(c, seen, today) for c in children)
        case Not(condition=child):
            return not _holds(child, seen, today)
        case Answered(question_id=qid):
            return qid in seen
        case Equals(question_id=qid, value=value):
            return qid in seen and _matches(seen[qid], value)
        case NotEquals(question_id=qid, value=value):
            return qid in seen and not _matches(seen[qid], value)
        case In(question_id=qid, values=values):
            return qid in seen and any(_matches(seen[qid], v) for v in values)
        case GreaterThan(question_id=qid, value=value):
            return qid in seen and _ordered(value, seen[qid])
        case LessThan(question_id=qid, value=value):
            return qid in seen and _ordered(seen[qid], value)
        case AgeAtLeast(question_id=qid, years=years, on=on):
            born = seen.get(qid)
            return _is_plain_date(born) and _age(born, on or today) >= years


def _matches(answer: Answer, value: Scalar) -> bool:
    if isinstance(answer, tuple):
        return any(_same(a, value) for a in answer)
    return _same(answer, value)


def _same(a: object, b: object) -> bool:
    # Python's True == 1 would let a yes/no rule match a number answer, and 3 == 3.0
    # should still hold between a rule and a number answer.
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _ordered(low: object, high: object) -> bool:
    """low < high, for two numbers or two dates; anything else is simply not ordered,
    so that a rule cannot crash on a form that slipped past validation."""
    if _is_number(low) and _is_number(high):
        return low < high
    if _is_plain_date(low) and _is_plain_date(high):
        return low < high
    return False


def _age(born: date, on: date) -> int:
    """Full years. Someone born on 29 February comes of age on 1 March in other years,
    the usual reading when a law says nothing more specific."""
    had_birthday = (on.month, on.day) >= (born.month, born.day)
    return on.year - born.year - (0 if had_birthday else 1)


# --------------------------------------------------------------------- eligibility


@dataclasses.dataclass(frozen=True)
class EligibilityVerdict:
    programme_id: str
    eligible: bool
    reason: str
    """For people: which answers decided the verdict, and how."""
    deciding_question_ids: tuple[str, ...]
    """For screens: the same answers by question id, in form order."""


@dataclasses.dataclass(frozen=True)
class _Fact:
    question_id: str
    text: str


def evaluate_eligibility(
    defn: FormDefinition, answers: Mapping[str, object], today: date
) -> list[EligibilityVerdict]:
    """One verdict per programme of the form, in the form's order.

    Raises InvalidFormDefinition or InvalidAnswers (both FormRuleViolation) rather than
    guessing: a verdict over answers nobody checked would be a decision about a person
    made on bad data.
    """
    problems = validate_definition(defn)
    if problems:
        raise InvalidFormDefinition(problems)
    errors, seen = _read_answers(defn, answers, today, only_self_fill=False)
    if errors:
        raise InvalidAnswers(errors)
    order = {q.id: n for n, q in enumerate(defn.questions())}
    verdicts = []
    for programme in defn.programmes:
        eligible, facts = _explain(programme.rule, defn, seen, today)
        texts = list(dict.fromkeys(f.text for f in facts))
        deciding = sorted({f.question_id for f in facts}, key=order.__getitem__)
        reason = Template(programme.reason_template).safe_substitute(
            programme=programme.name,
            outcome="eligible" if eligible else "not eligible",
            answers="; ".join(texts),
        )
        verdicts.append(EligibilityVerdict(programme.id, eligible, reason, tuple(deciding)))
    return verdicts


def _explain(
    condition: Condition, defn: FormDefinition, seen: Mapping[str, Answer], today: date
) -> tuple[bool, list[_Fact]]:
    """The condition's value plus the leaves that settled it.

    Only deciding leaves are reported: for a failed all_of the parts that failed, for a
    met any_of the parts that were met. Everything else in the rule did not change the
    outcome, and listing it would bury the reason.
    """
    match condition:
        case AllOf(conditions=children) | AnyOf(conditions=children):
            results = [_explain(c, defn, seen, today) for c in children]
            outcomes = [ok for ok, _ in results]
            holds = all(outcomes) if isinstance(condition, AllOf) else any(outcomes)
            # The children that came out the same way as the whole are the ones that
            # decided it, for all_of and any_of alike.
            return holds, [fact for ok, facts in results if ok == holds for fact in facts]
        case Not(condition=child):
            inner, facts = _explain(child, defn, seen, today)
            return not inner, facts
        case _:
            holds = _holds(condition, seen, today)
            text = _describe(condition, defn, seen, today, holds)
            return holds, [_Fact(condition.question_id, text)]


def _describe(
    leaf: Leaf,
    defn: FormDefinition,
    seen: Mapping[str, Answer],
    today: date,
    holds: bool,
) -> str:
    question = defn.question(leaf.question_id)
    assert question is not None  # validate_definition ran first
    answer = seen.get(question.id)
    shown = "not answered" if answer is None else _show(question, answer)
    if isinstance(leaf, AgeAtLeast) and _is_plain_date(answer):
        reference = leaf.on or today
        shown += f" (age {_age(answer, reference)} on {reference.isoformat()})"
    wanted = _expectation(leaf, question)
    return f"'{question.label}' {shown}, needed {wanted} ({'met' if holds else 'not met'})"


def _expectation(leaf: Leaf, question: Question) -> str:
    dated = question.type is QuestionType.DATE
    match leaf:
        case Equals(value=value):
            if question.type is QuestionType.MULTIPLE_CHOICE:
                return f"{_show(question, value)} among the choices"
            return _show(question, value)
        case NotEquals(value=value):
            return f"anything but {_show(question, value)}"
        case In(values=values):
            return "one of " + ", ".join(_show(question, v) for v in values)
        case GreaterThan(value=value):
            return f"{'after' if dated else 'more than'} {_show(question, value)}"
        case LessThan(value=value):
            return f"{'before' if dated else 'less than'} {_show(question, value)}"
        case AgeAtLeast(years=years):
            return f"an age of at least {years}"
        case _:
            return "an answer"


def _show(question: Question, value: object) -> str:
    """An answer or rule value as a person reads it: labels, not stored choice values."""
    if isinstance(value, tuple):
        return ", ".join(_show(question, v) for v in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    if question.type in CHOICE_TYPES:
        label = next((c.label for c in question.choices if c.value == value), None)
        if label is not None:
            return f"'{label}'"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


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
