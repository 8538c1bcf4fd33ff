"""Wires notify's adapters for both processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from casework_common import organisation as organisations
from casework_common.config import Settings, load_settings
from casework_common.errors import PermissionDenied
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork, now_to_the_millisecond
from casework_notify.adapters.repository import InboxRepository, PublishedRulesRepository


@dataclass
class Notify:
    settings: Settings
    organisations: dict[str, Organisation]
    clock: Callable[[], datetime]

    published_rules: PublishedRulesRepository = field(default_factory=PublishedRulesRepository)

    def inbox_of(self, uow: UnitOfWork) -> InboxRepository:
        principal = uow.principal
        # Inboxes belong to workers: a partner or service whose subject happens to equal
        # a worker's id must not read that worker's notifications.
        if principal.kind != "worker":
            raise PermissionDenied(f"a {principal.kind} has no inbox")
        return InboxRepository(principal.organisation, principal.subject)

    def inboxes_of_organisation(self, organisation: str) -> InboxRepository:
        return InboxRepository(organisation, None)


def bootstrap(settings: Settings | None = None) -> Notify:
    settings = settings or load_settings("notify")
    return Notify(
        settings=settings,
        organisations=organisations.load(settings.organisation_file),
        clock=now_to_the_millisecond,
    )
