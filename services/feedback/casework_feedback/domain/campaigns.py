"""Quality-review campaigns: every client of one provider asked the same questions.

When there is a concern about a provider, all its clients are reviewed: split among
reviewers by area (each reviewer covers their areas, a shared area is dealt out in
turn), asked one template of questions by phone or visit, the answers gathered and
compared question by question, and a decision recorded. Progress shows while it runs.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument
from casework_feedback.domain.surveys import SurveyDefinition, answer_errors


class CampaignStatus(enum.StrEnum):
    RUNNING = "running"
    DECIDED = "decided"


class CollectedBy(enum.StrEnum):
    """How a reviewer collected a client's answers."""

    PHONE = "phone"
    VISIT = "visit"


class Decision(enum.StrEnum):
    CONTINUE = "continue"
    IMPROVEMENT_PLAN = "improvement_plan"
    STOP_REFERRING = "stop_referring"


@dataclasses.dataclass(frozen=True)
class ClientToReview:
    client_id: str
    area: str


@dataclasses.dataclass(frozen=True)
class Assignment:
    client_id: str
    area: str
    reviewer_id: str
    answers: Mapping[str, object] | None = None
    answered_at: datetime | None = None
    unreachable: bool = False
    collected_by: CollectedBy | None = None

    @property
    def done(self) -> bool:
        return self.answers is not None or self.unreachable


@dataclasses.dataclass(frozen=True)
class Campaign:
    campaign_id: str
    centre_id: str
    provider_id: str
    template: SurveyDefinition
    assignments: tuple[Assignment, ...]
    status: CampaignStatus = CampaignStatus.RUNNING
    decision: Decision | None = None
    decision_note: str = ""

    def progress(self) -> tuple[int, int]:
        """(done, total)."""
        return sum(a.done for a in self.assignments), len(self.assignments)

    def collected(self) -> dict[str, int]:
        """Done reviews by how they were collected (a way with none is left out)."""
        counts: dict[str, int] = defaultdict(int)
        for a in self.assignments:
            if a.done and a.collected_by is not None:
                counts[a.collected_by.value] += 1
        return dict(sorted(counts.items()))


def split_by_area(
    clients: Sequence[ClientToReview], reviewers_by_area: Mapping[str, Sequence[str]]
) -> tuple[list[Assignment], list[FieldError]]:
    """Assignments, and an error for each area that has clients but no reviewer."""
    turn: dict[str, int] = defaultdict(int)
    out: list[Assignment] = []
    errors: list[FieldError] = []
    for client in sorted(clients, key=lambda c: (c.area, c.client_id)):
        reviewers = sorted(set(reviewers_by_area.get(client.area, ())))
        if not reviewers:
            if not any(e.field == f"reviewers.{client.area}" for e in errors):
                errors.append(
                    FieldError(f"reviewers.{client.area}", "clients here have no reviewer")
                )
            continue
        out.append(
            Assignment(client.client_id, client.area, reviewers[turn[client.area] % len(reviewers)])
        )
        turn[client.area] += 1
    return out, errors


def start(
    *,
    campaign_id: str,
    centre_id: str,
    provider_id: str,
    template: SurveyDefinition,
    clients: Sequence[ClientToReview],
    reviewers_by_area: Mapping[str, Sequence[str]],
) -> Campaign:
    assignments, errors = split_by_area(clients, reviewers_by_area)
    if not clients:
        errors.append(FieldError("clients", "a campaign reviews at least one client"))
    if len({c.client_id for c in clients}) != len(clients):
        errors.append(FieldError("clients", "a client is listed twice"))
    if errors:
        raise InvalidArgument(errors)
    return Campaign(campaign_id, centre_id, provider_id, template, tuple(assignments))


def record(
    campaign: Campaign,
    *,
    client_id: str,
    reviewer_id: str,
    answers: Mapping[str, object] | None,
    at: datetime,
    collected_by: CollectedBy,
) -> Campaign:
    """The reviewer's answers for a client, or None when the client could not be reached."""
    if campaign.status is not CampaignStatus.RUNNING:
        raise FailedPrecondition("the campaign is decided", field="campaign_id")
    index = next((i for i, a in enumerate(campaign.assignments) if a.client_id == client_id), None)
    if index is None:
        raise InvalidArgument([FieldError("client_id", "this client is not in the campaign")])
    assignment = campaign.assignments[index]
    if assignment.reviewer_id != reviewer_id:
        raise FailedPrecondition("this client is assigned to another reviewer", field="client_id")
    if answers is not None:
        errors = answer_errors(campaign.template, answers)
        if errors:
            raise InvalidArgument(errors)
    updated = dataclasses.replace(
        assignment,
        answers=None if answers is None else dict(answers),
        answered_at=at,
        unreachable=answers is None,
        collected_by=collected_by,
    )
    rest = list(campaign.assignments)
    rest[index] = updated
    return dataclasses.replace(campaign, assignments=tuple(rest))


@dataclasses.dataclass(frozen=True)
class QuestionSummary:
    question_id: str
    answered: int
    mean_score: float | None
    """0..1 for scored questions; None for choice and text."""
    counts: Mapping[str, int]
    """How often each option was chosen, for choice questions."""
    by_area: Mapping[str, float]
    """Mean score per area, to compare; only areas with answers."""
    by_collected_by: Mapping[str, float] = dataclasses.field(default_factory=dict)
    """Mean score per way of collecting (phone, visit); only ways with answers."""


def compare(campaign: Campaign) -> list[QuestionSummary]:
    out = []
    for q in campaign.template.questions:
        scores: list[float] = []
        per_area: dict[str, list[float]] = defaultdict(list)
        per_way: dict[str, list[float]] = defaultdict(list)
        counts: dict[str, int] = defaultdict(int)
        answered = 0
        for a in campaign.assignments:
            if a.answers is None or q.question_id not in a.answers:
                continue
            answered += 1
            value = a.answers[q.question_id]
            score = q.score(value)
            if score is not None:
                scores.append(score)
                per_area[a.area].append(score)
                if a.collected_by is not None:
                    per_way[a.collected_by.value].append(score)
            elif isinstance(value, str) and value in q.options:
                counts[value] += 1
            elif isinstance(value, (list, tuple)):
                for v in value:
                    counts[str(v)] += 1
        out.append(
            QuestionSummary(
                q.question_id,
                answered,
                round(sum(scores) / len(scores), 4) if scores else None,
                dict(counts),
                {area: round(sum(v) / len(v), 4) for area, v in sorted(per_area.items())},
                {way: round(sum(v) / len(v), 4) for way, v in sorted(per_way.items())},
            )
        )
    return out


def decide(campaign: Campaign, decision: Decision, note: str) -> Campaign:
    if campaign.status is CampaignStatus.DECIDED:
        raise FailedPrecondition("the campaign is already decided", field="campaign_id")
    if not note.strip():
        raise InvalidArgument([FieldError("note", "say what the decision rests on")])
    return dataclasses.replace(
        campaign, status=CampaignStatus.DECIDED, decision=decision, decision_note=note
    )
