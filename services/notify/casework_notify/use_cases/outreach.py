"""Messages to clients that feedback's events ask for: a complaint's answer e-mailed
to its reply_to address, and a later survey e-mailed to the address on the card when
the card records the feedback calls consent. Both land in the outgoing mail (sent by
the send timer, retried until the mail server accepts them) under an id derived from
their cause: handled once however often the event arrives."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from casework_common.errors import CaseworkError, NotFound
from casework_common.organisation import Organisation
from casework_notify.adapters.mail import EmailRepository
from casework_notify.adapters.outreach import SurveyOfferRepository
from casework_notify.domain.cards import ClientCard
from casework_notify.domain.email import FALLBACK_LANGUAGE, Email, backoff
from casework_notify.domain.outreach import (
    ComplaintAnswer,
    Outcome,
    SurveyOffer,
    answer_email,
    survey_email,
    why_no_answer_email,
    why_no_survey_email,
)

log = logging.getLogger(__name__)


def _audit(message: str, **fields: str) -> None:
    # Who was written to and why, never the address itself.
    log.info(message, extra={"fields": {"audit": True, **fields}})


def _voice(organisation: Organisation | None, fallback: str) -> tuple[str, str]:
    if organisation is None:
        return fallback, FALLBACK_LANGUAGE
    return organisation.name, organisation.language


def send_complaint_answer(
    answer: ComplaintAnswer,
    organisation: Organisation | None,
    emails: EmailRepository,
    now: datetime,
) -> Email | None:
    """Queue the answer's e-mail to reply_to; None (and a log line) when the complaint
    gave no e-mail address to answer to."""
    reason = why_no_answer_email(answer)
    if reason is not None:
        _audit(
            "complaint answer not e-mailed",
            complaint_id=answer.complaint_id,
            centre_id=answer.centre_id,
            reason=reason,
        )
        return None
    name, language = _voice(organisation, answer.organisation)
    email = answer_email(answer, name, language, now)
    emails.queue(email)
    _audit(
        "complaint answer queued for e-mail",
        complaint_id=answer.complaint_id,
        centre_id=answer.centre_id,
        email_id=email.email_id,
    )
    return emails.get(email.email_id) or email


def take_survey_offer(offer: SurveyOffer, offers: SurveyOfferRepository, now: datetime) -> bool:
    """Keep the offer until the api process has read the card (False: kept before)."""
    return offers.add(offer, now)


class Cards(Protocol):
    def get(
        self, organisation: str, client_id: str, trace: dict[str, str] | None = None
    ) -> ClientCard: ...


class Consents(Protocol):
    def given(self, organisation: str, client_id: str) -> set[str]: ...


def settle_survey_offers(
    now: datetime,
    offers: SurveyOfferRepository,
    cards: Cards | None,
    consents: Consents,
    emails: EmailRepository,
    organisations: Mapping[str, Organisation],
    *,
    public_url: str,
    retry_base: float,
    retry_ceiling: float,
    lease: timedelta = timedelta(seconds=60),
    limit: int = 50,
) -> int:
    """Read each waiting offer's card and queue its e-mail, or record why none goes.
    clients away (or notify's token refused) is tried again with backoff, never taken
    for a missing card. Answers how many offers were settled."""
    settled = 0
    for offer, holder in offers.claim_due(now, lease, limit):
        try:
            if cards is None:
                raise CardsNotConfigured("notify cannot read clients' cards")
            card: ClientCard | None = cards.get(offer.organisation, offer.client_id)
        except NotFound:
            card = None
        except CaseworkError as exc:
            attempts = offer.attempts + 1
            waiting = replace(offer, attempts=attempts, reason=f"{type(exc).__name__}: {exc}")
            offers.settle(waiting, holder, now + backoff(attempts, retry_base, retry_ceiling))
            continue
        reason = why_no_survey_email(
            offer,
            card.email if card else "",
            card is not None,
            consents.given(offer.organisation, offer.client_id),
            now,
        )
        if reason is None and card is not None:
            name, language = _voice(organisations.get(offer.organisation), offer.organisation)
            email = survey_email(offer, card.email, public_url, name, language, now)
            emails.queue(email)
            outcome, why = Outcome.QUEUED, email.email_id
        else:
            outcome, why = Outcome.NOT_SENT, reason or ""
        offers.settle(replace(offer, outcome=outcome, reason=why), holder, now)
        _audit(
            "later survey offer settled",
            visit_id=offer.visit_id,
            client_id=offer.client_id,
            outcome=outcome.value,
            reason=why,
        )
        settled += 1
    return settled


class CardsNotConfigured(CaseworkError):
    """NOTIFY_SERVICE_TOKENS_FILE is unset: offers wait until it is."""

    code = "FAILED_PRECONDITION"
