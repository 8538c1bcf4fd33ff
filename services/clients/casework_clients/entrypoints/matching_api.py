"""gRPC calls of clients about match proposals, sharing requests and the audit trail:
request to use case to answer, translation only."""

from __future__ import annotations

import grpc

from casework.clients.v1 import clients_pb2
from casework_clients import services
from casework_clients.entrypoints import requests
from casework_clients.entrypoints.servicer_base import ServicerBase
from casework_clients.entrypoints.translate import audit_message, proposal_message, sharing_message
from casework_common.grpc_runtime import current_principal
from casework_common.messages import guard_requests
from casework_common.paging import next_token, page_window
from casework_common.unit_of_work import current_unit_of_work


@guard_requests
class MatchingRpcs(ServicerBase):
    # ------------------------------------------------------------------ match proposals

    def ListMatchProposals(
        self, request: clients_pb2.ListMatchProposalsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListMatchProposalsResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        found = services.list_match_proposals(
            current_unit_of_work(),
            self._clients.proposals_for(principal),
            status=requests.proposal_status(request.status),
            offset=offset,
            limit=limit,
        )
        return clients_pb2.ListMatchProposalsResponse(
            proposals=[proposal_message(p) for p in found],
            next_page_token=next_token(offset, limit, len(found)),
        )

    def GetMatchProposal(
        self, request: clients_pb2.GetMatchProposalRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetMatchProposalResponse:
        principal = current_principal()
        proposal = services.read_match_proposal(
            request.proposal_id,
            current_unit_of_work(),
            self._clients.proposals_for(principal),
            self._clients.cards_for(principal),
        )
        return clients_pb2.GetMatchProposalResponse(proposal=proposal_message(proposal))

    def ConfirmMatchProposal(
        self, request: clients_pb2.ConfirmMatchProposalRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ConfirmMatchProposalResponse:
        principal = current_principal()
        proposal, card = services.confirm_match_proposal(
            request.proposal_id,
            requests.merge_details(request),
            request.share_with_referring_centre,
            current_unit_of_work(),
            self._clients.proposals_for(principal),
            self._clients.cards_for(principal),
            consultations=self._clients.consultations_of(principal.organisation),
        )
        return clients_pb2.ConfirmMatchProposalResponse(
            proposal=proposal_message(proposal), client=self._msg(card)
        )

    def RejectMatchProposal(
        self, request: clients_pb2.RejectMatchProposalRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RejectMatchProposalResponse:
        principal = current_principal()
        proposal = services.reject_match_proposal(
            request.proposal_id,
            request.reason,
            current_unit_of_work(),
            self._clients.proposals_for(principal),
            self._clients.cards_for(principal),
            self._clients.cards_of_organisation(principal.organisation),
            settings=self._settings(principal),
            consultations=self._clients.consultations_of(principal.organisation),
        )
        return clients_pb2.RejectMatchProposalResponse(proposal=proposal_message(proposal))

    # ------------------------------------------------------------------ sharing requests

    def ListSharingRequests(
        self, request: clients_pb2.ListSharingRequestsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListSharingRequestsResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        found = services.list_sharing_requests(
            current_unit_of_work(),
            self._clients.sharing_for(principal),
            status=requests.sharing_status(request.status),
            offset=offset,
            limit=limit,
        )
        return clients_pb2.ListSharingRequestsResponse(
            requests=[sharing_message(r) for r in found],
            next_page_token=next_token(offset, limit, len(found)),
        )

    def DecideSharingRequest(
        self, request: clients_pb2.DecideSharingRequestRequest, context: grpc.ServicerContext
    ) -> clients_pb2.DecideSharingRequestResponse:
        principal = current_principal()
        decided, card = services.decide_sharing_request(
            request.request_id,
            request.accept,
            current_unit_of_work(),
            self._clients.sharing_for(principal),
            self._clients.cards_for(principal),
            self._clients.cards_of_organisation(principal.organisation),
            families_repo=self._clients.families_of_organisation(principal.organisation),
        )
        return clients_pb2.DecideSharingRequestResponse(
            request=sharing_message(decided), client=self._msg(card)
        )

    # ------------------------------------------------------------------ audit trail

    def ListAuditEntries(
        self, request: clients_pb2.ListAuditEntriesRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListAuditEntriesResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        entries = services.list_audit_entries(
            request.client_id,
            current_unit_of_work(),
            self._clients.cards_for(principal),
            self._clients.cards_of_organisation(principal.organisation),
            offset=offset,
            limit=limit,
        )
        return clients_pb2.ListAuditEntriesResponse(
            entries=[audit_message(e) for e in entries],
            next_page_token=next_token(offset, limit, len(entries)),
        )
