"""gRPC entry point of plans: serves health and reflection until its calls are built."""

from __future__ import annotations

from collections.abc import Iterable

import grpc


def register(server: grpc.Server) -> Iterable[str]:
    # PlansService is declared in protos/casework/plans/v1/; its calls answer UNIMPLEMENTED
    # until they are built, and health tells operators the process is up.
    return []
