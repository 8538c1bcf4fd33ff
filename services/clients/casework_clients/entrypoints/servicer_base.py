"""The shared part of clients' gRPC servicer: wiring, clock, and answers built from
cards and families (translation only)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from casework.clients.v1 import clients_pb2
from casework_clients import services
from casework_clients.bootstrap import Clients
from casework_clients.domain.cards import ClientCard
from casework_clients.domain.families import Family
from casework_clients.domain.projects import SettingsBook
from casework_clients.entrypoints.translate import family_message, to_message
from casework_clients.use_cases.families import read_family
from casework_common.auth import Principal
from casework_common.errors import NotFound
from casework_common.organisation import Organisation
from casework_common.unit_of_work import current_unit_of_work


class ServicerBase:
    """What every part of clients' servicer shares: the wiring, the clock, and the
    translation of cards and families into messages."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    # ------------------------------------------------------------------ helpers

    def _today(self) -> date:
        return self._clients.clock().date()

    def _organisation(self, principal: Principal) -> Organisation | None:
        return self._clients.organisations.get(principal.organisation)

    def _org(self, principal: Principal) -> Organisation:
        org = self._organisation(principal)
        if org is None:
            raise NotFound(f"organisation {principal.organisation} is not configured here")
        return org

    def _settings(self, principal: Principal) -> SettingsBook:
        return self._clients.settings_book(principal.organisation)

    def _msg(self, card: ClientCard) -> clients_pb2.Client:
        return to_message(card, self._today())

    def _candidates(self, found: Iterable[services.Candidate]) -> list[clients_pb2.ClientCandidate]:
        return [
            clients_pb2.ClientCandidate(
                client=to_message(c.card, self._today(), c.plan),
                score=c.match.score,
                reasons=list(c.match.reasons),
            )
            for c in found
        ]

    def _family(self, principal: Principal, family: Family | str) -> clients_pb2.Family:
        view = read_family(
            family,
            current_unit_of_work(),
            self._clients.families_for(principal),
            self._clients.cards_for(principal),
            self._settings(principal),
            all_cards=self._clients.cards_of_organisation(principal.organisation),
        )
        return family_message(view)
