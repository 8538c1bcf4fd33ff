"""Intake's reads: what a caller asks to see, limited to what they may see (their
organisation, their centres; a centre they name must be one of theirs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from casework_common.errors import FieldError, InvalidArgument
from casework_common.unit_of_work import UnitOfWork
from casework_intake.adapters.forms import FormAnswersDocument, FormsRepository
from casework_intake.adapters.outreach import OutreachRepository
from casework_intake.adapters.projects import ProjectRepository
from casework_intake.adapters.referrals import ReferralRepository
from casework_intake.adapters.routing_rules import RoutingRulesRepository
from casework_intake.domain.outreach import Outreach, OutreachStatus
from casework_intake.domain.projects import Project
from casework_intake.domain.referrals import Referral
from casework_intake.domain.routing_rules import RuleSet
from casework_intake.use_cases._common import required

T = TypeVar("T")


class CentrePages(Protocol[T]):
    def page(self, *, centre_id: str, offset: int, limit: int) -> list[T]: ...


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def _centre(uow: UnitOfWork, centre_id: str) -> None:
    if centre_id:
        uow.principal.require_centre(centre_id)


def get_referral(referral_id: str, repository: ReferralRepository) -> Referral:
    return repository.get(referral_id)


def list_in_centre(
    centre_id: str, page: Page, uow: UnitOfWork, repository: CentrePages[T]
) -> list[T]:
    """A page of the consultations or projects of the caller's centres, or of the one
    centre named."""
    _centre(uow, centre_id)
    return repository.page(centre_id=centre_id, offset=page.offset, limit=page.limit)


def list_routing_rule_sets(
    page: Page, repository: RoutingRulesRepository
) -> tuple[list[RuleSet], RuleSet | None]:
    """A page of saved versions, newest first, and the published one."""
    return repository.page(offset=page.offset, limit=page.limit), repository.published()


def list_form_answers(
    referral_id: str,
    referrals: ReferralRepository,
    repository: FormsRepository,
) -> list[FormAnswersDocument]:
    referrals.get(referral_id)  # NotFound outside the caller's centres
    return repository.answers_of(referral_id)


def list_outreach(
    centre_id: str,
    worker_id: str,
    status: OutreachStatus | None,
    page: Page,
    uow: UnitOfWork,
    repository: OutreachRepository,
    *,
    status_unknown: bool = False,
) -> list[Outreach]:
    if status_unknown:
        raise InvalidArgument([FieldError("status", "is not a known status")])
    _centre(uow, centre_id)
    return repository.page(
        centre_id=centre_id,
        worker_id=worker_id,
        status=status.value if status else "",
        offset=page.offset,
        limit=page.limit,
    )


def get_project(project_id: str, repository: ProjectRepository) -> Project:
    required("project_id", project_id)
    return repository.get(project_id)
