"""The clients database: one module per aggregate (cards and their audit trail,
families, waiting consultations, match proposals and sharing requests), all
importable from here."""

from __future__ import annotations

from casework_clients.adapters.repository.card_documents import (
    AuditEntry,
    ClientDocument,
    entry_from_dict,
    entry_to_dict,
)
from casework_clients.adapters.repository.cards import (
    CANDIDATE_LIMIT,
    NAME_BUDGET,
    ClientRepository,
)
from casework_clients.adapters.repository.consultations import (
    ConsultationRepository,
    UnattachedConsultation,
)
from casework_clients.adapters.repository.families import FamilyDocument, FamilyRepository
from casework_clients.adapters.repository.projects import (
    KeptBooks,
    ProjectDocument,
    ProjectRepository,
    organisations_with_projects,
)
from casework_clients.adapters.repository.proposals import (
    MatchProposalDocument,
    MatchProposalRepository,
    SharingRequestDocument,
    SharingRequestRepository,
)

__all__ = [
    "CANDIDATE_LIMIT",
    "NAME_BUDGET",
    "AuditEntry",
    "ClientDocument",
    "ClientRepository",
    "ConsultationRepository",
    "FamilyDocument",
    "FamilyRepository",
    "KeptBooks",
    "MatchProposalDocument",
    "MatchProposalRepository",
    "ProjectDocument",
    "ProjectRepository",
    "SharingRequestDocument",
    "SharingRequestRepository",
    "UnattachedConsultation",
    "entry_from_dict",
    "entry_to_dict",
    "organisations_with_projects",
]
