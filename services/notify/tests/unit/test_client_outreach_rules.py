"""The rules for what notify e-mails a client on feedback's behalf: a complaint's
answer only to an e-mail address the complaint gave, one e-mail per answer; a later
survey only with the feedback calls consent, an address on the card and a link that
still answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from casework_notify.domain.outreach import (
    ComplaintAnswer,
    SurveyOffer,
    answer_email,
    survey_email,
    why_no_answer_email,
    why_no_survey_email,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def create_answer(**overrides: Any) -> ComplaintAnswer:
    fields: dict[str, Any] = {
        "organisation": "org-demo",
        "complaint_id": "cmp-1",
        "centre_id": "ctr-north-town",
        "entry_id": "ent-3",
        "reply_to": "jana@example.org",
        "answer_text": "We are sorry.",
    }
    fields.update(overrides)
    return ComplaintAnswer(**fields)


def create_offer(**overrides: Any) -> SurveyOffer:
    fields: dict[str, Any] = {
        "organisation": "org-demo",
        "visit_id": "vis-1",
        "centre_id": "ctr-north-town",
        "client_id": "cl-1",
        "link": "/public/v1/feedback/tok",
        "expires_at": NOW + timedelta(days=7),
        "issued_at": NOW,
    }
    fields.update(overrides)
    return SurveyOffer(**fields)


def test_an_answer_goes_only_to_an_email_address_the_complaint_gave() -> None:
    assert why_no_answer_email(create_answer()) is None
    assert "anonymous" in (why_no_answer_email(create_answer(reply_to="  ")) or "")
    assert why_no_answer_email(create_answer(reply_to="Hlavná 5, Bratislava")) is not None


def test_each_answer_of_a_complaint_is_an_email_of_its_own_in_the_organisations_language() -> None:
    first = answer_email(create_answer(), "Sieť", "sk", NOW)
    second = answer_email(create_answer(entry_id="ent-9"), "Sieť", "sk", NOW)
    assert first.email_id != second.email_id
    assert first.language == "sk" and "We are sorry." in first.text
    assert answer_email(create_answer(), "Net", "lv", NOW).language == "en"


def test_a_subject_stays_one_line_whatever_the_organisation_is_called() -> None:
    email = answer_email(create_answer(), "Net\r\nBcc: someone@example.org", "en", NOW)
    assert "\n" not in email.subject and "\r" not in email.subject


def test_a_later_survey_needs_the_card_the_consent_an_address_and_a_live_link() -> None:
    offer = create_offer()
    given = {"feedback_calls"}
    assert why_no_survey_email(offer, "jana@example.org", True, given, NOW) is None
    assert why_no_survey_email(offer, "jana@example.org", False, given, NOW) is not None
    assert why_no_survey_email(offer, "jana@example.org", True, {"data_processing"}, NOW)
    assert why_no_survey_email(offer, "", True, given, NOW) is not None
    assert why_no_survey_email(offer, "not an address", True, given, NOW) is not None
    expired = replace(offer, expires_at=NOW)
    assert why_no_survey_email(expired, "jana@example.org", True, given, NOW) is not None


def test_the_survey_email_joins_feedbacks_public_base_and_the_links_path() -> None:
    email = survey_email(
        create_offer(), "jana@example.org", "https://fb.example.org/", "N", "en", NOW
    )
    assert "https://fb.example.org/public/v1/feedback/tok\n" in email.text
    assert email.email_id == "later-survey:org-demo:vis-1"
