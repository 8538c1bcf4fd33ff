"""Specifications of the client / family status engine (pure domain, no server)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from casework_clients.domain.status import (
    ALLOWED_TRANSITIONS,
    CLOSED_STATUSES,
    DID_NOT_COME,
    REOPEN_STATUSES,
    STARTING_STATUSES,
    ActorRequired,
    ClientStatus,
    EntrySource,
    FamilyStatusNotShared,
    ForbiddenTransition,
    FutureDate,
    InvalidHistory,
    InvalidPeriod,
    InvalidSettings,
    OutOfOrderDate,
    ReasonNotAllowed,
    ReasonRequired,
    StatusChange,
    StatusEntry,
    StatusHistory,
    StatusMode,
    StatusNotEnabled,
    StatusRuleViolation,
    StatusSettings,
    UnknownReason,
    UnknownStatus,
    apply_contract_signed,
    apply_inactivity,
    check_transition,
    count_family_statuses,
    count_statuses,
    family_status,
    flows,
    record_first_contact,
    record_manual_status,
    reopen_episode,
)

A = ClientStatus.APPROACHED
P = ClientStatus.APPLICANT
U = ClientStatus.SERVICE_USER
R = ClientStatus.REJECTED
T = ClientStatus.TERMINATED

DAY0 = date(2024, 1, 2)
WORKER = "w-17"


# --------------------------------------------------------------------------- factories


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour))


def create_settings(**overrides: Any) -> StatusSettings:
    values: dict[str, Any] = {
        "mode": StatusMode.AUTOMATIC,
        "use_approached": False,
        "inactivity_days": 30,
        "shared_with_family": False,
    }
    values.update(overrides)
    return StatusSettings(**values)


def default_reason(status: ClientStatus, settings: StatusSettings) -> str | None:
    if status is R:
        return "no_capacity" if "no_capacity" in settings.rejection_reasons else None
    if status is T:
        return "goals_achieved" if "goals_achieved" in settings.termination_reasons else None
    return None


def create_history(
    *,
    path: Sequence[ClientStatus] = (),
    start: date = DAY0,
    settings: StatusSettings | None = None,
    actor: str = WORKER,
) -> StatusHistory:
    """First contact on ``start``, then one manual entry per day along ``path``."""
    settings = settings or create_settings()
    history = record_first_contact(StatusHistory(), settings, start, actor, at(start)).history
    day = start
    for status in path:
        day += timedelta(days=1)
        reason = default_reason(status, settings)
        history = record_manual_status(
            history, settings, status, reason, day, actor, at(day)
        ).history
    return history


def create_entry(**overrides: Any) -> StatusEntry:
    values: dict[str, Any] = {
        "status": P,
        "effective_on": DAY0,
        "recorded_at": at(DAY0),
        "source": EntrySource.MANUAL,
        "actor": WORKER,
        "reason": None,
        "explanation": "hand-made entry for a test",
        "sequence": 1,
    }
    values.update(overrides)
    return StatusEntry(**values)


def reach(status: ClientStatus, settings: StatusSettings) -> StatusHistory:
    """A history whose current status is ``status``, built only with legal commands."""
    # An approached client is one step further from applicant than a new one.
    to_applicant: tuple[ClientStatus, ...] = (P,) if settings.use_approached else ()
    paths: dict[ClientStatus, tuple[ClientStatus, ...]] = {
        A: (),
        P: to_applicant,
        U: (U,),
        R: (R,),
        T: (U, T),
    }
    history = create_history(path=paths[status], settings=settings)
    assert history.current is status
    return history


def last_day(history: StatusHistory) -> date:
    latest = history.last_effective_on
    assert latest is not None
    return latest


# --------------------------------------------------------------------------- basics


def test_status_values_are_lowercase_strings() -> None:
    assert [status.value for status in ClientStatus] == [
        "approached",
        "applicant",
        "service_user",
        "rejected",
        "terminated",
    ]


def test_automatic_mode_is_the_default() -> None:
    assert StatusSettings().mode is StatusMode.AUTOMATIC
    assert StatusSettings().inactivity_days is None
    assert DID_NOT_COME in StatusSettings().rejection_reasons
    assert DID_NOT_COME in StatusSettings().termination_reasons


def test_first_contact_starts_as_applicant_when_approached_is_off() -> None:
    history = create_history(settings=create_settings(use_approached=False))
    assert history.current is P
    assert history.episode == 1


def test_first_contact_starts_as_approached_when_it_is_enabled() -> None:
    history = create_history(settings=create_settings(use_approached=True))
    assert history.current is A


def test_first_contact_is_automatic_in_automatic_mode_and_manual_in_manual_mode() -> None:
    auto = create_history(settings=create_settings(mode=StatusMode.AUTOMATIC))
    manual = create_history(settings=create_settings(mode=StatusMode.MANUAL))
    assert auto.entries[0].source is EntrySource.AUTOMATIC
    assert manual.entries[0].source is EntrySource.MANUAL


def test_first_contact_on_an_existing_history_is_refused() -> None:
    history = create_history()
    with pytest.raises(ForbiddenTransition):
        record_first_contact(history, create_settings(), DAY0, WORKER, at(DAY0))


def test_commands_never_mutate_the_history_they_receive() -> None:
    settings = create_settings()
    history = create_history(settings=settings)
    before = history.entries
    change = record_manual_status(
        history, settings, U, None, DAY0 + timedelta(days=1), WORKER, at(DAY0 + timedelta(days=1))
    )
    assert history.entries == before
    assert change.history.entries[: len(before)] == before
    assert change.entry is change.history.entries[-1]
    assert change.changed


def test_a_status_can_be_given_as_its_string_value() -> None:
    settings = create_settings()
    change = record_manual_status(
        create_history(settings=settings), settings, "service_user", None, DAY0, WORKER, at(DAY0)
    )
    assert change.history.current is U


def test_an_unknown_status_is_refused() -> None:
    settings = create_settings()
    with pytest.raises(UnknownStatus) as caught:
        record_manual_status(
            create_history(settings=settings), settings, "banana", None, DAY0, WORKER, at(DAY0)
        )
    assert caught.value.field == "status"


@pytest.mark.parametrize("actor", ["", "   ", "system"])
def test_manual_entries_need_a_named_worker(actor: str) -> None:
    settings = create_settings()
    with pytest.raises(ActorRequired) as caught:
        record_manual_status(
            create_history(settings=settings), settings, U, None, DAY0, actor, at(DAY0)
        )
    assert caught.value.field == "actor"


def test_every_entry_explains_who_when_and_why() -> None:
    settings = create_settings()
    history = create_history(path=(U, T), settings=settings)
    terminated = history.entries[-1]
    assert WORKER in terminated.explanation
    assert terminated.effective_on.isoformat() in terminated.explanation
    assert "goals_achieved" in terminated.explanation
    assert all(entry.explanation.strip() for entry in history.entries)


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"inactivity_days": 0}, "inactivity_days"),
        ({"inactivity_days": -5}, "inactivity_days"),
        ({"inactivity_days": True}, "inactivity_days"),
        ({"rejection_reasons": ()}, "rejection_reasons"),
        ({"termination_reasons": ("moved_away", "moved_away")}, "termination_reasons"),
        ({"termination_reasons": ("moved_away", " ")}, "termination_reasons"),
        ({"rejection_reasons": ("no_capacity",), "inactivity_days": 10}, "rejection_reasons"),
        ({"use_approached": "yes"}, "use_approached"),
        ({"mode": "automatic"}, "mode"),
    ],
)
def test_settings_are_validated(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSettings) as caught:
        create_settings(**overrides)
    assert caught.value.field == field
    assert isinstance(caught.value, StatusRuleViolation)


def test_reason_lists_from_a_config_file_are_frozen_into_tuples() -> None:
    settings = create_settings(rejection_reasons=[DID_NOT_COME, "other"])
    assert settings.rejection_reasons == (DID_NOT_COME, "other")
    hash(settings)


def test_did_not_come_may_be_left_out_when_the_inactivity_rule_is_off() -> None:
    settings = create_settings(inactivity_days=None, rejection_reasons=("no_capacity",))
    assert settings.rejection_reasons == ("no_capacity",)


def test_a_history_refuses_two_entries_with_the_same_sequence() -> None:
    with pytest.raises(InvalidHistory):
        StatusHistory((create_entry(sequence=1), create_entry(sequence=1)))


# --------------------------------------------------------------------------- ordering


def test_a_manual_entry_on_the_same_day_wins_over_an_automatic_one() -> None:
    settings = create_settings()
    day = DAY0 + timedelta(days=3)
    history = create_history(settings=settings)
    history = record_manual_status(
        history, settings, R, "outside_target_group", day, WORKER, at(day, 9)
    ).history
    # The contract is processed later the same day; the worker's decision stands.
    change = apply_contract_signed(history, settings, day, at(day, 17))
    assert not change.changed
    assert change.history.current is R

    # Also when a stored history lists the automatic entry as recorded later.
    stored = StatusHistory(
        (
            create_entry(status=P, sequence=1, source=EntrySource.AUTOMATIC),
            create_entry(status=R, sequence=2, effective_on=day, reason="no_capacity"),
            create_entry(
                status=U,
                sequence=3,
                effective_on=day,
                source=EntrySource.AUTOMATIC,
                actor="system",
                recorded_at=at(day, 18),
            ),
        )
    )
    assert stored.current is R
    assert stored.current_entry is not None
    assert stored.current_entry.sequence == 2


def test_a_contract_signed_on_a_day_a_worker_decided_takes_effect_the_next_day() -> None:
    settings = create_settings(use_approached=True)
    day = DAY0 + timedelta(days=3)
    history = create_history(settings=settings)
    # The worker moves the approached person to applicant on the day the contract is signed.
    history = record_manual_status(history, settings, P, None, day, WORKER, at(day, 9)).history
    same_day = apply_contract_signed(history, settings, day, at(day, 17))
    assert not same_day.changed  # the worker's entry decides that day
    next_day = apply_contract_signed(history, settings, day, at(day + timedelta(days=1), 1))
    assert next_day.changed
    assert next_day.entry is not None
    assert next_day.entry.effective_on == day + timedelta(days=1)
    assert next_day.history.current is U
    assert "takes effect from the first day after" in next_day.entry.explanation


def test_a_contract_never_overrides_a_workers_closing_decision() -> None:
    settings = create_settings()
    day = DAY0 + timedelta(days=3)
    history = create_history(settings=settings)
    history = record_manual_status(
        history, settings, R, "outside_target_group", day, WORKER, at(day, 9)
    ).history
    later = apply_contract_signed(history, settings, day, at(day + timedelta(days=5)))
    assert not later.changed


def test_between_entries_of_the_same_source_the_later_recording_wins() -> None:
    day = DAY0 + timedelta(days=1)
    stored = StatusHistory(
        (
            create_entry(status=P, sequence=1),
            create_entry(status=U, sequence=3, effective_on=day),
            create_entry(status=R, sequence=2, effective_on=day, reason="no_capacity"),
        )
    )
    assert stored.current is U


def test_a_later_effective_date_wins_over_a_later_recording() -> None:
    stored = StatusHistory(
        (
            create_entry(status=U, sequence=1, effective_on=DAY0 + timedelta(days=5)),
            create_entry(status=P, sequence=2, effective_on=DAY0),
        )
    )
    assert stored.current is U
    assert stored.status_on(DAY0) is P


def test_a_worker_can_turn_a_same_day_did_not_come_into_another_reason() -> None:
    settings = create_settings(inactivity_days=30)
    history = create_history(settings=settings)
    today = DAY0 + timedelta(days=40)
    auto = apply_inactivity(history, settings, DAY0, today, at(today))
    assert auto.entry is not None and auto.entry.reason == DID_NOT_COME
    due = auto.entry.effective_on
    manual = record_manual_status(
        auto.history, settings, R, "declined_by_client", due, WORKER, at(today, 15)
    )
    assert manual.entry is not None
    assert manual.entry.supersedes == (auto.entry.sequence,)
    assert manual.history.current is R
    assert manual.history.current_entry is not None
    assert manual.history.current_entry.reason == "declined_by_client"
    assert "overrides" in manual.entry.explanation
    counts = count_statuses([manual.history], DAY0, today)
    assert counts.rejection_reasons == Counter({"declined_by_client": 1})
    # The overridden entry stays in the record for audit.
    assert len(manual.history.entries) == 3


def test_a_worker_can_cancel_a_same_day_automatic_termination() -> None:
    settings = create_settings(inactivity_days=30)
    history = create_history(path=(U,), settings=settings)
    today = last_day(history) + timedelta(days=31)
    auto = apply_inactivity(history, settings, None, today, at(today))
    assert auto.entry is not None and auto.history.current is T
    restored = record_manual_status(
        auto.history, settings, U, None, auto.entry.effective_on, WORKER, at(today, 16)
    )
    assert restored.history.current is U
    assert flows([restored.history], DAY0, today) == Counter({(None, P): 1, (P, U): 1})
    # The silence before the override does not close the client again the next day.
    again = apply_inactivity(
        restored.history, settings, None, today + timedelta(days=1), at(today, 20)
    )
    assert not again.changed


# --------------------------------------------------------------------------- contract


def test_a_signed_contract_makes_an_applicant_a_service_user_in_automatic_mode() -> None:
    settings = create_settings(mode=StatusMode.AUTOMATIC)
    history = create_history(settings=settings)
    day = DAY0 + timedelta(days=2)
    change = apply_contract_signed(history, settings, day, at(day))
    assert change.entry is not None
    assert change.history.current is U
    assert change.entry.source is EntrySource.AUTOMATIC
    assert change.entry.actor == "system"
    assert "contract" in change.entry.explanation


def test_a_contract_signed_on_the_day_of_first_contact_still_counts() -> None:
    settings = create_settings()
    history = create_history(settings=settings)
    change = apply_contract_signed(history, settings, DAY0, at(DAY0, 15))
    assert change.history.current is U


def test_manual_mode_ignores_contract_signing() -> None:
    settings = create_settings(mode=StatusMode.MANUAL)
    history = create_history(settings=settings)
    change = apply_contract_signed(history, settings, DAY0, at(DAY0))
    assert change == StatusChange(history, None)


def test_signing_a_contract_again_changes_nothing() -> None:
    settings = create_settings()
    history = create_history(path=(U,), settings=settings)
    day = last_day(history) + timedelta(days=1)
    assert not apply_contract_signed(history, settings, day, at(day)).changed


def test_a_contract_message_repeated_after_later_entries_changes_nothing() -> None:
    settings = create_settings()
    history = create_history(settings=settings)
    signed_on = DAY0 + timedelta(days=1)
    history = apply_contract_signed(history, settings, signed_on, at(signed_on)).history
    # Later entries: an automatic "did not come" that a worker cancelled the same day.
    later = signed_on + timedelta(days=40)
    auto = apply_inactivity(history, settings, signed_on, later, at(later))
    assert auto.entry is not None
    due = auto.entry.effective_on
    history = record_manual_status(auto.history, settings, U, None, due, WORKER, at(later)).history
    assert history.last_effective_on == due > signed_on
    assert not apply_contract_signed(history, settings, signed_on, at(later)).changed


def test_a_contract_for_a_closed_client_needs_a_new_episode_first() -> None:
    settings = create_settings()
    history = create_history(path=(R,), settings=settings)
    day = last_day(history) + timedelta(days=1)
    with pytest.raises(ForbiddenTransition):
        apply_contract_signed(history, settings, day, at(day))


def test_a_contract_for_a_client_without_status_is_refused() -> None:
    with pytest.raises(ForbiddenTransition):
        apply_contract_signed(StatusHistory(), create_settings(), DAY0, at(DAY0))


# --------------------------------------------------------------------------- inactivity


def test_inactivity_rejects_someone_who_never_became_a_service_user() -> None:
    settings = create_settings(inactivity_days=30)
    history = create_history(settings=settings)
    today = DAY0 + timedelta(days=45)
    change = apply_inactivity(history, settings, DAY0, today, at(today))
    assert change.entry is not None
    assert (change.entry.status, change.entry.reason) == (R, DID_NOT_COME)
    # Dated when the limit was reached, not when the job happened to run.
    assert change.entry.effective_on == DAY0 + timedelta(days=30)
    assert "30 days" in change.entry.explanation


def test_inactivity_terminates_a_service_user() -> None:
    settings = create_settings(inactivity_days=10)
    history = create_history(path=(U,), settings=settings)
    today = last_day(history) + timedelta(days=10)
    change = apply_inactivity(history, settings, last_day(history), today, at(today))
    assert change.entry is not None
    assert (change.entry.status, change.entry.reason) == (T, DID_NOT_COME)


@pytest.mark.parametrize(
    ("settings", "path", "days_later"),
    [
        (create_settings(inactivity_days=None), (), 400),
        (create_settings(mode=StatusMode.MANUAL, inactivity_days=5), (), 400),
        (create_settings(inactivity_days=30), (), 29),
        (create_settings(inactivity_days=5), (R,), 400),
        (create_settings(inactivity_days=5), (U, T), 400),
    ],
    ids=["rule-off", "manual-mode", "too-early", "already-rejected", "already-terminated"],
)
def test_inactivity_does_nothing_when_it_does_not_apply(
    settings: StatusSettings, path: tuple[ClientStatus, ...], days_later: int
) -> None:
    history = create_history(path=path, settings=settings)
    today = last_day(history) + timedelta(days=days_later)
    change = apply_inactivity(history, settings, last_day(history), today, at(today))
    assert change == StatusChange(history, None)


def test_inactivity_does_nothing_for_a_client_without_status() -> None:
    settings = create_settings(inactivity_days=1)
    today = DAY0 + timedelta(days=100)
    assert not apply_inactivity(StatusHistory(), settings, None, today, at(today)).changed


def test_inactivity_counts_from_the_latest_status_entry() -> None:
    settings = create_settings(inactivity_days=30)
    history = create_history(path=(U, T), settings=settings)
    back = last_day(history) + timedelta(days=200)
    reopened = reopen_episode(history, settings, back, WORKER, at(back)).history
    # The last logged contact is from the first episode; the new one must not close at once.
    assert not apply_inactivity(reopened, settings, DAY0, back, at(back)).changed
    later = back + timedelta(days=30)
    change = apply_inactivity(reopened, settings, DAY0, later, at(later))
    assert change.entry is not None and change.entry.effective_on == later
    assert change.entry.episode == 2


def test_inactivity_rule_is_idempotent() -> None:
    settings = create_settings(inactivity_days=30)
    history = create_history(settings=settings)
    today = DAY0 + timedelta(days=31)
    first = apply_inactivity(history, settings, DAY0, today, at(today))
    same_day = apply_inactivity(first.history, settings, DAY0, today, at(today, 13))
    next_day = apply_inactivity(
        same_day.history, settings, DAY0, today + timedelta(days=1), at(today + timedelta(days=1))
    )
    assert first.changed and not same_day.changed and not next_day.changed
    assert next_day.history == first.history


@given(
    days=st.integers(min_value=1, max_value=60),
    runs=st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=12),
)
def test_inactivity_creates_at_most_one_did_not_come_however_often_it_runs(
    days: int, runs: list[int]
) -> None:
    settings = create_settings(inactivity_days=days)
    history = create_history(settings=settings)
    for offset in sorted(runs):
        today = DAY0 + timedelta(days=offset)
        history = apply_inactivity(history, settings, DAY0, today, at(today)).history
    did_not_come = [entry for entry in history.entries if entry.reason == DID_NOT_COME]
    expected = 1 if max(runs) >= days else 0
    assert len(did_not_come) == expected


def test_a_last_contact_after_today_is_refused() -> None:
    settings = create_settings(inactivity_days=5)
    with pytest.raises(FutureDate) as caught:
        apply_inactivity(
            create_history(settings=settings), settings, DAY0 + timedelta(days=1), DAY0, at(DAY0)
        )
    assert caught.value.field == "last_contact_on"


# --------------------------------------------------------------------------- reasons


def test_terminated_requires_a_configured_reason() -> None:
    settings = create_settings()
    history = create_history(path=(U,), settings=settings)
    day = last_day(history)
    with pytest.raises(ReasonRequired) as missing:
        record_manual_status(history, settings, T, None, day, WORKER, at(day))
    with pytest.raises(ReasonRequired):
        record_manual_status(history, settings, T, "  ", day, WORKER, at(day))
    with pytest.raises(UnknownReason) as unknown:
        record_manual_status(history, settings, T, "no_capacity", day, WORKER, at(day))
    assert missing.value.field == unknown.value.field == "reason"
    change = record_manual_status(history, settings, T, "excluded", day, WORKER, at(day))
    assert change.entry is not None and change.entry.reason == "excluded"


def test_rejected_requires_a_configured_reason() -> None:
    settings = create_settings(rejection_reasons=(DID_NOT_COME, "too_far_away"))
    history = create_history(settings=settings)
    with pytest.raises(ReasonRequired):
        record_manual_status(history, settings, R, None, DAY0, WORKER, at(DAY0))
    with pytest.raises(UnknownReason):
        record_manual_status(history, settings, R, "no_capacity", DAY0, WORKER, at(DAY0))
    change = record_manual_status(history, settings, R, "too_far_away", DAY0, WORKER, at(DAY0))
    assert change.history.current is R


def test_statuses_that_do_not_close_an_episode_take_no_reason() -> None:
    settings = create_settings()
    history = create_history(settings=settings)
    with pytest.raises(ReasonNotAllowed) as caught:
        record_manual_status(history, settings, U, "no_capacity", DAY0, WORKER, at(DAY0))
    assert caught.value.field == "reason"
    # An empty string from a transport means "no reason".
    assert record_manual_status(history, settings, U, "", DAY0, WORKER, at(DAY0)).changed


# --------------------------------------------------------------------------- dates


def test_future_dates_are_refused() -> None:
    settings = create_settings()
    tomorrow = DAY0 + timedelta(days=1)
    with pytest.raises(FutureDate) as caught:
        record_first_contact(StatusHistory(), settings, tomorrow, WORKER, at(DAY0))
    assert caught.value.field == "on"
    history = create_history(settings=settings)
    with pytest.raises(FutureDate):
        record_manual_status(history, settings, U, None, tomorrow, WORKER, at(DAY0))
    with pytest.raises(FutureDate):
        apply_contract_signed(history, settings, tomorrow, at(DAY0))
    closed = create_history(path=(R,), settings=settings)
    with pytest.raises(FutureDate):
        reopen_episode(closed, settings, tomorrow + timedelta(days=5), WORKER, at(tomorrow))


def test_entries_cannot_be_backdated_before_the_latest_entry() -> None:
    settings = create_settings()
    history = create_history(path=(U,), settings=settings)
    day = last_day(history)
    with pytest.raises(OutOfOrderDate) as caught:
        record_manual_status(
            history, settings, T, "excluded", day - timedelta(days=1), WORKER, at(day)
        )
    assert caught.value.field == "on"


# --------------------------------------------------------------------------- transitions


TRANSITION_CASES = [(source, target) for source in ClientStatus for target in ClientStatus]


@pytest.mark.parametrize(("source", "target"), TRANSITION_CASES)
def test_manual_entries_follow_the_published_transition_table(
    source: ClientStatus, target: ClientStatus
) -> None:
    settings = create_settings(use_approached=True)
    history = reach(source, settings)
    day = last_day(history) + timedelta(days=1)
    reason = default_reason(target, settings)
    if target in ALLOWED_TRANSITIONS[source]:
        change = record_manual_status(history, settings, target, reason, day, WORKER, at(day))
        assert change.history.current is target
    else:
        with pytest.raises(ForbiddenTransition) as caught:
            record_manual_status(history, settings, target, reason, day, WORKER, at(day))
        assert (caught.value.from_status, caught.value.to_status) == (source, target)
        assert caught.value.field == "status"


def test_terminated_is_reachable_only_from_service_user() -> None:
    assert [s for s in ClientStatus if T in ALLOWED_TRANSITIONS[s]] == [U]


def test_rejected_is_reachable_only_before_admission() -> None:
    assert {s for s in ClientStatus if R in ALLOWED_TRANSITIONS[s]} == {A, P}


def test_going_back_to_approached_from_service_user_is_forbidden() -> None:
    settings = create_settings(use_approached=True)
    history = reach(U, settings)
    day = last_day(history)
    with pytest.raises(ForbiddenTransition):
        record_manual_status(history, settings, A, None, day, WORKER, at(day))


def test_approached_is_only_usable_when_enabled() -> None:
    settings = create_settings(use_approached=False)
    with pytest.raises(StatusNotEnabled) as caught:
        check_transition(None, A, settings)
    assert caught.value.field == "status"
    closed = create_history(path=(R,), settings=settings)
    day = last_day(closed)
    with pytest.raises(StatusNotEnabled):
        reopen_episode(closed, settings, day, WORKER, at(day), status=A)
    check_transition(None, A, create_settings(use_approached=True))


def test_a_new_history_can_only_start_at_a_starting_status() -> None:
    settings = create_settings(use_approached=True)
    for status in ClientStatus:
        if status in STARTING_STATUSES:
            check_transition(None, status, settings)
        else:
            with pytest.raises(ForbiddenTransition):
                check_transition(None, status, settings)


@pytest.mark.parametrize("closed", [R, T])
def test_leaving_rejected_or_terminated_is_only_possible_by_reopening(
    closed: ClientStatus,
) -> None:
    settings = create_settings()
    history = reach(closed, settings)
    day = last_day(history) + timedelta(days=1)
    for status in (P, U):
        with pytest.raises(ForbiddenTransition):
            record_manual_status(history, settings, status, None, day, WORKER, at(day))
    assert reopen_episode(history, settings, day, WORKER, at(day)).history.current is P


# --------------------------------------------------------------------------- episodes


def test_reopening_an_episode_keeps_history() -> None:
    settings = create_settings(use_approached=True)
    history = reach(T, settings)
    back = last_day(history) + timedelta(days=90)
    change = reopen_episode(history, settings, back, WORKER, at(back))
    assert change.entry is not None
    assert change.history.entries[: len(history.entries)] == history.entries
    assert change.history.current is A
    assert (change.entry.episode, change.history.episode) == (2, 2)
    assert change.history.status_on(back - timedelta(days=1)) is T
    assert "goals_achieved" in change.entry.explanation
    assert flows([change.history], back, back) == Counter({(T, A): 1})


def test_reopening_can_start_as_applicant_when_chosen() -> None:
    settings = create_settings(use_approached=True)
    history = reach(R, settings)
    day = last_day(history)
    change = reopen_episode(history, settings, day, WORKER, at(day), status="applicant")
    assert change.history.current is P
    assert P in REOPEN_STATUSES


@pytest.mark.parametrize("status", [P, U])
def test_reopening_requires_a_closed_episode(status: ClientStatus) -> None:
    settings = create_settings()
    history = reach(status, settings)
    day = last_day(history)
    with pytest.raises(ForbiddenTransition):
        reopen_episode(history, settings, day, WORKER, at(day))


def test_a_new_episode_cannot_start_as_service_user() -> None:
    settings = create_settings()
    history = reach(T, settings)
    day = last_day(history)
    with pytest.raises(ForbiddenTransition):
        reopen_episode(history, settings, day, WORKER, at(day), status=U)


# --------------------------------------------------------------------------- any sequence


REASON_CHOICES = [None, "", DID_NOT_COME, "no_capacity", "goals_achieved", "excluded", "bogus"]


def assert_timeline_is_lawful(history: StatusHistory, settings: StatusSettings) -> None:
    previous: StatusEntry | None = None
    for entry in history.timeline:
        if previous is None:
            assert entry.status in STARTING_STATUSES
            assert entry.episode == 1
        elif entry.episode == previous.episode + 1:
            assert previous.status in CLOSED_STATUSES
            assert entry.status in REOPEN_STATUSES
        else:
            assert entry.episode == previous.episode
            # A same-status step only happens when a manual entry restores the status
            # that held before same-day automatic entries it overrode.
            assert entry.status in ALLOWED_TRANSITIONS[previous.status] or (
                entry.status is previous.status and entry.supersedes
            )
        if entry.status in CLOSED_STATUSES:
            assert entry.reason in settings.reasons_for(entry.status)
        else:
            assert entry.reason is None
        assert entry.explanation.strip()
        previous = entry


class StatusMachine(RuleBasedStateMachine):
    """Random interleavings of every command, with time passing in between."""

    def __init__(self) -> None:
        super().__init__()
        self.settings = create_settings()
        self.history = StatusHistory()
        self.today = DAY0
        self.hour = 8
        self.last_contact: date | None = None

    @initialize(
        mode=st.sampled_from(StatusMode),
        use_approached=st.booleans(),
        inactivity_days=st.none() | st.integers(min_value=1, max_value=6),
    )
    def choose_settings(
        self, mode: StatusMode, use_approached: bool, inactivity_days: int | None
    ) -> None:
        self.settings = create_settings(
            mode=mode, use_approached=use_approached, inactivity_days=inactivity_days
        )

    def now(self) -> datetime:
        # Recording times only move forward, like a real clock.
        self.hour = min(self.hour + 1, 23)
        return at(self.today, self.hour)

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    def run(self, command: Callable[[], StatusChange]) -> None:
        before = self.history
        try:
            change = command()
        except StatusRuleViolation as error:
            assert error.field
            assert str(error)
            return
        if change.entry is None:
            assert change.history == before
        else:
            assert change.history.entries[:-1] == before.entries
            assert change.history.entries[-1] == change.entry
        self.history = change.history

    @rule(days=st.integers(min_value=0, max_value=4))
    def time_passes(self, days: int) -> None:
        self.today += timedelta(days=days)
        self.hour = 8 if days else self.hour

    @rule()
    def contact_logged(self) -> None:
        self.last_contact = self.today

    @rule(offset=st.integers(min_value=-2, max_value=1))
    def first_contact(self, offset: int) -> None:
        self.run(
            lambda: record_first_contact(
                self.history, self.settings, self.day(offset), WORKER, self.now()
            )
        )

    @rule(
        status=st.sampled_from(ClientStatus),
        reason=st.sampled_from(REASON_CHOICES),
        offset=st.integers(min_value=-2, max_value=1),
    )
    def manual_entry(self, status: ClientStatus, reason: str | None, offset: int) -> None:
        self.run(
            lambda: record_manual_status(
                self.history, self.settings, status, reason, self.day(offset), WORKER, self.now()
            )
        )

    @rule(status=st.sampled_from(ClientStatus))
    def manual_entry_on_the_latest_day(self, status: ClientStatus) -> None:
        # Aims at the same-day override: automatic entries are often back-dated to the
        # day a limit was reached, which random offsets from today rarely hit.
        on = self.history.last_effective_on or self.today
        reason = default_reason(status, self.settings)
        self.run(
            lambda: record_manual_status(
                self.history, self.settings, status, reason, on, WORKER, self.now()
            )
        )

    @rule(offset=st.integers(min_value=-2, max_value=1))
    def contract_signed(self, offset: int) -> None:
        self.run(
            lambda: apply_contract_signed(self.history, self.settings, self.day(offset), self.now())
        )

    @rule()
    def inactivity_checked(self) -> None:
        self.run(
            lambda: apply_inactivity(
                self.history, self.settings, self.last_contact, self.today, self.now()
            )
        )

    @rule(
        status=st.none() | st.sampled_from(ClientStatus),
        offset=st.integers(min_value=-2, max_value=1),
    )
    def episode_reopened(self, status: ClientStatus | None, offset: int) -> None:
        self.run(
            lambda: reopen_episode(
                self.history, self.settings, self.day(offset), WORKER, self.now(), status
            )
        )

    @invariant()
    def exactly_one_current_status(self) -> None:
        timeline = self.history.timeline
        if not self.history.entries:
            assert self.history.current is None
            return
        assert self.history.current in set(ClientStatus)
        keys = [entry.order_key for entry in timeline]
        assert len(set(keys)) == len(keys)
        winners = [entry for entry in timeline if entry.order_key == max(keys)]
        assert len(winners) == 1
        assert winners[0].status is self.history.current

    @invariant()
    def a_manual_entry_decides_its_day(self) -> None:
        timeline = self.history.timeline
        if not timeline:
            return
        latest = timeline[-1].effective_on
        if any(e.effective_on == latest and e.source is EntrySource.MANUAL for e in timeline):
            assert timeline[-1].source is EntrySource.MANUAL

    @invariant()
    def the_timeline_obeys_the_rules(self) -> None:
        assert_timeline_is_lawful(self.history, self.settings)

    @invariant()
    def an_episode_is_closed_at_most_once(self) -> None:
        closing = Counter(e.episode for e in self.history.timeline if e.status in CLOSED_STATUSES)
        assert all(count == 1 for count in closing.values())

    @invariant()
    def manual_mode_never_writes_automatic_entries(self) -> None:
        if self.settings.mode is StatusMode.MANUAL:
            assert all(e.source is EntrySource.MANUAL for e in self.history.entries)


def test_any_sequence_of_events_yields_exactly_one_current_status() -> None:
    run_state_machine_as_test(
        StatusMachine,
        settings=hypothesis_settings(max_examples=150, stateful_step_count=40, deadline=None),
    )


# --------------------------------------------------------------------------- family


def test_family_status_is_service_user_when_any_member_is() -> None:
    settings = create_settings(shared_with_family=True)
    members = [reach(T, settings), reach(P, settings), reach(U, settings)]
    verdict = family_status(members, settings)
    assert verdict.status is U
    assert "1 of 3" in verdict.explanation


def test_family_status_follows_the_published_precedence() -> None:
    settings = create_settings(shared_with_family=True, use_approached=True)
    assert family_status([reach(R, settings), reach(A, settings)], settings).status is A
    assert family_status([reach(A, settings), reach(P, settings)], settings).status is P
    assert family_status([reach(R, settings), reach(T, settings)], settings).status is T
    assert family_status([reach(R, settings), StatusHistory()], settings).status is R
    assert family_status([StatusHistory()], settings).status is None
    assert family_status([], settings).status is None


def test_family_status_can_be_asked_for_a_past_day() -> None:
    settings = create_settings(shared_with_family=True)
    member = reach(U, settings)
    assert family_status([member], settings, on=DAY0).status is P
    assert family_status([member], settings, on=DAY0 - timedelta(days=1)).status is None


def test_family_status_is_refused_when_the_project_does_not_share_it() -> None:
    settings = create_settings(shared_with_family=False)
    with pytest.raises(FamilyStatusNotShared) as caught:
        family_status([reach(P, settings)], settings)
    assert caught.value.field == "shared_with_family"


def test_families_are_counted_by_their_shared_status() -> None:
    settings = create_settings(shared_with_family=True)
    families = [
        [reach(U, settings), reach(R, settings)],
        [reach(P, settings)],
        [reach(T, settings), reach(R, settings)],
        [],
    ]
    counts = count_family_statuses(families, settings, DAY0 + timedelta(days=10))
    assert counts == Counter({U: 1, P: 1, T: 1})
    assert counts[A] == 0 and A in counts


# --------------------------------------------------------------------------- statistics


MARCH_START = date(2024, 3, 1)
MARCH_END = date(2024, 3, 31)
MARCH_10 = date(2024, 3, 10)
MARCH_12 = date(2024, 3, 12)
MARCH_25 = date(2024, 3, 25)


def march_example() -> list[StatusHistory]:
    """Seven clients whose stories cross March 2024 in different ways."""
    settings = create_settings(inactivity_days=30)

    def start(day: date) -> StatusHistory:
        return record_first_contact(StatusHistory(), settings, day, WORKER, at(day)).history

    def manual(h: StatusHistory, s: ClientStatus, reason: str | None, d: date) -> StatusHistory:
        return record_manual_status(h, settings, s, reason, d, WORKER, at(d)).history

    def contract(h: StatusHistory, d: date) -> StatusHistory:
        return apply_contract_signed(h, settings, d, at(d)).history

    # Admitted in March.
    anna = contract(start(date(2024, 2, 10)), date(2024, 3, 5))
    # New in March and turned away for lack of capacity.
    boris = manual(start(date(2024, 3, 2)), R, "no_capacity", date(2024, 3, 3))
    # Served since January, finished in March.
    cyril = contract(start(date(2024, 1, 5)), date(2024, 1, 10))
    cyril = manual(cyril, T, "goals_achieved", date(2024, 3, 20))
    # Never came back after the first contact: rejected automatically on 2 March.
    dana = start(date(2024, 2, 1))
    dana = apply_inactivity(dana, settings, date(2024, 2, 1), MARCH_10, at(MARCH_10)).history
    # New in March, admitted only in April.
    eva = contract(start(date(2024, 3, 15)), date(2024, 4, 2))
    # Left in February, returned in March.
    filip = contract(start(date(2024, 1, 2)), date(2024, 1, 3))
    filip = manual(filip, T, "moved_away", date(2024, 2, 20))
    filip = reopen_episode(filip, settings, MARCH_25, WORKER, at(MARCH_25)).history
    # An automatic "did not come" the worker replaced with an exclusion the same day.
    gita = contract(start(date(2024, 2, 1)), date(2024, 2, 5))
    gita = apply_inactivity(gita, settings, date(2024, 2, 5), MARCH_12, at(MARCH_12)).history
    assert gita.current_entry is not None
    assert gita.current_entry.effective_on == date(2024, 3, 6)
    gita = record_manual_status(
        gita, settings, T, "excluded", date(2024, 3, 6), WORKER, at(MARCH_12, 15)
    ).history
    return [anna, boris, cyril, dana, eva, filip, gita]


def test_statistics_count_statuses_and_reasons_on_a_small_example() -> None:
    counts = count_statuses(march_example(), MARCH_START, MARCH_END)
    assert counts.statuses == Counter({U: 1, P: 2, R: 2, T: 2})
    assert counts.statuses[A] == 0
    assert counts.rejection_reasons == Counter({"no_capacity": 1, DID_NOT_COME: 1})
    assert counts.termination_reasons == Counter({"goals_achieved": 1, "excluded": 1})
    assert (counts.period_start, counts.period_end) == (MARCH_START, MARCH_END)


def test_statistics_flows_on_a_small_example() -> None:
    assert flows(march_example(), MARCH_START, MARCH_END) == Counter(
        {
            (None, P): 2,
            (P, U): 1,
            (P, R): 2,
            (U, T): 2,
            (T, P): 1,
        }
    )


def test_statistics_look_at_the_state_at_the_end_of_the_period() -> None:
    histories = march_example()
    february = count_statuses(histories, date(2024, 2, 1), date(2024, 2, 29))
    assert february.statuses == Counter({P: 2, U: 2, T: 1})
    assert february.termination_reasons == Counter({"moved_away": 1})
    assert february.rejection_reasons == Counter()


def test_statistics_refuse_a_period_that_ends_before_it_starts() -> None:
    with pytest.raises(InvalidPeriod):
        count_statuses([], MARCH_END, MARCH_START)
    with pytest.raises(InvalidPeriod):
        flows([], MARCH_END, MARCH_START)
