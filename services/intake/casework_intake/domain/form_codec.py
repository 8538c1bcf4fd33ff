"""Form definitions as JSON-shaped data (what an administrator sends and what is
stored) and back. Reading never raises anything but FormRuleViolation, with the path
of every field it could not read, so bad input from outside answers field errors.

Shape (every key optional unless said):
    {"title": str (required),
     "steps": [{"id", "title", "questions": [{"id", "label", "type", "required",
                 "choices": [{"value", "label"}], "minimum", "maximum", "max_length",
                 "show_if": condition, "self_fill"}]}],
     "programmes": [{"id", "name", "rule": condition, "reason_template"}]}
A condition is one of
    {"equals": {"question", "value"}}, {"not_equals": {"question", "value"}},
    {"in": {"question", "values": [...]}}, {"greater_than": {"question", "value"}},
    {"less_than": {"question", "value"}}, {"age_at_least": {"question", "years", "on"}},
    {"answered": {"question"}}, {"all_of": [condition]}, {"any_of": [condition]},
    {"not": condition}.
A value compared with a date question is written YYYY-MM-DD.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from casework_intake.domain.forms import (
    DEFAULT_REASON_TEMPLATE,
    AgeAtLeast,
    AllOf,
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
    LessThan,
    Not,
    NotEquals,
    Programme,
    Question,
    QuestionType,
    Scalar,
    Step,
)

_LEAVES = ("equals", "not_equals", "in", "greater_than", "less_than", "age_at_least", "answered")
MAX_DEPTH = 16


class _Reader:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, description: str) -> None:
        self.errors.append(FieldError(path, description))

    def mapping(self, raw: object, path: str) -> Mapping[str, Any]:
        if isinstance(raw, Mapping):
            return raw
        self.fail(path, "must be an object")
        return {}

    def items(self, raw: object, path: str) -> list[Any]:
        if raw is None:
            return []
        if isinstance(raw, list):
            return raw
        self.fail(path, "must be a list")
        return []

    def text(self, data: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
        raw = data.get(key, default)
        if isinstance(raw, str):
            return raw
        self.fail(f"{path}.{key}", "must be text")
        return default

    def flag(self, data: Mapping[str, Any], key: str, path: str) -> bool:
        raw = data.get(key, False)
        if isinstance(raw, bool):
            return raw
        self.fail(f"{path}.{key}", "must be true or false")
        return False

    def number(self, data: Mapping[str, Any], key: str, path: str) -> int | float | None:
        raw = data.get(key)
        if raw is None:
            return None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return raw
        self.fail(f"{path}.{key}", "must be a number")
        return None

    def whole(self, data: Mapping[str, Any], key: str, path: str) -> int | None:
        raw = data.get(key)
        if raw is None:
            return None
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        self.fail(f"{path}.{key}", "must be a whole number")
        return None

    def unknown_keys(self, data: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(f"{path}.{key}", "is not a known key")


def definition_from_dict(
    data: object, *, form_id: str, organisation: str, version: int = 1
) -> FormDefinition:
    """Read a definition; raises FormRuleViolation naming every unreadable field.
    The result still needs forms.validate_definition (the catalogue runs it)."""
    r = _Reader()
    top = r.mapping(data, "definition")
    r.unknown_keys(top, {"title", "steps", "programmes"}, "definition")
    questions: dict[str, Question] = {}
    steps = []
    for s, raw_step in enumerate(r.items(top.get("steps"), "steps")):
        spath = f"steps[{s}]"
        step = r.mapping(raw_step, spath)
        r.unknown_keys(step, {"id", "title", "questions"}, spath)
        step_questions = []
        for n, raw_q in enumerate(r.items(step.get("questions"), f"{spath}.questions")):
            question = _question(r, raw_q, f"{spath}.questions[{n}]", questions)
            questions.setdefault(question.id, question)
            step_questions.append(question)
        steps.append(
            Step(r.text(step, "id", spath), r.text(step, "title", spath), tuple(step_questions))
        )
    programmes = []
    for p, raw_p in enumerate(r.items(top.get("programmes"), "programmes")):
        ppath = f"programmes[{p}]"
        prog = r.mapping(raw_p, ppath)
        r.unknown_keys(prog, {"id", "name", "rule", "reason_template"}, ppath)
        rule = _condition(r, prog.get("rule"), f"{ppath}.rule", questions, 0)
        programmes.append(
            Programme(
                r.text(prog, "id", ppath),
                r.text(prog, "name", ppath),
                rule if rule is not None else AllOf(()),
                r.text(prog, "reason_template", ppath, DEFAULT_REASON_TEMPLATE),
            )
        )
    title = r.text(top, "title", "definition")
    if r.errors:
        raise FormRuleViolation(r.errors)
    return FormDefinition(form_id, version, organisation, title, tuple(steps), tuple(programmes))


def _question(r: _Reader, raw: object, path: str, earlier: Mapping[str, Question]) -> Question:
    q = r.mapping(raw, path)
    r.unknown_keys(
        q,
        {
            "id",
            "label",
            "type",
            "required",
            "choices",
            "minimum",
            "maximum",
            "max_length",
            "show_if",
            "self_fill",
        },
        path,
    )
    type_name = r.text(q, "type", path)
    try:
        kind = QuestionType(type_name)
    except ValueError:
        r.fail(f"{path}.type", f"one of {', '.join(t.value for t in QuestionType)}")
        kind = QuestionType.TEXT
    choices = []
    for c, raw_c in enumerate(r.items(q.get("choices"), f"{path}.choices")):
        cpath = f"{path}.choices[{c}]"
        choice = r.mapping(raw_c, cpath)
        r.unknown_keys(choice, {"value", "label"}, cpath)
        choices.append(Choice(r.text(choice, "value", cpath), r.text(choice, "label", cpath)))
    show_if = None
    if q.get("show_if") is not None:
        show_if = _condition(r, q.get("show_if"), f"{path}.show_if", earlier, 0)
    return Question(
        id=r.text(q, "id", path),
        label=r.text(q, "label", path),
        type=kind,
        required=r.flag(q, "required", path),
        choices=tuple(choices),
        minimum=r.number(q, "minimum", path),
        maximum=r.number(q, "maximum", path),
        max_length=r.whole(q, "max_length", path),
        show_if=show_if,
        self_fill=r.flag(q, "self_fill", path),
    )


def _condition(
    r: _Reader, raw: object, path: str, questions: Mapping[str, Question], depth: int
) -> Condition | None:
    if depth >= MAX_DEPTH:
        r.fail(path, f"is nested more than {MAX_DEPTH} levels deep")
        return None
    data = r.mapping(raw, path)
    if len(data) != 1:
        if data or isinstance(raw, Mapping):
            r.fail(path, "a condition has exactly one key")
        return None
    ((name, body),) = data.items()
    here = f"{path}.{name}"
    if name in ("all_of", "any_of"):
        children = [
            _condition(r, child, f"{here}[{i}]", questions, depth + 1)
            for i, child in enumerate(r.items(body, here))
        ]
        kept = tuple(c for c in children if c is not None)
        return AllOf(kept) if name == "all_of" else AnyOf(kept)
    if name == "not":
        child = _condition(r, body, here, questions, depth + 1)
        return Not(child) if child is not None else None
    if name not in _LEAVES:
        r.fail(path, f"unknown condition {name!r}")
        return None
    leaf = r.mapping(body, here)
    qid = r.text(leaf, "question", here)
    question = questions.get(qid)
    dated = question is not None and question.type is QuestionType.DATE
    if name == "answered":
        r.unknown_keys(leaf, {"question"}, here)
        return Answered(qid)
    if name == "in":
        r.unknown_keys(leaf, {"question", "values"}, here)
        values = tuple(
            _value(r, v, f"{here}.values[{i}]", dated)
            for i, v in enumerate(r.items(leaf.get("values"), f"{here}.values"))
        )
        return In(qid, values)
    if name == "age_at_least":
        r.unknown_keys(leaf, {"question", "years", "on"}, here)
        years = r.whole(leaf, "years", here)
        on = leaf.get("on")
        on_day = _value(r, on, f"{here}.on", True) if on is not None else None
        return AgeAtLeast(
            qid, years if years is not None else 0, on_day if isinstance(on_day, date) else None
        )
    r.unknown_keys(leaf, {"question", "value"}, here)
    value = _value(r, leaf.get("value"), f"{here}.value", dated)
    if name == "equals":
        return Equals(qid, value)
    if name == "not_equals":
        return NotEquals(qid, value)
    ordered = value if isinstance(value, (int, float, date)) else 0
    if not isinstance(value, (int, float, date)) or isinstance(value, bool):
        r.fail(f"{here}.value", "must be a number, or a date as YYYY-MM-DD")
    return GreaterThan(qid, ordered) if name == "greater_than" else LessThan(qid, ordered)


def _value(r: _Reader, raw: object, path: str, dated: bool) -> Scalar:
    if dated and isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            r.fail(path, "must be a date as YYYY-MM-DD")
            return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, (str, int, float, bool)):
        return raw
    r.fail(path, "must be text, a number or true/false")
    return ""


# ------------------------------------------------------------------------ writing


def definition_to_dict(defn: FormDefinition) -> dict[str, Any]:
    return {
        "title": defn.title,
        "steps": [
            {
                "id": step.id,
                "title": step.title,
                "questions": [question_to_dict(q) for q in step.questions],
            }
            for step in defn.steps
        ],
        "programmes": [
            {
                "id": p.id,
                "name": p.name,
                "rule": condition_to_dict(p.rule),
                "reason_template": p.reason_template,
            }
            for p in defn.programmes
        ],
    }


def question_to_dict(q: Question) -> dict[str, Any]:
    out: dict[str, Any] = {"id": q.id, "label": q.label, "type": q.type.value}
    if q.required:
        out["required"] = True
    if q.self_fill:
        out["self_fill"] = True
    if q.choices:
        out["choices"] = [{"value": c.value, "label": c.label} for c in q.choices]
    for key in ("minimum", "maximum", "max_length"):
        if getattr(q, key) is not None:
            out[key] = getattr(q, key)
    if q.show_if is not None:
        out["show_if"] = condition_to_dict(q.show_if)
    return out


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def condition_to_dict(condition: Condition) -> dict[str, Any]:
    match condition:
        case AllOf(conditions=children):
            return {"all_of": [condition_to_dict(c) for c in children]}
        case AnyOf(conditions=children):
            return {"any_of": [condition_to_dict(c) for c in children]}
        case Not(condition=child):
            return {"not": condition_to_dict(child)}
        case Answered(question_id=qid):
            return {"answered": {"question": qid}}
        case In(question_id=qid, values=values):
            return {"in": {"question": qid, "values": [_plain(v) for v in values]}}
        case AgeAtLeast(question_id=qid, years=years, on=on):
            body: dict[str, Any] = {"question": qid, "years": years}
            if on is not None:
                body["on"] = on.isoformat()
            return {"age_at_least": body}
        case Equals(question_id=qid, value=value):
            return {"equals": {"question": qid, "value": _plain(value)}}
        case NotEquals(question_id=qid, value=value):
            return {"not_equals": {"question": qid, "value": _plain(value)}}
        case GreaterThan(question_id=qid, value=value):
            return {"greater_than": {"question": qid, "value": _plain(value)}}
        case LessThan(question_id=qid, value=value):
            return {"less_than": {"question": qid, "value": _plain(value)}}
    raise TypeError(f"not a condition: {condition!r}")


def plain_answers(answers: Mapping[str, object]) -> dict[str, object]:
    """Answers as JSON-shaped data: numbers that are whole become int (protobuf's
    Struct carries every number as a double), everything else as given."""
    out: dict[str, object] = {}
    for key, value in answers.items():
        if isinstance(value, float) and value.is_integer():
            out[key] = int(value)
        else:
            out[key] = value
    return out
