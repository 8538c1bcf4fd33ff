"""Specification of responses and anonymity, single-use links, follow-up calls and
consent, append-only complaints and their deadlines, campaigns and suppressed reports
(pure domain, no server)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import FailedPrecondition, InvalidArgument
from casework_feedback.domain import (
    campaigns,
    complaints,
    followup,
    links,
    reports,
    responses,
    visits,
)
from casework_feedback.domain.surveys import (
    Aspect,
    Audience,
    DefinitionStatus,
    Question,
    QuestionKind,
    SurveyDefinition,
)

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
SECRET = b"s" * 32


def create_survey(**overrides: Any) -> SurveyDefinition:
    values: dict[str, Any] = {
        "survey_id": "srv-1",
        "version": 1,
        "centre_id": "ctr-a",
        "title": "After your visit",
        "audience": Audience.FRONT_LINE,
        "language": "en",
        "questions": (
            Question("mood", QuestionKind.SMILEY, "How was the visit?", Aspect.ATTITUDE),
            Question(
                "wait",
                QuestionKind.SCALE,
                "How long did you wait?",
                Aspect.DURATION,
                scale_min=1,
                scale_max=5,
            ),
            Question("say", QuestionKind.FREE_TEXT, "Anything else?"),
        ),
        "status": DefinitionStatus.PUBLISHED,
    }
    values.update(overrides)
    return SurveyDefinition(**values)


def create_response(survey: SurveyDefinition | None = None, **overrides: Any) -> responses.Response:
    values: dict[str, Any] = {
        "response_id": "r-1",
        "department_id": "",
        "channel": responses.Channel.PHONE,
        "answers": {"mood": 4},
        "comment": "",
        "received_at": NOW,
        "anonymous": False,
        "client_id": "cl-1",
        "worker_id": "w-1",
        "occasion_id": "v-1",
    }
    values.update(overrides)
    return responses.new_response(survey or create_survey(), **values)


# ------------------------------------------------------------------ responses


def test_an_anonymous_response_keeps_nothing_that_leads_back_to_the_client() -> None:
    response = create_response(anonymous=True)
    assert (response.client_id, response.worker_id, response.occasion_id) == ("", "", "")
    assert response.received_at == datetime(2026, 3, 2, tzinfo=UTC)
    assert response.anonymous


def test_an_answer_to_a_question_that_does_not_exist_is_refused_by_field() -> None:
    with pytest.raises(InvalidArgument) as refused:
        create_response(answers={"nope": 3})
    assert [e.field for e in refused.value.errors] == ["answers.nope"]


@given(st.integers().filter(lambda n: not 1 <= n <= 5))
def test_a_smiley_outside_its_five_faces_is_refused(face: int) -> None:
    with pytest.raises(InvalidArgument) as refused:
        create_response(answers={"mood": face})
    assert refused.value.errors[0].field == "answers.mood"


def test_answers_a_worker_records_must_have_been_shown_to_the_client() -> None:
    with pytest.raises(InvalidArgument) as refused:
        create_response(channel=responses.Channel.WITH_WORKER)
    assert refused.value.errors[0].field == "shown_to_client"
    assert create_response(channel=responses.Channel.WITH_WORKER, shown_to_client=True)


@given(face=st.integers(1, 5), anonymous=st.booleans(), pilot=st.booleans())
def test_only_a_named_counted_negative_answer_asks_for_a_plan_review(
    face: int, anonymous: bool, pilot: bool
) -> None:
    survey = create_survey(status=DefinitionStatus.PILOT if pilot else DefinitionStatus.PUBLISHED)
    response = create_response(survey, answers={"mood": face}, anonymous=anonymous)
    expected = face <= 2 and not anonymous and not pilot
    assert responses.asks_for_plan_review(survey, response) is expected


def test_a_response_stores_its_figures_per_aspect_for_the_database_to_sum() -> None:
    survey = create_survey()
    response = create_response(survey, answers={"mood": 1, "wait": 5, "say": "ok"})
    figures = responses.figures_by_aspect(responses.scored_answers(survey, response))
    assert figures == [
        responses.AspectFigures("attitude", 0.0, 1, 1),
        responses.AspectFigures("duration", 1.0, 1, 0),
    ]


# ---------------------------------------------------------------------- links


def test_a_link_carries_only_the_survey_and_its_times() -> None:
    _, token = links.issue_link(
        SECRET, survey_id="srv-1", version=2, issued_at=NOW, expires_at=NOW + timedelta(days=1)
    )
    payload = links._decode(token.split(".")[0])
    assert set(__import__("json").loads(payload)) == {"v", "lid", "s", "ver", "iat", "exp"}


def test_a_link_is_refused_when_used_expired_or_altered() -> None:
    lid, token = links.issue_link(
        SECRET, survey_id="srv-1", version=1, issued_at=NOW, expires_at=NOW + timedelta(hours=1)
    )
    assert links.verify_link(SECRET, token, NOW).link_id == lid
    with pytest.raises(links.LinkAlreadyUsed):
        links.verify_link(SECRET, token, NOW, used=lambda _: True)
    with pytest.raises(links.LinkExpired):
        links.verify_link(SECRET, token, NOW + timedelta(hours=1))
    with pytest.raises(links.LinkTampered):
        links.verify_link(b"t" * 32, token, NOW)


@given(st.text(max_size=200))
def test_garbage_is_never_a_link(token: str) -> None:
    with pytest.raises(links.LinkRefused):
        links.verify_link(SECRET, token, NOW)


# ------------------------------------------------------------------ follow-up


@given(st.text(min_size=1, max_size=20), st.floats(0, 1))
def test_the_sample_is_the_same_draw_for_the_same_visit(visit: str, rate: float) -> None:
    assert followup.in_sample(visit, "salt", rate) == followup.in_sample(visit, "salt", rate)


def test_a_phone_survey_is_due_within_three_days_of_the_visit() -> None:
    call = followup.phone_survey_call(
        call_id="c", centre_id="ctr-a", client_id="cl", visit_id="v", visited_at=NOW
    )
    assert call.due_at == NOW + timedelta(days=3)


def test_a_referral_call_without_consent_is_refused() -> None:
    with pytest.raises(FailedPrecondition):
        followup.referral_call(
            None, call_id="c", centre_id="ctr-a", client_id="cl", referral_id="r", referred_at=NOW
        )
    withdrawn = followup.ConsentState("cl", False, NOW)
    with pytest.raises(FailedPrecondition):
        followup.referral_call(
            withdrawn,
            call_id="c",
            centre_id="ctr-a",
            client_id="cl",
            referral_id="r",
            referred_at=NOW,
        )


events_strategy = st.lists(
    st.tuples(
        st.integers(0, 5), st.booleans(), st.sampled_from(["feedback_calls", "data_processing"])
    ),
    max_size=8,
)


@given(events_strategy)
def test_consent_is_the_latest_word_on_feedback_calls_whatever_the_arrival_order(
    events: list[tuple[int, bool, str]],
) -> None:
    state: followup.ConsentState | None = None
    for minute, granted, purpose in events:
        state = followup.apply_consent(
            state,
            client_id="cl",
            purpose=purpose,
            granted=granted,
            occurred_at=NOW + timedelta(minutes=minute),
        )
    relevant = [(m, g) for m, g, p in events if p == "feedback_calls"]
    if not relevant:
        assert state is None
        return
    latest = max(m for m, _ in relevant)
    at_latest = [g for m, g in relevant if m == latest]
    assert state is not None
    # A withdrawal at the same instant as a grant wins.
    assert state.granted is all(at_latest)


def test_withdrawn_consent_cancels_only_that_clients_pending_calls() -> None:
    pending = followup.FollowUpCall(
        "c1", followup.CallKind.REFERRAL_FOLLOW_UP, "ctr", "cl", "r", NOW
    )
    done = dataclasses.replace(pending, call_id="c2", status=followup.CallStatus.DONE)
    other = dataclasses.replace(pending, call_id="c3", client_id="someone")
    cancelled = followup.cancel_for_withdrawal([pending, done, other], "cl")
    assert [(c.call_id, c.status) for c in cancelled] == [("c1", followup.CallStatus.CANCELLED)]


# ----------------------------------------------------------------- complaints


def create_complaint(**overrides: Any) -> complaints.Complaint:
    values: dict[str, Any] = {
        "complaint_id": "cp-1",
        "entry_id": "e-1",
        "centre_id": "ctr-a",
        "kind": complaints.ComplaintKind.COMPLAINT,
        "channel": complaints.ComplaintChannel.LETTER,
        "subject": complaints.Subject.SERVICE,
        "subject_ref": "",
        "client_id": "cl-1",
        "text": "The ramp at the entrance is broken.",
        "recorded_by": "w-1",
        "received_at": NOW,
    }
    values.update(overrides)
    return complaints.receive(**values)


def test_a_correction_is_a_new_entry_and_the_old_one_stays() -> None:
    complaint = create_complaint()
    corrected = complaints.correct(
        complaint, entry_id="e-2", corrects="e-1", text="The lift, not the ramp.", by="w-1", at=NOW
    )
    assert [e.kind for e in corrected.entries] == [
        complaints.EntryKind.RECEIVED,
        complaints.EntryKind.CORRECTION,
    ]
    assert corrected.entries[0] == complaint.entries[0]


@given(st.lists(st.sampled_from(["note", "correction", "answer"]), max_size=6))
def test_entries_only_ever_grow_whatever_is_added(kinds: list[str]) -> None:
    complaint = create_complaint()
    for i, kind in enumerate(kinds):
        before = complaint.entries
        if kind == "note":
            complaint = complaints.add_note(
                complaint, entry_id=f"n{i}", text="looked", by="m", at=NOW
            )
        elif kind == "correction":
            complaint = complaints.correct(
                complaint, entry_id=f"c{i}", corrects="e-1", text="fix", by="m", at=NOW
            )
        else:
            complaint = complaints.record_answer(
                complaint, entry_id=f"a{i}", text="answer", by="m", at=NOW
            )
        assert complaint.entries[: len(before)] == before
        assert len(complaint.entries) == len(before) + 1


@given(st.integers(0, 40 * 24))
def test_each_deadline_notice_is_raised_once(hours_later: int) -> None:
    complaint = create_complaint()
    now = NOW + timedelta(hours=hours_later)
    due = complaints.notices_due(complaint, now)
    sent = complaints.mark_sent(complaint, due)
    assert complaints.notices_due(sent, now) == []
    if now > complaint.answer_due:
        assert set(due) == {complaints.Notice.DEADLINE_DUE, complaints.Notice.OVERDUE}
    elif now >= complaint.answer_due - complaints.DEFAULT_REMIND_BEFORE:
        assert due == [complaints.Notice.DEADLINE_DUE]
    else:
        assert due == []


def test_an_answered_complaint_raises_no_notice() -> None:
    answered = complaints.record_answer(
        create_complaint(), entry_id="a", text="Fixed.", by="m", at=NOW
    )
    assert complaints.notices_due(answered, NOW + timedelta(days=90)) == []
    assert complaints.next_notice_at(answered) is None


def test_a_complaint_by_a_client_about_the_service_asks_for_a_plan_review() -> None:
    assert complaints.asks_for_plan_review(create_complaint())
    assert not complaints.asks_for_plan_review(create_complaint(client_id=""))
    assert not complaints.asks_for_plan_review(
        create_complaint(subject=complaints.Subject.EXTERNAL_PROVIDER, subject_ref="org-x")
    )


# ------------------------------------------------------------------ campaigns


@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 99)), unique_by=lambda t: t[1], max_size=30
    ),
    st.dictionaries(
        st.sampled_from("abc"),
        st.lists(st.sampled_from(["r1", "r2", "r3"]), min_size=1, unique=True),
    ),
)
def test_each_client_goes_to_a_reviewer_of_their_area_evenly(
    clients: list[tuple[str, int]], reviewers: dict[str, list[str]]
) -> None:
    to_review = [campaigns.ClientToReview(f"cl-{n}", area) for area, n in clients]
    assignments, errors = campaigns.split_by_area(to_review, reviewers)
    for a in assignments:
        assert a.reviewer_id in reviewers[a.area]
    covered = {c.client_id for c in to_review if c.area in reviewers}
    assert {a.client_id for a in assignments} == covered
    assert {e.field for e in errors} == {
        f"reviewers.{c.area}" for c in to_review if c.area not in reviewers
    }
    for area, names in reviewers.items():
        loads = [sum(a.reviewer_id == r and a.area == area for a in assignments) for r in names]
        assert max(loads) - min(loads) <= 1


def test_a_campaign_shows_progress_compares_answers_and_records_a_decision() -> None:
    template = create_survey(audience=Audience.LATER)
    campaign = campaigns.start(
        campaign_id="cmp",
        centre_id="ctr-a",
        provider_id="prov",
        template=template,
        clients=[campaigns.ClientToReview("c1", "north"), campaigns.ClientToReview("c2", "south")],
        reviewers_by_area={"north": ["r1"], "south": ["r2"]},
    )
    phone, visit = campaigns.CollectedBy.PHONE, campaigns.CollectedBy.VISIT
    campaign = campaigns.record(
        campaign, client_id="c1", reviewer_id="r1", answers={"mood": 5}, at=NOW, collected_by=phone
    )
    assert campaign.progress() == (1, 2)
    with pytest.raises(FailedPrecondition):
        campaigns.record(
            campaign, client_id="c2", reviewer_id="r1", answers={"mood": 1}, at=NOW,
            collected_by=phone,
        )  # fmt: skip
    campaign = campaigns.record(
        campaign, client_id="c2", reviewer_id="r2", answers={"mood": 1}, at=NOW, collected_by=visit
    )
    summary = campaigns.compare(campaign)[0]
    assert summary.by_area == {"north": 1.0, "south": 0.0}
    assert summary.by_collected_by == {"phone": 1.0, "visit": 0.0}
    assert campaign.collected() == {"phone": 1, "visit": 1}
    decided = campaigns.decide(campaign, campaigns.Decision.IMPROVEMENT_PLAN, "south is unhappy")
    assert decided.status is campaigns.CampaignStatus.DECIDED


# -------------------------------------------------------------------- reports


def fact(
    n: int, centre: str = "ctr-a", score: float = 1.0, worker: str = "w", month: int = 3
) -> reports.Fact:
    return reports.Fact(
        f"r{n}-{centre}-{month}",
        centre,
        "dep",
        worker,
        "attitude",
        datetime(2026, month, 2, tzinfo=UTC),
        score,
    )


@given(
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 12), min_size=1),
    st.integers(1, 8),
)
def test_no_group_below_the_minimum_is_shown_nor_can_be_derived(
    sizes: dict[str, int], minimum: int
) -> None:
    facts = [fact(i, centre) for centre, n in sizes.items() for i in range(n)]
    rows = reports.build_report(facts, reports.Dimension.CENTRE, minimum_group=minimum)
    for row in rows:
        if not row.suppressed:
            assert row.responses is not None and row.responses >= minimum
    assert sum(row.suppressed for row in rows) != 1 or len(rows) == 1


def test_a_worker_report_counts_named_responses_only() -> None:
    facts = [fact(i, worker="w-1") for i in range(5)] + [fact(i + 10, worker="") for i in range(9)]
    rows = reports.build_report(facts, reports.Dimension.WORKER, minimum_group=5)
    assert [(r.group, r.responses) for r in rows] == [("w-1", 5)]


def test_a_report_shows_the_trend_and_exports_csv_safely() -> None:
    facts = [fact(i, score=0.5, month=3) for i in range(5)] + [
        fact(i, score=1.0, month=4) for i in range(5)
    ]
    facts += [dataclasses.replace(fact(i + 20, month=4), centre_id="=cmd()") for i in range(5)]
    rows = reports.build_report(facts, reports.Dimension.CENTRE, minimum_group=5)
    april = next(r for r in rows if r.group == "ctr-a" and r.period == "2026-04")
    assert april.change == 0.5
    assert "'=cmd()" in reports.to_csv(rows)


def test_a_negative_aspect_repeating_across_a_centre_is_a_theme() -> None:
    facts = [fact(i, score=0.0) for i in range(4)] + [fact(i + 10, score=1.0) for i in range(4)]
    assert reports.repeating_themes(facts, minimum_group=5) == [
        reports.Theme("ctr-a", "attitude", 4, 8)
    ]
    assert reports.repeating_themes(facts[:4], minimum_group=5) == []


# --------------------------------------------------------------------- visits


def create_visit(**overrides: Any) -> visits.Visit:
    values: dict[str, Any] = {
        "visit_id": "v-1",
        "centre_id": "ctr-a",
        "kind": Audience.DEPARTMENT,
        "department_id": "dep-debt",
        "client_id": "cl-1",
        "worker_id": "w-1",
        "visited_at": NOW,
    }
    values.update(overrides)
    return visits.new_visit(**values)


def test_a_visit_of_a_person_without_a_card_is_never_drawn_for_a_call() -> None:
    assert create_visit().sample_at == NOW + visits.DEFAULT_SAMPLE_AFTER
    assert create_visit(client_id="").sample_at is None
    assert not visits.needs_phone_survey(create_visit(client_id=""))


@given(answered=st.booleans(), refused=st.booleans())
def test_only_a_visit_with_neither_a_survey_nor_a_refusal_needs_a_phone_survey(
    answered: bool, refused: bool
) -> None:
    visit = dataclasses.replace(create_visit(), answered=answered, refused=refused)
    assert visits.needs_phone_survey(visit) is (not answered and not refused)


def test_a_visit_of_a_known_client_waits_for_its_later_survey_for_the_configured_delay() -> None:
    assert create_visit().later_at == NOW + visits.DEFAULT_LATER_AFTER
    assert create_visit(later_after=timedelta(days=3)).later_at == NOW + timedelta(days=3)
    assert create_visit(client_id="").later_at is None


@given(
    waited=st.integers(min_value=-3, max_value=3),
    answered=st.booleans(),
    refused_here=st.booleans(),
    welcome=st.booleans(),
    refused_before=st.booleans(),
    known=st.booleans(),
    looked_at=st.booleans(),
)
def test_the_later_survey_is_issued_when_due_to_a_known_client_who_never_refused(
    waited: int,
    answered: bool,
    refused_here: bool,
    welcome: bool,
    refused_before: bool,
    known: bool,
    looked_at: bool,
) -> None:
    visit = dataclasses.replace(
        create_visit(later_after=timedelta(days=7)),
        client_id="cl-1" if known else "",
        answered=answered,
        refused=refused_here,
        later_call_welcome=welcome,
    )
    if looked_at:
        visit = dataclasses.replace(visit, later_at=None)
    now = NOW + timedelta(days=7 + waited)
    due = visits.later_survey_due(visit, now, client_refused=refused_before)
    # Answering the mini-survey does not stop it: the later survey asks other aspects.
    assert due is (
        waited >= 0
        and known
        and not (refused_here and not welcome)
        and not refused_before
        and not looked_at
    )


def test_a_front_line_visit_names_no_department_and_a_department_visit_must() -> None:
    assert create_visit(kind=Audience.FRONT_LINE).department_id == ""
    assert [e.field for e in visits.visit_errors("department", "")] == ["department_id"]
    assert [e.field for e in visits.visit_errors("mini", "")] == ["kind"]
    assert visits.visit_errors("front_line", "") == []
