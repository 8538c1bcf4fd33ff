"""gRPC entry point of clients."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework_clients import services
from casework_clients.bootstrap import Clients, bootstrap
from casework_clients.domain.cards import ClientCard
from casework_common.errors import FieldError, InvalidArgument
from casework_common.grpc_runtime import current_principal
from casework_common.paging import next_token, page_window

_STATUS = {
    "approached": clients_pb2.CLIENT_STATUS_APPROACHED,
    "applicant": clients_pb2.CLIENT_STATUS_APPLICANT,
    "service_user": clients_pb2.CLIENT_STATUS_SERVICE_USER,
    "rejected": clients_pb2.CLIENT_STATUS_REJECTED,
    "terminated": clients_pb2.CLIENT_STATUS_TERMINATED,
}


def to_message(card: ClientCard) -> clients_pb2.Client:
    registered_at = Timestamp()
    registered_at.FromDatetime(card.registered_at)
    return clients_pb2.Client(
        client_id=card.client_id,
        given_name=card.given_name,
        family_name=card.family_name,
        date_of_birth=card.date_of_birth.isoformat(),
        phone=card.phone,
        email=card.email,
        address=card.address,
        region_id=card.region_id,
        centre_ids=list(card.centre_ids),
        client_type=card.client_type,
        problem_types=list(card.problem_types),
        status=_STATUS.get(card.status, clients_pb2.CLIENT_STATUS_UNSPECIFIED),
        referral_ids=list(card.referral_ids),
        registered_at=registered_at,
    )


class ClientsServicer(clients_pb2_grpc.ClientsServiceServicer):
    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def GetClient(
        self, request: clients_pb2.GetClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetClientResponse:
        principal = current_principal()
        if not request.client_id:
            raise InvalidArgument([FieldError("client_id", "is required")])
        card = services.read_client(
            request.client_id,
            principal,
            self._clients.cards_for(principal),
            now=self._clients.clock(),
            trace_id=format(trace.get_current_span().get_span_context().trace_id, "032x"),
        )
        return clients_pb2.GetClientResponse(client=to_message(card))

    def ListClients(
        self, request: clients_pb2.ListClientsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListClientsResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        if request.centre_id:
            principal.require_centre(request.centre_id)
        page = self._clients.cards_for(principal).page(
            centre_id=request.centre_id or None, offset=offset, limit=limit
        )
        return clients_pb2.ListClientsResponse(
            clients=[to_message(card) for card in page],
            next_page_token=next_token(offset, limit, len(page)),
        )


def register(server: grpc.Server) -> Iterable[str]:
    clients_pb2_grpc.add_ClientsServiceServicer_to_server(ClientsServicer(bootstrap()), server)
    return [clients_pb2.DESCRIPTOR.services_by_name["ClientsService"].full_name]
