"""The client's card, read from clients over gRPC with notify's service token.

The identity provider issues notify's service tokens (one per organisation, scope
`casework.clients.v1.ClientsService/GetClient`, the organisation's centres) into the
JSON file NOTIFY_SERVICE_TOKENS_FILE, `{"<organisation>": "<jwt>"}`, read again
whenever it changes (casework_common.service_tokens). clients audits each read under
notify's service subject; notify itself messages a client only for a worker who serves
one of the card's centres.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework_common.errors import CaseworkError, NotFound
from casework_common.rpc_errors import ABSENT, call_failure
from casework_common.service_calls import ServiceCaller
from casework_common.service_tokens import ServiceTokens
from casework_notify.domain.cards import ClientCard

GET_CLIENT = "casework.clients.v1.ClientsService/GetClient"


class CardsUnavailable(CaseworkError):
    """clients could not be asked (down, or notify's token refused): UNAVAILABLE."""

    code = "UNAVAILABLE"


def notify_tokens(path: Path | None) -> ServiceTokens:
    return ServiceTokens(
        path,
        variable="NOTIFY_SERVICE_TOKENS_FILE",
        service="notify",
        purpose="read clients' cards",
        unavailable=CardsUnavailable,
    )


class ClientCards:
    def __init__(self, target: str, tokens: ServiceTokens, timeout: float = 5.0) -> None:
        self._caller = ServiceCaller(target, tokens, timeout)
        self._stub = clients_pb2_grpc.ClientsServiceStub(self._caller.channel)

    def get(
        self, organisation: str, client_id: str, trace: dict[str, str] | None = None
    ) -> ClientCard:
        try:
            reply = self._caller.call(
                self._stub.GetClient,
                clients_pb2.GetClientRequest(client_id=client_id),
                organisation,
                trace,
            )
        except grpc.RpcError as exc:
            code, details = call_failure(exc)
            if code in ABSENT:
                raise NotFound(f"client {client_id} not found") from None
            raise CardsUnavailable(f"clients answered {code}: {details}") from None
        c = reply.client
        return ClientCard(client_id=c.client_id, email=c.email, centre_ids=tuple(c.centre_ids))

    def close(self) -> None:
        self._caller.close()
