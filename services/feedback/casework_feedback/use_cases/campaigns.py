"""Quality-review campaigns of a provider's clients."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from casework_common.errors import FieldError, InvalidArgument
from casework_common.unit_of_work import UnitOfWork
from casework_feedback.adapters.campaign_repository import CampaignRepository
from casework_feedback.adapters.repository import SurveyRepository
from casework_feedback.domain import campaigns
from casework_feedback.domain.campaigns import Campaign, ClientToReview, Decision
from casework_feedback.use_cases._common import choice, require_centre


@dataclasses.dataclass(frozen=True)
class StartCampaign:
    centre_id: str
    provider_id: str
    survey_id: str
    version: int
    clients: Sequence[ClientToReview]
    reviewers_by_area: Mapping[str, Sequence[str]]


def start(
    command: StartCampaign,
    uow: UnitOfWork,
    surveys: SurveyRepository,
    repository: CampaignRepository,
) -> Campaign:
    require_centre(uow, command.centre_id)
    errors = []
    if not command.provider_id:
        errors.append(FieldError("provider_id", "is required"))
    if command.version < 1:
        errors.append(FieldError("version", "must be 1 or more"))
    if errors:
        raise InvalidArgument(errors)
    template = surveys.get(command.survey_id, command.version)
    campaign = campaigns.start(
        campaign_id=uow.new_id(),
        centre_id=command.centre_id,
        provider_id=command.provider_id,
        template=template,
        clients=command.clients,
        reviewers_by_area=command.reviewers_by_area,
    )
    repository.add(campaign)
    return campaign


def record_answers(
    campaign_id: str,
    client_id: str,
    answers: Mapping[str, object] | None,
    uow: UnitOfWork,
    repository: CampaignRepository,
    collected_by: str = "",
) -> Campaign:
    errors: list[FieldError] = []
    way = choice(campaigns.CollectedBy, collected_by, "collected_by", errors)
    if errors or way is None:
        raise InvalidArgument(errors)
    changed = campaigns.record(
        repository.get(campaign_id),
        client_id=client_id,
        reviewer_id=uow.principal.subject,
        answers=answers,
        at=uow.now,
        collected_by=way,
    )
    repository.overwrite(changed)
    return changed


def decide(
    campaign_id: str, decision: str, note: str, uow: UnitOfWork, repository: CampaignRepository
) -> Campaign:
    errors: list[FieldError] = []
    chosen = choice(Decision, decision, "decision", errors)
    if errors or chosen is None:
        raise InvalidArgument(errors)
    decided = campaigns.decide(repository.get(campaign_id), chosen, note)
    repository.overwrite(decided)
    return decided
