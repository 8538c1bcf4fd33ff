"""Specification of first response (deadline, acknowledgement, first contact,
escalation), one-time consultations, the web form and the form codec."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from casework_dev.testing.organisations import create_organisation
from casework_intake.domain import consultations, first_response, form_codec, web_form
from casework_intake.domain.consultations import RecordConsultation
from casework_intake.domain.forms import FormCatalogue, FormRuleViolation, evaluate_eligibility
from casework_intake.domain.referrals import Channel, Referral

DEV = create_organisation()
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def create_referral(**overrides: Any) -> Referral:
    fields: dict[str, Any] = {
        "referral_id": "ref-1",
        "reference_number": "R-2025-000001",
        "organisation": "org-demo",
        "idempotency_key": "key-12345678",
        "fingerprint": "f",
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": date(1961, 4, 12),
        "phone": "+421 900 123 456",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": Channel.PHONE,
        "free_text": "",
        "submitted_by": "partner",
        "submitted_at": T0,
    }
    fields.update(overrides)
    return first_response.with_deadline(Referral(**fields), 24)


# ------------------------------------------------------------------ first response


def test_a_new_referral_is_due_a_first_response_within_the_organisations_hours() -> None:
    assert create_referral().first_response_due_at == T0 + timedelta(hours=24)


@pytest.mark.parametrize("hours", [0, -1, "24", True, float("nan"), 24 * 32])
def test_a_senseless_first_response_time_is_refused(hours: Any) -> None:
    with pytest.raises(ValueError):
        first_response.check_hours(hours)


def test_an_acknowledged_referral_is_never_overdue_and_keeps_its_first_acknowledgement() -> None:
    acked, changed = first_response.acknowledge(create_referral(), "w-anna", T0)
    again, changed_again = first_response.acknowledge(acked, "w-petr", T0 + timedelta(hours=1))
    assert changed and not changed_again and again.acknowledged_by == "w-anna"
    assert not first_response.is_overdue(again, T0 + timedelta(days=3))


def test_an_unacknowledged_referral_is_overdue_at_its_deadline_and_escalates_once() -> None:
    referral = create_referral()
    due = T0 + timedelta(hours=24)
    assert not first_response.is_overdue(referral, due - timedelta(seconds=1))
    assert first_response.is_overdue(referral, due)
    escalated = first_response.escalate(referral, due)
    assert not first_response.is_overdue(escalated, due + timedelta(hours=5))
    with pytest.raises(FailedPrecondition):
        first_response.escalate(escalated, due + timedelta(hours=5))
    payload = first_response.overdue_event_payload(escalated, "w-manager-north")
    assert payload["manager_id"] == "w-manager-north"
    assert payload["due_at"] == due.isoformat()


def test_the_first_contact_acknowledges_and_a_second_one_keeps_the_first() -> None:
    contacted, changed = first_response.record_first_contact(
        create_referral(), "w-anna", Channel.OUTREACH, "met", T0
    )
    again, changed_again = first_response.record_first_contact(
        contacted, "w-petr", Channel.PHONE, "", T0 + timedelta(hours=1)
    )
    assert changed and not changed_again
    assert (again.first_contact_by, again.first_contact_channel) == ("w-anna", Channel.OUTREACH)
    assert again.acknowledged_by == "w-anna"


def test_a_first_contact_without_a_channel_is_refused() -> None:
    with pytest.raises(InvalidArgument) as refused:
        first_response.record_first_contact(create_referral(), "w-anna", None, "", T0)
    assert [e.field for e in refused.value.errors] == ["channel"]


@given(st.floats(0.01, 200), st.integers(0, 400))
def test_overdue_exactly_when_the_deadline_passed_unacknowledged(hours: float, after: int) -> None:
    referral = first_response.with_deadline(create_referral(), hours)
    now = T0 + timedelta(hours=after / 2)
    assert first_response.is_overdue(referral, now) == (now >= T0 + timedelta(hours=hours))


# ------------------------------------------------------------------ consultations


def create_command(**overrides: Any) -> RecordConsultation:
    fields: dict[str, Any] = {
        "idempotency_key": "cons-12345678",
        "given_name": "",
        "family_name": "",
        "date_of_birth": "",
        "phone": "",
        "email": "",
        "topic": "housing benefit",
        "duration_minutes": 15,
        "worker_id": "w-anna",
        "channel": Channel.PHONE,
        "centre_id": "ctr-north-town",
        "notes": "",
    }
    fields.update(overrides)
    return RecordConsultation(**fields)


def test_an_anonymous_consultation_carries_empty_person_fields_in_its_event() -> None:
    consultation = consultations.accept(
        create_command(), DEV, consultation_id="c-1", recorded_by="w-anna", now=T0
    )
    assert consultation.anonymous
    assert consultations.recorded_event_payload(consultation) == {
        "consultation_id": "c-1",
        "person": {"given_name": "", "family_name": "", "date_of_birth": ""},
        "contact": {"phone": "", "email": ""},
        "topic": "housing benefit",
        "duration_minutes": 15,
        "worker_id": "w-anna",
        "channel": "phone",
        "centre_id": "ctr-north-town",
        "recorded_at": T0.isoformat(),
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"topic": " "}, "topic"),
        ({"topic": "x" * 201}, "topic"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 601}, "duration_minutes"),
        ({"given_name": "Petra"}, "person.family_name"),
        ({"family_name": "Malá"}, "person.given_name"),
        ({"date_of_birth": "1990-01-01"}, "person.date_of_birth"),
        (
            {"given_name": "P", "family_name": "M", "date_of_birth": "2990-01-01"},
            "person.date_of_birth",
        ),
        ({"phone": "call me"}, "contact.phone"),
        ({"email": "x@"}, "contact.email"),
        ({"worker_id": "w-nobody"}, "worker_id"),
        ({"worker_id": "w-ilze"}, "worker_id"),
        ({"centre_id": "ctr-atlantis"}, "centre_id"),
        ({"channel": None}, "channel"),
        ({"notes": "x" * 4001}, "notes"),
        ({"idempotency_key": "short"}, "idempotency_key"),
    ],
)
def test_a_bad_consultation_names_its_field(overrides: dict[str, Any], field: str) -> None:
    errors = consultations.validate(create_command(**overrides), DEV, T0.date())
    assert field in [e.field for e in errors]


def test_a_replayed_consultation_key_with_other_content_is_refused() -> None:
    stored = consultations.accept(
        create_command(), DEV, consultation_id="c-1", recorded_by="w-anna", now=T0
    )
    assert consultations.check_replay(stored, create_command()) == stored
    with pytest.raises(AlreadyExists):
        consultations.check_replay(stored, create_command(topic="debt advice"))


# ----------------------------------------------------------------------- web form


def create_form(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "given_name": "Marta",
        "family_name": "Webová",
        "date_of_birth": "1985-07-01",
        "phone": "+421 900 555 111",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "debt",
    }
    fields.update(overrides)
    return fields


def test_a_web_form_becomes_a_web_form_referral_with_a_fresh_key() -> None:
    first, errors = web_form.read_form(create_form())
    second, _ = web_form.read_form(create_form())
    assert errors == [] and first is not None and second is not None
    assert first.channel is Channel.WEB_FORM
    assert first.idempotency_key != second.idempotency_key


@pytest.mark.parametrize("value", ["http://spam", " ", "0"])
def test_a_filled_honeypot_is_refused(value: str) -> None:
    with pytest.raises(web_form.HoneypotFilled):
        web_form.read_form(create_form(website=value))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"free_text": 5}, "free_text"), ({"free_text": "x" * 5001}, "free_text"), ({"x": "1"}, "x")],
)
def test_a_web_form_field_of_the_wrong_shape_is_named(
    overrides: dict[str, Any], field: str
) -> None:
    command, errors = web_form.read_form(create_form(**overrides))
    assert command is None and [e.field for e in errors] == [field]


def test_referral_errors_are_renamed_to_the_forms_flat_fields() -> None:
    from casework_common.errors import FieldError

    renamed = web_form.form_errors(
        [FieldError("person.date_of_birth", "bad"), FieldError("centre_id", "bad")]
    )
    assert [e.field for e in renamed] == ["date_of_birth", "centre_id"]


@given(st.integers(1, 20), st.integers(1, 40))
def test_an_address_is_allowed_exactly_limit_submissions_a_minute(limit: int, count: int) -> None:
    decision = web_form.decide(count, limit, T0 + timedelta(seconds=17))
    assert decision.allowed == (count <= limit)
    assert decision.retry_after_seconds == 60 - 17 % 60


def test_moments_in_one_minute_share_a_window_and_the_next_minute_does_not() -> None:
    start = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    assert web_form.window_of(start) == web_form.window_of(start + timedelta(seconds=59))
    assert web_form.window_of(start + timedelta(seconds=60)) == web_form.window_of(start) + 1


# ----------------------------------------------------------------------- form codec

FORM = {
    "title": "Housing intake",
    "steps": [
        {
            "id": "about",
            "title": "About you",
            "questions": [
                {
                    "id": "born",
                    "label": "Born",
                    "type": "date",
                    "required": True,
                    "self_fill": True,
                },
                {"id": "kids", "label": "Children", "type": "number", "minimum": 0, "maximum": 12},
                {
                    "id": "area",
                    "label": "Area",
                    "type": "single_choice",
                    "choices": [
                        {"value": "north", "label": "North"},
                        {"value": "south", "label": "South"},
                    ],
                },
                {
                    "id": "school",
                    "label": "School",
                    "type": "text",
                    "show_if": {"greater_than": {"question": "kids", "value": 0}},
                },
            ],
        }
    ],
    "programmes": [
        {
            "id": "family",
            "name": "Family support",
            "rule": {
                "all_of": [
                    {"in": {"question": "area", "values": ["north"]}},
                    {"not": {"less_than": {"question": "kids", "value": 1}}},
                    {"age_at_least": {"question": "born", "years": 18, "on": "2025-09-01"}},
                ]
            },
            "reason_template": "$programme: $outcome, because $answers.",
        },
    ],
}


def test_a_definition_survives_a_round_trip_and_decides_eligibility() -> None:
    defn = form_codec.definition_from_dict(FORM, form_id="housing", organisation="org-demo")
    again = form_codec.definition_from_dict(
        json.loads(json.dumps(form_codec.definition_to_dict(defn))),
        form_id="housing",
        organisation="org-demo",
    )
    assert again == defn
    published = FormCatalogue().publish(defn)
    (verdict,) = evaluate_eligibility(
        published, {"born": "1990-01-01", "kids": 2, "area": "north", "school": "ZŠ"}, T0.date()
    )
    assert verdict.eligible and "'Area' 'North'" in verdict.reason


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda f: f["steps"][0]["questions"][0].update(type="colour"),
            "steps[0].questions[0].type",
        ),
        (
            lambda f: f["steps"][0]["questions"][0].update(required="yes"),
            "steps[0].questions[0].required",
        ),
        (
            lambda f: f["steps"][0]["questions"][1].update(minimum="none"),
            "steps[0].questions[1].minimum",
        ),
        (lambda f: f["programmes"][0].update(rule={"maybe": {}}), "programmes[0].rule"),
        (
            lambda f: f["programmes"][0].update(
                rule={"equals": {"question": "born", "value": "soon"}}
            ),
            "programmes[0].rule.equals.value",
        ),
        (lambda f: f.update(extra=1), "definition.extra"),
        (lambda f: f.update(steps="none"), "steps"),
    ],
)
def test_an_unreadable_definition_names_every_bad_field(change: Any, field: str) -> None:
    broken = json.loads(json.dumps(FORM))
    change(broken)
    with pytest.raises(FormRuleViolation) as refused:
        form_codec.definition_from_dict(broken, form_id="housing", organisation="org-demo")
    assert field in [e.field for e in refused.value.errors]


def test_whole_numbers_from_protobuf_become_ints_again() -> None:
    assert form_codec.plain_answers({"kids": 2.0, "income": 2.5, "born": "1990-01-01"}) == {
        "kids": 2,
        "income": 2.5,
        "born": "1990-01-01",
    }


def test_a_nested_condition_too_deep_is_refused_not_recursed() -> None:
    deep: dict[str, Any] = {"answered": {"question": "born"}}
    for _ in range(40):
        deep = {"not": deep}
    broken = replace_rule(deep)
    with pytest.raises(FormRuleViolation) as refused:
        form_codec.definition_from_dict(broken, form_id="housing", organisation="org-demo")
    assert any("nested" in e.description for e in refused.value.errors)


def replace_rule(rule: dict[str, Any]) -> dict[str, Any]:
    broken = json.loads(json.dumps(FORM))
    broken["programmes"][0]["rule"] = rule
    return broken
