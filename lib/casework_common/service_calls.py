"""Calling another service's api as this service: one channel, the organisation's
service token (casework_common.service_tokens) and the caller's trace on every call, a
deadline. Only in a plain-threads process: grpcio never runs beside eventlet."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import grpc

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework_common.errors import NotFound
from casework_common.rpc_errors import ABSENT, call_failure
from casework_common.service_tokens import ServiceTokens

R = TypeVar("R")


class ServiceCaller:
    def __init__(self, target: str, tokens: ServiceTokens, timeout: float = 5.0) -> None:
        self.channel = grpc.insecure_channel(target)
        self._tokens = tokens
        self._timeout = timeout

    def call(
        self,
        method: Callable[..., R],
        request: Any,
        organisation: str,
        trace: Mapping[str, str] | None = None,
    ) -> R:
        """`method` (a stub's method on `channel`) with this service's token; a failure
        is the grpc.RpcError the stub raises (see rpc_errors.call_failure)."""
        return method(
            request, metadata=self._tokens.metadata(organisation, trace), timeout=self._timeout
        )

    def answer(
        self,
        method: Callable[..., R],
        request: Any,
        organisation: str,
        trace: Mapping[str, str] | None,
        *,
        service: str,
        unavailable: Callable[[str], Exception],
    ) -> R | None:
        """`call`'s reply; None when `service` has nothing this one may read
        (rpc_errors.ABSENT), `unavailable` raised when it cannot answer."""
        try:
            return self.call(method, request, organisation, trace)
        except grpc.RpcError as exc:
            code, details = call_failure(exc)
            if code in ABSENT:
                return None
            raise unavailable(f"{service} answered {code}: {details}") from None

    def close(self) -> None:
        self.channel.close()


class ClientsCaller(ServiceCaller):
    """clients' api, for the services that read a card with their service token."""

    def __init__(
        self,
        target: str,
        tokens: ServiceTokens,
        unavailable: Callable[[str], Exception],
        timeout: float = 5.0,
    ) -> None:
        super().__init__(target, tokens, timeout)
        self._stub = clients_pb2_grpc.ClientsServiceStub(self.channel)
        self._unavailable = unavailable

    def get_client(
        self, organisation: str, client_id: str, trace: Mapping[str, str] | None = None
    ) -> clients_pb2.Client:
        """The card; NotFound when clients has none this service may read (the same
        for one that does not exist), `unavailable` when clients cannot answer."""
        reply = self.answer(
            self._stub.GetClient,
            clients_pb2.GetClientRequest(client_id=client_id),
            organisation,
            trace,
            service="clients",
            unavailable=self._unavailable,
        )
        if reply is None:
            raise NotFound(f"client {client_id} not found")
        return reply.client
