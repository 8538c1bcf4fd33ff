"""What feedback's events ask notify to send a client, through notify's database and a
real SMTP server: a complaint's answer (the event built by feedback's own use case)
reaches the reply_to address once however often the event comes, an anonymous
complaint sends nothing; a later survey reaches the address on the card only with the
feedback calls consent on record, and waits while clients cannot be asked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from casework.feedback.v1 import events_pb2 as feedback_events
from casework_common.auth import Principal
from casework_common.envelope import EventEnvelope
from casework_common.errors import NotFound
from casework_dev.devstack import free_port
from casework_dev.testing.fakes import FakeUnitOfWork
from casework_dev.testing.organisations import create_organisation
from casework_feedback.domain import complaints as feedback_complaints
from casework_feedback.use_cases import complaints as feedback_use_cases
from casework_feedback.use_cases._common import event as feedback_event
from casework_notify.adapters.cards import CardsUnavailable
from casework_notify.adapters.mail import EmailRepository, SmtpMailer, SmtpSettings
from casework_notify.adapters.outreach import SurveyOfferRepository
from casework_notify.adapters.preferences import ConsentRepository
from casework_notify.domain.cards import ClientCard
from casework_notify.domain.consent import ConsentChange
from casework_notify.domain.outreach import Outcome
from casework_notify.entrypoints.feedback_payloads import complaint_answer, survey_offer
from casework_notify.use_cases import emails as sending
from casework_notify.use_cases import outreach

pytestmark = pytest.mark.usefixtures("mongo_db")
ORGANISATION = create_organisation()
ANNA = Principal(
    organisation=ORGANISATION.id,
    subject="w-anna",
    kind="worker",
    centres=frozenset({"ctr-north-town"}),
    roles=frozenset({"case_worker"}),
    scopes=frozenset(),
)


class Sink:
    """Every message the SMTP server accepted."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Sink, SmtpMailer]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, SmtpMailer(SmtpSettings(host="127.0.0.1", port=port, sender="casework@localhost"))
    controller.stop()


def send_pending(mailer: SmtpMailer, now: datetime) -> tuple[int, int]:
    return sending.send_due_emails(
        now, EmailRepository(), mailer, retry_base=1.0, retry_ceiling=10.0
    )


class Complaints:
    """feedback's complaint store, in memory: what `answer` appends is the event."""

    def __init__(self, complaint: feedback_complaints.Complaint) -> None:
        self.complaint = complaint
        self.events: list[EventEnvelope] = []

    def get(self, complaint_id: str) -> feedback_complaints.Complaint:
        return self.complaint

    def append(self, complaint: Any, events: list[EventEnvelope] = ()) -> None:  # type: ignore[assignment]
        self.complaint = complaint
        self.events.extend(events)


def answered_event(reply_to: str, text: str = "We are sorry; Anna calls you today.") -> Any:
    """feedback.complaint.answered.v1 as feedback's AnswerComplaint use case builds it."""
    now = datetime.now(UTC)
    complaint = feedback_complaints.receive(
        complaint_id=f"cmp-{reply_to or 'anonymous'}",
        entry_id="ent-1",
        centre_id="ctr-north-town",
        kind=feedback_complaints.ComplaintKind.COMPLAINT,
        channel=feedback_complaints.ComplaintChannel.LETTER,
        subject=feedback_complaints.Subject.SERVICE,
        subject_ref="",
        client_id="",
        text="Nobody called me back.",
        recorded_by="w-anna",
        received_at=now,
        reply_to=reply_to,
    )
    store = Complaints(complaint)
    feedback_use_cases.answer(complaint.complaint_id, text, FakeUnitOfWork(ANNA), store)  # type: ignore[arg-type]
    [answered] = store.events
    return answered


def test_a_complaints_answer_reaches_its_reply_to_address_once_however_often_it_comes(
    smtp: tuple[Sink, SmtpMailer],
) -> None:
    sink, mailer = smtp
    envelope = answered_event("complainant@example.org")
    now = datetime.now(UTC)

    first = outreach.send_complaint_answer(
        complaint_answer(envelope), ORGANISATION, EmailRepository(), now
    )
    again = outreach.send_complaint_answer(
        complaint_answer(envelope), ORGANISATION, EmailRepository(), now
    )
    assert send_pending(mailer, now) == (1, 0)

    [message] = sink.to("complainant@example.org")
    assert "We are sorry; Anna calls you today." in message.get_payload(decode=True).decode()
    assert first is not None and again is not None and first.email_id == again.email_id
    assert EmailRepository().get(first.email_id).state == "sent"  # type: ignore[union-attr]


@pytest.mark.parametrize("reply_to", ["", "Hlavná 5, 811 01 Bratislava"])
def test_an_anonymous_or_postal_complaint_gets_no_email_and_is_not_an_error(
    smtp: tuple[Sink, SmtpMailer], reply_to: str
) -> None:
    sink, mailer = smtp
    before = len(sink.messages)
    now = datetime.now(UTC)
    sent = outreach.send_complaint_answer(
        complaint_answer(answered_event(reply_to)), ORGANISATION, EmailRepository(), now
    )
    assert sent is None
    assert send_pending(mailer, now) == (0, 0)
    assert len(sink.messages) == before


class Cards:
    """clients' GetClient: the cards it knows; `away` answers as clients down."""

    def __init__(self, *cards: ClientCard) -> None:
        self.cards = {c.client_id: c for c in cards}
        self.away = False

    def get(self, organisation: str, client_id: str, trace: Any = None) -> ClientCard:
        if self.away:
            raise CardsUnavailable("clients answered UNAVAILABLE")
        if client_id not in self.cards:
            raise NotFound(f"client {client_id} not found")
        return self.cards[client_id]


def later_issued(client_id: str, expires_in: timedelta = timedelta(days=7)) -> EventEnvelope:
    """feedback.survey.later_issued.v1 with the facts feedback's timer gives it."""
    now = datetime.now(UTC)
    return feedback_event(
        feedback_events.LaterSurveyIssued,
        ORGANISATION.id,
        FakeUnitOfWork(ANNA),
        {
            "visit_id": f"vis-{client_id}",
            "centre_id": "ctr-north-town",
            "client_id": client_id,
            "survey_id": "srv-later",
            "version": 1,
            "link": "/public/v1/feedback/tok-" + client_id[-4:],
            "expires_at": (now + expires_in).isoformat(),
            "issued_at": now.isoformat(),
        },
    )


def consent(client_id: str, purpose: str = "feedback_calls") -> None:
    ConsentRepository().apply(
        ConsentChange(
            organisation=ORGANISATION.id,
            client_id=client_id,
            purpose=purpose,
            given=True,
            on="2026-01-05",
            occurred_at=datetime.now(UTC),
            event_id=f"evt-{client_id}-{purpose}",
        )
    )


def settle(cards: Cards, now: datetime) -> int:
    return outreach.settle_survey_offers(
        now,
        SurveyOfferRepository(),
        cards,
        ConsentRepository(),
        EmailRepository(),
        {ORGANISATION.id: ORGANISATION},
        public_url="https://feedback.example.org/",
        retry_base=1.0,
        retry_ceiling=10.0,
    )


def offer(envelope: EventEnvelope, now: datetime) -> bool:
    return outreach.take_survey_offer(survey_offer(envelope), SurveyOfferRepository(), now)


def test_a_later_survey_reaches_the_card_address_only_with_the_feedback_calls_consent(
    smtp: tuple[Sink, SmtpMailer],
) -> None:
    sink, mailer = smtp
    cards = Cards(
        ClientCard("cl-willing", "willing@example.org", ("ctr-north-town",)),
        ClientCard("cl-unasked", "unasked@example.org", ("ctr-north-town",)),
        ClientCard("cl-no-email", "", ("ctr-north-town",)),
    )
    consent("cl-willing")
    consent("cl-unasked", purpose="data_processing")
    consent("cl-no-email")
    now = datetime.now(UTC)
    willing = later_issued("cl-willing")
    assert offer(willing, now) and not offer(willing, now)  # redelivered: kept once
    for client in ("cl-unasked", "cl-no-email", "cl-unknown"):
        offer(later_issued(client), now)
    expired = later_issued("cl-willing-late", expires_in=timedelta(seconds=-1))
    cards.cards["cl-willing-late"] = ClientCard("cl-willing-late", "late@example.org", ())
    consent("cl-willing-late")
    offer(expired, now)

    assert settle(cards, now) == 5
    assert send_pending(mailer, now) == (1, 0)

    [message] = sink.to("willing@example.org")
    body = message.get_payload(decode=True).decode()
    assert "https://feedback.example.org/public/v1/feedback/tok-ling" in body
    assert not sink.to("unasked@example.org") and not sink.to("late@example.org")
    offers = SurveyOfferRepository()
    outcomes = {
        client: offers.get(ORGANISATION.id, f"vis-{client}").outcome  # type: ignore[union-attr]
        for client in ("cl-willing", "cl-unasked", "cl-no-email", "cl-unknown", "cl-willing-late")
    }
    assert outcomes == {
        "cl-willing": Outcome.QUEUED,
        "cl-unasked": Outcome.NOT_SENT,
        "cl-no-email": Outcome.NOT_SENT,
        "cl-unknown": Outcome.NOT_SENT,
        "cl-willing-late": Outcome.NOT_SENT,
    }


def test_a_later_survey_waits_while_clients_cannot_be_asked(
    smtp: tuple[Sink, SmtpMailer],
) -> None:
    sink, mailer = smtp
    cards = Cards(ClientCard("cl-patient", "patient@example.org", ("ctr-north-town",)))
    cards.away = True
    consent("cl-patient")
    now = datetime.now(UTC)
    offer(later_issued("cl-patient"), now)

    assert settle(cards, now) == 0
    waiting = SurveyOfferRepository().get(ORGANISATION.id, "vis-cl-patient")
    assert waiting is not None and waiting.outcome is Outcome.AWAITING_CARD
    assert "UNAVAILABLE" in waiting.reason

    cards.away = False
    later = now + timedelta(seconds=5)
    assert settle(cards, later) == 1
    assert send_pending(mailer, later) == (1, 0)
    assert len(sink.to("patient@example.org")) == 1
