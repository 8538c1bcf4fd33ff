"""Messages to clients through notify's real processes, clients' real api and a real
SMTP server: notify reads the card from clients with its service token, sends only to
the address on the card, only with the consent the message needs, and only for a worker
serving one of the card's centres (any other worker learns nothing, and nothing is
sent). And what feedback's real processes ask notify to send: a complaint's answer
reaches the address the complaint gave, a visit's later survey reaches the address on
the card of a client who consented to feedback calls."""

from __future__ import annotations

import contextlib
import mailbox
import os
import secrets
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pymongo
import pytest

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework.feedback.v1 import feedback_pb2 as fb
from casework.feedback.v1 import feedback_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_dev.clients_testing import register
from casework_dev.devstack import Suite, free_port, port_open, start_smtp
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
MANAGER = auth(
    create_token(subject="w-manager-north", centres=["ctr-north-town"], roles=["manager"])
)


class Sink:
    """aiosmtpd writing every message into a Maildir."""

    def __init__(self, base: Path) -> None:
        self.port = free_port()
        self.run_dir = base / "smtp-run"
        self.mail_dir = base / "mail"
        start_smtp(self.port, self.run_dir, self.mail_dir)

    def stop(self) -> None:
        pid_file = self.run_dir / "smtp.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            pid_file.unlink()
        eventually(lambda: not port_open(self.port), timeout=20)

    def to(self, address: str) -> list[Any]:
        if not (self.mail_dir / "new").exists():
            return []
        return [m for m in mailbox.Maildir(self.mail_dir, create=False) if m["To"] == address]


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    server = Sink(tmp_path_factory.mktemp("smtp"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def suite(suite_factory: Any, sink: Sink) -> Suite:
    started: Suite = suite_factory(
        ("clients", "notify", "feedback"),
        env={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port),
            "NOTIFY_TIMER_SECONDS": "0.1",
            "NOTIFY_SEND_TIMER_SECONDS": "0.1",
            "NOTIFY_OFFER_POLL_SECONDS": "0.2",
            "NOTIFY_FEEDBACK_PUBLIC_URL": "https://feedback.example.org",
            "FEEDBACK_LATER_SURVEY_AFTER_SECONDS": "1",
            "FEEDBACK_LATER_CHECK_INTERVAL": "0.3",
        },
    )
    return started


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def notify(suite: Suite) -> Any:
    return stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)


@pytest.fixture(scope="module")
def feedback(suite: Suite) -> Any:
    return stub(suite, "feedback", feedback_pb2_grpc.FeedbackServiceStub)


def create_card(clients: Any, *, email: str = "", consent: bool = True) -> clients_pb2.Client:
    """A North Town card, with the feedback calls consent unless `consent` is false."""
    card = register(clients, ANNA, email=email)
    if consent:
        clients.RecordConsent(
            clients_pb2.RecordConsentRequest(
                client_id=card.client_id,
                purpose=clients_pb2.CONSENT_PURPOSE_FEEDBACK_CALLS,
                given_on=datetime.now(UTC).date().isoformat(),
            ),
            metadata=ANNA,
        )
    return card


def send(notify: Any, client_id: str, metadata: Any = ANNA, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "client_id": client_id,
        "kind": notify_pb2.CLIENT_MESSAGE_KIND_SURVEY,
        "link": "http://127.0.0.1/survey/abc",
        "idempotency_key": secrets.token_hex(4),
    }
    fields.update(overrides)
    return notify.SendClientMessage(
        notify_pb2.SendClientMessageRequest(**fields), metadata=metadata
    )


def code_of(call: Any) -> grpc.StatusCode | None:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()
    return None


def sent_once_consent_arrived(notify: Any, client_id: str, key: str) -> Any:
    """notify learns of the consent from clients' event: asked again until it has."""

    def attempt() -> Any:
        try:
            return send(notify, client_id, idempotency_key=key)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, exc.details()
            return None

    return eventually(attempt)


def address() -> str:
    return f"client-{secrets.token_hex(4)}@example.org"


def test_a_survey_link_reaches_the_address_on_the_card_only_with_consent(
    clients: Any, notify: Any, sink: Sink
) -> None:
    without = create_card(clients, email=address(), consent=False)
    assert code_of(lambda: send(notify, without.client_id)) == grpc.StatusCode.FAILED_PRECONDITION

    card = create_card(clients, email=address())
    key = secrets.token_hex(4)
    queued = sent_once_consent_arrived(notify, card.client_id, key)
    assert queued.email.recipient == card.email
    assert send(notify, card.client_id, idempotency_key=key).email.email_id == (
        queued.email.email_id
    )  # once

    eventually(lambda: sink.to(card.email))
    assert len(sink.to(card.email)) == 1
    assert sink.to(without.email) == []

    clients.WithdrawConsent(
        clients_pb2.WithdrawConsentRequest(
            client_id=card.client_id,
            purpose=clients_pb2.CONSENT_PURPOSE_FEEDBACK_CALLS,
            withdrawn_on=datetime.now(UTC).date().isoformat(),
        ),
        metadata=ANNA,
    )
    eventually(
        lambda: code_of(lambda: send(notify, card.client_id)) == grpc.StatusCode.FAILED_PRECONDITION
    )


def test_a_worker_of_another_centre_learns_nothing_and_nothing_is_sent(
    clients: Any, notify: Any, sink: Sink
) -> None:
    card = create_card(clients, email=address())
    sent_once_consent_arrived(notify, card.client_id, secrets.token_hex(4))

    other_centre = code_of(lambda: send(notify, card.client_id, ILZE))
    unknown = code_of(lambda: send(notify, f"cl-{secrets.token_hex(6)}", ILZE))

    assert other_centre == unknown == grpc.StatusCode.NOT_FOUND
    # Anna's one message arrives; Ilze's attempt left no second one behind it.
    eventually(lambda: sink.to(card.email))
    queued = notify.ListOutgoingEmails(
        notify_pb2.ListOutgoingEmailsRequest(page_size=200),
        metadata=auth(
            create_token(subject="w-manager-north", centres=["ctr-north-town"], roles=["manager"])
        ),
    )
    assert not [e for e in queued.emails if e.email_id.startswith("client-message:org-demo:w-ilze")]
    assert len(sink.to(card.email)) == 1


def test_a_card_without_an_email_address_is_refused_naming_the_field(
    clients: Any, notify: Any
) -> None:
    card = create_card(clients)

    with pytest.raises(grpc.RpcError) as refused:
        send(notify, card.client_id)

    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "email" in (refused.value.details() or "")


def test_an_address_in_the_request_is_refused(clients: Any, notify: Any) -> None:
    card = create_card(clients, email=address())

    code = code_of(lambda: send(notify, card.client_id, email="someone@example.org"))

    assert code == grpc.StatusCode.INVALID_ARGUMENT


# ------------------------------------------------------------- from feedback


def test_a_complaints_answer_recorded_in_feedback_reaches_the_reply_to_address(
    feedback: Any, sink: Sink
) -> None:
    reply_to = address()
    complaint = feedback.RecordComplaint(
        fb.RecordComplaintRequest(
            centre_id="ctr-north-town",
            kind="complaint",
            channel="email",
            subject="service",
            text="Nobody called me back.",
            reply_to=reply_to,
        ),
        metadata=ANNA,
    ).complaint
    anonymous = feedback.RecordComplaint(
        fb.RecordComplaintRequest(
            centre_id="ctr-north-town",
            kind="complaint",
            channel="sealed_box",
            subject="service",
            text="The waiting room is cold.",
        ),
        metadata=ANNA,
    ).complaint

    feedback.AnswerComplaint(
        fb.AnswerComplaintRequest(
            complaint_id=anonymous.complaint_id, text="We fixed the heating."
        ),
        metadata=ANNA,
    )
    feedback.AnswerComplaint(
        fb.AnswerComplaintRequest(
            complaint_id=complaint.complaint_id, text="We are sorry; Anna calls you today."
        ),
        metadata=ANNA,
    )

    [message] = eventually(lambda: sink.to(reply_to))
    assert "We are sorry; Anna calls you today." in message.get_payload(decode=True).decode()
    # The anonymous answer, handled before it, sent nothing anywhere.
    everything = list(mailbox.Maildir(sink.mail_dir, create=False))
    assert not [m for m in everything if "heating" in m.get_payload(decode=True).decode()]


def publish_later_survey(feedback: Any) -> None:
    saved = feedback.SaveSurveyDefinition(
        fb.SaveSurveyDefinitionRequest(
            definition=fb.SurveyDefinition(
                centre_id="ctr-north-town",
                title="Some days after your visit",
                audience="later",
                language="en",
                questions=[
                    fb.Question(
                        question_id="solved",
                        kind="smiley",
                        text="Did our help solve your problem?",
                        aspect="problem_solved",
                    ),
                    fb.Question(question_id="more", kind="free_text", text="Anything to tell us?"),
                ],
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


def in_notify(suite: Suite, collection: str, query: dict[str, Any]) -> Any:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    try:
        return client[f"{suite.env['MONGO_DB_PREFIX']}_notify"][collection].find_one(query)
    finally:
        client.close()


def test_a_later_survey_issued_by_feedback_reaches_a_consenting_client_at_the_card_address(
    clients: Any, feedback: Any, suite: Suite, sink: Sink
) -> None:
    publish_later_survey(feedback)
    willing = create_card(clients, email=address())
    unasked = create_card(clients, email=address(), consent=False)
    eventually(lambda: in_notify(suite, "client_consents", {"client_id": willing.client_id}))

    for card in (unasked, willing):
        feedback.RecordVisit(
            fb.RecordVisitRequest(
                centre_id="ctr-north-town", kind="front_line", client_id=card.client_id
            ),
            metadata=ANNA,
        )

    [message] = eventually(lambda: sink.to(willing.email), timeout=60)
    body = message.get_payload(decode=True).decode()
    assert "https://feedback.example.org/public/v1/feedback/" in body
    assert willing.client_id not in body
    # The client without the consent: notify looked at the card and sent nothing.
    settled = eventually(
        lambda: in_notify(
            suite, "survey_offers", {"client_id": unasked.client_id, "state": "not_sent"}
        )
    )
    assert "consent" in settled["reason"]
    assert sink.to(unasked.email) == []
