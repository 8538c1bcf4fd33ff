"""What notify needs of a client's card to message the client."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientCard:
    client_id: str
    email: str
    centre_ids: tuple[str, ...]

    def visible_to(self, centres: Iterable[str]) -> bool:
        """A worker sees the card when they serve one of its centres."""
        return not set(self.centre_ids).isdisjoint(centres)
