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

from casework_common.errors import CaseworkError
from casework_common.service_calls import ClientsCaller
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
        self._caller = ClientsCaller(target, tokens, CardsUnavailable, timeout)

    def get(
        self, organisation: str, client_id: str, trace: dict[str, str] | None = None
    ) -> ClientCard:
        c = self._caller.get_client(organisation, client_id, trace)
        return ClientCard(client_id=c.client_id, email=c.email, centre_ids=tuple(c.centre_ids))

    def close(self) -> None:
        self._caller.close()
