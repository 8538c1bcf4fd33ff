"""Wires clients' adapters for both processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from casework_clients.adapters.repository import (
    ClientRepository,
    ConsultationRepository,
    FamilyRepository,
    KeptBooks,
    MatchProposalRepository,
    ProjectRepository,
    SharingRequestRepository,
    organisations_with_projects,
)
from casework_clients.adapters.repository.card_documents import retire_indexes
from casework_clients.adapters.repository.cards import backfill_derived_rows
from casework_clients.adapters.settings import load_disclosures, load_status_settings
from casework_clients.domain.projects import SettingsBook
from casework_clients.domain.proposals import Disclosure
from casework_clients.domain.status import StatusSettings
from casework_common.auth import Principal
from casework_common.config import Settings, load_settings
from casework_common.organisation import Organisation
from casework_common.organisation import load as load_organisations
from casework_common.unit_of_work import open_unit_of_work


@dataclass
class Clients:
    settings: Settings
    clock: Callable[[], datetime]
    status_settings: dict[str, StatusSettings] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    disclosures: dict[str, Disclosure] = field(default_factory=dict)
    books: KeptBooks = field(default_factory=KeptBooks, repr=False)

    def cards_for(self, principal: Principal) -> ClientRepository:
        return ClientRepository.for_caller(principal, open_unit_of_work())

    def cards_of_organisation(self, organisation: str) -> ClientRepository:
        # For the system's own consumers only; callers always go through cards_for.
        return ClientRepository(organisation, None)

    def families_for(self, principal: Principal) -> FamilyRepository:
        return FamilyRepository.for_caller(principal, open_unit_of_work())

    def families_of_organisation(self, organisation: str) -> FamilyRepository:
        return FamilyRepository(organisation, None)

    def proposals_for(self, principal: Principal) -> MatchProposalRepository:
        return MatchProposalRepository.for_caller(principal, open_unit_of_work())

    def proposals_of_organisation(self, organisation: str) -> MatchProposalRepository:
        return MatchProposalRepository(organisation, None, open_unit_of_work())

    def sharing_for(self, principal: Principal) -> SharingRequestRepository:
        return SharingRequestRepository.for_caller(principal, open_unit_of_work())

    def sharing_of_organisation(self, organisation: str) -> SharingRequestRepository:
        return SharingRequestRepository(organisation, None, open_unit_of_work())

    def disclosure_of(self, organisation: str) -> Disclosure:
        """What a referring centre learns of a person known elsewhere (default nothing)."""
        return self.disclosures.get(organisation, Disclosure.NONE)

    def consultations_of(self, organisation: str) -> ConsultationRepository:
        return ConsultationRepository(organisation)

    def status_settings_of(self, organisation: str) -> StatusSettings:
        """The organisation's settings; one the file does not describe gets the engine's
        defaults (automatic mode, no approached stage, no inactivity rule)."""
        return self.status_settings.get(organisation) or StatusSettings()

    def projects_of(self, organisation: str) -> ProjectRepository:
        return ProjectRepository(organisation, None, open_unit_of_work())

    def settings_book(self, organisation: str) -> SettingsBook:
        """The organisation's status settings: the file's default (start-up) and the
        versions an administrator set per project. Kept by this process and checked
        against the projects' stored versions each time (one small read instead of
        reading and parsing every project), so a change is in force at once in every
        process."""
        return self.books.book(organisation, self.status_settings_of(organisation))

    def organisations_with_settings(self) -> list[str]:
        """Every organisation the file or a project names (the inactivity timer's)."""
        return sorted(set(self.status_settings) | set(organisations_with_projects()))

    def retire_indexes(self) -> list[str]:
        """Drop the indexes of fields cards no longer store; answers their names."""
        return retire_indexes()

    def backfill_derived_rows(self, organisation: str) -> int:
        """Give the organisation's cards stored before them their statistics facts and
        search keys (once per version of those rows); answers how many cards."""
        return backfill_derived_rows(organisation, self.clock())


def bootstrap(settings: Settings | None = None) -> Clients:
    settings = settings or load_settings("clients")
    return Clients(
        settings=settings,
        clock=lambda: datetime.now(UTC),
        status_settings=load_status_settings(settings.organisation_file),
        organisations=load_organisations(settings.organisation_file),
        disclosures=load_disclosures(settings.organisation_file),
    )
