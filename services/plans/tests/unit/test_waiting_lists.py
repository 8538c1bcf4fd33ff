"""Clients leaving a service's waiting list: why, where they stood, and the others
moving up."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from casework_common.errors import FailedPrecondition, NotFound
from casework_plans.domain import catalogue
from casework_plans.domain.catalogue import LeaveReason, Waiting, WaitingList

TODAY = date(2026, 3, 2)


def create_waiting_list(*clients: str) -> WaitingList:
    """The clients waiting in the order named, a day apart."""
    waiting = WaitingList("org", "day-care")
    for i, client in enumerate(clients):
        entry = Waiting(client, f"plan-{client}", TODAY - timedelta(days=10 - i), ("c-a",), "w")
        waiting = catalogue.enter(waiting, entry)
    return waiting


def test_a_client_who_leaves_is_no_longer_waiting_and_those_behind_move_up() -> None:
    waiting = create_waiting_list("c-1", "c-2", "c-3")
    after, departure, replayed = catalogue.leave(
        waiting, "c-2", LeaveReason.SERVICE_STARTED, by="w-anna", today=TODAY
    )
    assert not replayed
    assert [e.client_id for e in after.entries] == ["c-1", "c-3"]
    assert (after.position_of("c-1"), after.position_of("c-2"), after.position_of("c-3")) == (
        1,
        0,
        2,
    )
    assert (departure.plan_id, departure.reason, departure.position, departure.left_on) == (
        "plan-c-2",
        LeaveReason.SERVICE_STARTED,
        2,
        TODAY,
    )


def test_leaving_again_for_the_same_reason_answers_the_first_departure_unchanged() -> None:
    after, first, _ = catalogue.leave(
        create_waiting_list("c-1", "c-2"), "c-1", LeaveReason.DIED, by="w", today=TODAY
    )
    again, departure, replayed = catalogue.leave(
        after, "c-1", LeaveReason.DIED, by="w-other", today=TODAY + timedelta(days=1)
    )
    assert replayed and departure == first and again == after


def test_leaving_again_for_another_reason_is_refused() -> None:
    after, _, _ = catalogue.leave(
        create_waiting_list("c-1"), "c-1", LeaveReason.DECLINED, by="w", today=TODAY
    )
    with pytest.raises(FailedPrecondition) as refused:
        catalogue.leave(after, "c-1", LeaveReason.MOVED_AWAY, by="w", today=TODAY)
    assert refused.value.field == "reason"


def test_a_client_who_never_waited_cannot_leave() -> None:
    with pytest.raises(NotFound):
        catalogue.leave(
            create_waiting_list("c-1"), "c-9", LeaveReason.DECLINED, by="w", today=TODAY
        )


def test_a_client_who_left_may_enter_again_at_the_back_and_leave_again() -> None:
    waiting = create_waiting_list("c-1", "c-2")
    waiting, _, _ = catalogue.leave(waiting, "c-1", LeaveReason.DECLINED, by="w", today=TODAY)
    waiting = catalogue.enter(waiting, Waiting("c-1", "plan-c-1", TODAY, ("c-a",), "w"))
    assert waiting.position_of("c-1") == 2
    waiting, departure, replayed = catalogue.leave(
        waiting, "c-1", LeaveReason.DECLINED, by="w", today=TODAY
    )
    assert not replayed and departure.position == 2
    assert len(waiting.departures) == 2
