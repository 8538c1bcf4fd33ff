"""The facts each card stores for statistics count exactly what the engine counts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from casework_clients.domain.statistics import (
    client_report,
    report_from_facts,
    shared_family_facts,
    timeline_facts,
)
from casework_clients.domain.status import (
    ClientStatus,
    StatusHistory,
    StatusRuleViolation,
    StatusSettings,
    apply_contract_signed,
    apply_inactivity,
    count_family_statuses,
    record_first_contact,
    record_manual_status,
    reopen_episode,
)

DAY0 = date(2025, 1, 1)
SETTINGS = StatusSettings(use_approached=True, inactivity_days=20, shared_with_family=True)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def random_history(rng: random.Random) -> StatusHistory:
    day = DAY0 + timedelta(days=rng.randrange(0, 30))
    history = record_first_contact(StatusHistory(), SETTINGS, day, "w", at(day)).history
    for _ in range(rng.randrange(0, 7)):
        day += timedelta(days=rng.choice((0, 0, 1, 3, 25)))
        now = at(day + timedelta(days=30))
        step = rng.randrange(5)
        try:
            if step == 0:
                target = rng.choice(list(ClientStatus))
                reason = rng.choice(("no_capacity", "other", "moved_away", "excluded"))
                closed = target in (ClientStatus.REJECTED, ClientStatus.TERMINATED)
                history = record_manual_status(
                    history, SETTINGS, target, reason if closed else None, day, "w", now
                ).history
            elif step == 1:
                history = apply_contract_signed(history, SETTINGS, day, now).history
            elif step == 2:
                history = apply_inactivity(history, SETTINGS, None, day, now).history
            elif step == 3:
                history = reopen_episode(history, SETTINGS, day, "w", now).history
        except StatusRuleViolation:
            continue
    return history


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**9), st.integers(0, 120), st.integers(0, 90))
def test_stored_facts_count_what_the_engine_counts(seed: int, offset: int, length: int) -> None:
    rng = random.Random(seed)
    histories = [random_history(rng) for _ in range(6)]
    start = DAY0 + timedelta(days=offset)
    end = start + timedelta(days=length)
    assert report_from_facts([timeline_facts(h) for h in histories], start, end) == client_report(
        histories, start, end
    )


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**9), st.integers(0, 150))
def test_a_shared_familys_facts_give_the_status_the_engine_gives(seed: int, offset: int) -> None:
    rng = random.Random(seed)
    families = [[random_history(rng) for _ in range(rng.randrange(1, 4))] for _ in range(4)]
    end = DAY0 + timedelta(days=offset)
    report = report_from_facts(
        [shared_family_facts(members, SETTINGS) for members in families], end, end
    )
    assert report.statuses == count_family_statuses(families, SETTINGS, end)
