"""Who may make each clients call: deny by default, a call missing here is refused.

Rules that depend on the record (whose card, which centre, merging two cards, archiving,
the scope of statistics) are the use cases'; this map decides only whether a caller's
role lets them ask at all. An admin configures the organisation and reads statistics but
not client cards; a data-protection officer reads cards and consents."""

from __future__ import annotations

from casework_common.auth import (
    ADMIN,
    CASE_WORKER_AND_ABOVE,
    DATA_PROTECTION_OFFICER,
    FRONT_LINE_AND_ABOVE,
    MANAGER,
    AccessMap,
)
from casework_common.auth import SERVICE as SERVICE_CALLER

SERVICE = "casework.clients.v1.ClientsService"

ACCESS: AccessMap = {
    f"{SERVICE}/{method}": frozenset(roles)
    for method, roles in {
        # Finding and reading cards
        # SERVICE: documents reads the card it fills a template with (its service token).
        "GetClient": FRONT_LINE_AND_ABOVE | {DATA_PROTECTION_OFFICER, SERVICE_CALLER},
        "ListClients": FRONT_LINE_AND_ABOVE | {DATA_PROTECTION_OFFICER},
        "SearchClients": FRONT_LINE_AND_ABOVE | {DATA_PROTECTION_OFFICER},
        "RegisterClient": FRONT_LINE_AND_ABOVE,
        # Everyday work on a card
        "AddNote": FRONT_LINE_AND_ABOVE,
        "RecordContact": FRONT_LINE_AND_ABOVE,
        "AttachConsultation": FRONT_LINE_AND_ABOVE,
        "RecordConsent": FRONT_LINE_AND_ABOVE | {DATA_PROTECTION_OFFICER},
        # Case work: status, contracts, the card's details and people
        "RecordStatus": CASE_WORKER_AND_ABOVE,
        "RecordContractSigned": CASE_WORKER_AND_ABOVE,
        "ReopenEpisode": CASE_WORKER_AND_ABOVE,
        "UpdateClient": CASE_WORKER_AND_ABOVE,
        "AssignResponsibleWorker": CASE_WORKER_AND_ABOVE,
        "UnassignResponsibleWorker": CASE_WORKER_AND_ABOVE,
        "WithdrawConsent": CASE_WORKER_AND_ABOVE | {DATA_PROTECTION_OFFICER},
        "MergeClients": CASE_WORKER_AND_ABOVE,
        # Families
        "CreateFamily": CASE_WORKER_AND_ABOVE,
        "AddFamilyMember": CASE_WORKER_AND_ABOVE,
        "GetFamily": CASE_WORKER_AND_ABOVE | {DATA_PROTECTION_OFFICER},
        "ListFamilies": CASE_WORKER_AND_ABOVE | {DATA_PROTECTION_OFFICER},
        "RecordFamilyStatus": CASE_WORKER_AND_ABOVE,
        # Management
        "ArchiveClient": frozenset({MANAGER}),
        "GetStatistics": frozenset({MANAGER, ADMIN, DATA_PROTECTION_OFFICER}),
        "ListAuditEntries": frozenset({MANAGER, DATA_PROTECTION_OFFICER}),
        # A referral that matches a card: a proposal for the card's own workers
        "ListMatchProposals": FRONT_LINE_AND_ABOVE,
        "GetMatchProposal": FRONT_LINE_AND_ABOVE,
        "ConfirmMatchProposal": FRONT_LINE_AND_ABOVE,
        "RejectMatchProposal": FRONT_LINE_AND_ABOVE,
        # Another centre asks to share a card: the card's centre manager decides
        "ListSharingRequests": frozenset({MANAGER}),
        "DecideSharingRequest": frozenset({MANAGER}),
        # Projects: every worker reads their status settings, an administrator sets them
        "ListProjects": FRONT_LINE_AND_ABOVE | {ADMIN},
        "GetProject": FRONT_LINE_AND_ABOVE | {ADMIN},
        "SetProjectStatusSettings": frozenset({ADMIN}),
        # Enrolments: the project is chosen with the client at the desk; ending one
        # changes whose settings govern the status, which is case work
        "EnrolClient": FRONT_LINE_AND_ABOVE,
        "EndEnrolment": CASE_WORKER_AND_ABOVE,
    }.items()
}
