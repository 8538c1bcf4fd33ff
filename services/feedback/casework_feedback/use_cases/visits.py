"""Visits, the survey they get, responses (named or anonymous, from workers or public
links) and refusals."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta

from casework.feedback.v1 import events_pb2
from casework_common.envelope import EventEnvelope
from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument
from casework_common.organisation import Organisation
from casework_common.storage import Conflict
from casework_common.unit_of_work import UnitOfWork
from casework_feedback.adapters.audit import audit
from casework_feedback.adapters.repository import (
    LinkRecord,
    LinkRepository,
    RefusalDocument,
    SurveyRepository,
    VisitRepository,
    client_refused_surveys,
    insert_once,
)
from casework_feedback.adapters.response_repository import ResponseRepository
from casework_feedback.domain import links, responses, surveys, visits
from casework_feedback.domain.responses import Channel, Response
from casework_feedback.domain.surveys import Audience, Occasion, SurveyDefinition
from casework_feedback.domain.visits import Visit
from casework_feedback.use_cases._common import (
    choice,
    event,
    instant,
    require_centre,
)
from casework_feedback.use_cases.plan_review import plan_review_requested

PUBLIC_PATH = "/public/v1/feedback/"
WORKER_CHANNELS = (
    Channel.PHONE,
    Channel.PAPER,
    Channel.WITH_WORKER,
    Channel.INTERVIEW,
    Channel.KIOSK,
    Channel.LINK,
)


@dataclasses.dataclass(frozen=True)
class RecordVisit:
    centre_id: str
    kind: str
    department_id: str
    client_id: str
    worker_id: str


@dataclasses.dataclass(frozen=True)
class VisitRecorded:
    visit: Visit
    survey: SurveyDefinition | None
    link_path: str
    link_expires_at: datetime | None


def issue_mini_link(
    organisation: str,
    centre_id: str,
    survey: SurveyDefinition,
    uow: UnitOfWork,
    links_repository: LinkRepository,
    *,
    secret: bytes,
    validity: timedelta,
    visit_id: str = "",
    department_id: str = "",
    channel: Channel = Channel.LINK,
) -> tuple[str, datetime]:
    expires_at = uow.now + validity
    link_id, token = links.issue_link(
        secret,
        survey_id=survey.survey_id,
        version=survey.version,
        issued_at=uow.now,
        expires_at=expires_at,
    )
    links_repository.add(
        LinkRecord(
            link_id=link_id,
            organisation=organisation,
            centre_id=centre_id,
            department_id=department_id,
            survey_id=survey.survey_id,
            version=survey.version,
            visit_id=visit_id,
            channel=channel.value,
            expires_at=expires_at,
            used=False,
        )
    )
    return token, expires_at


def record_visit(
    command: RecordVisit,
    uow: UnitOfWork,
    visits_repository: VisitRepository,
    surveys_repository: SurveyRepository,
    links_repository: LinkRepository,
    *,
    secret: bytes,
    validity: timedelta,
    sample_after: timedelta,
    later_after: timedelta = visits.DEFAULT_LATER_AFTER,
) -> VisitRecorded:
    require_centre(uow, command.centre_id)
    errors = visits.visit_errors(command.kind, command.department_id)
    if errors:
        raise InvalidArgument(errors)
    kind = Audience(command.kind)
    visit = visits.new_visit(
        visit_id=uow.new_id(),
        centre_id=command.centre_id,
        kind=kind,
        department_id=command.department_id,
        client_id=command.client_id,
        worker_id=command.worker_id or uow.principal.subject,
        visited_at=uow.now,
        sample_after=sample_after,
        later_after=later_after,
    )
    visits_repository.add(visit)
    survey = surveys.choose_survey(
        Occasion(command.centre_id, kind, visit.department_id),
        surveys_repository.taking_responses(command.centre_id, kind),
    )
    mini = surveys.choose_survey(
        Occasion(command.centre_id, Audience.MINI),
        surveys_repository.taking_responses(command.centre_id, Audience.MINI),
    )
    path, expires = "", None
    if mini is not None:
        token, expires = issue_mini_link(
            uow.organisation,
            command.centre_id,
            mini,
            uow,
            links_repository,
            secret=secret,
            validity=validity,
            visit_id=visit.visit_id,
            department_id=visit.department_id,
        )
        path = PUBLIC_PATH + token
    return VisitRecorded(visit, survey, path, expires)


@dataclasses.dataclass(frozen=True)
class SubmitResponse:
    survey_id: str
    version: int
    visit_id: str
    anonymous: bool
    client_id: str
    channel: str
    answers: Mapping[str, object]
    comment: str
    shown_to_client: bool
    department_id: str = ""


@dataclasses.dataclass(frozen=True)
class ResponseRecorded:
    response: Response
    thanks: str
    plan_review_requested: bool


def _plan_review(
    survey: SurveyDefinition, response: Response, organisation: str, uow: UnitOfWork
) -> list:  # type: ignore[type-arg]
    if not responses.asks_for_plan_review(survey, response):
        return []
    aspects = {a.aspect.value for a in responses.negative_aspects(survey, response) if a.aspect}
    return [
        plan_review_requested(
            organisation,
            uow,
            client_id=response.client_id,
            centre_id=response.centre_id,
            source="response",
            source_id=response.response_id,
            aspects=sorted(aspects),
            worker_id=response.worker_id,
        )
    ]


def _store(
    survey: SurveyDefinition,
    response: Response,
    organisation: str,
    uow: UnitOfWork,
    responses_repository: ResponseRepository,
) -> bool:
    review = _plan_review(survey, response, organisation, uow)
    figures = responses.figures_by_aspect(responses.scored_answers(survey, response))
    responses_repository.add(response, figures, review)
    return bool(review)


def _mark_answered(visits_repository: VisitRepository, visit: Visit) -> None:
    def answered(current: Visit) -> tuple[Visit, list[EventEnvelope]]:
        return dataclasses.replace(current, answered=True, sample_at=None), []

    # The response is stored already: a visit that stays busy keeps it unmarked.
    with contextlib.suppress(Conflict):
        visits_repository.update(visit.visit_id, answered)


def submit_response(
    command: SubmitResponse,
    uow: UnitOfWork,
    surveys_repository: SurveyRepository,
    visits_repository: VisitRepository,
    responses_repository: ResponseRepository,
) -> ResponseRecorded:
    errors: list[FieldError] = []
    channel = choice(Channel, command.channel, "channel", errors, WORKER_CHANNELS)
    if command.version < 1:
        errors.append(FieldError("version", "must be 1 or more"))
    if errors or channel is None:
        raise InvalidArgument(errors)
    survey = surveys_repository.get(command.survey_id, command.version)
    visit = visits_repository.get(command.visit_id) if command.visit_id else None
    if visit is not None and visit.centre_id != survey.centre_id:
        raise InvalidArgument([FieldError("visit_id", "the visit was at another centre")])
    client_id = command.client_id or (visit.client_id if visit else "")
    response = responses.new_response(
        survey,
        response_id=uow.new_id(),
        department_id=command.department_id
        or (visit.department_id if visit else survey.department_id),
        channel=channel,
        answers=command.answers,
        comment=command.comment,
        received_at=uow.now,
        anonymous=command.anonymous,
        client_id=client_id,
        worker_id=(visit.worker_id if visit else uow.principal.subject),
        occasion_id=command.visit_id,
        shown_to_client=command.shown_to_client,
    )
    review = _store(survey, response, uow.organisation, uow, responses_repository)
    audit(
        uow,
        uow.organisation,
        response.client_id,
        "response.recorded",
        response.response_id,
        centre_id=response.centre_id,
    )
    if visit is not None:
        _mark_answered(visits_repository, visit)
    return ResponseRecorded(response, responses.thanks(survey.language), review)


def record_refusal(
    visit_id: str, later_call_welcome: bool, uow: UnitOfWork, visits_repository: VisitRepository
) -> str:
    visit = visits_repository.get(visit_id)
    if visit.answered:
        raise FailedPrecondition("a survey was already filled in for this visit", field="visit_id")
    refusal_id = uow.new_id()
    insert_once(
        RefusalDocument(
            id=refusal_id,
            organisation=uow.organisation,
            centre_id=visit.centre_id,
            visit_id=visit.visit_id,
            client_id=visit.client_id,
            recorded_by=uow.actor.subject,
            recorded_at=uow.now,
            later_call_welcome=later_call_welcome,
        )
    )
    visits_repository.change(
        dataclasses.replace(
            visit,
            refused=True,
            later_call_welcome=later_call_welcome,
            sample_at=None,
            later_at=visit.later_at if later_call_welcome else None,
        )
    )
    return refusal_id


def issue_later_surveys(
    uow: UnitOfWork,
    organisation: str,
    visits_repository: VisitRepository,
    surveys_repository: SurveyRepository,
    links_repository: LinkRepository,
    *,
    secret: bytes,
    validity: timedelta,
) -> int:
    """Look once at each visit whose later survey is due: issue a single-use link and
    publish feedback.survey.later_issued.v1, or let it go (the client refused, or the
    centre has no later survey). The visit's change is the claim: of two events
    processes, the one that loses the write issues nothing. Answers how many visits
    were looked at."""
    due = visits_repository.due_for_later_survey(uow.now)
    for visit in due:
        if visit.later_at is None or visit.later_at > uow.now:
            continue  # the store's clock rounds; not yet, the next tick looks again
        refused = client_refused_surveys(organisation, visit.client_id)
        survey = None
        if visits.later_survey_due(visit, uow.now, client_refused=refused):
            survey = surveys.choose_survey(
                Occasion(visit.centre_id, Audience.LATER, visit.department_id),
                surveys_repository.taking_responses(visit.centre_id, Audience.LATER),
            )
        issued = []
        if survey is not None:
            # A link nobody is told about (its claim lost) is never opened.
            token, expires = issue_mini_link(
                organisation,
                visit.centre_id,
                survey,
                uow,
                links_repository,
                secret=secret,
                validity=validity,
                visit_id=visit.visit_id,
                department_id=visit.department_id,
            )
            issued.append(
                event(
                    events_pb2.LaterSurveyIssued,
                    organisation,
                    uow,
                    {
                        "visit_id": visit.visit_id,
                        "centre_id": visit.centre_id,
                        "client_id": visit.client_id,
                        "survey_id": survey.survey_id,
                        "version": survey.version,
                        "link": PUBLIC_PATH + token,
                        "expires_at": instant(expires),
                        "issued_at": instant(uow.now),
                    },
                )
            )
        # Of two events processes, only one wins the claim; a visit changed meanwhile
        # is looked at again at the next tick.
        visits_repository.claim_later_survey(visit.visit_id, issued)
    return len(due)


# ----------------------------------------------------------- public links


class PublicRefused(Exception):
    """Why a public link or kiosk request is not served; status is the HTTP answer."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class OpenLink:
    record: LinkRecord
    survey: SurveyDefinition


def open_link(
    token: str,
    now: datetime,
    links_repository: LinkRepository,
    organisations: Mapping[str, Organisation],
    *,
    secret: bytes,
) -> OpenLink:
    def used(link_id: str) -> bool:
        record = links_repository.get(link_id)
        return record is not None and record.used

    try:
        grant = links.verify_link(secret, token, now, used)
    except links.LinkAlreadyUsed:
        raise PublicRefused(409, "already_used", "this link was already used; thank you") from None
    except links.LinkExpired:
        raise PublicRefused(410, "expired", "this link has expired") from None
    except links.LinkRefused:
        raise PublicRefused(404, "unknown", "no such survey link") from None
    record = links_repository.get(grant.link_id)
    if record is None or record.organisation not in organisations:
        raise PublicRefused(404, "unknown", "no such survey link")
    survey = SurveyRepository(record.organisation, None).get(record.survey_id, record.version)
    if not survey.takes_responses:
        raise PublicRefused(410, "retired", "this survey is closed")
    return OpenLink(record, survey)


def submit_by_link(
    opened: OpenLink,
    answers: object,
    comment: object,
    uow: UnitOfWork,
    links_repository: LinkRepository,
) -> ResponseRecorded:
    """An anonymous response through a public link, accepted once."""
    errors = []
    if not isinstance(answers, Mapping):
        errors.append(FieldError("answers", "must be an object of question ids and answers"))
    if not isinstance(comment, str):
        errors.append(FieldError("comment", "must be text"))
    if errors:
        raise InvalidArgument(errors)
    record = opened.record
    response = responses.new_response(
        opened.survey,
        response_id=uow.new_id(),
        department_id=record.department_id,
        channel=Channel(record.channel),
        answers=dict(answers),  # type: ignore[call-overload]
        comment=str(comment),
        received_at=uow.now,
        anonymous=True,
    )
    if not links_repository.claim(record.link_id, uow.now):
        raise PublicRefused(409, "already_used", "this link was already used; thank you")
    try:
        _store(
            opened.survey,
            response,
            record.organisation,
            uow,
            ResponseRepository(record.organisation, None, uow),
        )
    except Exception:
        links_repository.release(record.link_id)
        raise
    if record.visit_id:
        visits_repository = VisitRepository(record.organisation, None, uow)
        _mark_answered(visits_repository, visits_repository.get(record.visit_id))
    return ResponseRecorded(response, responses.thanks(opened.survey.language), False)


def kiosk_link(
    organisation: Organisation,
    centre_id: str,
    uow: UnitOfWork,
    links_repository: LinkRepository,
    *,
    secret: bytes,
    validity: timedelta,
) -> tuple[str, SurveyDefinition]:
    """A fresh single-use link for the next person at a centre's kiosk."""
    if centre_id not in organisation.centres:
        raise PublicRefused(404, "unknown", "no such centre")
    mini = surveys.choose_survey(
        Occasion(centre_id, Audience.MINI),
        SurveyRepository(organisation.id, None).taking_responses(centre_id, Audience.MINI),
    )
    if mini is None:
        raise PublicRefused(404, "no_survey", "this centre has no mini-survey")
    token, _ = issue_mini_link(
        organisation.id,
        centre_id,
        mini,
        uow,
        links_repository,
        secret=secret,
        validity=validity,
        channel=Channel.KIOSK,
    )
    return token, mini
