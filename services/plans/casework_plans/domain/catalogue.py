"""The organisation's service catalogue and its waiting lists.

A catalogue entry says what a service is, how a client obtains it, which centres offer
it and which kinds of need it answers: adding one is when existing plans are screened
for clients who need it (screen_for_service). A waiting list keeps, per service,
the clients waiting for it in the order they entered; a client's position is their
place in that order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import Enum

from casework_common.errors import FailedPrecondition, FieldError, NotFound, raise_if_any
from casework_common.values import length_error, text_errors
from casework_plans.domain.plans import NeedKind, Plan

_CODE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
MAX_ITEMS = 50


@dataclass(frozen=True)
class CatalogueService:
    organisation: str
    service_code: str
    name: str
    how_to_obtain: str
    centre_ids: tuple[str, ...]
    answers_needs: tuple[str, ...]
    added_by: str
    added_at: datetime


def catalogue_errors(
    *,
    service_code: str,
    name: str,
    how_to_obtain: str,
    centre_ids: Sequence[str],
    answers_needs: Sequence[str],
    known_centres: frozenset[str],
) -> list[FieldError]:
    errors: list[FieldError] = []
    if not _CODE.match(service_code):
        errors.append(FieldError("service_code", "lowercase letters, digits, '_', '.', '-'"))
    for path, value in (("name", name), ("how_to_obtain", how_to_obtain)):
        if not value.strip():
            errors.append(FieldError(path, "is required"))
        else:
            errors += text_errors({path: value}, free_text={path})
            problem = length_error(value, 2000)
            if problem:
                errors.append(FieldError(path, problem))
    if not centre_ids:
        errors.append(FieldError("centre_ids", "name the centres that offer it"))
    for i, centre in enumerate(centre_ids[:MAX_ITEMS]):
        if centre not in known_centres:
            errors.append(FieldError(f"centre_ids[{i}]", "is not a centre of the organisation"))
    if len(centre_ids) > MAX_ITEMS or len(answers_needs) > MAX_ITEMS:
        errors.append(FieldError("answers_needs", f"at most {MAX_ITEMS}"))
    for i, need in enumerate(answers_needs[:MAX_ITEMS]):
        if not _CODE.match(need):
            errors.append(FieldError(f"answers_needs[{i}]", "is not a need code"))
    return errors


@dataclass(frozen=True)
class Waiting:
    client_id: str
    plan_id: str
    entered_on: date
    centre_ids: tuple[str, ...]
    entered_by: str


class LeaveReason(Enum):
    """Why a client no longer waits for a service."""

    SERVICE_STARTED = "service_started"
    DECLINED = "declined"
    MOVED_AWAY = "moved_away"
    DIED = "died"


@dataclass(frozen=True)
class Departure:
    """A client taken off the list: where they stood, when and why."""

    client_id: str
    plan_id: str
    reason: LeaveReason
    position: int
    left_on: date
    centre_ids: tuple[str, ...]
    left_by: str


@dataclass(frozen=True)
class WaitingList:
    organisation: str
    service_code: str
    entries: tuple[Waiting, ...] = ()
    # Kept so a retried departure answers what was recorded instead of NOT_FOUND.
    departures: tuple[Departure, ...] = ()

    def position_of(self, client_id: str) -> int:
        """1 for the first in line; 0 when the client is not waiting."""
        for i, entry in enumerate(self.entries, start=1):
            if entry.client_id == client_id:
                return i
        return 0

    def last_departure_of(self, client_id: str) -> Departure | None:
        found = [d for d in self.departures if d.client_id == client_id]
        return found[-1] if found else None


def enter(waiting_list: WaitingList, entry: Waiting) -> WaitingList:
    if waiting_list.position_of(entry.client_id):
        raise FailedPrecondition(
            f"the client waits for {waiting_list.service_code} already", field="client_id"
        )
    ordered = sorted((*waiting_list.entries, entry), key=lambda e: e.entered_on)
    return replace(waiting_list, entries=tuple(ordered))


def leave(
    waiting_list: WaitingList, client_id: str, reason: LeaveReason, *, by: str, today: date
) -> tuple[WaitingList, Departure, bool]:
    """The list without the client, those behind them a place further up, and the
    departure recorded. A client no longer waiting who left for this very reason answers
    that departure unchanged (True: a retry); one who never waited is NOT_FOUND."""
    position = waiting_list.position_of(client_id)
    if not position:
        earlier = waiting_list.last_departure_of(client_id)
        if earlier is None:
            raise NotFound(f"the client does not wait for {waiting_list.service_code}")
        if earlier.reason is not reason:
            raise FailedPrecondition(
                f"the client left the waiting list already ({earlier.reason.value})",
                field="reason",
            )
        return waiting_list, earlier, True
    entry = waiting_list.entries[position - 1]
    departure = Departure(client_id, entry.plan_id, reason, position, today, entry.centre_ids, by)
    remaining = tuple(e for e in waiting_list.entries if e.client_id != client_id)
    departures = (*waiting_list.departures, departure)
    return replace(waiting_list, entries=remaining, departures=departures), departure, False


def entry_errors(entered_on: date | None, today: date) -> None:
    if entered_on is None:
        raise_if_any([FieldError("entered_on", "is required (YYYY-MM-DD)")])
    elif entered_on > today:
        raise_if_any([FieldError("entered_on", "is in the future")])


# --------------------------------------------------------------------- screening


@dataclass(frozen=True)
class ScreenHit:
    plan_id: str
    client_id: str
    centre_ids: tuple[str, ...]
    need_id: str
    need_kind: NeedKind
    need_code: str


def screen_for_service(
    plans: Iterable[Plan], service_code: str, answers_needs: Sequence[str]
) -> list[ScreenHit]:
    """Clients whose open plans name a need a new service answers: a need of one of the
    kinds `answers_needs`, or a need already waiting for this very service (a future
    need put on the service's waiting list). A plan counts with its latest version, the
    one the worker is working with; closed plans are left out."""
    wanted = set(answers_needs)
    hits = []
    for plan in plans:
        if plan.closure is not None:
            continue
        for need in plan.current.content.needs:
            if need.need_code in wanted or service_code in need.service_codes:
                hits.append(
                    ScreenHit(
                        plan.plan_id,
                        plan.client_id,
                        plan.centre_ids,
                        need.need_id,
                        need.kind,
                        need.need_code,
                    )
                )
                break
    return hits
