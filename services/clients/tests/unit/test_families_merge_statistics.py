"""Families (no cycles), merging cards (no history lost) and statistics (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_clients.domain.card_contacts import attach_consultation
from casework_clients.domain.cards import (
    ClientCard,
    Consultation,
    Contract,
    HistoryEntry,
    record_contract,
)
from casework_clients.domain.families import (
    Family,
    FamilyMember,
    add_member,
    creates_cycle,
    new_family,
)
from casework_clients.domain.merging import merge_cards
from casework_clients.domain.statistics import client_report, family_report
from casework_clients.domain.status import (
    ClientStatus,
    InvalidPeriod,
    StatusHistory,
    StatusSettings,
    record_first_contact,
    record_manual_status,
)
from casework_common.errors import InvalidArgument

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def create_family(**overrides: Any) -> Family:
    fields: dict[str, Any] = {
        "family_id": "fam-1",
        "organisation": "org-demo",
        "name": "Household Novák",
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "members": (FamilyMember("mum", "head"), FamilyMember("kid", "child", ("mum",))),
        "actor": "w-anna",
        "now": T0,
    }
    fields.update(overrides)
    return new_family(**fields)


def create_card(**overrides: Any) -> ClientCard:
    fields: dict[str, Any] = {
        "client_id": "cl-1",
        "organisation": "org-demo",
        "identity_key": "org-demo|novak|jan|1970-01-01",
        "given_name": "Jan",
        "family_name": "Novák",
        "date_of_birth": date(1970, 1, 1),
        "phone": "",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_ids": ("ctr-north-town",),
        "client_type": "senior",
        "problem_types": ("housing",),
        "status": "applicant",
        "referral_ids": ("ref-1",),
        "registered_at": T0,
        "history": (HistoryEntry(T0, "card created", "system"),),
    }
    fields.update(overrides)
    return ClientCard(**fields)


# ------------------------------------------------------------------ families


def test_a_family_is_created_with_its_members_and_parent_links() -> None:
    family = create_family()
    assert family.member_ids == ("mum", "kid")
    assert family.parents() == {"mum": (), "kid": ("mum",)}


@pytest.mark.parametrize(
    ("member", "field"),
    [
        (FamilyMember("kid", "child", ("kid",)), "member.parent_client_ids"),
        (FamilyMember("dad", "uncle-ish"), "member.role"),
        (FamilyMember("dad", "parent", ("nobody",)), "member.parent_client_ids"),
        (FamilyMember("mum", "head", ("kid",)), "member.parent_client_ids"),  # a cycle
        (FamilyMember("", "head"), "member.client_id"),
    ],
)
def test_a_bad_member_is_refused_and_the_family_is_unchanged(
    member: FamilyMember, field: str
) -> None:
    family = create_family()
    with pytest.raises(InvalidArgument) as refused:
        add_member(family, member, "w-anna", T0)
    assert field in {e.field for e in refused.value.errors}


def test_a_cycle_among_the_first_members_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        create_family(
            members=(FamilyMember("a", "parent", ("b",)), FamilyMember("b", "child", ("a",)))
        )


_ids = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@given(st.lists(st.tuples(_ids, st.lists(_ids, max_size=3, unique=True)), max_size=25))
def test_whatever_members_are_added_the_parent_links_never_form_a_cycle(
    changes: list[tuple[str, list[str]]],
) -> None:
    family = create_family(members=(FamilyMember("a", "head"),))
    for client_id, parents in changes:
        try:
            family, _ = add_member(
                family, FamilyMember(client_id, "other", tuple(parents)), "w", T0
            )
        except InvalidArgument:
            continue
        assert not creates_cycle(family.parents())
    assert len(set(family.member_ids)) == len(family.member_ids)


# ------------------------------------------------------------------ merge

_lines = st.lists(st.text(min_size=1, max_size=20), max_size=8)


@given(_lines, _lines)
def test_merging_keeps_every_history_line_of_both_cards(left: list[str], right: list[str]) -> None:
    survivor = create_card(
        history=tuple(HistoryEntry(T0 + timedelta(minutes=i), w, "a") for i, w in enumerate(left))
    )
    absorbed = create_card(
        client_id="cl-2",
        referral_ids=("ref-2",),
        history=tuple(HistoryEntry(T0 + timedelta(minutes=i), w, "b") for i, w in enumerate(right)),
    )
    kept, redirect = merge_cards(
        survivor, absorbed, "same person", "w-anna", T0 + timedelta(days=1)
    )
    texts = [h.what for h in kept.history]
    for line in left:
        assert line in texts
    for line in right:
        assert f"[from card cl-2] {line}" in texts
    assert redirect.history[: len(absorbed.history)] == absorbed.history
    assert redirect.merged_into == "cl-1"
    assert kept.merged_from == ("cl-2",)
    assert kept.referral_ids == ("ref-1", "ref-2")


def test_the_same_contract_or_consultation_is_kept_once() -> None:
    card = create_card()
    contract = Contract("k-1", date(2025, 3, 1), None, T0)
    once, added = record_contract(card, contract, "w")
    again, added_again = record_contract(once, contract, "w")
    assert added and not added_again and again == once
    consultation = Consultation(
        "c-1", "org-demo", "Jan", "Novák", date(1970, 1, 1), "", "", "debts", 20, "w", "phone",
        "ctr-north-town", T0,
    )  # fmt: skip
    joined, first = attach_consultation(card, consultation, T0, "test")
    rejoined, second = attach_consultation(joined, consultation, T0, "test")
    assert first and not second and rejoined == joined
    assert joined.consultation_ids == ("c-1",)
    assert joined.last_contact_on == T0.date()


# ------------------------------------------------------------------ statistics


def _history(*steps: tuple[str, str | None, date]) -> StatusHistory:
    settings = StatusSettings()
    history = record_first_contact(
        StatusHistory(), settings, steps[0][2], "w", T0 + timedelta(days=400)
    ).history
    for status, reason, on in steps[1:]:
        history = record_manual_status(
            history, settings, status, reason, on, "w", T0 + timedelta(days=400)
        ).history
    return history


def test_a_client_report_counts_statuses_reasons_and_flows() -> None:
    day = date(2025, 1, 10)
    histories = [
        _history(("applicant", None, day)),
        _history(("applicant", None, day), ("rejected", "no_capacity", day + timedelta(days=3))),
        _history(("applicant", None, day), ("service_user", None, day + timedelta(days=1))),
    ]
    report = client_report(histories, date(2025, 1, 1), date(2025, 1, 31))
    assert report.total == 3
    assert report.statuses[ClientStatus.APPLICANT] == 1
    assert report.statuses[ClientStatus.REJECTED] == 1
    assert report.statuses[ClientStatus.SERVICE_USER] == 1
    assert report.rejection_reasons == {"no_capacity": 1}
    assert report.flows[(None, ClientStatus.APPLICANT)] == 3
    assert report.flows[(ClientStatus.APPLICANT, ClientStatus.SERVICE_USER)] == 1


def test_a_shared_family_status_comes_from_its_members() -> None:
    day = date(2025, 1, 10)
    served = _history(("applicant", None, day), ("service_user", None, day))
    waiting = _history(("applicant", None, day))
    report = family_report(
        [], [[served, waiting], [waiting]], StatusSettings(shared_with_family=True), day, day
    )
    assert report.statuses[ClientStatus.SERVICE_USER] == 1
    assert report.statuses[ClientStatus.APPLICANT] == 1


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidPeriod):
        client_report([], date(2025, 2, 1), date(2025, 1, 1))
    with pytest.raises(InvalidPeriod):
        family_report(
            [], [], StatusSettings(shared_with_family=True), date(2025, 2, 1), date(2025, 1, 1)
        )


def test_replace_keeps_cards_comparable() -> None:
    assert replace(create_card(), version=2).version == 2
