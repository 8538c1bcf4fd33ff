"""gRPC entry point of clients: each call is translated into a command, handed to the
domain and its use case, and the answer translated back. No rule lives here: the
domain (``domain.commands``, ``domain.rules``, ``casework_common.values``) refuses bad
input, naming the field."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework_clients import services
from casework_clients.bootstrap import bootstrap
from casework_clients.domain import commands
from casework_clients.entrypoints import requests
from casework_clients.entrypoints.enrolments_api import EnrolmentRpcs
from casework_clients.entrypoints.matching_api import MatchingRpcs
from casework_clients.entrypoints.projects_api import ProjectRpcs
from casework_clients.entrypoints.translate import (
    family_message,
    report_message,
    to_message,
)
from casework_common.grpc_runtime import current_principal
from casework_common.messages import guard_requests
from casework_common.paging import page_window, token_at
from casework_common.unit_of_work import current_unit_of_work


@guard_requests
class ClientsServicer(
    MatchingRpcs, ProjectRpcs, EnrolmentRpcs, clients_pb2_grpc.ClientsServiceServicer
):
    """Cards, status, families and card details; match proposals, sharing requests and
    the audit trail come from MatchingRpcs, projects and their settings from
    ProjectRpcs, a card's enrolments in projects from EnrolmentRpcs."""

    # ------------------------------------------------------------------ cards

    def GetClient(
        self, request: clients_pb2.GetClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetClientResponse:
        principal = current_principal()
        card = services.read_client(
            request.client_id, current_unit_of_work(), self._clients.cards_for(principal)
        )
        redirected = request.client_id if card.client_id != request.client_id else ""
        return clients_pb2.GetClientResponse(
            client=self._msg(card), redirected_from_client_id=redirected
        )

    def ListClients(
        self, request: clients_pb2.ListClientsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListClientsResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        wanted = requests.list_filter(
            request.centre_id, request.statuses, request.colours,
            request.responsible_worker_id, request.mine, request.project_id,
        )  # fmt: skip
        page, following = services.list_clients(
            wanted,
            current_unit_of_work(),
            self._clients.cards_for(principal),
            offset=offset,
            limit=limit,
        )
        return clients_pb2.ListClientsResponse(
            clients=[self._msg(card) for card in page], next_page_token=token_at(following)
        )

    def AttachConsultation(
        self, request: clients_pb2.AttachConsultationRequest, context: grpc.ServicerContext
    ) -> clients_pb2.AttachConsultationResponse:
        principal = current_principal()
        card = services.attach_consultation_by_worker(
            request.client_id,
            request.consultation_id,
            current_unit_of_work(),
            self._clients.cards_for(principal),
            self._clients.consultations_of(principal.organisation),
        )
        return clients_pb2.AttachConsultationResponse(client=self._msg(card))

    def ListFamilies(
        self, request: clients_pb2.ListFamiliesRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListFamiliesResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        wanted = requests.list_filter(request.centre_id, request.statuses, request.colours)
        page, following = services.list_families(
            wanted,
            current_unit_of_work(),
            self._clients.families_for(principal),
            self._clients.cards_for(principal),
            self._clients.cards_of_organisation(principal.organisation),
            self._settings(principal),
            offset=offset,
            limit=limit,
        )
        return clients_pb2.ListFamiliesResponse(
            families=[family_message(view) for view in page], next_page_token=token_at(following)
        )

    def SearchClients(
        self, request: clients_pb2.SearchClientsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.SearchClientsResponse:
        principal = current_principal()
        wanted = commands.search_of(requests.search_clients(request), self._today())
        found = services.search_clients(
            wanted, current_unit_of_work(), self._clients.cards_for(principal)
        )
        return clients_pb2.SearchClientsResponse(candidates=self._candidates(found))

    def RegisterClient(
        self, request: clients_pb2.RegisterClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RegisterClientResponse:
        principal = current_principal()
        command = requests.register_client(request)
        person = commands.new_person(
            command, self._organisation(principal), principal.organisation, self._today()
        )
        principal.require_centre(person.centre_id)
        outcome = services.register_client(
            person,
            command.dismissed_client_ids,
            current_unit_of_work(),
            self._clients.cards_for(principal),
            settings=self._settings(principal),
            consultations=self._clients.consultations_of(principal.organisation),
            sharing=self._clients.sharing_of_organisation(principal.organisation),
        )
        if outcome.card is None:
            return clients_pb2.RegisterClientResponse(
                created=False, candidates=self._candidates(outcome.candidates)
            )
        return clients_pb2.RegisterClientResponse(created=True, client=self._msg(outcome.card))

    # ------------------------------------------------------------------ status

    def RecordStatus(
        self, request: clients_pb2.RecordStatusRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordStatusResponse:
        principal = current_principal()
        command = requests.record_status(
            request.client_id, request.status, request.reason, request.effective_on
        )
        decision = commands.status_decision_of(command, "client_id", self._today())
        card = services.record_status(
            request.client_id,
            decision.status,
            decision.reason,
            decision.on,
            current_unit_of_work(),
            self._clients.cards_for(principal),
            settings=self._settings(principal),
        )
        return clients_pb2.RecordStatusResponse(client=self._msg(card))

    def RecordContractSigned(
        self, request: clients_pb2.RecordContractSignedRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordContractSignedResponse:
        principal = current_principal()
        uow = current_unit_of_work()
        contract = commands.contract_of(requests.record_contract_signed(request), uow.now)
        outcome = services.record_worker_contract(
            request.client_id,
            contract,
            uow,
            self._clients.cards_for(principal),
            settings=self._settings(principal),
        )
        return clients_pb2.RecordContractSignedResponse(
            client=self._msg(outcome.card),
            recorded=outcome.recorded,
            status_changed=outcome.status_changed,
            explanation=outcome.explanation,
        )

    def ReopenEpisode(
        self, request: clients_pb2.ReopenEpisodeRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ReopenEpisodeResponse:
        principal = current_principal()
        command = requests.record_status(
            request.client_id, request.status, "", request.effective_on
        )
        decision = commands.status_decision_of(
            command, "client_id", self._today(), status_required=False
        )
        card = services.reopen_client_episode(
            request.client_id,
            decision.on,
            decision.status,
            current_unit_of_work(),
            self._clients.cards_for(principal),
            settings=self._settings(principal),
        )
        return clients_pb2.ReopenEpisodeResponse(client=self._msg(card))

    def ArchiveClient(
        self, request: clients_pb2.ArchiveClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ArchiveClientResponse:
        principal = current_principal()
        card = services.archive_client(
            request.client_id,
            current_unit_of_work(),
            self._clients.cards_for(principal),
        )
        return clients_pb2.ArchiveClientResponse(client=self._msg(card))

    def MergeClients(
        self, request: clients_pb2.MergeClientsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.MergeClientsResponse:
        principal = current_principal()
        card = services.merge_clients(
            request.survivor_client_id,
            request.absorbed_client_id,
            request.reason,
            current_unit_of_work(),
            self._clients.cards_for(principal),
            # Families anywhere in the organisation follow the merge.
            families_repo=self._clients.families_of_organisation(principal.organisation),
        )
        return clients_pb2.MergeClientsResponse(client=self._msg(card))

    # ------------------------------------------------------------------ families

    def CreateFamily(
        self, request: clients_pb2.CreateFamilyRequest, context: grpc.ServicerContext
    ) -> clients_pb2.CreateFamilyResponse:
        principal = current_principal()
        family = services.create_family(
            request.name,
            request.centre_id,
            requests.family_members(request.members),
            current_unit_of_work(),
            self._clients.cards_for(principal),
            self._clients.families_for(principal),
            org=self._organisation(principal),
        )
        return clients_pb2.CreateFamilyResponse(family=self._family(principal, family))

    def AddFamilyMember(
        self, request: clients_pb2.AddFamilyMemberRequest, context: grpc.ServicerContext
    ) -> clients_pb2.AddFamilyMemberResponse:
        principal = current_principal()
        (member,) = requests.family_members([request.member])
        family = services.add_family_member(
            request.family_id,
            member,
            current_unit_of_work(),
            self._clients.cards_for(principal),
            self._clients.families_for(principal),
        )
        return clients_pb2.AddFamilyMemberResponse(family=self._family(principal, family))

    def GetFamily(
        self, request: clients_pb2.GetFamilyRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetFamilyResponse:
        principal = current_principal()
        return clients_pb2.GetFamilyResponse(family=self._family(principal, request.family_id))

    def RecordFamilyStatus(
        self, request: clients_pb2.RecordFamilyStatusRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordFamilyStatusResponse:
        principal = current_principal()
        command = requests.record_status(
            request.family_id, request.status, request.reason, request.effective_on
        )
        decision = commands.status_decision_of(command, "family_id", self._today())
        family = services.record_family_status(
            request.family_id,
            decision.status,
            decision.reason,
            decision.on,
            current_unit_of_work(),
            self._clients.families_for(principal),
            settings=self._settings(principal),
        )
        return clients_pb2.RecordFamilyStatusResponse(family=self._family(principal, family))

    # ------------------------------------------------------------------ card details

    def UpdateClient(
        self, request: clients_pb2.UpdateClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.UpdateClientResponse:
        principal = current_principal()
        command = requests.update_client(request)
        card = services.update_client(
            command.client_id,
            commands.changes_of(command, self._today()),
            current_unit_of_work(),
            self._clients.cards_for(principal),
            org=self._org(principal),
            sharing=self._clients.sharing_of_organisation(principal.organisation),
        )
        return clients_pb2.UpdateClientResponse(client=self._msg(card))

    def AssignResponsibleWorker(
        self, request: clients_pb2.AssignResponsibleWorkerRequest, context: grpc.ServicerContext
    ) -> clients_pb2.AssignResponsibleWorkerResponse:
        principal = current_principal()
        card = services.assign_responsible_worker(
            request.client_id,
            request.worker_id.strip(),
            current_unit_of_work(),
            self._clients.cards_for(principal),
            org=self._org(principal),
        )
        return clients_pb2.AssignResponsibleWorkerResponse(client=self._msg(card))

    def UnassignResponsibleWorker(
        self, request: clients_pb2.UnassignResponsibleWorkerRequest, context: grpc.ServicerContext
    ) -> clients_pb2.UnassignResponsibleWorkerResponse:
        principal = current_principal()
        card = services.unassign_responsible_worker(
            request.client_id,
            request.worker_id.strip(),
            request.reason,
            current_unit_of_work(),
            self._clients.cards_for(principal),
        )
        return clients_pb2.UnassignResponsibleWorkerResponse(client=self._msg(card))

    def RecordConsent(
        self, request: clients_pb2.RecordConsentRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordConsentResponse:
        principal = current_principal()
        command = requests.record_consent(request)
        consent = commands.consent_of(command, self._today())
        card = services.record_consent(
            command.client_id,
            consent.purpose,
            command.partner,
            consent.on,
            command.document_ref,
            current_unit_of_work(),
            self._clients.cards_for(principal),
        )
        return clients_pb2.RecordConsentResponse(client=self._msg(card))

    def WithdrawConsent(
        self, request: clients_pb2.WithdrawConsentRequest, context: grpc.ServicerContext
    ) -> clients_pb2.WithdrawConsentResponse:
        principal = current_principal()
        command = requests.record_consent(request)
        consent = commands.consent_of(command, self._today())
        card = services.withdraw_consent(
            command.client_id,
            consent.purpose,
            command.partner,
            consent.on,
            command.document_ref,
            command.reason,
            current_unit_of_work(),
            self._clients.cards_for(principal),
        )
        return clients_pb2.WithdrawConsentResponse(client=self._msg(card))

    def AddNote(
        self, request: clients_pb2.AddNoteRequest, context: grpc.ServicerContext
    ) -> clients_pb2.AddNoteResponse:
        principal = current_principal()
        card = services.add_note(
            request.client_id,
            request.text,
            request.corrects_note_id.strip(),
            current_unit_of_work(),
            self._clients.cards_for(principal),
        )
        return clients_pb2.AddNoteResponse(client=self._msg(card), note_id=card.notes[-1].note_id)

    def RecordContact(
        self, request: clients_pb2.RecordContactRequest, context: grpc.ServicerContext
    ) -> clients_pb2.RecordContactResponse:
        principal = current_principal()
        command = requests.record_contact(request)
        contact = commands.contact_of(command, self._today(), principal.subject)
        card = services.record_contact(
            command.client_id,
            contact.on,
            contact.channel,
            contact.worker_id,
            command.summary,
            current_unit_of_work(),
            self._clients.cards_for(principal),
            org=self._org(principal),
        )
        return clients_pb2.RecordContactResponse(client=self._msg(card))

    # ------------------------------------------------------------------ statistics

    def GetStatistics(
        self, request: clients_pb2.GetStatisticsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetStatisticsResponse:
        principal = current_principal()
        org = self._organisation(principal)
        period = commands.period_of(requests.get_statistics(request), org, self._today())
        stats = services.statistics(
            period,
            current_unit_of_work(),
            (self._clients.cards_for(principal), self._clients.families_for(principal)),
            (
                self._clients.cards_of_organisation(principal.organisation),
                self._clients.families_of_organisation(principal.organisation),
            ),
            org=org,
            settings=self._settings(principal),
        )
        return clients_pb2.GetStatisticsResponse(
            clients=report_message(stats.clients), families=report_message(stats.families)
        )


def register(server: grpc.Server) -> Iterable[str]:
    clients_pb2_grpc.add_ClientsServiceServicer_to_server(ClientsServicer(bootstrap()), server)
    return [clients_pb2.DESCRIPTOR.services_by_name["ClientsService"].full_name]


__all__ = ["ClientsServicer", "register", "report_message", "to_message"]
