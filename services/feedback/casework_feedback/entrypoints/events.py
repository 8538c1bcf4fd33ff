"""nameko entry point of feedback: publishes feedback's outbox, keeps the read model of
clients' consent to feedback calls (a withdrawal cancels pending calls), keeps plans'
monitoring contacts in person as visits (sampled for phone surveys), raises each
complaint's deadline notices once, draws the random phone-survey sample, and serves the
public mini-survey endpoints.

The public endpoints are served on a port of their own, FEEDBACK_PUBLIC_HTTP_PORT, in
the shape of intake's web form (nameko's HTTP server in this eventlet process, the api
process stays pure grpcio); /healthz and /metrics stay on HEALTH_PORT:

    GET  /public/v1/feedback/kiosks/<org>/<centre>   the centre's mini-survey and a
                                                     fresh single-use link (a kiosk)
    GET  /public/v1/feedback/<token>                 the questions a link opens
    POST /public/v1/feedback/<token>                 {"answers": {...}, "comment": ""}, once

Every request counts against its address's limit per minute: the connecting peer's
address, or, when that peer is one of FEEDBACK_TRUSTED_PROXIES, the hop those proxies
appended to X-Forwarded-For (read from the right; what a visitor writes there is never
believed, casework_common.forwarded). Answers through a link are
anonymous: nothing that leads back to a person is kept with them.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from nameko.timer import timer
from werkzeug.wrappers import Response

from casework.clients.v1 import events_pb2 as clients_events
from casework.plans.v1 import events_pb2 as plans_events
from casework_common import contracts
from casework_common.config import seconds
from casework_common.envelope import EventEnvelope
from casework_common.errors import FieldError, InvalidArgument
from casework_common.events_runtime import EventsService, PoisonEvent, event_handler
from casework_common.public_http import (
    RateCounters,
    caller_address,
    decide,
    field_errors,
    json_object,
    json_response,
    limited,
    public,
    public_http_entrypoint,
    read_whole,
    too_large,
    too_many,
    window_of,
)
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork
from casework_common.wiring import Wired, Wiring
from casework_feedback.adapters import repository as repo
from casework_feedback.adapters.call_repository import CallRepository, ConsentRepository
from casework_feedback.adapters.complaint_repository import (
    ComplaintRepository,
    organisations_with_notices_due,
)
from casework_feedback.adapters.documents import OUTBOX_DOCUMENTS
from casework_feedback.adapters.repository import LinkRepository, VisitRepository
from casework_feedback.bootstrap import Feedback, bootstrap, public_http_port
from casework_feedback.use_cases import calls, complaints, visits
from casework_feedback.use_cases.contact_visits import MonitoringContact, record_contact_visit

log = logging.getLogger(__name__)
PUBLIC = "feedback-public"
MAX_BODY_BYTES = 16 * 1024
# The public endpoints' requests per address and minute (the collection keeps its name).
PUBLIC_RATE = RateCounters("public_rate")
PAGE = 100  # what the repositories answer at most per look (their default limit)
MAX_PAGES = 50  # per tick; the next tick carries on


# How often the timers look for complaint deadlines and visits to sample (tests shorten).
DEADLINE_CHECK_INTERVAL = seconds("FEEDBACK_DEADLINE_CHECK_INTERVAL", 60.0)
SAMPLE_CHECK_INTERVAL = seconds("FEEDBACK_SAMPLE_CHECK_INTERVAL", 60.0)
LATER_CHECK_INTERVAL = seconds("FEEDBACK_LATER_CHECK_INTERVAL", 60.0)


@functools.cache
def _app() -> Feedback:
    return bootstrap()


# nameko's `http` again on FEEDBACK_PUBLIC_HTTP_PORT; a bad setting stops the process
# as the server starts, not at the first visitor.
public_http = public_http_entrypoint(lambda: public_http_port(os.environ), _app)


def _body(request: Any) -> dict[str, Any] | Response:
    raw = read_whole(request, MAX_BODY_BYTES)
    if raw is None:
        return too_large(MAX_BODY_BYTES)
    return json_object(raw)


def _in_pages(work: Callable[[], int]) -> None:
    """Run a timer's `work` a page at a time until a page comes back short (or
    MAX_PAGES have run: the next tick goes on)."""
    for _ in range(MAX_PAGES):
        if work() < PAGE:
            break


def _on_day(text: str) -> datetime:
    """A consent event's day as the moment the read model orders by."""
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    except ValueError:
        raise PoisonEvent(f"on must be a day YYYY-MM-DD, got {text!r}") from None


@dataclass(frozen=True)
class ConsentFact:
    client_id: str
    purpose: str
    granted: bool
    occurred_at: datetime


def consent_fact(envelope: EventEnvelope) -> ConsentFact:
    """clients.consent.recorded.v1 / clients.consent.withdrawn.v1, ordered by the day
    clients names, then by when the event happened."""
    granted = envelope.type == "clients.consent.recorded"
    message: clients_events.ConsentRecorded | clients_events.ConsentWithdrawn = (
        contracts.read(envelope, clients_events.ConsentRecorded)
        if granted
        else contracts.read(envelope, clients_events.ConsentWithdrawn)
    )
    if not message.client_id:
        raise PoisonEvent("client_id is empty")
    occurred_at = (
        max(_on_day(message.on), envelope.occurred_at) if message.on else envelope.occurred_at
    )
    return ConsentFact(message.client_id, message.purpose, granted, occurred_at)


def monitoring_contact(envelope: EventEnvelope) -> MonitoringContact | None:
    """plans.monitoring.contact_recorded.v1 as a visit's facts; None for a contact by
    phone (the client was not visited)."""
    contact = contracts.read(envelope, plans_events.MonitoringContactRecorded)
    if contact.mode != "in_person":
        return None
    if not contact.contact_id or not contact.client_id or not contact.centre_ids:
        raise PoisonEvent("contact_id, client_id and centre_ids are required")
    try:
        contacted_on = date.fromisoformat(contact.contacted_on)
    except ValueError:
        raise PoisonEvent(f"contacted_on {contact.contacted_on!r} is not a day") from None
    return MonitoringContact(
        contact_id=contact.contact_id,
        centre_id=contact.centre_ids[0],
        client_id=contact.client_id,
        worker_id=contact.worker_id,
        contacted_on=contacted_on,
        recorded_at=envelope.occurred_at,
    )


def _questions(opened: visits.OpenLink) -> list[dict[str, Any]]:
    return [
        {
            "question_id": q.question_id,
            "kind": q.kind.value,
            "text": q.text,
            "options": list(q.options),
            "scale_min": q.scale_min,
            "scale_max": q.scale_max,
        }
        for q in opened.survey.questions
    ]


class FeedbackEvents(EventsService):
    name = "feedback"
    casework_service = "feedback"
    wired: Wired[Feedback] = Wiring(_app)  # type: ignore[assignment]
    outbox_documents = OUTBOX_DOCUMENTS

    def _unit(self, envelope: EventEnvelope | None = None) -> UnitOfWork:
        trace = Trace(envelope.trace) if envelope is not None else Trace()
        return self.wired.units.begin(SystemActor("feedback"), trace)

    # --------------------------------------------------------------- consent

    @event_handler(
        "feedback.keep-consent", ["clients.consent.recorded.v1", "clients.consent.withdrawn.v1"]
    )
    def on_consent(self, envelope: EventEnvelope) -> None:
        if envelope.organisation not in self.wired.app.organisations:
            raise PoisonEvent(f"organisation {envelope.organisation} is not served here")
        fact = consent_fact(envelope)
        if fact.purpose != "feedback_calls":
            return
        with self._unit(envelope) as uow:
            calls.keep_consent(
                uow,
                envelope.organisation,
                client_id=fact.client_id,
                purpose=fact.purpose,
                granted=fact.granted,
                occurred_at=fact.occurred_at,
                consent=ConsentRepository(envelope.organisation),
                calls=CallRepository(envelope.organisation, None, uow),
            )

    # ------------------------------------------------------ visits from plans

    @event_handler("feedback.sample-monitoring-visits", ["plans.monitoring.contact_recorded.v1"])
    def on_monitoring_contact(self, envelope: EventEnvelope) -> None:
        app = self.wired.app
        if envelope.organisation not in app.organisations:
            raise PoisonEvent(f"organisation {envelope.organisation} is not served here")
        contact = monitoring_contact(envelope)
        if contact is None:
            return
        with self._unit(envelope) as uow:
            record_contact_visit(
                contact,
                uow,
                VisitRepository(envelope.organisation, None, uow),
                sample_after=app.sample_after,
                later_after=app.later_after,
            )

    # ---------------------------------------------------------------- timers

    @timer(interval=DEADLINE_CHECK_INTERVAL)  # type: ignore[misc]
    def raise_complaint_deadlines(self) -> None:
        """Reminders before each complaint's deadline and escalations after it, once each."""
        app = self.wired.app
        with self._unit() as uow:
            for org_id in organisations_with_notices_due(uow.now):
                organisation = app.organisations.get(org_id)
                if organisation is None:
                    continue
                # A page at a time; a complaint that lost a race waits for the next tick.
                _in_pages(
                    functools.partial(
                        complaints.raise_deadline_notices,
                        uow,
                        organisation,
                        ComplaintRepository(org_id, None, uow),
                    )
                )

    @timer(interval=SAMPLE_CHECK_INTERVAL)  # type: ignore[misc]
    def draw_phone_surveys(self) -> None:
        app = self.wired.app
        with self._unit() as uow:
            for org_id in repo.organisations_with_visits_due(uow.now):
                organisation = app.organisations.get(org_id)
                if organisation is None:
                    continue
                _in_pages(
                    functools.partial(
                        calls.draw_phone_surveys,
                        uow,
                        organisation,
                        VisitRepository(org_id, None, uow),
                        CallRepository(org_id, None, uow),
                        ConsentRepository(org_id),
                        rate=app.sample_rate,
                        salt=app.sample_salt,
                    )
                )
        PUBLIC_RATE.forget_windows_before(window_of(uow.now) - 1)

    @timer(interval=LATER_CHECK_INTERVAL)  # type: ignore[misc]
    def issue_later_surveys(self) -> None:
        """Each visit's later survey, once: a single-use link and
        feedback.survey.later_issued.v1, never for a client who refused surveys."""
        app = self.wired.app
        with self._unit() as uow:
            for org_id in repo.organisations_with_later_surveys_due(uow.now):
                if org_id not in app.organisations:
                    continue
                _in_pages(
                    functools.partial(
                        visits.issue_later_surveys,
                        uow,
                        org_id,
                        VisitRepository(org_id, None, uow),
                        repo.SurveyRepository(org_id, None),
                        LinkRepository(),
                        secret=app.link_secret,
                        validity=app.link_validity,
                    )
                )

    # -------------------------------------------------------- public endpoints

    def rate_refusal(self, request: Any, endpoint: str) -> Response | None:
        app = self.wired.app
        now = app.clock()
        address = caller_address(request, app.public_ip_header, app.trusted_proxies)
        count = PUBLIC_RATE.count(address, window_of(now))
        decision = decide(count, app.public_per_minute, now)
        if decision.allowed:
            return None
        log.warning(
            "public feedback request refused",
            extra={"fields": {"reason": "rate_limited", "status": 429, "endpoint": endpoint}},
        )
        return too_many(decision, "too many requests; try again in a minute")

    def _refused(self, refused: visits.PublicRefused) -> Response:
        # Never the token: it is the visitor's credential while it is valid.
        log.info(
            "public feedback refused",
            extra={"fields": {"reason": refused.code, "status": refused.status}},
        )
        return json_response(refused.status, {"error": refused.reason, "code": refused.code})

    def _open(self, token: str) -> visits.OpenLink:
        app = self.wired.app
        return visits.open_link(
            token, app.clock(), LinkRepository(), app.organisations, secret=app.link_secret
        )

    @public_http("GET", "/public/v1/feedback/kiosks/<org>/<centre>")  # type: ignore[misc]
    @public
    @limited("kiosk")
    def kiosk(self, request: Any, org: str, centre: str) -> Response:
        app = self.wired.app
        organisation = app.organisations.get(org)
        if organisation is None:
            return json_response(404, {"error": "unknown organisation", "code": "unknown"})
        try:
            with self.wired.units.begin(SystemActor(PUBLIC), Trace()) as uow:
                token, survey = visits.kiosk_link(
                    organisation,
                    centre,
                    uow,
                    LinkRepository(),
                    secret=app.link_secret,
                    validity=app.link_validity,
                )
        except visits.PublicRefused as refused:
            return self._refused(refused)
        return json_response(200, {"title": survey.title, "link": visits.PUBLIC_PATH + token})

    @public_http("GET", "/public/v1/feedback/<token>")  # type: ignore[misc]
    @public
    @limited("open")
    def survey_form(self, request: Any, token: str) -> Response:
        try:
            opened = self._open(token)
        except visits.PublicRefused as refused:
            return self._refused(refused)
        return json_response(
            200,
            {
                "title": opened.survey.title,
                "expires_at": opened.record.expires_at.isoformat(),
                "questions": _questions(opened),
                "comment": True,
            },
        )

    @public_http("POST", "/public/v1/feedback/<token>")  # type: ignore[misc]
    @public
    @limited("submit")
    def survey_submit(self, request: Any, token: str) -> Response:
        try:
            opened = self._open(token)
        except visits.PublicRefused as refused:
            return self._refused(refused)
        body = _body(request)
        if isinstance(body, Response):
            return body
        unknown = [
            FieldError(key[:64], "is not a field of this form")
            for key in body
            if key not in ("answers", "comment")
        ]
        if unknown:
            return field_errors(400, unknown)
        try:
            with self.wired.units.begin(SystemActor(PUBLIC), Trace()) as uow:
                recorded = visits.submit_by_link(
                    opened, body.get("answers"), body.get("comment", ""), uow, LinkRepository()
                )
        except InvalidArgument as exc:
            return field_errors(400, exc.errors)
        except visits.PublicRefused as refused:
            return self._refused(refused)
        return json_response(201, {"thanks": recorded.thanks})
