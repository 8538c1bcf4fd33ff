"""nameko entry point of intake: publishes intake's outbox, escalates referrals nobody
took on in time, reminds workers of their outreach and asks for its outcome, tells
assignees of overdue project tasks, and serves the public HTTP endpoints.

Why the public endpoints live here: the events process already runs nameko's HTTP
server (eventlet wsgi, one green thread per request), so the web form and the
self-fill pages need no new process or thread pool; the api process stays pure grpcio
(no eventlet, no HTTP server of its own beside the optional metrics port). They are
served on a port of their own, PUBLIC_HTTP_PORT, and nothing else is: /healthz and
/metrics stay on HEALTH_PORT, so the ingress can expose the public port whole and a
mistake in its path rules can never publish the metrics.

    GET  /public/v1/organisations/<org>/web-form       what the form may send
    POST /public/v1/organisations/<org>/referrals      submit (JSON or form-encoded)
    GET  /public/v1/self-fill/<token>                  the questions a link grants
    POST /public/v1/self-fill/<token>                  {"answers": {...}}, once
"""

from __future__ import annotations

import functools
import io
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from nameko.timer import timer
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from casework_common import safe_json
from casework_common.auth import Principal
from casework_common.config import seconds
from casework_common.errors import FieldError, InvalidArgument
from casework_common.events_runtime import EventsService
from casework_common.public_http import (
    caller_address,
    field_errors,
    json_object,
    json_response,
    limited,
    public,
    public_http_entrypoint,
    read_whole,
    too_large,
    too_many,
)
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork
from casework_common.wiring import Wired, Wiring
from casework_intake import services
from casework_intake.adapters import repository as repo
from casework_intake.adapters.repository import (
    ConsultationDocument,
    FormsRepository,
    OutreachDocument,
    OutreachRepository,
    ProjectDocument,
    ProjectRepository,
    ReferralDocument,
    ReferralRepository,
    RoutingRuleSetDocument,
)
from casework_intake.bootstrap import Intake, bootstrap, public_http_port
from casework_intake.domain import web_form

log = logging.getLogger(__name__)


# How often the timers look for overdue referrals (tests shorten it).
FIRST_RESPONSE_CHECK_INTERVAL = seconds("INTAKE_FIRST_RESPONSE_CHECK_INTERVAL", 30.0)
# How often the timers look for outreach reminders / outcomes and overdue tasks.
OUTREACH_CHECK_INTERVAL = seconds("INTAKE_OUTREACH_CHECK_INTERVAL", 60.0)
TASK_CHECK_INTERVAL = seconds("INTAKE_TASK_CHECK_INTERVAL", 60.0)
MAX_BODY_BYTES = 64 * 1024
WEB_FORM_SUBJECT = "public-web-form"
SELF_FILL = "intake-self-fill"


@functools.cache
def _app() -> Intake:
    # Read once per process: by the public server's start (so a bad setting stops the
    # process) and by the service's Wiring.
    return bootstrap()


# nameko's `http` again on PUBLIC_HTTP_PORT; intake's own settings (trusted proxies,
# self-fill secret) stop the process as the server starts.
public_http = public_http_entrypoint(lambda: public_http_port(os.environ), _app)


def _body(request: Any) -> dict[str, Any] | Response:
    """The posted fields, from JSON or a form, read whole up to MAX_BODY_BYTES; what
    cannot be read answers the caller's mistake (400, 413), never a 500."""
    raw = read_whole(request, MAX_BODY_BYTES)
    if raw is None:
        return too_large(MAX_BODY_BYTES)
    if request.mimetype == "application/json":
        return json_object(raw)
    try:
        # The form parsers of werkzeug, over the bytes already read.
        buffered = Request(
            {
                **request.environ,
                "wsgi.input": io.BytesIO(raw),
                "CONTENT_LENGTH": str(len(raw)),
                "HTTP_TRANSFER_ENCODING": "",
            }
        )
        fields = {key: buffered.form.get(key) for key in buffered.form}
        safe_json.check_value(fields, field="")
    except InvalidArgument as exc:
        return field_errors(400, exc.errors)
    except (HTTPException, ValueError):
        return field_errors(400, [FieldError("body", "could not be read")])
    return fields


Due = TypeVar("Due")


def _batches(find: Callable[[], list[Due]], handle: Callable[[list[Due]], int]) -> None:
    """A timer's round: handle what is due a batch at a time, until nothing is due or a
    batch changes nothing (another replica took it meanwhile)."""
    while True:
        due = find()
        if not due or not handle(due):
            return


class IntakeEvents(EventsService):
    name = "intake"
    casework_service = "intake"
    wired: Wired[Intake] = Wiring(_app)  # type: ignore[assignment]
    outbox_documents = (
        ReferralDocument,
        ConsultationDocument,
        RoutingRuleSetDocument,
        OutreachDocument,
        ProjectDocument,
    )

    # ------------------------------------------------------------------ timers

    @timer(interval=FIRST_RESPONSE_CHECK_INTERVAL)  # type: ignore[misc]
    def escalate_overdue_referrals(self) -> None:
        organisations = self.wired.app.organisations
        with self._timer_unit() as uow:
            _batches(
                lambda: repo.overdue_referrals(uow.now),
                lambda due: services.escalate_overdue(
                    uow, organisations, lambda org: ReferralRepository(org, None, uow), due
                ),
            )
        repo.forget_windows_before(web_form.window_of(uow.now) - 1)

    @timer(interval=OUTREACH_CHECK_INTERVAL)  # type: ignore[misc]
    def follow_up_outreach(self) -> None:
        """Reminders before planned outreach, then requests for its outcome; each once."""
        with self._timer_unit() as uow:

            def repository_of(org: str) -> OutreachRepository:
                return OutreachRepository(org, None, uow)

            _batches(
                lambda: repo.outreach_needing_reminder(uow.now),
                lambda due: services.remind_outreach(uow, due, repository_of),
            )
            _batches(
                lambda: repo.outreach_needing_outcome(uow.now),
                lambda due: services.request_outreach_outcomes(uow, due, repository_of),
            )

    @timer(interval=TASK_CHECK_INTERVAL)  # type: ignore[misc]
    def flag_overdue_tasks(self) -> None:
        """Tell the assignee of each open task past its due time, once per due time."""
        with self._timer_unit() as uow:
            _batches(
                lambda: repo.projects_with_overdue_tasks(uow.now),
                lambda due: services.flag_overdue_tasks(
                    uow, due, lambda org: ProjectRepository(org, None, uow)
                ),
            )

    def _timer_unit(self) -> UnitOfWork:
        return self.wired.units.begin(SystemActor("intake"), Trace())

    # -------------------------------------------------------- public web form

    def rate_refusal(self, request: Any, endpoint: str) -> Response | None:
        app = self.wired.app
        now = app.clock()
        address = caller_address(request, app.web_form_ip_header, app.trusted_proxies)
        count = repo.count_submission(address, web_form.window_of(now))
        decision = web_form.decide(count, app.web_form_per_minute, now)
        if decision.allowed:
            return None
        # The peer is the connecting address (the proxy, behind one); the client's
        # address is personal data and is not written down.
        log.warning(
            "public submission refused",
            extra={
                "fields": {
                    "reason": "rate_limited",
                    "status": 429,
                    "endpoint": endpoint,
                    "peer": str(request.remote_addr or ""),
                }
            },
        )
        return too_many(decision, "too many submissions from this address; try again in a minute")

    @public_http("GET", "/public/v1/organisations/<org>/web-form")  # type: ignore[misc]
    @public
    def web_form_fields(self, request: Any, org: str) -> Response:
        organisation = self.wired.app.organisations.get(org)
        if organisation is None:
            return json_response(404, {"error": "unknown organisation"})
        return json_response(
            200,
            {
                "fields": [*web_form.FIELDS],
                "honeypot": web_form.HONEYPOT,
                "centres": [{"id": c.id, "name": c.name} for c in organisation.centres.values()],
                "client_types": list(organisation.client_types),
                "problem_types": list(organisation.problem_types),
            },
        )

    @public_http("POST", "/public/v1/organisations/<org>/referrals")  # type: ignore[misc]
    @public
    @limited("web_form")
    def submit_web_form(self, request: Any, org: str) -> Response:
        app = self.wired.app
        organisation = app.organisations.get(org)
        if organisation is None:
            return json_response(404, {"error": "unknown organisation"})
        body = _body(request)
        if isinstance(body, Response):
            return body
        try:
            command, errors = web_form.read_form(body)
        except web_form.HoneypotFilled:
            return field_errors(
                400,
                [FieldError(web_form.HONEYPOT, "must be left empty; please send the form again")],
            )
        if command is None:
            return field_errors(400, errors)
        principal = Principal(
            organisation=organisation.id,
            subject=WEB_FORM_SUBJECT,
            kind="service",
            centres=frozenset(organisation.centres),
            roles=frozenset(),
            scopes=frozenset(),
        )
        try:
            with self.wired.units.begin(principal, Trace()) as uow:
                referral, _ = services.submit_referral(
                    command,
                    uow,
                    organisation,
                    ReferralRepository(organisation.id, None, uow),
                    first_response_hours=app.first_response_hours_of(organisation.id),
                )
        except InvalidArgument as exc:
            return field_errors(400, web_form.form_errors(exc.errors))
        log.info("web form referral", extra={"fields": {"referral_id": referral.referral_id}})
        return json_response(201, {"reference_number": referral.reference_number})

    # --------------------------------------------------------------- self-fill

    def _open(self, token: str) -> tuple[str, services.SelfFillForm]:
        app = self.wired.app
        with self.wired.units.begin(SystemActor(SELF_FILL), Trace()) as uow:
            return services.open_self_fill(
                token,
                uow,
                app.organisations,
                lambda org: FormsRepository(org, None, uow),
                repo.organisation_of_referral,
                secret=app.self_fill_secret,
            )

    def _refused(self, request: Any, refused: services.SelfFillRefused) -> Response:
        # Never the token: it is the person's credential while it is valid.
        log.warning(
            "self-fill link refused",
            extra={
                "fields": {
                    "reason": refused.code,
                    "status": refused.status,
                    "method": request.method,
                    "peer": str(request.remote_addr or ""),
                }
            },
        )
        return json_response(refused.status, {"error": refused.reason})

    @public_http("GET", "/public/v1/self-fill/<token>")  # type: ignore[misc]
    @public
    def self_fill_form(self, request: Any, token: str) -> Response:
        try:
            _, form = self._open(token)
        except services.SelfFillRefused as refused:
            return self._refused(request, refused)
        return json_response(
            200,
            {
                "title": form.definition.title,
                "expires_at": form.grant.expires_at.isoformat(),
                "questions": services.self_fill_questions(form),
            },
        )

    @public_http("POST", "/public/v1/self-fill/<token>")  # type: ignore[misc]
    @public
    @limited("self_fill")
    def self_fill_submit(self, request: Any, token: str) -> Response:
        try:
            organisation, form = self._open(token)
        except services.SelfFillRefused as refused:
            return self._refused(request, refused)
        body = _body(request)
        if isinstance(body, Response):
            return body
        unknown = [
            FieldError(key[:64], "is not a field of this form") for key in body if key != "answers"
        ]
        if unknown:
            return field_errors(400, unknown)
        try:
            with self.wired.units.begin(SystemActor(SELF_FILL), Trace()) as uow:
                services.submit_self_fill(
                    organisation,
                    form,
                    body.get("answers"),
                    uow,
                    FormsRepository(organisation, None, uow),
                )
        except InvalidArgument as exc:
            return field_errors(400, exc.errors)
        except services.SelfFillRefused as refused:
            return self._refused(request, refused)
        return json_response(201, {"received": True})
