"""The shared rule for a change that loses to a concurrent write: it is worked out
again on the record as the winner left it, UPDATE_ATTEMPTS times in all (pure: no
server)."""

from __future__ import annotations

import pytest

from casework_common.errors import Conflict
from casework_common.repository import UPDATE_ATTEMPTS, retry_lost_race


class Record:
    """A stored counter that concurrent writers raise `losses` times before ours lands."""

    def __init__(self, losses: int) -> None:
        self.value = 0
        self.reads = 0
        self.losses = losses

    def read(self) -> int:
        self.reads += 1
        return self.value

    def add_one(self, seen: int) -> int:
        if self.losses:
            self.losses -= 1
            self.value += 10  # the concurrent write wins
            raise Conflict("changed concurrently")
        self.value = seen + 1
        return self.value


def test_a_lost_change_is_worked_out_again_on_the_winners_record() -> None:
    record = Record(losses=UPDATE_ATTEMPTS - 1)

    stored = retry_lost_race(record.read, record.add_one)

    # Both concurrent writes are kept, and ours on top of them.
    assert stored == record.value == 10 * (UPDATE_ATTEMPTS - 1) + 1
    assert record.reads == UPDATE_ATTEMPTS


def test_a_change_that_keeps_losing_is_a_conflict_after_the_last_attempt() -> None:
    record = Record(losses=UPDATE_ATTEMPTS)

    with pytest.raises(Conflict):
        retry_lost_race(record.read, record.add_one)

    assert record.value == 10 * UPDATE_ATTEMPTS
    assert record.reads == UPDATE_ATTEMPTS


def test_the_record_the_caller_already_read_is_not_read_again_first() -> None:
    record = Record(losses=0)

    assert retry_lost_race(record.read, record.add_one, first=5) == 6
    assert record.reads == 0
