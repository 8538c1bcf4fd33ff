"""The client's card, read from clients over gRPC with documents' service token.

documents holds no signing key: the identity provider issues its service tokens (one per
organisation, scope `casework.clients.v1.ClientsService/GetClient`, the organisation's
centres) into the JSON file DOCUMENTS_SERVICE_TOKENS_FILE, `{"<organisation>": "<jwt>"}`.
The file is read again whenever it changes, so tokens rotate without a restart
(`make run` writes one for development). clients audits each read under documents'
service subject; documents itself answers only callers whose centres include one of
the card's.
"""

from __future__ import annotations

from pathlib import Path

from casework_common import service_tokens as common_tokens
from casework_common.service_calls import ClientsCaller
from casework_documents.domain.context import Card

GET_CLIENT = "casework.clients.v1.ClientsService/GetClient"


class CardsUnavailable(Exception):
    """clients could not be asked (down, or documents' token refused)."""


class ServiceTokens(common_tokens.ServiceTokens):
    def __init__(self, path: Path | None) -> None:
        super().__init__(
            path,
            variable="DOCUMENTS_SERVICE_TOKENS_FILE",
            service="documents",
            purpose="read cards and plans",
            unavailable=CardsUnavailable,
        )


class ClientCards:
    def __init__(self, target: str, tokens: ServiceTokens, timeout: float = 5.0) -> None:
        self._caller = ClientsCaller(target, tokens, CardsUnavailable, timeout)

    def get(self, organisation: str, client_id: str, trace: dict[str, str] | None = None) -> Card:
        c = self._caller.get_client(organisation, client_id, trace)
        return Card(
            client_id=c.client_id,
            given_name=c.given_name,
            family_name=c.family_name,
            date_of_birth=c.date_of_birth,
            address=c.address,
            phone=c.phone,
            email=c.email,
            client_type=c.client_type,
            centre_ids=tuple(c.centre_ids),
        )

    def close(self) -> None:
        self._caller.close()
