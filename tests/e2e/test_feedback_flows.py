"""feedback with clients through real processes: a consent to feedback calls recorded on
the client's card in clients reaches feedback as an event, after which a follow-up call
about a referral elsewhere is scheduled; withdrawing the consent in clients cancels the
pending call. And a named unhappy answer after a visit publishes the plan-review
request for plans, while the public mini-survey link of the same visit takes one
anonymous answer and no more."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from typing import Any

import grpc
import kombu
import pytest

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework.feedback.v1 import feedback_pb2 as fb
from casework.feedback.v1 import feedback_pb2_grpc
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
MANAGER = auth(
    create_token(
        subject="w-manager-north",
        centres=["ctr-north-town", "ctr-north-village"],
        roles=["manager"],
    )
)


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    return suite_factory(("clients", "feedback"))


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def feedback(suite: Suite) -> Any:
    return stub(suite, "feedback", feedback_pb2_grpc.FeedbackServiceStub)


@pytest.fixture(scope="module")
def feedback_events(suite: Suite) -> Iterator[Any]:
    connection = kombu.Connection(suite.env["AMQP_URI"])
    queue = connection.SimpleQueue(
        kombu.Queue(
            f"test-feedback-{secrets.token_hex(4)}",
            exchange=kombu.Exchange("casework.events", type="topic", passive=True),
            routing_key="feedback.#",
            exclusive=True,
            auto_delete=True,
        )
    )
    seen: dict[str, dict[str, Any]] = {}

    def of(event_type: str, **payload: Any) -> list[dict[str, Any]]:
        while True:
            try:
                message = queue.get(timeout=0.05)
            except queue.Empty:
                break
            event = json.loads(message.body)
            seen.setdefault(event["id"], event)
            message.ack()
        return [
            e for e in seen.values()
            if e["type"] == event_type and all(e["payload"].get(k) == v for k, v in payload.items())
        ]  # fmt: skip

    yield of
    queue.close()
    connection.release()


def create_card(clients: Any, given_name: str, family_name: str, born: str) -> Any:
    return clients.RegisterClient(
        clients_pb2.RegisterClientRequest(
            given_name=given_name,
            family_name=family_name,
            date_of_birth=born,
            phone=f"+380 50 {secrets.randbelow(10**7):07d}",
            centre_id="ctr-north-town",
            client_type="senior",
            problem_type="housing",
        ),
        metadata=ANNA,
    ).client


def refer(feedback: Any, client_id: str) -> Any:
    return feedback.RecordReferralElsewhere(
        fb.RecordReferralElsewhereRequest(
            centre_id="ctr-north-town",
            client_id=client_id,
            referral_id=f"ref-{secrets.token_hex(3)}",
            organisation_name="City shelter",
        ),
        metadata=ANNA,
    )


def scheduled(feedback: Any, client_id: str) -> Any:
    try:
        return refer(feedback, client_id).call
    except grpc.RpcError as refused:
        assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
        return None


def test_consent_recorded_in_clients_allows_a_follow_up_call_and_its_withdrawal_cancels_it(
    clients: Any, feedback: Any, feedback_events: Any
) -> None:
    card = create_card(clients, "Olena", f"Kovalenko{secrets.token_hex(3)}", "1961-04-12")
    assert card.client_id
    with pytest.raises(grpc.RpcError) as refused:
        refer(feedback, card.client_id)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    clients.RecordConsent(
        clients_pb2.RecordConsentRequest(
            client_id=card.client_id,
            purpose=clients_pb2.CONSENT_PURPOSE_FEEDBACK_CALLS,
            given_on=date.today().isoformat(),
        ),
        metadata=ANNA,
    )
    call = eventually(lambda: scheduled(feedback, card.client_id))
    assert call.status == "pending"
    assert eventually(lambda: feedback_events("feedback.call.scheduled", call_id=call.call_id))

    clients.WithdrawConsent(
        clients_pb2.WithdrawConsentRequest(
            client_id=card.client_id,
            purpose=clients_pb2.CONSENT_PURPOSE_FEEDBACK_CALLS,
            withdrawn_on=date.today().isoformat(),
            reason="does not want calls",
        ),
        metadata=ANNA,
    )
    cancelled = eventually(lambda: feedback_events("feedback.call.cancelled", call_id=call.call_id))
    assert cancelled[0]["payload"]["reason"] == "consent_withdrawn"


def test_an_unhappy_named_answer_asks_plans_for_a_review_and_the_visits_link_answers_once(
    clients: Any, feedback: Any, feedback_events: Any, suite: Suite
) -> None:
    card = create_card(clients, "Bohdan", f"Marchenko{secrets.token_hex(3)}", "1984-09-30")
    solved = fb.Question(
        question_id="solved", kind="smiley", text="How well was it solved?", aspect="problem_solved"
    )
    say = fb.Question(question_id="say", kind="free_text", text="Anything else?")
    face = fb.Question(
        question_id="face", kind="smiley", text="How do you feel now?", aspect="attitude"
    )
    for audience, questions in (("department", [solved, say]), ("mini", [face])):
        saved = feedback.SaveSurveyDefinition(
            fb.SaveSurveyDefinitionRequest(
                definition=fb.SurveyDefinition(
                    centre_id="ctr-north-town",
                    title=f"e2e {audience}",
                    audience=audience,
                    language="en",
                    questions=questions,
                )
            ),
            metadata=MANAGER,
        ).definition
        feedback.SetSurveyStatus(
            fb.SetSurveyStatusRequest(
                survey_id=saved.survey_id, version=saved.version, status="published"
            ),
            metadata=MANAGER,
        )
    visit = feedback.RecordVisit(
        fb.RecordVisitRequest(
            centre_id="ctr-north-town",
            kind="department",
            department_id="dep-housing",
            client_id=card.client_id,
        ),
        metadata=ANNA,
    )
    assert visit.survey.audience == "department" and visit.mini_survey_path, visit
    assert card.client_id
    answered = feedback.SubmitResponse(
        fb.SubmitResponseRequest(
            survey_id=visit.survey.survey_id, version=visit.survey.version, visit_id=visit.visit_id,
            channel="with_worker", shown_to_client=True,
            answers=[fb.Answer(question_id="solved", number=1)], free_text="Still no flat.",
        ),
        metadata=ANNA,
    )  # fmt: skip
    review = eventually(
        lambda: feedback_events("feedback.plan_review.requested", source_id=answered.response_id)
    )
    assert review[0]["payload"]["client_id"] == card.client_id
    assert review[0]["payload"]["worker_id"] == "w-anna"

    url = f"http://127.0.0.1:{suite.feedback_public_port}{visit.mini_survey_path}"

    def post(face: int) -> int:
        request = urllib.request.Request(
            url,
            data=json.dumps({"answers": {"face": face}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as refused:
            return refused.code

    assert post(2) == 201
    assert post(5) == 409
