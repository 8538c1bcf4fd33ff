"""Wires clients' adapters for both processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from casework_clients.adapters.repository import (
    ClientRepository,
    ConsultationRepository,
    FamilyRepository,
)
from casework_clients.adapters.settings import load_status_settings
from casework_clients.domain.status import StatusSettings
from casework_common.auth import Principal
from casework_common.config import Settings, load_settings
from casework_common.organisation import Organisation
from casework_common.organisation import load as load_organisations


@dataclass
class Clients:
    settings: Settings
    clock: Callable[[], datetime]
    status_settings: dict[str, StatusSettings] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)

    def cards_for(self, principal: Principal) -> ClientRepository:
        return ClientRepository(principal.organisation, principal.centres)

    def cards_of_organisation(self, organisation: str) -> ClientRepository:
        # For the system's own consumers only; callers always go through cards_for.
        return ClientRepository(organisation, None)

    def families_for(self, principal: Principal) -> FamilyRepository:
        return FamilyRepository(principal.organisation, principal.centres)

    def families_of_organisation(self, organisation: str) -> FamilyRepository:
        return FamilyRepository(organisation, None)

    def consultations_of(self, organisation: str) -> ConsultationRepository:
        return ConsultationRepository(organisation)

    def status_settings_of(self, organisation: str) -> StatusSettings:
        """The organisation's settings; one the file does not describe gets the engine's
        defaults (automatic mode, no approached stage, no inactivity rule)."""
        return self.status_settings.get(organisation) or StatusSettings()


def bootstrap(settings: Settings | None = None) -> Clients:
    settings = settings or load_settings("clients")
    return Clients(
        settings=settings,
        clock=lambda: datetime.now(UTC),
        status_settings=load_status_settings(settings.organisation_file),
        organisations=load_organisations(settings.organisation_file),
    )
