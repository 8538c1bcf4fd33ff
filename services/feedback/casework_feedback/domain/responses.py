"""Responses to surveys, refusals, and what a response asks of the work.

A response is named (it carries the client and the worker) or anonymous. An anonymous
response keeps nothing that leads back to the person: no client, no worker, no visit,
no link, and its time only to the day; it counts in reports by centre, department,
aspect and period, never by worker. Clients are more willing to answer when they know
that, so the anonymity is structural, not a flag a report might ignore.

A negative answer on a named response about the centre's own service is a signal to
review that client's plan; it is never a verdict on the worker.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime, time

from casework_common.errors import FieldError, InvalidArgument
from casework_feedback.domain.surveys import (
    Aspect,
    Audience,
    QuestionKind,
    SurveyDefinition,
    answer_errors,
)

NEGATIVE_SCORE = 0.25
"""A scored answer at or below this (smiley 1-2 of 5, the bottom quarter of a scale) is negative."""

THANKS = {
    "en": "Thank you. Your answer helps us improve our work.",
    "uk": "Дякуємо! Ваша відповідь допомагає нам працювати краще.",
}


class Channel(enum.StrEnum):
    """How the answers reached us."""

    KIOSK = "kiosk"
    LINK = "link"
    PHONE = "phone"
    PAPER = "paper"
    WITH_WORKER = "with_worker"
    """A worker typed the answers with the client, who was shown them."""
    INTERVIEW = "interview"


@dataclasses.dataclass(frozen=True)
class Response:
    response_id: str
    survey_id: str
    version: int
    centre_id: str
    department_id: str
    audience: Audience
    channel: Channel
    answers: Mapping[str, object]
    comment: str
    received_at: datetime
    pilot: bool
    client_id: str = ""
    worker_id: str = ""
    occasion_id: str = ""

    @property
    def anonymous(self) -> bool:
        return not self.client_id


@dataclasses.dataclass(frozen=True)
class ScoredAnswer:
    """One answer as reports see it."""

    question_id: str
    aspect: Aspect | None
    score: float


def new_response(
    survey: SurveyDefinition,
    *,
    response_id: str,
    department_id: str,
    channel: Channel,
    answers: Mapping[str, object],
    comment: str,
    received_at: datetime,
    anonymous: bool,
    client_id: str = "",
    worker_id: str = "",
    occasion_id: str = "",
    shown_to_client: bool = False,
) -> Response:
    errors = answer_errors(survey, answers)
    if not survey.takes_responses:
        errors.append(FieldError("survey_id", "this survey version does not take responses"))
    if len(comment) > 2000:
        errors.append(FieldError("comment", "at most 2000 characters"))
    if not anonymous and not client_id:
        errors.append(FieldError("client_id", "a named response names its client"))
    if not answers and not comment.strip():
        errors.append(FieldError("answers", "an empty response: record a refusal instead"))
    if channel is Channel.WITH_WORKER and not shown_to_client:
        errors.append(
            FieldError("shown_to_client", "answers a worker records must be shown to the client")
        )
    if errors:
        raise InvalidArgument(errors)
    if anonymous:
        # Nothing that links back: the day only, no people, no visit.
        received_at = datetime.combine(received_at.date(), time(), tzinfo=received_at.tzinfo)
        client_id = worker_id = occasion_id = ""
    return Response(
        response_id=response_id,
        survey_id=survey.survey_id,
        version=survey.version,
        centre_id=survey.centre_id,
        department_id=department_id,
        audience=survey.audience,
        channel=channel,
        answers=dict(answers),
        comment=comment,
        received_at=received_at,
        pilot=not survey.counts_in_reports,
        client_id=client_id,
        worker_id=worker_id,
        occasion_id=occasion_id,
    )


def scored_answers(survey: SurveyDefinition, response: Response) -> list[ScoredAnswer]:
    out = []
    for question in survey.questions:
        if question.question_id not in response.answers:
            continue
        score = question.score(response.answers[question.question_id])
        if score is not None:
            out.append(ScoredAnswer(question.question_id, question.aspect, score))
        elif (
            question.kind is QuestionKind.SINGLE_CHOICE
            and question.aspect is Aspect.PROBLEM_SOLVED
            and question.options
        ):
            # "Was the problem solved": the first option is the best, the last the worst.
            chosen = question.options.index(str(response.answers[question.question_id]))
            out.append(
                ScoredAnswer(
                    question.question_id,
                    question.aspect,
                    1 - chosen / max(len(question.options) - 1, 1),
                )
            )
    return out


def negative_aspects(survey: SurveyDefinition, response: Response) -> list[ScoredAnswer]:
    return [a for a in scored_answers(survey, response) if a.score <= NEGATIVE_SCORE]


def asks_for_plan_review(survey: SurveyDefinition, response: Response) -> bool:
    """A named response about the centre's own service with a negative answer. An
    anonymous one cannot: it leads to no client, and must not be made to."""
    return (
        not response.anonymous
        and not response.pilot
        and response.audience is not Audience.REFERRAL
        and bool(negative_aspects(survey, response))
    )


@dataclasses.dataclass(frozen=True)
class Refusal:
    """The client declined to answer; recorded so nobody asks again for this visit."""

    refusal_id: str
    centre_id: str
    occasion_id: str
    client_id: str
    recorded_by: str
    recorded_at: datetime
    later_call_welcome: bool
    """The client said a later call or a sent survey is fine."""


def thanks(language: str) -> str:
    return THANKS.get(language.lower().split("-")[0], THANKS["en"])


@dataclasses.dataclass(frozen=True)
class AspectFigures:
    """One response's scored answers on one aspect, stored with the response so that a
    report is a database aggregation ("" for answers without an aspect)."""

    aspect: str
    score_total: float
    answers: int
    negative: int


def figures_by_aspect(scored: list[ScoredAnswer]) -> list[AspectFigures]:
    acc: dict[str, list[float]] = {}
    for answer in scored:
        key = answer.aspect.value if answer.aspect else ""
        row = acc.setdefault(key, [0.0, 0.0, 0.0])
        row[0] += answer.score
        row[1] += 1
        row[2] += answer.score <= NEGATIVE_SCORE
    return [AspectFigures(k, v[0], int(v[1]), int(v[2])) for k, v in sorted(acc.items())]
