"""Clients' use cases, called by both entry points: one import point for the modules of
`casework_clients.use_cases`, one per concern.
"""

from __future__ import annotations

from casework_clients.use_cases._shared import status_changed_payload, worker_actor
from casework_clients.use_cases.consultations import (
    attach_consultation_by_worker,
    consultation_recorded,
)
from casework_clients.use_cases.contacts import ContactElsewhere, contact_recorded_elsewhere
from casework_clients.use_cases.contract_ended import ContractEnded, record_contract_ended
from casework_clients.use_cases.details import (
    add_note,
    assign_responsible_worker,
    record_consent,
    record_contact,
    unassign_responsible_worker,
    update_client,
    withdraw_consent,
)
from casework_clients.use_cases.families import (
    FamilyView,
    SharedStatusInput,
    add_family_member,
    create_family,
    list_families,
    record_family_status,
    refresh_shared_status,
    view_family,
)
from casework_clients.use_cases.inactivity import sweep_inactivity
from casework_clients.use_cases.merge import merge_clients, repoint_families
from casework_clients.use_cases.plan_states import PlanAnnounced, plan_announced
from casework_clients.use_cases.proposals import (
    confirm_match_proposal,
    list_match_proposals,
    read_match_proposal,
    reject_match_proposal,
)
from casework_clients.use_cases.reading import (
    ListFilter,
    colour_of,
    list_audit_entries,
    list_clients,
    read_client,
)
from casework_clients.use_cases.referrals import register_from_referral
from casework_clients.use_cases.registration import (
    Candidate,
    Registration,
    register_client,
    search_clients,
)
from casework_clients.use_cases.sharing import (
    decide_sharing_request,
    list_sharing_requests,
    request_sharing,
)
from casework_clients.use_cases.statistics import Statistics, statistics
from casework_clients.use_cases.status import (
    ContractOutcome,
    apply_waiting_contracts,
    archive_client,
    record_contract_signed,
    record_status,
    record_worker_contract,
    reopen_client_episode,
)

__all__ = [
    "Candidate",
    "ContactElsewhere",
    "ContractEnded",
    "ContractOutcome",
    "FamilyView",
    "ListFilter",
    "PlanAnnounced",
    "Registration",
    "SharedStatusInput",
    "Statistics",
    "add_family_member",
    "add_note",
    "apply_waiting_contracts",
    "archive_client",
    "assign_responsible_worker",
    "attach_consultation_by_worker",
    "colour_of",
    "confirm_match_proposal",
    "consultation_recorded",
    "contact_recorded_elsewhere",
    "create_family",
    "decide_sharing_request",
    "list_audit_entries",
    "list_clients",
    "list_families",
    "list_match_proposals",
    "list_sharing_requests",
    "merge_clients",
    "plan_announced",
    "read_client",
    "read_match_proposal",
    "record_consent",
    "record_contact",
    "record_contract_ended",
    "record_contract_signed",
    "record_family_status",
    "record_status",
    "record_worker_contract",
    "refresh_shared_status",
    "register_client",
    "register_from_referral",
    "reject_match_proposal",
    "reopen_client_episode",
    "repoint_families",
    "request_sharing",
    "search_clients",
    "statistics",
    "status_changed_payload",
    "sweep_inactivity",
    "unassign_responsible_worker",
    "update_client",
    "view_family",
    "withdraw_consent",
    "worker_actor",
]
