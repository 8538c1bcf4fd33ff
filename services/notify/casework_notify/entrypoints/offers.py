"""The api process's reader of later survey offers: the events process keeps each offer
and this thread, in the process that may speak grpcio, reads the client's card with
notify's service token and queues the e-mail (see use_cases.outreach)."""

from __future__ import annotations

import logging
import threading

from casework_notify.bootstrap import Notify
from casework_notify.use_cases.outreach import settle_survey_offers

log = logging.getLogger(__name__)
BATCH = 50


def settle_waiting_offers(app: Notify) -> int:
    settled, total = BATCH, 0
    while settled >= BATCH:
        settled = settle_survey_offers(
            app.clock(),
            app.survey_offers,
            app.cards,
            app.consents,
            app.emails,
            app.organisations,
            public_url=app.config.feedback_public_url,
            retry_base=app.config.email_retry_base,
            retry_ceiling=app.config.email_retry_ceiling,
            limit=BATCH,
        )
        total += settled
    return total


def start_offer_reader(app: Notify) -> threading.Event:
    """Runs until the answered event is set (the process ends with it otherwise)."""
    stopping = threading.Event()

    def run() -> None:
        while not stopping.wait(app.config.offer_poll):
            try:
                settle_waiting_offers(app)
            except Exception:
                # A database away for a moment must not end the thread: the offers
                # wait, leased or not, and the next look takes them up.
                log.exception("reading later survey offers failed; trying again")

    threading.Thread(target=run, name="survey-offers", daemon=True).start()
    return stopping
