"""Calling another service's api as this service: one channel, the organisation's
service token (casework_common.service_tokens) and the caller's trace on every call, a
deadline. Only in a plain-threads process: grpcio never runs beside eventlet."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import grpc

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

    def close(self) -> None:
        self.channel.close()
