"""Factories for tests that drive a running clients api (end-to-end tests)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from casework.clients.v1 import clients_pb2 as pb
from casework_clients.adapters.repository import ClientRepository
from casework_clients.domain.cards import ClientCard, HistoryEntry
from casework_clients.domain.identity import identity_key
from casework_clients.domain.status import StatusHistory, StatusSettings, record_first_contact
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token, disconnect, reconnect
from casework_dev.testing.helpers import auth

ORGANISATION = "org-demo"


def create_registration(**overrides: Any) -> pb.RegisterClientRequest:
    """A senior of North Town with a housing problem; a new family name each time."""
    fields: dict[str, Any] = {
        "given_name": "Jana",
        "family_name": f"Nováková{secrets.token_hex(3)}",
        "date_of_birth": "1961-04-12",
        "phone": "+421 900 123 456",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
    }
    fields.update(overrides)
    return pb.RegisterClientRequest(**fields)


def register(clients: Any, metadata: Any = None, **overrides: Any) -> pb.Client:
    """Register a card (as Anna of North Town unless `metadata` says otherwise); if
    look-alikes exist, dismiss them as a worker who checked would."""
    metadata = metadata or auth(create_token())
    reply = clients.RegisterClient(create_registration(**overrides), metadata=metadata)
    if not reply.created:
        dismissed = [c.client.client_id for c in reply.candidates]
        reply = clients.RegisterClient(
            create_registration(**overrides, dismissed_client_ids=dismissed), metadata=metadata
        )
    assert reply.created
    return reply.client


def create_silent_card(
    suite: Suite,
    days_ago: int = 120,
    *,
    settings: StatusSettings | None = None,
    project_id: str = "",
    referral_id: str = "",
) -> str:
    """An applicant (approached, when `settings` use that stage) last in contact
    `days_ago` days ago, enrolled in `project_id`, saved through the project's own
    repository straight into the suite's clients database; answers its id."""
    long_ago = datetime.now(UTC) - timedelta(days=days_ago)
    settings = settings or StatusSettings()
    history = record_first_contact(StatusHistory(), settings, long_ago.date(), "w-anna", long_ago)
    client_id = f"cl-silent-{secrets.token_hex(4)}"
    born = date(1950, 1, 1)
    card = ClientCard(
        client_id=client_id, organisation=ORGANISATION,
        identity_key=identity_key(ORGANISATION, "Silent", client_id, born),
        given_name="Silent", family_name=client_id, date_of_birth=born,
        phone="", email="", address="", region_id="reg-north", centre_ids=("ctr-north-town",),
        client_type="senior", problem_types=(), status=settings.starting_status.value,
        referral_ids=(referral_id,) if referral_id else (), project_id=project_id,
        registered_at=long_ago, history=(HistoryEntry(long_ago, "seeded", "test"),),
        status_entries=history.history.entries, last_contact_on=long_ago.date(),
    )  # fmt: skip
    reconnect(db=f"{suite.env['MONGO_DB_PREFIX']}_clients", host=suite.env["MONGO_URI"])
    try:
        ClientRepository(ORGANISATION, None).save(card, [])
    finally:
        disconnect()
    return client_id
