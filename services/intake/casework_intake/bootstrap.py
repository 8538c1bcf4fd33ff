"""Wires intake's adapters for both processes: settings, organisations, repositories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from casework_common import organisation as organisations
from casework_common.auth import Principal
from casework_common.config import Settings, load_settings
from casework_common.errors import PermissionDenied
from casework_common.organisation import Organisation
from casework_intake.adapters.repository import ReferralRepository


@dataclass
class Intake:
    settings: Settings
    organisations: dict[str, Organisation]
    clock: Callable[[], datetime]

    def organisation_of(self, principal: Principal) -> Organisation:
        org = self.organisations.get(principal.organisation)
        if org is None:
            raise PermissionDenied(f"organisation {principal.organisation} is not served here")
        return org

    def referrals_for(self, principal: Principal) -> ReferralRepository:
        return ReferralRepository(principal.organisation, principal.centres)


def bootstrap(settings: Settings | None = None) -> Intake:
    settings = settings or load_settings("intake")
    return Intake(
        settings=settings,
        organisations=organisations.load(settings.organisation_file),
        clock=lambda: datetime.now(UTC),
    )
