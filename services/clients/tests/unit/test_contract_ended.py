"""A contract documents ended stops counting as valid on the card from its end on, so
a terminated client's colour is no longer red for a valid contract."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from casework_clients.domain.cards import ClientCard, Contract
from casework_clients.domain.contract_end import UnknownContract, end_contract

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()


def create_card(**overrides: object) -> ClientCard:
    fields: dict[str, object] = {
        "client_id": "cl-1",
        "organisation": "org-test",
        "identity_key": "k",
        "given_name": "Petr",
        "family_name": "Malý",
        "date_of_birth": date(1961, 4, 12),
        "phone": "",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_ids": ("ctr-north",),
        "client_type": "senior",
        "problem_types": ("housing",),
        "status": "terminated",
        "referral_ids": (),
        "registered_at": NOW - timedelta(days=30),
        "last_contact_on": TODAY - timedelta(days=30),
        "contracts": (Contract("k-1", TODAY - timedelta(days=20), None, NOW),),
    }
    fields.update(overrides)
    return ClientCard(**fields)  # type: ignore[arg-type]


def test_an_ended_contract_is_valid_until_the_day_before_it_ended() -> None:
    card = create_card()
    assert card.contract_state.is_valid_on(TODAY)

    ended, changed = end_contract(card, "k-1", TODAY, "client moved away", NOW, "w-anna")

    assert changed
    assert not ended.contract_state.is_valid_on(TODAY)
    assert ended.contract_state.is_valid_on(TODAY - timedelta(days=1))
    assert "client moved away" in ended.history[-1].what


def test_the_same_end_twice_changes_nothing_and_an_unknown_contract_is_refused() -> None:
    ended, _ = end_contract(create_card(), "k-1", TODAY, "x", NOW, "w-anna")

    again, changed = end_contract(ended, "k-1", TODAY, "x", NOW, "w-anna")

    assert not changed and again == ended
    with pytest.raises(UnknownContract):
        end_contract(create_card(), "k-404", TODAY, "x", NOW, "w-anna")
