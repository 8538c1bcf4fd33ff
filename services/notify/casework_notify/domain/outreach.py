"""What notify sends to clients because feedback asked: a complaint's answer to the
address the complainant gave, and a visit's later survey to the address on the card.

A complaint's answer goes only where the complainant asked for it: an anonymous
complaint (no reply_to) or a postal address gets no e-mail, and that is not an error
(a letter is the centre's to post). A later survey goes only to a client whose card
records the feedback calls consent and an e-mail address, and only while its link
still answers. Ids derive from the cause, so a redelivered event gives one e-mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from casework_common.values import email_error
from casework_notify.domain.consent import PURPOSE_OF_MESSAGE
from casework_notify.domain.email import Email, render


@dataclass(frozen=True)
class ComplaintAnswer:
    """feedback.complaint.answered.v1, as notify reads it."""

    organisation: str
    complaint_id: str
    centre_id: str
    entry_id: str
    reply_to: str
    answer_text: str


def answer_email_id(answer: ComplaintAnswer) -> str:
    # The answer's entry, not the complaint: a later (second) answer is a new e-mail.
    return f"complaint-answer:{answer.organisation}:{answer.complaint_id}:{answer.entry_id}"


def why_no_answer_email(answer: ComplaintAnswer) -> str | None:
    """Why the answer is not e-mailed, or None when it is."""
    if not answer.reply_to.strip():
        return "anonymous: the complaint gave no address to answer to"
    if email_error(answer.reply_to) is not None:
        return "reply_to is not an e-mail address (a postal answer is the centre's to send)"
    return None


def answer_email(
    answer: ComplaintAnswer, organisation_name: str, language: str, now: datetime
) -> Email:
    subject, text, used = render(
        "complaint_answer",
        language,
        {
            "organisation": organisation_name,
            "answer": answer.answer_text,
            "complaint": answer.complaint_id,
        },
    )
    return Email(
        email_id=answer_email_id(answer),
        organisation=answer.organisation,
        recipient=answer.reply_to.strip(),
        subject=subject,
        text=text,
        language=used,
        created_at=now,
        next_attempt_at=now,
    )


class Outcome(StrEnum):
    """Where a later survey offer stands."""

    AWAITING_CARD = "awaiting_card"  # the api process has to read the card
    QUEUED = "queued"  # an e-mail waits in (or left) the outgoing mail
    NOT_SENT = "not_sent"  # no consent, no address, no card, or the link ran out


@dataclass(frozen=True)
class SurveyOffer:
    """feedback.survey.later_issued.v1: a later survey to offer the client."""

    organisation: str
    visit_id: str
    centre_id: str
    client_id: str
    link: str  # feedback's public path
    expires_at: datetime
    issued_at: datetime
    outcome: Outcome = Outcome.AWAITING_CARD
    reason: str = ""
    attempts: int = 0

    @property
    def offer_id(self) -> str:
        return f"later-survey:{self.organisation}:{self.visit_id}"


def why_no_survey_email(
    offer: SurveyOffer,
    card_email: str,
    card_found: bool,
    given_purposes: set[str],
    now: datetime,
) -> str | None:
    """Why the later survey is not e-mailed, or None when it is."""
    if not card_found:
        return "the client's card was not found"
    if PURPOSE_OF_MESSAGE["survey"] not in given_purposes:
        return "the card records no feedback calls consent"
    if not card_email or email_error(card_email) is not None:
        return "the card has no usable e-mail address"
    if offer.expires_at <= now:
        return "the survey link expired before it could be sent"
    return None


def survey_email(
    offer: SurveyOffer,
    recipient: str,
    public_url: str,
    organisation_name: str,
    language: str,
    now: datetime,
) -> Email:
    """The e-mail with the full link: feedback's public base and the event's path."""
    subject, text, used = render(
        "later_survey",
        language,
        {
            "organisation": organisation_name,
            "link": public_url.rstrip("/") + "/" + offer.link.lstrip("/"),
            "until": offer.expires_at.date().isoformat(),
        },
    )
    return Email(
        email_id=offer.offer_id,
        organisation=offer.organisation,
        recipient=recipient,
        subject=subject,
        text=text,
        language=used,
        created_at=now,
        next_attempt_at=now,
    )
