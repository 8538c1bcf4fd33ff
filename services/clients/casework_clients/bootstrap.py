"""Wires clients' adapters for both processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from casework_clients.adapters.repository import ClientRepository
from casework_common.auth import Principal
from casework_common.config import Settings, load_settings


@dataclass
class Clients:
    settings: Settings
    clock: Callable[[], datetime]

    def cards_for(self, principal: Principal) -> ClientRepository:
        return ClientRepository(principal.organisation, principal.centres)

    def cards_of_organisation(self, organisation: str) -> ClientRepository:
        # For the system's own consumers only; callers always go through cards_for.
        return ClientRepository(organisation, None)


def bootstrap(settings: Settings | None = None) -> Clients:
    return Clients(
        settings=settings or load_settings("clients"),
        clock=lambda: datetime.now(UTC),
    )
