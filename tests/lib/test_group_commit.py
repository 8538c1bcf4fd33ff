"""Group commit of the events process (no server): a writer alone writes at once,
callers arriving while a write is under way are written together after it, each gets
its own result, and a fault reaches only the callers of the batch it broke."""

from __future__ import annotations

import eventlet
import pytest

from casework_common.group_commit import GroupCommit


class Store:
    """Writes that take a moment, as a database round trip does (the callers switch)."""

    def __init__(self, failing: set[int] | None = None) -> None:
        self.batches: list[list[int]] = []
        self._failing = failing or set()

    def write(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        eventlet.sleep(0.01)
        if self._failing & set(items):
            raise ConnectionError("database away")
        return [item * 10 for item in items]


def test_a_caller_alone_is_written_at_once_by_itself() -> None:
    store = Store()
    commit = GroupCommit(store.write)

    assert commit(1) == 10
    assert commit(2) == 20
    assert store.batches == [[1], [2]]


def test_callers_arriving_during_a_write_are_written_together_after_it() -> None:
    store = Store()
    commit = GroupCommit(store.write)

    pool = eventlet.GreenPool()
    results = [pool.spawn(commit, n) for n in range(1, 6)]

    assert [r.wait() for r in results] == [10, 20, 30, 40, 50]
    assert store.batches == [[1], [2, 3, 4, 5]]


def test_a_batch_is_never_larger_than_its_limit() -> None:
    store = Store()
    commit = GroupCommit(store.write, most=2)

    pool = eventlet.GreenPool()
    results = [pool.spawn(commit, n) for n in range(1, 6)]

    assert [r.wait() for r in results] == [10, 20, 30, 40, 50]
    assert store.batches == [[1], [2, 3], [4, 5]]


def test_a_fault_reaches_every_caller_of_its_batch_and_no_other() -> None:
    store = Store(failing={3})
    commit = GroupCommit(store.write, most=2)

    pool = eventlet.GreenPool()
    calls = [pool.spawn(commit, n) for n in range(1, 6)]

    outcomes: list[object] = []
    for call in calls:
        try:
            outcomes.append(call.wait())
        except ConnectionError:
            outcomes.append("fault")
    assert outcomes == [10, "fault", "fault", 40, 50]
    with pytest.raises(ConnectionError):
        commit(3)


def test_a_lingering_step_writes_its_first_caller_with_those_arriving_during_the_linger() -> None:
    # A done mark or an outbox clear (nobody downstream waits for it) lingers, so the
    # next consumer's writes go first and later callers join the same command.
    store = Store()
    commit = GroupCommit(store.write, linger=0.05)

    pool = eventlet.GreenPool()
    first = pool.spawn(commit, 1)
    eventlet.sleep(0.01)
    later = [pool.spawn(commit, n) for n in (2, 3)]

    assert [first.wait(), *(call.wait() for call in later)] == [10, 20, 30]
    assert store.batches == [[1, 2, 3]]


def test_a_step_that_does_not_linger_writes_its_first_caller_alone() -> None:
    store = Store()
    commit = GroupCommit(store.write)

    pool = eventlet.GreenPool()
    first = pool.spawn(commit, 1)
    eventlet.sleep(0.001)
    later = [pool.spawn(commit, n) for n in (2, 3)]

    assert [first.wait(), *(call.wait() for call in later)] == [10, 20, 30]
    assert store.batches == [[1], [2, 3]]
