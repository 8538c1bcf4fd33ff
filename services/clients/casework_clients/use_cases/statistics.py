"""Statistics of statuses, flows and reasons over a period."""

from __future__ import annotations

from dataclasses import dataclass

from casework_clients.adapters.repository import (
    ClientRepository,
    FamilyRepository,
)
from casework_clients.domain import proposals
from casework_clients.domain.commands import Period
from casework_clients.domain.projects import SettingsSource, default_of
from casework_clients.domain.statistics import StatusReport
from casework_clients.domain.status import StatusRuleViolation, check_period
from casework_clients.use_cases._shared import _require, status_error
from casework_common.errors import (
    PermissionDenied,
)
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Statistics:
    clients: StatusReport
    families: StatusReport


def statistics(
    period: Period,
    uow: UnitOfWork,
    scoped: tuple[ClientRepository, FamilyRepository],
    organisation_wide: tuple[ClientRepository, FamilyRepository],
    *,
    org: Organisation | None,
    settings: SettingsSource,
) -> Statistics:
    """Counts per status at the end of the period, closing reasons and flows within
    it, for clients and for families. An admin or data-protection officer counts the
    whole organisation; a manager only the centres they serve (a centre or region they
    do not serve: PERMISSION_DENIED); nobody else gets statistics."""
    principal = uow.principal
    start, end = period.start, period.end
    centre_id, region_id = period.centre_id, period.region_id
    if proposals.has_any(principal.roles, proposals.ORG_WIDE_STATISTICS):
        cards_repo, families_repo = organisation_wide
    else:
        _require(
            principal, proposals.CENTRE_STATISTICS | proposals.ORG_WIDE_STATISTICS,
            "read statistics",
        )  # fmt: skip
        if centre_id:
            principal.require_centre(centre_id)
        if (
            region_id
            and org is not None
            and not any(
                c.region == region_id for c in org.centres.values() if c.id in principal.centres
            )
        ):
            raise PermissionDenied(f"region {region_id} has no centre the caller serves")
        cards_repo, families_repo = scoped
    try:
        check_period(start, end)
    except StatusRuleViolation as exc:
        raise status_error(exc, {"period_end": "period_end"}) from None
    # Counted by the database over the facts each card and family stores with every
    # write (domain.statistics.timeline_facts): no card is read into Python.
    clients = cards_repo.status_report(start, end, centre_id=centre_id, region_id=region_id)
    families_report = families_repo.status_report(
        start,
        end,
        centre_id=centre_id,
        region_id=region_id,
        shared=default_of(settings).shared_with_family,
    )
    return Statistics(clients, families_report)
