"""gRPC entry point of documents: serves health and reflection until its calls are built."""

from __future__ import annotations

from collections.abc import Iterable

import grpc


def register(server: grpc.Server) -> Iterable[str]:
    # DocumentsService is declared in protos/casework/documents/v1/; its calls answer UNIMPLEMENTED
    # until they are built, and health tells operators the process is up.
    return []
