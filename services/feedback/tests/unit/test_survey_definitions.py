# ruff: noqa: RUF001  (Ukrainian wording is tested here)
"""Specification of survey definitions, answers, the choice of survey and the linter
(pure domain, no server)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import FailedPrecondition, InvalidArgument
from casework_feedback.domain.linter import LintCode, lint
from casework_feedback.domain.surveys import (
    Aspect,
    Audience,
    DefinitionStatus,
    Occasion,
    Question,
    QuestionKind,
    SurveyDefinition,
    answer_errors,
    check_definition,
    choose_survey,
    move,
    next_version,
)


def create_question(**overrides: Any) -> Question:
    values: dict[str, Any] = {
        "question_id": "q1",
        "kind": QuestionKind.SMILEY,
        "text": "How do you feel about the visit today?",
        "aspect": Aspect.ATTITUDE,
    }
    values.update(overrides)
    return Question(**values)


def create_survey(**overrides: Any) -> SurveyDefinition:
    values: dict[str, Any] = {
        "survey_id": "s1",
        "version": 1,
        "centre_id": "centre-a",
        "title": "After your visit",
        "audience": Audience.FRONT_LINE,
        "language": "en",
        "questions": (
            create_question(),
            create_question(
                question_id="solved",
                kind=QuestionKind.SINGLE_CHOICE,
                text="Was your problem solved?",
                aspect=Aspect.PROBLEM_SOLVED,
                options=("Yes", "Partly", "No", "Hard to say"),
            ),
            create_question(
                question_id="comment",
                kind=QuestionKind.FREE_TEXT,
                text="Anything else?",
                aspect=None,
            ),
        ),
        "status": DefinitionStatus.PUBLISHED,
    }
    values.update(overrides)
    return SurveyDefinition(**values)


# --- answers -------------------------------------------------------------------------


def test_an_answer_to_a_question_the_survey_does_not_have_is_refused_by_its_field() -> None:
    errors = answer_errors(create_survey(), {"q1": 4, "q99": 1})
    assert [e.field for e in errors] == ["answers.q99"]


@given(st.integers())
def test_a_smiley_answer_is_one_of_five_faces(value: int) -> None:
    errors = answer_errors(create_survey(), {"q1": value})
    assert (errors == []) == (1 <= value <= 5)


@pytest.mark.parametrize("value", [True, 2.5, "3", None, [3]])
def test_a_smiley_answer_that_is_not_a_whole_number_is_refused(value: object) -> None:
    assert [e.field for e in answer_errors(create_survey(), {"q1": value})] == ["answers.q1"]


def test_a_single_choice_takes_only_an_offered_option() -> None:
    survey = create_survey()
    assert answer_errors(survey, {"solved": "Partly"}) == []
    assert [e.field for e in answer_errors(survey, {"solved": "Maybe"})] == ["answers.solved"]


def test_a_multiple_choice_takes_several_different_offered_options() -> None:
    question = create_question(
        question_id="m", kind=QuestionKind.MULTIPLE_CHOICE, options=("a", "b", "Other")
    )
    survey = create_survey(questions=(question,))
    assert answer_errors(survey, {"m": ["a", "b"]}) == []
    assert answer_errors(survey, {"m": ["a", "a"]}) != []
    assert answer_errors(survey, {"m": []}) != []
    assert answer_errors(survey, {"m": ["c"]}) != []


def test_a_scale_answer_stays_within_the_scale() -> None:
    question = create_question(question_id="s", kind=QuestionKind.SCALE, scale_min=0, scale_max=10)
    survey = create_survey(questions=(question,))
    assert answer_errors(survey, {"s": 0}) == answer_errors(survey, {"s": 10}) == []
    assert answer_errors(survey, {"s": 11}) != []


def test_a_required_question_left_out_is_named() -> None:
    survey = create_survey(questions=(create_question(required=True),))
    assert [e.field for e in answer_errors(survey, {})] == ["answers.q1"]


# --- structure and versions ----------------------------------------------------------


def test_a_mini_survey_is_one_or_two_smiley_questions() -> None:
    check_definition(create_survey(audience=Audience.MINI, questions=(create_question(),)))
    with pytest.raises(InvalidArgument):
        check_definition(create_survey(audience=Audience.MINI))


def test_a_choice_question_needs_two_different_options() -> None:
    question = create_question(kind=QuestionKind.SINGLE_CHOICE, options=("Yes",))
    with pytest.raises(InvalidArgument) as caught:
        check_definition(create_survey(questions=(question,)))
    assert [e.field for e in caught.value.errors] == ["questions[0].options"]


def test_question_ids_are_unique_within_a_survey() -> None:
    with pytest.raises(InvalidArgument):
        check_definition(create_survey(questions=(create_question(), create_question())))


def test_an_edit_is_a_new_version_in_draft() -> None:
    published = create_survey(version=3)
    edited = next_version(published, dataclasses.replace(published, title="After your visit (v2)"))
    assert (edited.version, edited.status) == (4, DefinitionStatus.DRAFT)
    assert published.status is DefinitionStatus.PUBLISHED


def test_a_pilot_takes_responses_that_stay_out_of_reports() -> None:
    pilot = move(create_survey(status=DefinitionStatus.DRAFT), DefinitionStatus.PILOT)
    assert pilot.takes_responses and not pilot.counts_in_reports


def test_a_published_survey_cannot_go_back_to_draft_or_pilot() -> None:
    for target in (DefinitionStatus.DRAFT, DefinitionStatus.PILOT):
        with pytest.raises(FailedPrecondition):
            move(create_survey(), target)


# --- which survey ---------------------------------------------------------------------


def test_the_survey_follows_what_happened_not_what_the_client_names() -> None:
    front = create_survey(survey_id="front")
    general = create_survey(survey_id="dept", audience=Audience.DEPARTMENT)
    own = create_survey(survey_id="legal", audience=Audience.DEPARTMENT, department_id="legal")
    surveys = [front, general, own]
    assert choose_survey(Occasion("centre-a", Audience.FRONT_LINE), surveys) == front
    assert choose_survey(Occasion("centre-a", Audience.DEPARTMENT, "legal"), surveys) == own
    assert choose_survey(Occasion("centre-a", Audience.DEPARTMENT, "housing"), surveys) == general
    assert choose_survey(Occasion("centre-b", Audience.FRONT_LINE), surveys) is None


def test_the_newest_published_version_is_chosen_and_drafts_never() -> None:
    surveys = [
        create_survey(version=1),
        create_survey(version=2),
        create_survey(version=3, status=DefinitionStatus.DRAFT),
    ]
    chosen = choose_survey(Occasion("centre-a", Audience.FRONT_LINE), surveys)
    assert chosen is not None and chosen.version == 2


# --- linter ---------------------------------------------------------------------------


def _codes(survey: SurveyDefinition) -> set[tuple[LintCode, str]]:
    return {(w.code, w.question_id) for w in lint(survey)}


def test_a_well_made_survey_gets_no_warning() -> None:
    assert lint(create_survey()) == []


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Was the worker polite and did they explain the next steps?"),
        ("en", "Was it clear? Was it quick?"),
        ("uk", "Чи були ви задоволені прийомом і чи зрозуміли ви відповідь?"),
    ],
)
def test_two_questions_in_one_are_flagged(language: str, text: str) -> None:
    survey = create_survey(
        language=language,
        questions=(
            create_question(text=text),
            create_question(question_id="c", kind=QuestionKind.FREE_TEXT, text="Comment"),
        ),
    )
    assert (LintCode.DOUBLE_QUESTION, "q1") in _codes(survey)


def test_attention_and_respect_in_one_question_is_not_taken_for_two_questions() -> None:
    survey = create_survey(
        questions=(create_question(text="Were you treated with attention and respect?"),)
    )
    assert not any(w.code is LintCode.DOUBLE_QUESTION for w in lint(survey))


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "Don't you agree our staff were friendly?"),
        ("en", "How good was our service?"),
        ("uk", "Чи не правда, що вас швидко прийняли?"),
    ],
)
def test_leading_wording_is_flagged(language: str, text: str) -> None:
    survey = create_survey(language=language, questions=(create_question(text=text),))
    assert (LintCode.LEADING_WORDING, "q1") in _codes(survey)


def test_a_survey_without_a_free_comment_is_flagged_but_a_mini_survey_is_not() -> None:
    assert (LintCode.NO_FREE_COMMENT, "") in _codes(create_survey(questions=(create_question(),)))
    mini = create_survey(audience=Audience.MINI, questions=(create_question(),))
    assert lint(mini) == []


def test_a_closed_question_without_a_way_out_is_flagged() -> None:
    question = create_question(
        question_id="solved", kind=QuestionKind.SINGLE_CHOICE, options=("Yes", "No")
    )
    assert (LintCode.CLOSED_WITHOUT_FULL_RANGE, "solved") in _codes(
        create_survey(questions=(question,))
    )
    two_point = create_question(question_id="s", kind=QuestionKind.SCALE, scale_min=1, scale_max=2)
    assert (LintCode.CLOSED_WITHOUT_FULL_RANGE, "s") in _codes(
        create_survey(questions=(two_point,))
    )


def test_a_repeated_question_is_flagged_on_its_second_occurrence() -> None:
    survey = create_survey(
        questions=(
            create_question(),
            create_question(question_id="q2", text="How do you feel about the visit today"),
        )
    )
    assert (LintCode.REPEATED_QUESTION, "q2") in _codes(survey)


@given(st.text(max_size=200))
def test_the_linter_never_fails_on_any_wording(text: str) -> None:
    for language in ("en", "uk", "lv"):
        lint(create_survey(language=language, questions=(create_question(text=text),)))


def test_a_survey_in_a_language_without_word_lists_gets_only_structural_warnings() -> None:
    survey = create_survey(language="lv", questions=(create_question(text="Don't you agree?"),))
    assert {w.code for w in lint(survey)} == {LintCode.NO_FREE_COMMENT}
