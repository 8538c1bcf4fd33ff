"""The suite keeps every referral, once, through crashes: a stream of referrals while
clients' and notify's events processes are killed -9, the database server is killed -9
and started again, and the broker node is killed -9 and started again. It runs on a
broker node and a database server of its own (casework_dev.chaos), so the other
tests' broker and database never see the faults. `make chaos` is the long run."""

from __future__ import annotations

from pathlib import Path

import pytest

from casework_dev import chaos

pytestmark = pytest.mark.e2e


def test_crashes_of_consumers_database_and_broker_lose_double_and_dead_letter_nothing(
    tmp_path: Path,
) -> None:
    outcome = chaos.run(referrals=30, small=True, base=tmp_path)

    # The stream's 30, and the one sent once the restarted broker accepted connections.
    assert outcome.accepted == 31
    assert outcome.lost == []
    assert outcome.doubled == []
    assert outcome.dead_lettered == 0
    assert outcome.cards == outcome.notifications == 31
    assert len(outcome.resume_gaps) == 1
    assert outcome.resumed, "no event was handled after the broker came back"
