"""feedback through its running processes (api and events) against the session's real
RabbitMQ vhost and MongoDB-wire server: surveys and the public mini-survey link, every
bad input the issue lists, complaints that are never edited and always answered,
follow-up calls and consent, campaigns, reports with small groups suppressed, and
another centre's records answering NOT_FOUND.

The timers run every fraction of a second (FEEDBACK_*_CHECK_INTERVAL) and a visit's
sample is drawn two seconds after it (FEEDBACK_SAMPLE_AFTER_SECONDS=2, rate 1): long
enough for a refusal recorded at the desk to come first, as it does in a day's work."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import grpc
import kombu
import pymongo
import pytest

from casework.clients.v1 import events_pb2 as clients_events
from casework.feedback.v1 import feedback_pb2 as fb
from casework.feedback.v1 import feedback_pb2_grpc
from casework_common import contracts
from casework_common.envelope import Actor
from casework_common.messaging import Publisher
from casework_common.rpc_errors import field_violations
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import ORGANISATION, create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

MANAGER_NORTH = auth(
    create_token(
        subject="w-manager-north",
        centres=["ctr-north-town", "ctr-north-village"],
        roles=["manager"],
    )
)
MANAGER_SOUTH = auth(
    create_token(subject="w-manager-south", centres=["ctr-south-city"], roles=["manager"])
)
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
DUTY_NORTH = auth(
    create_token(
        subject="w-duty-north",
        centres=["ctr-north-town", "ctr-north-village"],
        roles=["front_line"],
    )
)
MINIMUM_GROUP = 3


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    return suite_factory(
        ("feedback",),
        env={
            "FEEDBACK_DEADLINE_CHECK_INTERVAL": "0.3",
            "FEEDBACK_SAMPLE_CHECK_INTERVAL": "0.3",
            # Long enough for a refusal recorded at the desk to come first (drawn at
            # once, a visit could be sampled between its recording and its refusal).
            "FEEDBACK_SAMPLE_AFTER_SECONDS": "2",
            "FEEDBACK_PHONE_SAMPLE_RATE": "1",
            # Long enough for a refusal recorded at the desk to come first.
            "FEEDBACK_LATER_SURVEY_AFTER_SECONDS": "3",
            "FEEDBACK_LATER_CHECK_INTERVAL": "0.3",
            "FEEDBACK_MINIMUM_GROUP": str(MINIMUM_GROUP),
            "FEEDBACK_PUBLIC_PER_MINUTE": "1000",
        },
    )


@pytest.fixture(scope="module")
def feedback(suite: Suite) -> Any:
    return stub(suite, "feedback", feedback_pb2_grpc.FeedbackServiceStub)


class Captured:
    """feedback's events on the suite's vhost, once per event id."""

    def __init__(self, uri: str) -> None:
        self._connection = kombu.Connection(uri)
        exchange = kombu.Exchange("casework.events", type="topic", passive=True)
        self._queue = self._connection.SimpleQueue(
            kombu.Queue(
                f"test-capture-{secrets.token_hex(4)}",
                exchange=exchange,
                routing_key="feedback.#",
                exclusive=True,
                auto_delete=True,
            )
        )
        self.events: dict[str, dict[str, Any]] = {}

    def of(self, event_type: str, **payload: Any) -> list[dict[str, Any]]:
        while True:
            try:
                message = self._queue.get(timeout=0.05)
            except self._queue.Empty:
                break
            event = json.loads(message.body)
            self.events.setdefault(event["id"], event)
            message.ack()
        return [
            e
            for e in self.events.values()
            if e["type"] == event_type and all(e["payload"].get(k) == v for k, v in payload.items())
        ]

    def close(self) -> None:
        self._queue.close()
        self._connection.release()


@pytest.fixture(scope="module")
def captured(suite: Suite) -> Iterator[Captured]:
    capture = Captured(suite.env["AMQP_URI"])
    yield capture
    capture.close()


def create_definition(**overrides: Any) -> fb.SurveyDefinition:
    values: dict[str, Any] = {
        "centre_id": "ctr-north-town",
        "title": "After your visit",
        "audience": "front_line",
        "language": "en",
        "questions": [
            fb.Question(
                question_id="mood",
                kind="smiley",
                text="How was your visit today?",
                aspect="attitude",
            ),
            fb.Question(
                question_id="clear",
                kind="scale",
                text="How clear was the answer?",
                aspect="communication",
                scale_min=1,
                scale_max=5,
            ),
            fb.Question(question_id="more", kind="free_text", text="Anything you want to tell us?"),
        ],
    }
    values.update(overrides)
    return fb.SurveyDefinition(**values)


def published(
    feedback: Any, definition: fb.SurveyDefinition, who: Any = MANAGER_NORTH
) -> fb.SurveyDefinition:
    saved = feedback.SaveSurveyDefinition(
        fb.SaveSurveyDefinitionRequest(definition=definition), metadata=who
    )
    moved = feedback.SetSurveyStatus(
        fb.SetSurveyStatusRequest(
            survey_id=saved.definition.survey_id,
            version=saved.definition.version,
            status="published",
        ),
        metadata=who,
    )
    return moved.definition


def code_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as refused:
        call()
    return refused.value.code()


def fields_of(call: Any) -> set[str]:
    with pytest.raises(grpc.RpcError) as refused:
        call()
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    return set(field_violations(refused.value))


def public(
    suite: Suite, path: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{suite.feedback_public_port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")


def answer(question_id: str, **value: Any) -> fb.Answer:
    return fb.Answer(question_id=question_id, **value)


# ------------------------------------------------------------------ surveys


def test_a_definition_is_saved_as_a_version_with_the_linters_warnings(feedback: Any) -> None:
    leading = create_definition(
        questions=[
            fb.Question(
                question_id="q",
                kind="smiley",
                text="Don't you agree that our staff were great and did they help?",
                aspect="attitude",
            )
        ]
    )
    saved = feedback.SaveSurveyDefinition(
        fb.SaveSurveyDefinitionRequest(definition=leading), metadata=MANAGER_NORTH
    )
    codes = {w.code for w in saved.warnings}
    assert {"leading_wording", "double_question", "no_free_comment"} <= codes
    assert (saved.definition.version, saved.definition.status) == (1, "draft")
    again = feedback.SaveSurveyDefinition(
        fb.SaveSurveyDefinitionRequest(
            definition=create_definition(survey_id=saved.definition.survey_id)
        ),
        metadata=MANAGER_NORTH,
    )
    assert again.definition.version == 2
    first = feedback.GetSurveyDefinition(
        fb.GetSurveyDefinitionRequest(survey_id=saved.definition.survey_id, version=1),
        metadata=ANNA,
    )
    assert first.definition.questions[0].question_id == "q"


def test_a_visit_gets_its_own_kind_of_survey_and_a_link_carrying_nothing_personal(
    feedback: Any, suite: Suite
) -> None:
    front = published(
        feedback, create_definition(centre_id="ctr-north-village", title="Front desk")
    )
    dept = published(
        feedback,
        create_definition(
            centre_id="ctr-north-village",
            title="Debt advice",
            audience="department",
            department_id="dep-debt",
        ),
    )
    published(
        feedback,
        create_definition(
            centre_id="ctr-north-village",
            title="Smile",
            audience="mini",
            questions=[
                fb.Question(
                    question_id="face",
                    kind="smiley",
                    text="How do you feel after the visit?",
                    aspect="attitude",
                )
            ],
        ),
    )
    at_desk = feedback.RecordVisit(
        fb.RecordVisitRequest(
            centre_id="ctr-north-village", kind="front_line", client_id="cl-visit-1"
        ),
        metadata=DUTY_NORTH,
    )
    in_dept = feedback.RecordVisit(
        fb.RecordVisitRequest(
            centre_id="ctr-north-village",
            kind="department",
            department_id="dep-debt",
            client_id="cl-visit-1",
        ),
        metadata=DUTY_NORTH,
    )
    assert at_desk.survey.survey_id == front.survey_id
    assert in_dept.survey.survey_id == dept.survey_id
    token = at_desk.mini_survey_path.rsplit("/", 1)[1]
    assert "cl-visit-1" not in at_desk.mini_survey_path and "ctr-north-village" not in token

    status, form = public(suite, at_desk.mini_survey_path)
    assert status == 200 and [q["question_id"] for q in form["questions"]] == ["face"]
    status, thanks = public(
        suite, at_desk.mini_survey_path, {"answers": {"face": 5}, "comment": "kind people"}
    )
    assert status == 201 and thanks["thanks"]
    # A second submission on the single-use link is refused; the first one stands.
    status, again = public(suite, at_desk.mini_survey_path, {"answers": {"face": 1}})
    assert status == 409 and again["code"] == "already_used"


def test_a_kiosk_hands_out_a_fresh_single_use_link_per_person(feedback: Any, suite: Suite) -> None:
    published(
        feedback,
        create_definition(
            title="Kiosk",
            audience="mini",
            questions=[
                fb.Question(
                    question_id="face", kind="smiley", text="How do you feel now?", aspect="comfort"
                )
            ],
        ),
    )
    status, first = public(suite, f"/public/v1/feedback/kiosks/{ORGANISATION}/ctr-north-town")
    _, second = public(suite, f"/public/v1/feedback/kiosks/{ORGANISATION}/ctr-north-town")
    assert status == 200 and first["link"] != second["link"]
    assert public(suite, first["link"], {"answers": {"face": 4}})[0] == 201
    # A smiley outside its five faces: refused by field, the link still unused.
    status, refused = public(suite, second["link"], {"answers": {"face": 9}})
    assert status == 400 and refused["errors"][0]["field"] == "answers.face"
    assert public(suite, second["link"], {"answers": {"face": 2}})[0] == 201
    assert public(suite, "/public/v1/feedback/not-a-link.at-all", {"answers": {}})[0] == 404
    assert public(suite, f"/public/v1/feedback/kiosks/{ORGANISATION}/ctr-nowhere")[0] == 404


def test_bad_answers_are_refused_by_field_and_nothing_is_stored(feedback: Any) -> None:
    survey = published(feedback, create_definition())

    def submit(*answers: fb.Answer, **extra: Any) -> Any:
        return lambda: feedback.SubmitResponse(
            fb.SubmitResponseRequest(
                survey_id=survey.survey_id,
                version=survey.version,
                channel="phone",
                client_id="cl-1",
                answers=list(answers),
                **extra,
            ),
            metadata=ANNA,
        )

    assert fields_of(submit(answer("ghost", number=3))) == {"answers.ghost"}
    assert fields_of(submit(answer("mood", number=6))) == {"answers.mood"}
    assert fields_of(submit(answer("mood", number=0))) == {"answers.mood"}
    assert fields_of(submit(answer("mood", number=3), answer("mood", number=4))) == {
        "answers[1].question_id"
    }
    shown_not = lambda: feedback.SubmitResponse(  # noqa: E731
        fb.SubmitResponseRequest(
            survey_id=survey.survey_id,
            version=survey.version,
            channel="with_worker",
            client_id="cl-1",
            answers=[answer("mood", number=3)],
        ),
        metadata=ANNA,
    )
    assert fields_of(shown_not) == {"shown_to_client"}
    assert (
        code_of(
            lambda: feedback.SubmitResponse(
                fb.SubmitResponseRequest(
                    survey_id="no-such-survey",
                    version=1,
                    channel="phone",
                    answers=[answer("mood", number=3)],
                ),
                metadata=ANNA,
            )
        )
        == grpc.StatusCode.NOT_FOUND
    )


def test_a_named_negative_answer_asks_for_a_plan_review_and_an_anonymous_one_never(
    feedback: Any, captured: Captured
) -> None:
    survey = published(feedback, create_definition(title="Review trigger"))
    named = feedback.SubmitResponse(
        fb.SubmitResponseRequest(
            survey_id=survey.survey_id,
            version=survey.version,
            channel="phone",
            client_id="cl-unhappy",
            answers=[answer("mood", number=1)],
        ),
        metadata=ANNA,
    )
    anonymous = feedback.SubmitResponse(
        fb.SubmitResponseRequest(
            survey_id=survey.survey_id,
            version=survey.version,
            channel="paper",
            anonymous=True,
            client_id="cl-secret",
            answers=[answer("mood", number=1)],
        ),
        metadata=ANNA,
    )
    assert named.plan_review_requested and not anonymous.plan_review_requested
    review = eventually(
        lambda: captured.of("feedback.plan_review.requested", source_id=named.response_id)
    )
    assert review[0]["payload"]["client_id"] == "cl-unhappy"
    assert review[0]["payload"]["aspects"] == ["attitude"]
    assert not captured.of("feedback.plan_review.requested", client_id="cl-secret")


# --------------------------------------------------------------- complaints


def create_complaint(feedback: Any, who: Any = DUTY_NORTH, **overrides: Any) -> fb.Complaint:
    values: dict[str, Any] = {
        "centre_id": "ctr-north-town",
        "kind": "complaint",
        "channel": "letter",
        "subject": "service",
        "client_id": "cl-complains",
        "text": "Nobody called me back.",
        "reply_to": "client@example.invalid",
    }
    values.update(overrides)
    return feedback.RecordComplaint(fb.RecordComplaintRequest(**values), metadata=who).complaint


def test_a_complaint_is_never_edited_nor_deleted_and_its_answer_is_recorded_and_sent(
    feedback: Any, captured: Captured, suite: Suite
) -> None:
    complaint = create_complaint(feedback)
    cid = complaint.complaint_id
    assert (
        code_of(
            lambda: feedback.UpdateComplaint(
                fb.UpdateComplaintRequest(complaint_id=cid, text="nicer"), metadata=ANNA
            )
        )
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    assert (
        code_of(
            lambda: feedback.DeleteComplaint(
                fb.DeleteComplaintRequest(complaint_id=cid), metadata=MANAGER_NORTH
            )
        )
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    corrected = feedback.AddComplaintEntry(
        fb.AddComplaintEntryRequest(
            complaint_id=cid,
            kind="correction",
            corrects=complaint.entries[0].entry_id,
            text="Called twice, not once.",
        ),
        metadata=ANNA,
    ).complaint
    assert [e.text for e in corrected.entries] == [
        "Nobody called me back.",
        "Called twice, not once.",
    ]
    answered = feedback.AnswerComplaint(
        fb.AnswerComplaintRequest(complaint_id=cid, text="We are sorry; Anna will call today."),
        metadata=ANNA,
    ).complaint
    assert answered.answered and len(answered.entries) == 3
    feedback.GetComplaint(fb.GetComplaintRequest(complaint_id=cid), metadata=MANAGER_NORTH)
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    try:
        trail = client[f"{suite.env['MONGO_DB_PREFIX']}_feedback"].audit.find({"record": cid})
        actions = {(line["subject"], line["action"]) for line in trail}
    finally:
        client.close()
    assert {
        ("w-duty-north", "complaint.recorded"),
        ("w-anna", "complaint.correction_added"),
        ("w-anna", "complaint.answered"),
        ("w-manager-north", "complaint.read"),
    } <= actions
    sent = eventually(lambda: captured.of("feedback.complaint.answered", complaint_id=cid))
    assert sent[0]["payload"]["reply_to"] == "client@example.invalid"
    assert eventually(lambda: captured.of("feedback.plan_review.requested", source_id=cid))
    assert fields_of(
        lambda: feedback.AddComplaintEntry(
            fb.AddComplaintEntryRequest(
                complaint_id=cid, kind="correction", corrects="nope", text="x"
            ),
            metadata=ANNA,
        )
    ) == {"corrects"}


def test_another_centres_records_answer_not_found(feedback: Any) -> None:
    complaint = create_complaint(feedback)
    survey = published(feedback, create_definition(title="North only"))
    cid = complaint.complaint_id
    for call in (
        lambda: feedback.GetComplaint(fb.GetComplaintRequest(complaint_id=cid), metadata=ILZE),
        lambda: feedback.UpdateComplaint(
            fb.UpdateComplaintRequest(complaint_id=cid), metadata=ILZE
        ),
        lambda: feedback.DeleteComplaint(
            fb.DeleteComplaintRequest(complaint_id=cid), metadata=ILZE
        ),
        lambda: feedback.AnswerComplaint(
            fb.AnswerComplaintRequest(complaint_id=cid, text="hi"), metadata=ILZE
        ),
        lambda: feedback.GetSurveyDefinition(
            fb.GetSurveyDefinitionRequest(survey_id=survey.survey_id), metadata=ILZE
        ),
        lambda: feedback.SubmitResponse(
            fb.SubmitResponseRequest(
                survey_id=survey.survey_id,
                version=survey.version,
                channel="phone",
                client_id="c",
                answers=[answer("mood", number=3)],
            ),
            metadata=ILZE,
        ),
        lambda: feedback.RecordVisit(
            fb.RecordVisitRequest(centre_id="ctr-north-town", kind="front_line"), metadata=ILZE
        ),
        lambda: feedback.ListFollowUpCalls(
            fb.ListFollowUpCallsRequest(centre_id="ctr-north-town"), metadata=ILZE
        ),
        lambda: feedback.GetFeedbackReport(
            fb.GetFeedbackReportRequest(dimension="centre", centre_ids=["ctr-north-town"]),
            metadata=MANAGER_SOUTH,
        ),
    ):
        assert code_of(call) == grpc.StatusCode.NOT_FOUND


def test_a_complaint_near_its_deadline_is_reminded_once_and_not_yet_escalated(
    feedback: Any, captured: Captured
) -> None:
    # A one-day term is inside the five days' reminder window at once.
    complaint = create_complaint(feedback, answer_within_days=1)
    cid = complaint.complaint_id
    reminder = eventually(
        lambda: captured.of("feedback.complaint.deadline_approaching", complaint_id=cid)
    )
    assert reminder[0]["payload"]["manager_id"] == "w-manager-north"
    # A later tick raises nothing more for it: await an event raised after ours instead.
    later = create_complaint(feedback, answer_within_days=1)
    eventually(
        lambda: captured.of(
            "feedback.complaint.deadline_approaching", complaint_id=later.complaint_id
        )
    )
    assert len(captured.of("feedback.complaint.deadline_approaching", complaint_id=cid)) == 1
    assert not captured.of("feedback.complaint.deadline_missed", complaint_id=cid)


# ----------------------------------------------------------------- follow-up


def publish_consent(suite: Suite, client_id: str, granted: bool) -> None:
    message_type = clients_events.ConsentRecorded if granted else clients_events.ConsentWithdrawn
    message = message_type(
        client_id=client_id,
        consent_id=secrets.token_hex(4),
        purpose="feedback_calls",
        on=datetime.now(UTC).date().isoformat(),
        recorded_by="w-anna",
    )
    envelope = contracts.envelope(
        message, organisation=ORGANISATION, actor=Actor(kind="worker", subject="w-anna"), trace={}
    )
    publisher = Publisher(suite.amqp_uris["clients"], "casework.events")
    try:
        publisher.publish_event(envelope.to_dict())
    finally:
        publisher.close()


def test_a_follow_up_call_needs_consent_and_a_withdrawal_cancels_it(
    feedback: Any, suite: Suite, captured: Captured
) -> None:
    client = f"cl-consent-{secrets.token_hex(3)}"

    def refer() -> Any:
        return feedback.RecordReferralElsewhere(
            fb.RecordReferralElsewhereRequest(
                centre_id="ctr-north-town",
                client_id=client,
                referral_id="ref-1",
                organisation_name="City shelter",
            ),
            metadata=ANNA,
        )

    assert code_of(refer) == grpc.StatusCode.FAILED_PRECONDITION
    publish_consent(suite, client, True)
    call = eventually(lambda: _try(refer)).call
    assert (call.status, call.assignee_id) == ("pending", "w-anna")
    assert eventually(lambda: captured.of("feedback.call.scheduled", call_id=call.call_id))
    publish_consent(suite, client, False)
    cancelled = eventually(lambda: captured.of("feedback.call.cancelled", call_id=call.call_id))
    assert cancelled[0]["payload"]["reason"] == "consent_withdrawn"
    calls = feedback.ListFollowUpCalls(
        fb.ListFollowUpCallsRequest(centre_id="ctr-north-town", status="cancelled"), metadata=ANNA
    ).calls
    assert call.call_id in {c.call_id for c in calls}
    assert code_of(refer) == grpc.StatusCode.FAILED_PRECONDITION


def _try(call: Any) -> Any:
    try:
        return call()
    except grpc.RpcError:
        return None


def test_a_visit_without_a_survey_gets_a_phone_survey_due_within_three_days(
    feedback: Any, captured: Captured
) -> None:
    client = f"cl-sampled-{secrets.token_hex(3)}"
    visit = feedback.RecordVisit(
        fb.RecordVisitRequest(centre_id="ctr-north-town", kind="front_line", client_id=client),
        metadata=ANNA,
    )
    refused = feedback.RecordVisit(
        fb.RecordVisitRequest(
            centre_id="ctr-north-town", kind="front_line", client_id=client + "-no"
        ),
        metadata=ANNA,
    )
    feedback.RecordRefusal(fb.RecordRefusalRequest(visit_id=refused.visit_id), metadata=ANNA)
    scheduled = eventually(lambda: captured.of("feedback.call.scheduled", client_id=client))
    payload = scheduled[0]["payload"]
    assert payload["kind"] == "phone_survey" and payload["assignee_id"] == "w-duty-north"
    due = datetime.fromisoformat(payload["due_at"])
    assert (due - datetime.now(UTC)).days <= 3
    assert visit.visit_id in payload["call_id"]
    assert not captured.of("feedback.call.scheduled", client_id=client + "-no")


def test_a_later_survey_is_issued_once_per_visit_and_never_to_a_client_who_refused(
    feedback: Any, suite: Suite, captured: Captured
) -> None:
    published(feedback, create_definition(title="Some days after", audience="later"))

    def visit(client_id: str) -> str:
        return str(
            feedback.RecordVisit(
                fb.RecordVisitRequest(
                    centre_id="ctr-north-town", kind="front_line", client_id=client_id
                ),
                metadata=ANNA,
            ).visit_id
        )

    willing = f"cl-later-{secrets.token_hex(3)}"
    refusing = f"cl-no-surveys-{secrets.token_hex(3)}"
    first = visit(willing)
    refused_at = visit(refusing)
    feedback.RecordRefusal(fb.RecordRefusalRequest(visit_id=refused_at), metadata=ANNA)
    refused_before = visit(refusing)
    issued = eventually(lambda: captured.of("feedback.survey.later_issued", visit_id=first))
    payload = issued[0]["payload"]
    assert payload["client_id"] == willing and payload["centre_id"] == "ctr-north-town"
    assert willing not in payload["link"] and first not in payload["link"]
    assert public(suite, payload["link"])[0] == 200
    # A visit recorded after is issued too; by then the first was looked at long ago.
    second = visit(willing)
    assert eventually(lambda: captured.of("feedback.survey.later_issued", visit_id=second))
    assert len(captured.of("feedback.survey.later_issued", visit_id=first)) == 1
    assert not captured.of("feedback.survey.later_issued", visit_id=refused_at)
    assert not captured.of("feedback.survey.later_issued", visit_id=refused_before)
    assert not captured.of("feedback.survey.later_issued", client_id=refusing)


# ----------------------------------------------------------------- campaigns


def test_a_campaign_splits_clients_by_area_and_records_a_decision(feedback: Any) -> None:
    template = published(feedback, create_definition(title="Provider review", audience="later"))
    campaign = feedback.StartCampaign(
        fb.StartCampaignRequest(
            centre_id="ctr-north-town",
            provider_id="prov-home-care",
            survey_id=template.survey_id,
            version=template.version,
            clients=[
                fb.CampaignClient(client_id="c1", area="north"),
                fb.CampaignClient(client_id="c2", area="south"),
            ],
            reviewers=[
                fb.AreaReviewers(area="north", reviewer_ids=["w-anna"]),
                fb.AreaReviewers(area="south", reviewer_ids=["w-petr"]),
            ],
        ),
        metadata=MANAGER_NORTH,
    ).campaign
    assert {(a.client_id, a.reviewer_id) for a in campaign.assignments} == {
        ("c1", "w-anna"),
        ("c2", "w-petr"),
    }
    assert fields_of(
        lambda: feedback.RecordCampaignAnswers(
            fb.RecordCampaignAnswersRequest(
                campaign_id=campaign.campaign_id, client_id="c1", answers=[answer("mood", number=2)]
            ),
            metadata=ANNA,
        )
    ) == {"collected_by"}
    unchanged = feedback.GetCampaign(
        fb.GetCampaignRequest(campaign_id=campaign.campaign_id), metadata=ANNA
    ).campaign
    assert unchanged.done == 0
    after = feedback.RecordCampaignAnswers(
        fb.RecordCampaignAnswersRequest(
            campaign_id=campaign.campaign_id,
            client_id="c1",
            answers=[answer("mood", number=2)],
            collected_by="visit",
        ),
        metadata=ANNA,
    ).campaign
    assert (after.done, after.total) == (1, 2)
    assert dict(after.collected_by) == {"visit": 1}
    assert [a.collected_by for a in after.assignments if a.client_id == "c1"] == ["visit"]
    assert dict(after.summaries[0].by_collected_by) == {"visit": 0.25}
    assert (
        code_of(
            lambda: feedback.RecordCampaignAnswers(
                fb.RecordCampaignAnswersRequest(
                    campaign_id=campaign.campaign_id,
                    client_id="c2",
                    answers=[answer("mood", number=2)],
                    collected_by="phone",
                ),
                metadata=ANNA,
            )
        )
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    decided = feedback.DecideCampaign(
        fb.DecideCampaignRequest(
            campaign_id=campaign.campaign_id, decision="improvement_plan", note="attitude is low"
        ),
        metadata=MANAGER_NORTH,
    ).campaign
    assert decided.status == "decided"


# ------------------------------------------------------------------- reports


def test_a_report_suppresses_small_groups_and_exports_csv(feedback: Any) -> None:
    survey = published(
        feedback, create_definition(centre_id="ctr-south-city", title="South"), who=MANAGER_SOUTH
    )

    def respond(department: str, face: int) -> None:
        feedback.SubmitResponse(
            fb.SubmitResponseRequest(
                survey_id=survey.survey_id,
                version=survey.version,
                channel="paper",
                anonymous=True,
                department_id=department,
                answers=[answer("mood", number=face)],
            ),
            metadata=ILZE,
        )

    for _ in range(MINIMUM_GROUP + 1):
        respond("dep-big", 5)
    respond("dep-small", 1)
    report = feedback.GetFeedbackReport(
        fb.GetFeedbackReportRequest(dimension="department", granularity="month", csv=True),
        metadata=MANAGER_SOUTH,
    )
    rows = {r.group: r for r in report.rows}
    assert rows["dep-small"].suppressed and rows["dep-small"].responses == 0
    # With one small group hidden, the next smallest hides too: the total cannot reveal it.
    assert rows["dep-big"].suppressed
    assert "dep-small" in report.csv and report.minimum_group == MINIMUM_GROUP
    by_centre = feedback.GetFeedbackReport(
        fb.GetFeedbackReportRequest(dimension="centre"), metadata=MANAGER_SOUTH
    )
    south = next(r for r in by_centre.rows if r.group == "ctr-south-city")
    assert not south.suppressed and south.responses == MINIMUM_GROUP + 2
    by_aspect = feedback.GetFeedbackReport(
        fb.GetFeedbackReportRequest(dimension="aspect"), metadata=MANAGER_SOUTH
    )
    attitude = next(r for r in by_aspect.rows if r.group == "attitude")
    assert attitude.responses == MINIMUM_GROUP + 2 and attitude.negative_share == 0.2
    assert by_aspect.themes == []  # one unhappy answer in five is no repeating theme
    for _ in range(MINIMUM_GROUP):
        respond("dep-big", 1)
    themes = feedback.GetFeedbackReport(
        fb.GetFeedbackReportRequest(dimension="aspect"), metadata=MANAGER_SOUTH
    ).themes
    assert [(t.centre_id, t.aspect) for t in themes] == [("ctr-south-city", "attitude")]
    assert fields_of(
        lambda: feedback.GetFeedbackReport(
            fb.GetFeedbackReportRequest(dimension="mood"), metadata=MANAGER_SOUTH
        )
    ) == {"dimension"}
