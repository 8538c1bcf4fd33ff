"""One organisation's clients in memory for unit tests of clients' use cases: the
people, cards and callers the tests build, and `World`, which holds the in-memory
repositories (clients_fakes) a use case runs against."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from clients_fakes import (
    ClientsStore,
    InMemoryClientRepository,
    InMemoryConsultationRepository,
    InMemoryFamilyRepository,
    InMemoryMatchProposalRepository,
    InMemorySharingRequestRepository,
)

from casework_clients import services
from casework_clients.domain.cards import ClientCard, NewPerson
from casework_clients.domain.identity import identity_key
from casework_clients.domain.status import ClientStatus, StatusSettings
from casework_common.auth import Principal
from casework_common.unit_of_work import Caller, SystemActor, Trace, UnitOfWork

ORG = "org-test"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
NORTH, SOUTH = "ctr-north", "ctr-south"
TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def create_principal(**overrides: Any) -> Principal:
    fields: dict[str, Any] = {
        "organisation": ORG,
        "subject": "w-anna",
        "kind": "worker",
        "centres": frozenset({NORTH}),
        "roles": frozenset({"case_worker", "manager"}),
        "scopes": frozenset(),
    }
    fields.update(overrides)
    return Principal(**fields)


def create_person(**overrides: Any) -> NewPerson:
    fields: dict[str, Any] = {
        "organisation": ORG,
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": date(1950, 3, 14),
        "phone": "+421 900 123 456",
        "email": "",
        "address": "Main street 1",
        "region_id": "reg-north",
        "centre_id": NORTH,
        "client_type": "senior",
        "problem_type": "housing",
    }
    fields.update(overrides)
    return NewPerson(**fields)


def create_card(**overrides: Any) -> ClientCard:
    born = overrides.pop("date_of_birth", date(1961, 4, 12))
    given, family = overrides.pop("given_name", "Petr"), overrides.pop("family_name", "Malý")
    fields: dict[str, Any] = {
        "client_id": "cl-1",
        "organisation": ORG,
        "identity_key": identity_key(ORG, given, family, born),
        "given_name": given,
        "family_name": family,
        "date_of_birth": born,
        "phone": "",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_ids": (NORTH,),
        "client_type": "senior",
        "problem_types": ("housing",),
        "status": "",
        "referral_ids": (),
        "registered_at": NOW - timedelta(days=30),
        "last_contact_on": TODAY - timedelta(days=30),
    }
    fields.update(overrides)
    return ClientCard(**fields)


class World:
    """One organisation's clients in memory, seen by a worker of the north centre."""

    def __init__(self, settings: StatusSettings | None = None) -> None:
        self.store = ClientsStore()
        self.principal = create_principal()
        self.settings = settings or StatusSettings()
        self.ids = (f"cl-new-{n}" for n in range(1, 100))

    def unit(self) -> UnitOfWork:
        """The worker's unit of work (ids of new cards from ``self.ids``)."""
        return UnitOfWork(
            self.principal, now=NOW, trace=Trace(TRACE), new_id=lambda: next(self.ids)
        )

    def events_unit(self, component: str = "clients", at: datetime = NOW) -> UnitOfWork:
        """A unit of work of the events process: the service itself acting, for a
        consumer (`clients`) or a timer (`clients.inactivity`, say)."""
        caller: Caller = SystemActor(component)
        return UnitOfWork(caller, now=at, trace=Trace(TRACE), new_id=lambda: next(self.ids))

    def cards(self, principal: Principal | None = None) -> InMemoryClientRepository:
        return InMemoryClientRepository(self.store, ORG, (principal or self.principal).centres)

    def every_card(self) -> InMemoryClientRepository:
        """The cards of every centre: the repository the events process works with."""
        return InMemoryClientRepository(self.store, ORG, None)

    def every_family(self) -> InMemoryFamilyRepository:
        return InMemoryFamilyRepository(self.store, ORG, None)

    def every_proposal(self) -> InMemoryMatchProposalRepository:
        return InMemoryMatchProposalRepository(self.store, ORG, None)

    def consultations(self) -> InMemoryConsultationRepository:
        return InMemoryConsultationRepository(self.store, ORG)

    def put(self, card: ClientCard) -> ClientCard:
        """A card as if registered earlier, with its first status (no events)."""
        registered = services.register_client(
            create_person(
                given_name=card.given_name,
                family_name=card.family_name,
                date_of_birth=card.date_of_birth,
                centre_id=card.centre_ids[0],
            ),
            frozenset(),
            UnitOfWork(
                create_principal(centres=frozenset(card.centre_ids)),
                now=NOW - timedelta(days=30), trace=Trace(TRACE), new_id=lambda: card.client_id,
            ),
            InMemoryClientRepository(self.store, ORG, None),
            settings=self.settings,
            consultations=InMemoryConsultationRepository(self.store, ORG),
        ).card  # fmt: skip
        assert registered is not None
        self.store.events.clear()
        self.store.audit.clear()
        return registered

    def register(self, person: NewPerson, dismissed: frozenset[str] = frozenset()) -> Any:
        return services.register_client(
            person,
            dismissed,
            self.unit(),
            self.cards(),
            settings=self.settings,
            consultations=InMemoryConsultationRepository(self.store, ORG),
            sharing=InMemorySharingRequestRepository(self.store, ORG, None),
        )

    def record_status(self, client_id: str, status: str, reason: str = "") -> ClientCard:
        return services.record_status(
            client_id, status, reason, TODAY, self.unit(), self.cards(),
            settings=self.settings,
        )  # fmt: skip

    def audit_actions(self) -> list[tuple[str, str]]:
        return [(e.client_id, e.action) for e in self.store.audit]

    def status_of(self, client_id: str) -> ClientStatus:
        return ClientStatus(self.store.cards[client_id].status)
