"""Wires plans' adapters for both processes: the organisations served, each one's
monitoring cadence (the organisation file's optional `plans` object), repositories."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from casework_common import organisation as organisations
from casework_common.config import MissingConfiguration, Settings, load_settings
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork, now_to_the_millisecond
from casework_plans.adapters.repository import (
    CatalogueRepository,
    ClientStatusRepository,
    PlanRepository,
    WaitingListRepository,
)
from casework_plans.domain.monitoring import Cadence


def cadences_of(path: Path) -> dict[str, Cadence]:
    """Each organisation's `plans` settings: `early_interval_days` (7 to 14),
    `reviews_per_year` (1 or 2); defaults when absent."""
    raw: Any = json.loads(path.read_text(encoding="utf-8"))
    found = {}
    for org in raw if isinstance(raw, list) else [raw]:
        settings = org.get("plans") or {}
        try:
            found[org["id"]] = Cadence(
                early_interval_days=int(settings.get("early_interval_days", 14)),
                reviews_per_year=int(settings.get("reviews_per_year", 1)),
            )
        except (TypeError, ValueError) as exc:
            raise MissingConfiguration(
                "CASEWORK_ORGANISATION_FILE", f"{org.get('id')}: plans settings: {exc}"
            ) from None
    return found


def spending_approval_of(path: Path) -> frozenset[str]:
    """The organisations whose `plans` settings say `approve_each_spending: true`: a
    manager approves each spending item of a personal budget before it is spent."""
    raw: Any = json.loads(path.read_text(encoding="utf-8"))
    found = set()
    for org in raw if isinstance(raw, list) else [raw]:
        setting = (org.get("plans") or {}).get("approve_each_spending", False)
        if not isinstance(setting, bool):
            raise MissingConfiguration(
                "CASEWORK_ORGANISATION_FILE",
                f"{org.get('id')}: plans settings: approve_each_spending is true or false",
            )
        if setting:
            found.add(org["id"])
    return frozenset(found)


@dataclass
class Plans:
    settings: Settings
    organisations: dict[str, Organisation]
    cadences: dict[str, Cadence]
    clock: Callable[[], datetime]
    spending_approval: frozenset[str] = frozenset()

    def plans_for(self, uow: UnitOfWork) -> PlanRepository:
        principal = uow.principal
        return PlanRepository(
            principal.organisation, principal.centres, uow, self.cadence_of(principal.organisation)
        )

    def all_plans(self, organisation: str, uow: UnitOfWork) -> PlanRepository:
        return PlanRepository(organisation, None, uow, self.cadence_of(organisation))

    def statuses_for(self, uow: UnitOfWork) -> ClientStatusRepository:
        return ClientStatusRepository(uow.principal.organisation)

    def catalogue_for(self, uow: UnitOfWork) -> CatalogueRepository:
        return CatalogueRepository(uow.principal.organisation)

    def waiting_lists_for(self, uow: UnitOfWork) -> WaitingListRepository:
        return WaitingListRepository(uow.principal.organisation, None, uow)

    def cadence_of(self, organisation: str) -> Cadence:
        return self.cadences.get(organisation) or Cadence()

    def approves_each_spending(self, organisation: str) -> bool:
        return organisation in self.spending_approval

    def centres_of(self, organisation: str) -> frozenset[str]:
        org = self.organisations.get(organisation)
        return frozenset(org.centres) if org else frozenset()


def bootstrap(settings: Settings | None = None) -> Plans:
    settings = settings or load_settings("plans")
    return Plans(
        settings=settings,
        organisations=organisations.load(settings.organisation_file),
        cadences=cadences_of(settings.organisation_file),
        clock=now_to_the_millisecond,
        spending_approval=spending_approval_of(settings.organisation_file),
    )
