"""The checks of an eligibility form: a definition that can be published, answers that
can be stored, and whether a condition holds for the answers given (on a day passed
in, never read from a clock)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime
from string import Template
from typing import TypeGuard

from casework_common.values import birth_date_error
from casework_intake.domain.form_model import (
    _ID_PATTERN,
    _ISO_DATE,
    CHOICE_TYPES,
    MAX_CONDITION_DEPTH,
    REASON_PLACEHOLDERS,
    AgeAtLeast,
    AllOf,
    Answer,
    Answered,
    AnyOf,
    Condition,
    Equals,
    FieldError,
    FormDefinition,
    GreaterThan,
    In,
    Leaf,
    LessThan,
    Not,
    NotEquals,
    Question,
    QuestionType,
    Scalar,
    referenced_questions,
)

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
