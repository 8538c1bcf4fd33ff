# ruff: noqa: RUF001, RUF003  (Ukrainian word lists are this module's data)
"""Warnings to a survey's author where a machine can judge the wording.

The rules come from the centre's own guidance on questionnaires: ask one thing per
question, ask it neutrally, leave room for the client's own words, let a closed question
cover every acceptable answer, do not ask the same thing twice, do not burden the client.
Wording is judged from small word lists for English ("en") and Ukrainian ("uk"); a
survey in another language gets only the structural checks. Warnings never block a
definition: the author decides, ideally after a pilot.
"""

from __future__ import annotations

import dataclasses
import enum
import re

from casework_feedback.domain.surveys import Audience, Question, QuestionKind, SurveyDefinition

MAX_COMFORTABLE_QUESTIONS = 10
MIN_SCALE_POINTS = 3


class LintCode(enum.StrEnum):
    DOUBLE_QUESTION = "double_question"
    LEADING_WORDING = "leading_wording"
    NO_FREE_COMMENT = "no_free_comment"
    CLOSED_WITHOUT_FULL_RANGE = "closed_without_full_range"
    REPEATED_QUESTION = "repeated_question"
    TOO_LONG = "too_long"


@dataclasses.dataclass(frozen=True)
class LintWarning:
    code: LintCode
    question_id: str
    """Empty when the warning is about the survey as a whole."""
    message: str


# A conjunction followed by the start of a second question: "and did", "і чи".
_DOUBLE = {
    "en": re.compile(
        r"\b(and|or)\s+(did|do|does|was|were|is|are|how|what|why|would|will|can|could|has|have)\b"
    ),
    "uk": re.compile(r"(?:^|\s)(і|й|та|або|а також)\s+(чи|як|що|коли|наскільки|чому)(?=\s|$)"),
}

_LEADING = {
    "en": (
        "don't you",
        "do you not",
        "wouldn't you",
        "isn't it",
        "wasn't it",
        "surely",
        "agree that",
        "how good",
        "how great",
        "how excellent",
        "how helpful was our",
        "obviously",
    ),
    "uk": (
        "чи не правда",
        "чи не вважаєте",
        "хіба",
        "погодьтеся",
        "погоджуєтесь, що",
        "наскільки добре",
        "наскільки чудово",
        "звичайно ж",
        "очевидно",
    ),
}

# An option that lets the client step outside the offered answers.
_ESCAPE_OPTIONS = {
    "en": ("other", "hard to say", "don't know", "do not know", "none", "prefer not"),
    "uk": ("інше", "важко відповісти", "складно відповісти", "не знаю", "жодне", "жоден"),
}


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def lint(survey: SurveyDefinition) -> list[LintWarning]:
    language = survey.language.lower().split("-")[0]
    warnings: list[LintWarning] = []
    seen: dict[str, str] = {}
    for q in survey.questions:
        warnings.extend(_lint_question(q, language))
        key = _norm(q.text).rstrip("?. ")
        if key in seen:
            warnings.append(
                LintWarning(
                    LintCode.REPEATED_QUESTION,
                    q.question_id,
                    f"asks the same as {seen[key]}; a repeated question irritates",
                )
            )
        else:
            seen[key] = q.question_id
    # A mini-survey is one or two smileys by design; the kiosk still offers a comment box.
    if survey.audience is not Audience.MINI and not any(
        q.kind is QuestionKind.FREE_TEXT for q in survey.questions
    ):
        warnings.append(
            LintWarning(
                LintCode.NO_FREE_COMMENT,
                "",
                "no free-text question: leave the client room to say it in their own words",
            )
        )
    if len(survey.questions) > MAX_COMFORTABLE_QUESTIONS:
        warnings.append(
            LintWarning(
                LintCode.TOO_LONG,
                "",
                f"{len(survey.questions)} questions; more than {MAX_COMFORTABLE_QUESTIONS} "
                "burdens the client: keep only what you will act on",
            )
        )
    return warnings


def _lint_question(q: Question, language: str) -> list[LintWarning]:
    out: list[LintWarning] = []
    text = _norm(q.text)
    if text.count("?") > 1 or (language in _DOUBLE and _DOUBLE[language].search(text)):
        out.append(
            LintWarning(
                LintCode.DOUBLE_QUESTION,
                q.question_id,
                "seems to ask two things at once; split it into two questions",
            )
        )
    leading = next((p for p in _LEADING.get(language, ()) if p in text), None)
    if leading:
        out.append(
            LintWarning(
                LintCode.LEADING_WORDING,
                q.question_id,
                f"'{leading}' suggests the expected answer; ask neutrally",
            )
        )
    if q.kind is QuestionKind.SCALE and q.scale_max - q.scale_min + 1 < MIN_SCALE_POINTS:
        out.append(
            LintWarning(
                LintCode.CLOSED_WITHOUT_FULL_RANGE,
                q.question_id,
                f"a scale of fewer than {MIN_SCALE_POINTS} points cannot show the range of answers",
            )
        )
    if q.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE) and language in (
        _ESCAPE_OPTIONS
    ):
        options = [_norm(o) for o in q.options]
        if not any(e in o for o in options for e in _ESCAPE_OPTIONS[language]):
            out.append(
                LintWarning(
                    LintCode.CLOSED_WITHOUT_FULL_RANGE,
                    q.question_id,
                    "no 'other' or 'hard to say' option: a client whose answer is not "
                    "listed has to pick a wrong one",
                )
            )
    return out
