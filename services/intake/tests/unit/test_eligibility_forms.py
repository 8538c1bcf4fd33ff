"""Specification of eligibility forms: how an organisation defines them, how answers are
checked, how programmes are decided and how versions keep old answers readable."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_intake.domain.forms import (
    AgeAtLeast,
    AllOf,
    Answered,
    AnswerSet,
    Choice,
    Condition,
    Equals,
    FieldError,
    FormCatalogue,
    FormDefinition,
    FormRuleViolation,
    GreaterThan,
    In,
    InvalidAnswers,
    InvalidFormDefinition,
    LessThan,
    Not,
    NotEquals,
    Programme,
    Question,
    QuestionType,
    Step,
    UnknownFormVersion,
    all_of,
    any_of,
    evaluate_eligibility,
    record_answers,
    self_fill_question_ids,
    validate_answers,
    validate_definition,
)

TODAY = date(2025, 6, 1)
SUBMITTED = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)

_question_numbers = itertools.count(1)


# ------------------------------------------------------------------------ factories


def choices(*values: str) -> tuple[Choice, ...]:
    return tuple(Choice(value, value.replace("_", " ").capitalize()) for value in values)


def create_question(**overrides: Any) -> Question:
    fields: dict[str, Any] = {
        "id": f"question_{next(_question_numbers)}",
        "label": "A question",
        "type": QuestionType.TEXT,
    }
    fields.update(overrides)
    return Question(**fields)


def _sample_steps() -> tuple[Step, ...]:
    """A small housing intake: who the person is, then their situation."""
    about = Step(
        "about_you",
        "About you",
        (
            create_question(
                id="date_of_birth",
                label="Date of birth",
                type=QuestionType.DATE,
                required=True,
                self_fill=True,
            ),
            create_question(
                id="household_size",
                label="People in the household",
                type=QuestionType.NUMBER,
                required=True,
                minimum=1,
                maximum=20,
                self_fill=True,
            ),
            create_question(
                id="region",
                label="Region",
                type=QuestionType.SINGLE_CHOICE,
                required=True,
                choices=choices("north", "south", "city"),
            ),
        ),
    )
    situation = Step(
        "situation",
        "Your situation",
        (
            create_question(
                id="has_home",
                label="Has a place to live",
                type=QuestionType.YES_NO,
                required=True,
                self_fill=True,
            ),
            create_question(
                id="nights_outside",
                label="Nights without a roof in the last 30 days",
                type=QuestionType.NUMBER,
                required=True,
                minimum=0,
                maximum=30,
                show_if=Equals("has_home", False),
                self_fill=True,
            ),
            create_question(
                id="problems",
                label="Problems to solve",
                type=QuestionType.MULTIPLE_CHOICE,
                choices=choices("housing", "debt", "work", "health"),
                self_fill=True,
            ),
            create_question(id="notes", label="Worker's notes", max_length=200),
        ),
    )
    return (about, situation)


def _sample_programmes() -> tuple[Programme, ...]:
    return (
        Programme(
            "housing_first",
            "Housing First",
            all_of(Equals("has_home", False), AgeAtLeast("date_of_birth", 18)),
        ),
        Programme(
            "debt_advice",
            "Debt advice",
            any_of(Equals("problems", "debt"), GreaterThan("household_size", 5)),
        ),
    )


def create_form(**overrides: Any) -> FormDefinition:
    """The sample form, or a one-step form around `questions=[...]` when given."""
    fields: dict[str, Any] = {
        "form_id": "housing_intake",
        "version": 1,
        "organisation": "org-east",
        "title": "Housing intake",
        "steps": _sample_steps(),
        "programmes": _sample_programmes(),
    }
    questions = overrides.pop("questions", None)
    if questions is not None:
        fields["steps"] = (Step("only", "Questions", tuple(questions)),)
        fields["programmes"] = ()
    fields.update(overrides)
    return FormDefinition(**fields)


def create_answers(**overrides: object) -> dict[str, object]:
    """Complete, valid answers to the sample form (someone who has a home)."""
    answers: dict[str, object] = {
        "date_of_birth": "1990-04-12",
        "household_size": 2,
        "region": "north",
        "has_home": True,
        "problems": ["debt"],
        "notes": "Came by phone",
    }
    answers.update(overrides)
    return {key: value for key, value in answers.items() if value is not None}


def fields_of(errors: list[FieldError]) -> set[str]:
    return {error.field for error in errors}


def verdict_for(form: FormDefinition, answers: Mapping[str, object], programme: str) -> Any:
    return next(
        v for v in evaluate_eligibility(form, answers, TODAY) if v.programme_id == programme
    )


# --------------------------------------------------------------------- definitions


def test_the_sample_form_is_well_formed() -> None:
    assert validate_definition(create_form()) == []


def test_a_condition_referring_to_a_later_question_is_refused() -> None:
    later = create_question(id="later")
    early = create_question(id="early", show_if=Answered("later"))

    errors = validate_definition(create_form(questions=[early, later]))

    assert len(errors) == 1
    assert errors[0].field == "steps[0].questions[0].show_if.question_id"
    assert "later in the form" in errors[0].description


def test_a_condition_on_a_question_of_an_earlier_step_is_accepted() -> None:
    form = create_form()
    assert form.question("nights_outside") is not None
    assert validate_definition(form) == []


def test_a_condition_referring_to_its_own_question_is_refused() -> None:
    looping = create_question(id="looping", show_if=Answered("looping"))

    errors = validate_definition(create_form(questions=[looping]))

    assert fields_of(errors) == {"steps[0].questions[0].show_if.question_id"}
    assert "itself" in errors[0].description


def test_a_condition_referring_to_an_unknown_question_is_refused_at_its_place() -> None:
    first = create_question(id="first")
    second = create_question(
        id="second", show_if=all_of(Answered("first"), Not(Answered("nowhere")))
    )

    errors = validate_definition(create_form(questions=[first, second]))

    assert fields_of(errors) == {
        "steps[0].questions[1].show_if.conditions[1].condition.question_id"
    }
    assert "not a question of this form" in errors[0].description


def test_question_ids_must_be_unique_across_the_whole_form() -> None:
    form = create_form()
    copy = dataclasses.replace(form.steps[0].questions[0])
    steps = (form.steps[0], dataclasses.replace(form.steps[1], questions=(copy,)))

    errors = validate_definition(dataclasses.replace(form, steps=steps, programmes=()))

    assert fields_of(errors) == {"steps[1].questions[0].id"}


@pytest.mark.parametrize("kind", [QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE])
def test_a_choice_question_without_choices_is_refused(kind: QuestionType) -> None:
    errors = validate_definition(create_form(questions=[create_question(type=kind)]))
    assert fields_of(errors) == {"steps[0].questions[0].choices"}


def test_a_choice_listed_twice_is_refused() -> None:
    question = create_question(
        type=QuestionType.SINGLE_CHOICE,
        choices=(Choice("a", "A"), Choice("a", "Again A")),
    )
    errors = validate_definition(create_form(questions=[question]))
    assert fields_of(errors) == {"steps[0].questions[0].choices[1].value"}


def test_settings_of_another_question_type_are_refused() -> None:
    question = create_question(type=QuestionType.YES_NO, choices=choices("x"), maximum=3)
    errors = validate_definition(create_form(questions=[question]))
    assert fields_of(errors) == {
        "steps[0].questions[0].choices",
        "steps[0].questions[0].minimum",
    }


def test_a_number_range_upside_down_is_refused() -> None:
    question = create_question(type=QuestionType.NUMBER, minimum=10, maximum=1)
    errors = validate_definition(create_form(questions=[question]))
    assert fields_of(errors) == {"steps[0].questions[0].maximum"}


@pytest.mark.parametrize("question_id", ["", "1st", "has space", "dotted.id", "x" * 65])
def test_a_question_id_that_cannot_sit_in_a_field_path_is_refused(
    question_id: str,
) -> None:
    errors = validate_definition(create_form(questions=[create_question(id=question_id)]))
    assert "steps[0].questions[0].id" in fields_of(errors)


def test_a_form_needs_a_step_and_every_step_a_question() -> None:
    assert fields_of(validate_definition(create_form(steps=(), programmes=()))) == {"steps"}
    empty_step = (Step("empty", "Empty", ()),)
    assert fields_of(validate_definition(create_form(steps=empty_step, programmes=()))) == {
        "steps[0].questions"
    }


@pytest.mark.parametrize("version", [0, -1])
def test_a_form_version_below_one_is_refused(version: int) -> None:
    assert fields_of(validate_definition(create_form(version=version))) == {"version"}


def test_a_programme_rule_may_use_any_question_of_the_form() -> None:
    # Rules are read once everything is answered, so the last question is fair game.
    rule = Equals("notes", "urgent")
    form = create_form(programmes=(Programme("urgent", "Urgent", rule),))
    assert validate_definition(form) == []


def test_a_programme_rule_on_an_unknown_question_is_refused() -> None:
    form = create_form(programmes=(Programme("p", "P", Answered("income")),))
    assert fields_of(validate_definition(form)) == {"programmes[0].rule.question_id"}


@pytest.mark.parametrize(
    "rule",
    [
        GreaterThan("notes", 3),
        Equals("has_home", 1),
        Equals("region", "abroad"),
        In("problems", ("debt", "luck")),
        AgeAtLeast("household_size", 18),
        LessThan("date_of_birth", 1990),
        AllOf(()),
    ],
    ids=repr,
)
def test_a_rule_that_can_never_fit_its_question_is_refused(rule: Condition) -> None:
    form = create_form(programmes=(Programme("p", "P", rule),))
    errors = validate_definition(form)
    assert len(errors) == 1
    assert errors[0].field.startswith("programmes[0].rule")


@pytest.mark.parametrize(
    ("template", "valid"),
    [
        ("$outcome for $programme ($answers)", True),
        ("No placeholders at all", True),
        ("Costs 5$$", True),
        ("Hello $client_name", False),
        ("Costs 5$", False),
    ],
)
def test_a_reason_template_may_only_use_known_placeholders(template: str, valid: bool) -> None:
    programme = Programme("p", "P", Answered("region"), reason_template=template)
    errors = validate_definition(create_form(programmes=(programme,)))
    assert (errors == []) is valid
    assert fields_of(errors) <= {"programmes[0].reason_template"}


def test_conditions_nested_too_deeply_are_refused() -> None:
    rule: Condition = Answered("region")
    for _ in range(50):
        rule = Not(rule)
    errors = validate_definition(create_form(programmes=(Programme("p", "P", rule),)))
    assert len(errors) == 1
    assert "nested" in errors[0].description


# ------------------------------------------------------------------------- answers


def test_complete_answers_have_no_errors() -> None:
    assert validate_answers(create_form(), create_answers(), TODAY) == []


def test_a_missing_required_question_is_reported() -> None:
    errors = validate_answers(create_form(), create_answers(region=None), TODAY)
    assert errors == [FieldError("answers.region", "is required")]


@pytest.mark.parametrize("blank", ["", "   ", [], None])
def test_a_blank_answer_counts_as_no_answer(blank: object) -> None:
    answers = {**create_answers(), "region": blank, "notes": blank}
    assert validate_answers(create_form(), answers, TODAY) == [
        FieldError("answers.region", "is required")
    ]


def test_a_required_question_hidden_by_its_condition_is_not_required() -> None:
    answers = create_answers(has_home=True)
    assert "nights_outside" not in answers
    assert validate_answers(create_form(), answers, TODAY) == []


def test_a_required_question_shown_by_its_condition_is_required() -> None:
    errors = validate_answers(create_form(), create_answers(has_home=False), TODAY)
    assert errors == [FieldError("answers.nights_outside", "is required")]


def test_an_answer_to_a_hidden_question_is_an_error() -> None:
    errors = validate_answers(create_form(), create_answers(has_home=True, nights_outside=4), TODAY)
    assert fields_of(errors) == {"answers.nights_outside"}
    assert "hides" in errors[0].description


@pytest.mark.parametrize(
    ("question_id", "wrong"),
    [
        ("household_size", "3"),
        ("household_size", True),
        ("household_size", float("nan")),
        ("date_of_birth", "12.04.1990"),
        ("date_of_birth", "1990-02-30"),
        ("date_of_birth", datetime(1990, 4, 12, 8, 0)),
        ("region", "abroad"),
        ("region", ["north"]),
        ("has_home", "yes"),
        ("has_home", 1),
        ("problems", "debt"),
        ("problems", ["debt", "luck"]),
        ("problems", ["debt", "debt"]),
        ("notes", 42),
    ],
    ids=repr,
)
def test_an_answer_of_the_wrong_type_is_reported_per_field(question_id: str, wrong: object) -> None:
    errors = validate_answers(create_form(), create_answers(**{question_id: wrong}), TODAY)
    assert fields_of(errors) == {f"answers.{question_id}"}


def test_every_wrong_answer_gets_its_own_entry() -> None:
    answers = create_answers(household_size="two", region="abroad", notes=7)
    errors = validate_answers(create_form(), answers, TODAY)
    assert fields_of(errors) == {
        "answers.household_size",
        "answers.region",
        "answers.notes",
    }


def test_a_date_may_be_given_as_a_date_value() -> None:
    answers = create_answers(date_of_birth=date(1990, 4, 12))
    assert validate_answers(create_form(), answers, TODAY) == []


def test_an_unknown_question_id_is_reported() -> None:
    errors = validate_answers(create_form(), {**create_answers(), "income": 1200}, TODAY)
    assert errors == [FieldError("answers.income", "is not a question of this form")]


def test_a_key_that_is_not_a_question_id_is_reported_on_answers() -> None:
    answers: dict[Any, object] = {**create_answers(), 7: "seven"}
    assert fields_of(validate_answers(create_form(), answers, TODAY)) == {"answers"}


def test_answers_that_are_not_a_mapping_are_reported() -> None:
    not_a_mapping: Any = ["north"]
    assert fields_of(validate_answers(create_form(), not_a_mapping, TODAY)) == {"answers"}


def test_text_longer_than_allowed_is_reported() -> None:
    assert validate_answers(create_form(), create_answers(notes="x" * 200), TODAY) == []
    errors = validate_answers(create_form(), create_answers(notes="x" * 201), TODAY)
    assert errors == [FieldError("answers.notes", "is 201 characters long; at most 200 allowed")]


@pytest.mark.parametrize(("size", "accepted"), [(0, False), (1, True), (20, True), (21, False)])
def test_a_number_outside_its_range_is_reported(size: int, accepted: bool) -> None:
    errors = validate_answers(create_form(), create_answers(household_size=size), TODAY)
    assert (errors == []) is accepted
    assert fields_of(errors) <= {"answers.household_size"}


def test_a_broken_answer_does_not_echo_into_the_questions_that_depend_on_it() -> None:
    # Whether nights_outside is shown cannot be known, so it is neither required nor
    # forbidden; the one real mistake is reported once.
    for nights in (None, 3):
        answers = create_answers(has_home="no", nights_outside=nights)
        errors = validate_answers(create_form(), answers, TODAY)
        assert fields_of(errors) == {"answers.has_home"}


def test_a_client_cannot_answer_a_question_kept_for_workers() -> None:
    answers = {
        "date_of_birth": "1990-04-12",
        "household_size": 2,
        "has_home": True,
        "region": "north",
    }
    errors = validate_answers(create_form(), answers, TODAY, only_self_fill=True)
    assert fields_of(errors) == {"answers.region"}


def test_a_client_is_not_asked_for_the_workers_part() -> None:
    answers = {"date_of_birth": "1990-04-12", "household_size": 2, "has_home": True}
    assert validate_answers(create_form(), answers, TODAY, only_self_fill=True) == []


def test_a_client_is_still_asked_for_required_self_fill_questions() -> None:
    errors = validate_answers(create_form(), {"has_home": False}, TODAY, only_self_fill=True)
    assert fields_of(errors) == {
        "answers.date_of_birth",
        "answers.household_size",
        "answers.nights_outside",
    }


def test_the_self_fill_part_lists_marked_questions_in_form_order() -> None:
    assert self_fill_question_ids(create_form()) == (
        "date_of_birth",
        "household_size",
        "has_home",
        "nights_outside",
        "problems",
    )


# --------------------------------------------------------------------- eligibility


def test_eligibility_verdict_explains_which_answers_decided_it() -> None:
    answers = create_answers(has_home=False, nights_outside=12)

    verdict = verdict_for(create_form(), answers, "housing_first")

    assert verdict.eligible
    assert verdict.deciding_question_ids == ("date_of_birth", "has_home")
    assert "Housing First: eligible" in verdict.reason
    assert "'Has a place to live' no, needed no (met)" in verdict.reason
    assert "'Date of birth' 1990-04-12 (age 35 on 2025-06-01)" in verdict.reason
    assert "Region" not in verdict.reason


def test_a_failed_all_of_rule_names_only_the_answers_that_failed_it() -> None:
    answers = create_answers(date_of_birth="2008-01-01", has_home=False, nights_outside=3)

    verdict = verdict_for(create_form(), answers, "housing_first")

    assert not verdict.eligible
    assert verdict.deciding_question_ids == ("date_of_birth",)
    assert "needed an age of at least 18 (not met)" in verdict.reason
    assert "Has a place to live" not in verdict.reason


def test_a_met_any_of_rule_names_only_the_answers_that_met_it() -> None:
    verdict = verdict_for(create_form(), create_answers(problems=["debt"]), "debt_advice")

    assert verdict.eligible
    assert verdict.deciding_question_ids == ("problems",)
    assert "'Problems to solve' 'Debt', needed 'Debt' among the choices (met)" in verdict.reason


def test_a_failed_any_of_rule_names_every_answer_it_looked_at() -> None:
    verdict = verdict_for(create_form(), create_answers(problems=None), "debt_advice")

    assert not verdict.eligible
    assert verdict.deciding_question_ids == ("household_size", "problems")
    assert "'Problems to solve' not answered" in verdict.reason


def test_there_is_a_verdict_for_every_programme_in_form_order() -> None:
    verdicts = evaluate_eligibility(create_form(), create_answers(), TODAY)
    assert [v.programme_id for v in verdicts] == ["housing_first", "debt_advice"]


def test_a_reason_template_controls_the_wording() -> None:
    programme = Programme(
        "north",
        "Northern outreach",
        Equals("region", "north"),
        reason_template="Decision for $programme: $outcome ($answers). Cost: 0$$",
    )
    form = create_form(programmes=(programme,))

    verdict = verdict_for(form, create_answers(), "north")

    assert verdict.reason == (
        "Decision for Northern outreach: eligible"
        " ('Region' 'North', needed 'North' (met)). Cost: 0$"
    )


def test_not_equals_is_not_met_by_a_question_left_unanswered() -> None:
    programme = Programme("not_city", "Outside the city", NotEquals("problems", "debt"))
    form = create_form(programmes=(programme,))
    assert not verdict_for(form, create_answers(problems=None), "not_city").eligible
    assert verdict_for(form, create_answers(problems=["work"]), "not_city").eligible


def test_a_rule_never_reads_an_answer_to_a_hidden_question() -> None:
    programme = Programme("rough", "Rough sleepers", Answered("nights_outside"))
    form = create_form(programmes=(programme,))
    assert not verdict_for(form, create_answers(has_home=True), "rough").eligible


@pytest.mark.parametrize(
    ("born", "on", "adult"),
    [
        ("2007-06-01", date(2025, 6, 1), True),
        ("2007-06-02", date(2025, 6, 1), False),
        ("2004-02-29", date(2022, 2, 28), False),
        ("2004-02-29", date(2022, 3, 1), True),
    ],
)
def test_age_at_least_counts_full_years_on_the_day(born: str, on: date, adult: bool) -> None:
    birth = create_question(id="born", label="Born", type=QuestionType.DATE)
    form = create_form(
        questions=[birth],
        programmes=(Programme("adult", "Adult", AgeAtLeast("born", 18)),),
    )
    (verdict,) = evaluate_eligibility(form, {"born": born}, on)
    assert verdict.eligible is adult


@pytest.mark.parametrize("born", ["9999-12-31", "2025-06-02", "1899-12-31", "0001-01-01"])
def test_a_date_of_birth_in_the_future_or_before_1900_is_refused(born: str) -> None:
    birth = create_question(id="born", label="Born", type=QuestionType.DATE)
    form = create_form(
        questions=[birth],
        programmes=(Programme("adult", "Adult", AgeAtLeast("born", 18)),),
    )
    errors = validate_answers(form, {"born": born}, TODAY)
    assert [e.field for e in errors] == ["answers.born"]
    assert "date of birth" in errors[0].description


def test_a_date_question_named_for_the_birth_date_is_checked_as_one() -> None:
    birth = create_question(id="date_of_birth", label="Born", type=QuestionType.DATE)
    other = create_question(id="moved_in", label="Moved in", type=QuestionType.DATE)
    form = create_form(questions=[birth, other])
    answers = {"date_of_birth": "9999-12-31", "moved_in": "2026-01-01"}
    errors = validate_answers(form, answers, TODAY)
    assert [e.field for e in errors] == ["answers.date_of_birth"]


def test_age_may_be_counted_on_a_fixed_day_instead_of_today() -> None:
    birth = create_question(id="born", label="Born", type=QuestionType.DATE)
    school_start = date(2025, 9, 1)
    rule = AgeAtLeast("born", 6, on=school_start)
    form = create_form(questions=[birth], programmes=(Programme("school", "School", rule),))

    (verdict,) = evaluate_eligibility(form, {"born": "2019-08-31"}, TODAY)

    assert verdict.eligible
    assert "(age 6 on 2025-09-01)" in verdict.reason


def test_eligibility_is_refused_for_invalid_answers() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        evaluate_eligibility(create_form(), create_answers(region="abroad"), TODAY)
    assert isinstance(refused.value, FormRuleViolation)
    assert fields_of(refused.value.errors) == {"answers.region"}


def test_eligibility_is_refused_for_a_faulty_form() -> None:
    faulty = create_form(programmes=(Programme("p", "P", Answered("income")),))
    with pytest.raises(InvalidFormDefinition) as refused:
        evaluate_eligibility(faulty, create_answers(), TODAY)
    assert fields_of(refused.value.errors) == {"programmes[0].rule.question_id"}


# ------------------------------------------------------------- versions and answers


def test_publishing_gives_each_new_version_the_next_number() -> None:
    catalogue = FormCatalogue()

    first = catalogue.publish(create_form(version=99))
    second = catalogue.publish(create_form(title="Housing intake, 2026"))

    assert (first.version, second.version) == (1, 2)
    assert catalogue.versions("housing_intake") == (1, 2)
    assert catalogue.latest("housing_intake") == second


def test_answers_keep_the_form_version_they_were_given_on() -> None:
    catalogue = FormCatalogue()
    first = catalogue.publish(create_form())
    answer_set = record_answers(first, create_answers(), SUBMITTED)
    # The next version drops the region question; the old answers still mention it.
    reworded = create_form(
        steps=(
            dataclasses.replace(first.steps[0], questions=first.steps[0].questions[:2]),
            first.steps[1],
        )
    )
    catalogue.publish(reworded)

    assert answer_set.version == 1
    original = catalogue.definition_for(answer_set)
    assert original == first
    assert validate_answers(original, answer_set.answers, TODAY) == []
    latest = catalogue.latest("housing_intake")
    assert fields_of(validate_answers(latest, answer_set.answers, TODAY)) == {"answers.region"}


def test_an_answer_set_records_form_version_and_time() -> None:
    form = create_form(version=3)
    answer_set = record_answers(form, create_answers(), SUBMITTED)
    assert answer_set == AnswerSet("housing_intake", 3, create_answers(), SUBMITTED)


def test_recorded_answers_cannot_be_changed_afterwards() -> None:
    given = create_answers()
    answer_set = record_answers(create_form(), given, SUBMITTED)
    given["region"] = "south"
    assert answer_set.answers["region"] == "north"
    with pytest.raises(TypeError):
        answer_set.answers["region"] = "south"  # type: ignore[index]


def test_recording_invalid_answers_is_refused() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        record_answers(create_form(), create_answers(household_size=0), SUBMITTED)
    assert fields_of(refused.value.errors) == {"answers.household_size"}


def test_recorded_self_fill_answers_are_held_to_the_self_fill_part() -> None:
    with pytest.raises(InvalidAnswers) as refused:
        record_answers(create_form(), create_answers(), SUBMITTED, only_self_fill=True)
    assert fields_of(refused.value.errors) == {"answers.region", "answers.notes"}


def test_a_retired_version_is_reported_with_field_info() -> None:
    catalogue = FormCatalogue()
    catalogue.publish(create_form())
    catalogue.publish(create_form())

    catalogue.retire("housing_intake", 1)

    with pytest.raises(UnknownFormVersion) as unknown:
        catalogue.get("housing_intake", 1)
    assert unknown.value.errors == [
        FieldError("form_version", "version 1 of form 'housing_intake' was retired")
    ]
    assert (unknown.value.form_id, unknown.value.version) == ("housing_intake", 1)
    assert catalogue.versions("housing_intake") == (2,)


def test_a_version_never_published_is_reported_with_field_info() -> None:
    catalogue = FormCatalogue([create_form()])
    with pytest.raises(UnknownFormVersion) as unknown:
        catalogue.get("housing_intake", 7)
    assert fields_of(unknown.value.errors) == {"form_version"}
    assert "does not exist" in unknown.value.errors[0].description


def test_an_unknown_form_is_reported_on_form_id() -> None:
    catalogue = FormCatalogue()
    with pytest.raises(UnknownFormVersion) as unknown:
        catalogue.get("food_bank", 1)
    assert fields_of(unknown.value.errors) == {"form_id"}
    with pytest.raises(UnknownFormVersion):
        catalogue.latest("food_bank")


def test_a_retired_version_number_is_never_reused() -> None:
    catalogue = FormCatalogue()
    for _ in range(3):
        catalogue.publish(create_form())
    catalogue.retire("housing_intake", 2)

    assert catalogue.publish(create_form()).version == 4


def test_the_current_version_cannot_be_retired() -> None:
    catalogue = FormCatalogue()
    catalogue.publish(create_form())
    with pytest.raises(FormRuleViolation) as refused:
        catalogue.retire("housing_intake", 1)
    assert fields_of(refused.value.errors) == {"form_version"}
    assert catalogue.versions("housing_intake") == (1,)


def test_a_faulty_form_cannot_be_published() -> None:
    catalogue = FormCatalogue()
    with pytest.raises(InvalidFormDefinition):
        catalogue.publish(create_form(steps=()))
    assert catalogue.versions("housing_intake") == ()


def test_another_organisation_cannot_publish_a_version_of_a_form() -> None:
    catalogue = FormCatalogue([create_form()])
    with pytest.raises(InvalidFormDefinition) as refused:
        catalogue.publish(create_form(organisation="org-west"))
    assert fields_of(refused.value.errors) == {"organisation"}


# ---------------------------------------------------------------------- properties

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.dates(),
    st.datetimes(),
    st.sampled_from(["north", "debt", "1990-04-12", "2023-02-30", "", " "]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
    ),
    max_leaves=10,
)
_keys = st.one_of(
    st.sampled_from([q.id for q in create_form().questions()]),
    st.text(max_size=20),
    st.integers(),
    st.none(),
    st.tuples(st.integers()),
)
_arbitrary_answers = st.dictionaries(_keys, _values, max_size=10)


@given(answers=_arbitrary_answers, only_self_fill=st.booleans())
def test_validate_answers_is_total_on_arbitrary_dicts(
    answers: dict[Any, object], only_self_fill: bool
) -> None:
    errors = validate_answers(create_form(), answers, TODAY, only_self_fill=only_self_fill)

    assert all(isinstance(error, FieldError) for error in errors)
    assert all(e.field == "answers" or e.field.startswith("answers.") for e in errors)


@given(answers=_arbitrary_answers)
def test_eligibility_is_decided_exactly_when_the_answers_are_valid(
    answers: dict[Any, object],
) -> None:
    form = create_form()
    errors = validate_answers(form, answers, TODAY)
    if errors:
        with pytest.raises(InvalidAnswers) as refused:
            evaluate_eligibility(form, answers, TODAY)
        assert refused.value.errors == errors
    else:
        assert len(evaluate_eligibility(form, answers, TODAY)) == len(form.programmes)


@st.composite
def _valid_answers(draw: st.DrawFn) -> dict[str, object]:
    has_home = draw(st.booleans())
    answers: dict[str, object] = {
        "date_of_birth": draw(st.dates(date(1920, 1, 1), TODAY)).isoformat(),
        "household_size": draw(st.integers(1, 20)),
        "region": draw(st.sampled_from(["north", "south", "city"])),
        "has_home": has_home,
        "problems": draw(
            st.lists(st.sampled_from(["housing", "debt", "work", "health"]), unique=True)
        ),
        "notes": draw(st.text(max_size=200)),
    }
    if not has_home:
        answers["nights_outside"] = draw(st.integers(0, 30))
    return answers


@given(answers=_valid_answers())
def test_any_complete_answers_within_the_rules_are_accepted(
    answers: dict[str, object],
) -> None:
    assert validate_answers(create_form(), answers, TODAY) == []
    verdicts = evaluate_eligibility(create_form(), answers, TODAY)
    assert all(v.reason and v.deciding_question_ids for v in verdicts)
