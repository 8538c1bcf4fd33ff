"""The facts each card stores for statistics count exactly what the engine counts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from casework_clients.domain.families import Family, family_verdict
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


def worker_entries(rng: random.Random) -> StatusHistory:
    """What workers recorded for a family itself (seed 001 allows it where status is
    shared): nothing, or a first status and a few changes."""
    if rng.random() < 0.3:
        return StatusHistory()
    day = DAY0 + timedelta(days=rng.randrange(0, 60))
    history = record_first_contact(StatusHistory(), SETTINGS, day, "w", at(day)).history
    for _ in range(rng.randrange(1, 4)):
        day += timedelta(days=rng.choice((0, 2, 9, 30)))
        target = rng.choice(list(ClientStatus))
        closed = target in (ClientStatus.REJECTED, ClientStatus.TERMINATED)
        try:
            history = record_manual_status(
                history, SETTINGS, target, "other" if closed else None, day, "w", at(day)
            ).history
        except StatusRuleViolation:
            continue
    return history


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**9))
def test_a_shared_familys_facts_count_the_status_a_worker_recorded_for_it(seed: int) -> None:
    rng = random.Random(seed)
    end = DAY0 + timedelta(days=400)
    for _ in range(4):
        members = [random_history(rng) for _ in range(rng.randrange(1, 4))]
        own = worker_entries(rng)
        family = Family("f", "org", "F", "reg", ("ctr",), (), at(DAY0), (), own.entries)
        facts = shared_family_facts(members, SETTINGS, own)
        counted = report_from_facts([facts], end, end).statuses
        shown = family_verdict(family, members, SETTINGS).status
        assert {s for s, n in counted.items() if n} == ({shown} if shown else set())


def test_a_worker_recording_a_shared_familys_status_counts_until_a_member_changes() -> None:
    members = [
        record_first_contact(StatusHistory(), SETTINGS, DAY0, "w", at(DAY0), "applicant").history
    ]
    own = record_first_contact(StatusHistory(), SETTINGS, DAY0, "w", at(DAY0)).history
    closed_on = DAY0 + timedelta(days=5)
    own = record_manual_status(
        own, SETTINGS, "rejected", "no_capacity", closed_on, "w", at(closed_on)
    ).history
    report = report_from_facts([shared_family_facts(members, SETTINGS, own)], DAY0, closed_on)
    assert report.statuses[ClientStatus.REJECTED] == 1
    assert report.rejection_reasons == {"no_capacity": 1}
    assert report.flows[(ClientStatus.APPLICANT, ClientStatus.REJECTED)] == 1
    served_on = closed_on + timedelta(days=3)
    members = [
        record_manual_status(
            members[0], SETTINGS, "service_user", None, served_on, "w", at(served_on)
        ).history
    ]
    later = report_from_facts([shared_family_facts(members, SETTINGS, own)], served_on, served_on)
    assert later.statuses[ClientStatus.SERVICE_USER] == 1
