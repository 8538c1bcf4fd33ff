"""Which programmes the answers fit, and why, in words a worker can read back to the
person."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from string import Template

from casework_intake.domain.form_checks import (
    _age,
    _holds,
    _is_plain_date,
    _read_answers,
    validate_definition,
)
from casework_intake.domain.form_model import (
    CHOICE_TYPES,
    AgeAtLeast,
    AllOf,
    Answer,
    AnyOf,
    Condition,
    Equals,
    FormDefinition,
    GreaterThan,
    In,
    InvalidAnswers,
    InvalidFormDefinition,
    Leaf,
    LessThan,
    Not,
    NotEquals,
    Question,
    QuestionType,
)

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
