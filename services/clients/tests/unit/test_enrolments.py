"""Specification of a card's enrolments in projects and programmes (domain.enrolments):
several at once and over time, one lead whose project's settings govern the status,
refusals that change nothing, repeats that change nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework_clients.domain import cards, enrolments
from casework_clients.domain.cards import NewPerson
from casework_clients.domain.enrolments import (
    EndEnrolment,
    EnrolClient,
    Enrolment,
    EnrolmentConflict,
    EnrolmentRuleViolation,
    as_recorded,
    end,
    enrol,
    lead_of,
    open_projects,
)
from casework_clients.domain.merging import merge_cards
from casework_clients.domain.projects import SettingsBook, define_project, settings_for
from casework_clients.domain.status import StatusMode, StatusSettings
from casework_common.errors import InvalidArgument

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
PROJECTS = ("prj-housing", "prj-debt", "prj-youth")


def enrolled(
    project_id: str,
    since: date,
    *,
    before: tuple[Enrolment, ...] = (),
    lead: bool = False,
) -> tuple[Enrolment, ...]:
    return enrol(
        before, project_id, since, lead=lead, known_projects=PROJECTS, actor="w-anna", now=NOW
    ).enrolments


def ended(
    before: tuple[Enrolment, ...], project_id: str, until: date, reason: str = "goal reached"
) -> tuple[Enrolment, ...]:
    return end(
        before, project_id, until, reason, known_projects=PROJECTS, actor="w-petr", now=NOW
    ).enrolments


# ------------------------------------------------------------------ examples


def test_the_first_enrolment_leads_and_a_second_one_does_not_take_over() -> None:
    first = enrolled("prj-housing", TODAY - timedelta(days=10))
    # Enrolled later in a second programme, backdated before the first: the rules the
    # status moves by stay the first project's.
    both = enrolled("prj-debt", TODAY - timedelta(days=40), before=first)
    lead = lead_of(both)
    assert lead is not None and lead.project_id == "prj-housing"
    assert open_projects(both) == ("prj-housing", "prj-debt")
    assert [e.lead for e in both] == [True, False]


def test_a_worker_designates_the_lead_when_enrolling() -> None:
    first = enrolled("prj-housing", TODAY)
    both = enrolled("prj-debt", TODAY, before=first, lead=True)
    assert [(e.project_id, e.lead) for e in both] == [("prj-housing", False), ("prj-debt", True)]


def test_when_the_lead_ends_the_open_enrolment_recorded_first_leads() -> None:
    three = enrolled("prj-housing", TODAY - timedelta(days=5))
    three = enrolled("prj-debt", TODAY - timedelta(days=4), before=three)
    three = enrolled("prj-youth", TODAY - timedelta(days=30), before=three, lead=True)
    change = end(
        three, "prj-youth", TODAY, "moved away", known_projects=PROJECTS, actor="w-petr", now=NOW
    )
    assert change.lead_project_id == "prj-housing"
    assert "prj-housing now leads" in change.explanation
    closed = change.changed
    assert closed is not None
    assert (closed.until, closed.end_reason, closed.ended_by, closed.lead) == (
        TODAY, "moved away", "w-petr", False,
    )  # fmt: skip


def test_with_no_enrolment_open_the_organisations_default_governs() -> None:
    one = enrolled("prj-housing", TODAY - timedelta(days=3))
    change = end(one, "prj-housing", TODAY, "done", known_projects=PROJECTS, actor="w", now=NOW)
    assert change.lead_project_id == ""
    assert "default settings" in change.explanation


def test_a_client_may_be_enrolled_again_from_the_day_the_last_enrolment_ended() -> None:
    once = ended(enrolled("prj-housing", TODAY - timedelta(days=20)), "prj-housing",
                 TODAY - timedelta(days=10))  # fmt: skip
    with pytest.raises(EnrolmentConflict) as overlap:
        enrolled("prj-housing", TODAY - timedelta(days=11), before=once)
    assert overlap.value.field == "since"
    again = enrolled("prj-housing", TODAY - timedelta(days=10), before=once)
    assert [(e.since, e.until) for e in again] == [
        (TODAY - timedelta(days=20), TODAY - timedelta(days=10)),
        (TODAY - timedelta(days=10), None),
    ]


@pytest.mark.parametrize(
    ("project_id", "since", "field", "conflict"),
    [
        ("prj-unknown", TODAY, "project_id", False),
        ("prj-housing", TODAY + timedelta(days=1), "since", False),
        # Enrolled in it already, from another day: both at once is refused.
        ("prj-housing", TODAY - timedelta(days=1), "since", True),
    ],
)
def test_an_enrolment_the_rules_forbid_is_refused_naming_the_field(
    project_id: str, since: date, field: str, conflict: bool
) -> None:
    one = enrolled("prj-housing", TODAY - timedelta(days=3))
    with pytest.raises(EnrolmentRuleViolation) as refused:
        enrol(one, project_id, since, lead=False, known_projects=PROJECTS, actor="w", now=NOW)
    assert refused.value.field == field
    assert isinstance(refused.value, EnrolmentConflict) is conflict


def test_enrolling_as_lead_where_already_enrolled_otherwise_is_refused() -> None:
    both = enrolled("prj-debt", TODAY, before=enrolled("prj-housing", TODAY))
    with pytest.raises(EnrolmentConflict) as refused:
        enrolled("prj-debt", TODAY, before=both, lead=True)
    assert refused.value.field == "lead"


@pytest.mark.parametrize(
    ("project_id", "until", "reason", "field", "conflict"),
    [
        ("prj-unknown", TODAY, "x", "project_id", False),
        ("prj-housing", TODAY - timedelta(days=4), "x", "until", False),  # before since
        ("prj-housing", TODAY + timedelta(days=1), "x", "until", False),
        ("prj-housing", TODAY, "  ", "reason", False),
        ("prj-housing", TODAY, "x" * 501, "reason", False),
        ("prj-debt", TODAY, "x", "project_id", True),  # not enrolled in it
    ],
)
def test_an_end_the_rules_forbid_is_refused_naming_the_field(
    project_id: str, until: date, reason: str, field: str, conflict: bool
) -> None:
    one = enrolled("prj-housing", TODAY - timedelta(days=3))
    with pytest.raises(EnrolmentRuleViolation) as refused:
        end(one, project_id, until, reason, known_projects=PROJECTS, actor="w", now=NOW)
    assert refused.value.field == field
    assert isinstance(refused.value, EnrolmentConflict) is conflict


def test_a_card_registered_into_a_project_before_enrolments_shows_one_enrolment() -> None:
    registered = NOW - timedelta(days=100)
    [legacy] = as_recorded((), "prj-housing", registered, "w-anna")
    assert (legacy.project_id, legacy.since, legacy.lead, legacy.enrolled_by) == (
        "prj-housing", registered.date(), True, "w-anna",
    )  # fmt: skip
    assert as_recorded((), "", registered, "w-anna") == ()


def test_requests_default_to_today_and_name_malformed_fields() -> None:
    assert (
        enrolments.enrol_request_of(EnrolClient("cl-1", "prj-housing", "", False), TODAY) == TODAY
    )
    with pytest.raises(InvalidArgument) as bad:
        enrolments.end_request_of(EndEnrolment("", "", "1.6.2026", "x"), TODAY)
    assert {e.field for e in bad.value.errors} == {"client_id", "project_id", "until"}


# ------------------------------------------------------------------ the card and its status


def test_the_one_project_case_governs_the_status_as_before() -> None:
    manual = StatusSettings(mode=StatusMode.MANUAL)
    project = define_project("prj-housing", "org", "Housing", manual, TODAY, "w-admin", NOW)
    book = SettingsBook(StatusSettings(), {"prj-housing": project})
    person = NewPerson("org", "Jana", "Malá", date(1950, 1, 1), "", "", "", "reg-north",
                       "ctr-north", "senior", "", project_id="prj-housing")  # fmt: skip
    card = cards.new_card(
        person, client_id="cl-1", settings=settings_for(book, "prj-housing", TODAY),
        actor="w-anna", now=NOW,
    )  # fmt: skip
    assert card.project_id == "prj-housing"
    assert [(e.project_id, e.since, e.lead) for e in card.enrolments] == [
        ("prj-housing", TODAY, True)
    ]
    assert settings_for(book, card.project_id, TODAY) is manual
    # Ended: the organisation's default governs from now on.
    change = end(card.enrolment_record, "prj-housing", TODAY, "left the programme",
                 known_projects=book.projects, actor="w-anna", now=NOW)  # fmt: skip
    after = cards.with_enrolments(card, change, NOW, "w-anna")
    assert after.project_id == ""
    assert settings_for(book, after.project_id, TODAY) is book.default
    assert after.history[-1].what.startswith("enrolment in prj-housing ended")
    # Nothing changed: the card is the same card.
    assert cards.with_enrolments(after, enrolments.EnrolmentChange(after.enrolments, None),
                                 NOW, "w-anna") is after  # fmt: skip


# ------------------------------------------------------------------ properties

DAYS = st.integers(min_value=-60, max_value=2).map(lambda n: TODAY + timedelta(days=n))
COMMANDS = st.lists(
    st.one_of(
        st.tuples(st.just("enrol"), st.sampled_from((*PROJECTS, "prj-x")), DAYS, st.booleans()),
        st.tuples(st.just("end"), st.sampled_from(PROJECTS), DAYS,
                  st.sampled_from(("done", "moved", ""))),
    ),
    max_size=14,
)  # fmt: skip


def apply(state: tuple[Enrolment, ...], command: tuple[object, ...]) -> enrolments.EnrolmentChange:
    kind, project, day, extra = command
    assert isinstance(project, str) and isinstance(day, date)
    if kind == "enrol":
        return enrol(state, project, day, lead=bool(extra), known_projects=PROJECTS,
                     actor="w-anna", now=NOW)  # fmt: skip
    return end(state, project, day, str(extra), known_projects=PROJECTS, actor="w-petr", now=NOW)


def check_invariants(state: tuple[Enrolment, ...]) -> None:
    opened = [e for e in state if e.open]
    # One lead exactly while anything is open, none otherwise; ended ones never lead.
    assert sum(e.lead for e in state) == (1 if opened else 0)
    assert all(e.open for e in state if e.lead)
    lead = lead_of(state)
    assert (lead is None) == (not opened)
    for project in PROJECTS:
        spans = [(e.since, e.until) for e in state if e.project_id == project]
        # At most one open enrolment per project, and the spans never overlap.
        assert sum(until is None for _, until in spans) <= 1
        for (_, until_a), (since_b, _) in pairwise(spans):
            assert until_a is not None and since_b >= until_a
        assert all(until is None or until >= since for since, until in spans)
    assert all(e.since <= TODAY and (e.until is None or e.until <= TODAY) for e in state)


@settings(max_examples=300, deadline=None)
@given(COMMANDS)
def test_any_sequence_of_commands_keeps_the_enrolments_consistent(
    commands: list[tuple[object, ...]],
) -> None:
    state: tuple[Enrolment, ...] = ()
    for command in commands:
        before = state
        try:
            change = apply(state, command)
        except EnrolmentRuleViolation as refused:
            assert refused.field in ("project_id", "since", "until", "reason", "lead")
            assert state == before  # a refusal changes nothing
            continue
        state = change.enrolments
        check_invariants(state)
        # The same request again changes nothing.
        again = apply(state, command)
        assert again.changed is None and again.enrolments == state
        # Enrolments are only appended and ended: what was recorded stays, in order.
        assert len(state) >= len(before)
        for old, new in zip(before, state, strict=False):
            assert (old.project_id, old.since, old.enrolled_at) == (
                new.project_id, new.since, new.enrolled_at,
            )  # fmt: skip
            assert old.until is None or old.until == new.until


@settings(max_examples=200, deadline=None)
@given(COMMANDS)
def test_only_a_designation_or_the_leads_end_moves_the_lead(
    commands: list[tuple[object, ...]],
) -> None:
    state: tuple[Enrolment, ...] = ()
    for command in commands:
        try:
            change = apply(state, command)
        except EnrolmentRuleViolation:
            continue
        lead_before, lead_after = lead_of(state), lead_of(change.enrolments)
        kind, project, _, extra = command
        if lead_before is not None and lead_after is not lead_before:
            moved_by = (kind == "enrol" and extra is True) or (
                kind == "end" and project == lead_before.project_id
            )
            same = lead_after is not None and (
                (lead_after.project_id, lead_after.since)
                == (lead_before.project_id, lead_before.since)
            )
            assert moved_by or same
        state = change.enrolments


@settings(max_examples=150, deadline=None)
@given(COMMANDS)
def test_the_cards_project_is_always_the_lead_enrolments_or_none(
    commands: list[tuple[object, ...]],
) -> None:
    person = NewPerson("org", "Jana", "Malá", date(1950, 1, 1), "", "", "", "reg-north",
                       "ctr-north", "senior", "", project_id="prj-housing")  # fmt: skip
    card = cards.new_card(person, client_id="cl-1", settings=StatusSettings(), actor="w-anna",
                          now=NOW - timedelta(days=90))  # fmt: skip
    for command in commands:
        try:
            change = apply(card.enrolment_record, command)
        except EnrolmentRuleViolation:
            continue
        before = card
        card = cards.with_enrolments(card, change, NOW, "w-anna")
        lead = lead_of(card.enrolment_record)
        assert card.project_id == (lead.project_id if lead is not None else "")
        # The status itself is never touched by an enrolment: only whose rules apply.
        assert card.status_entries == before.status_entries
        assert len(card.history) == len(before.history) + (change.changed is not None)


# ------------------------------------------------------------------ merging two cards


def merged_cards(
    survivor_enrolments: tuple[Enrolment, ...], absorbed_enrolments: tuple[Enrolment, ...]
) -> cards.ClientCard:
    def card(client_id: str, held: tuple[Enrolment, ...]) -> cards.ClientCard:
        person = NewPerson("org", "Jana", "Malá", date(1950, 1, 1), "", "", "", "reg-north",
                           "ctr-north", "senior", "")  # fmt: skip
        made = cards.new_card(person, client_id=client_id, settings=StatusSettings(),
                              actor="w-anna", now=NOW - timedelta(days=90))  # fmt: skip
        lead = lead_of(held)
        return replace(made, enrolments=held, project_id=lead.project_id if lead else "")

    survivor = card("cl-kept", survivor_enrolments)
    absorbed = card("cl-gone", absorbed_enrolments)
    kept, _ = merge_cards(survivor, absorbed, "typed twice", "w-anna", NOW)
    return kept


def test_a_merge_keeps_the_absorbed_cards_programmes_under_the_survivors_lead() -> None:
    survivor = enrolled("prj-housing", TODAY - timedelta(days=20))
    absorbed = enrolled("prj-debt", TODAY - timedelta(days=30))
    kept = merged_cards(survivor, absorbed)
    assert [(e.project_id, e.lead) for e in kept.enrolments] == [
        ("prj-housing", True), ("prj-debt", False),
    ]  # fmt: skip
    assert kept.project_id == "prj-housing"


def test_a_merge_keeps_one_enrolment_recorded_on_both_cards_the_survivors() -> None:
    survivor = enrolled("prj-housing", TODAY - timedelta(days=20))
    absorbed = enrolled("prj-housing", TODAY - timedelta(days=25))
    absorbed = ended(absorbed, "prj-housing", TODAY - timedelta(days=22))  # before: kept too
    absorbed = enrolled("prj-housing", TODAY - timedelta(days=21), before=absorbed)  # overlaps
    kept = merged_cards(survivor, absorbed)
    assert [(e.since, e.until) for e in kept.enrolments] == [
        (TODAY - timedelta(days=20), None),
        (TODAY - timedelta(days=25), TODAY - timedelta(days=22)),
    ]


def test_a_survivor_in_no_project_takes_the_absorbed_cards_lead() -> None:
    kept = merged_cards((), enrolled("prj-youth", TODAY - timedelta(days=3)))
    assert kept.project_id == "prj-youth"
    assert [(e.project_id, e.lead) for e in kept.enrolments] == [("prj-youth", True)]


@settings(max_examples=150, deadline=None)
@given(COMMANDS, COMMANDS)
def test_a_merge_loses_no_enrolment_and_never_switches_a_survivors_lead(
    survivor_commands: list[tuple[object, ...]], absorbed_commands: list[tuple[object, ...]]
) -> None:
    def run(commands: list[tuple[object, ...]]) -> tuple[Enrolment, ...]:
        state: tuple[Enrolment, ...] = ()
        for command in commands:
            try:
                state = apply(state, command).enrolments
            except EnrolmentRuleViolation:
                continue
        return state

    survivor, absorbed = run(survivor_commands), run(absorbed_commands)
    kept = merged_cards(survivor, absorbed)
    lead_before, lead_after = lead_of(survivor), lead_of(kept.enrolments)
    if lead_before is not None:
        assert lead_after is not None
        assert (lead_after.project_id, lead_after.since) == (
            lead_before.project_id, lead_before.since,
        )  # fmt: skip
    assert kept.project_id == (lead_after.project_id if lead_after is not None else "")
    # The survivor's own enrolments stay first, as they were.
    spans = [(e.project_id, e.since, e.until) for e in kept.enrolments[: len(survivor)]]
    assert spans == [(e.project_id, e.since, e.until) for e in survivor]
    # Every absorbed enrolment is on the survivor, or one of the same project covers a
    # day of it there (an enrolment ended on the day it began covers none: it is kept).
    spans_kept = {(e.project_id, e.since, e.until) for e in kept.enrolments}
    for gone in absorbed:
        assert (gone.project_id, gone.since, gone.until) in spans_kept or any(
            e.project_id == gone.project_id
            and e.since < (gone.until or date.max)
            and gone.since < (e.until or date.max)
            for e in kept.enrolments
        )
    opened = any(e.open for e in kept.enrolments)
    assert sum(e.lead for e in kept.enrolments) == (1 if opened else 0)
