"""Specification: hostile text never reaches a card (pure domain, no server). Control
and bidirectional-override characters, e-mail addresses that are markup, and a card
grown without bound by notes are refused naming the field; the card stays as it was."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from casework_clients.domain.cards import ClientCard, HistoryEntry
from casework_clients.domain.details import (
    MAX_NOTES,
    CardChanges,
    add_note,
    update_card,
)
from casework_clients.domain.identity import identity_key
from casework_clients.domain.records import ContactKind, ContactPoint, Note
from casework_common.errors import FailedPrecondition, InvalidArgument
from casework_common.organisation import parse

ORG = "org-demo"
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
ORGANISATION = parse(
    {
        "id": ORG,
        "regions": [{"id": "reg-north", "name": "N"}],
        "centres": [
            {"id": "ctr-north-town", "region": "reg-north", "name": "NT",
             "duty_worker": "w-anna", "manager": "w-anna"},
        ],
        "workers": [{"id": "w-anna", "name": "Anna", "centres": ["ctr-north-town"]}],
        "client_types": ["senior"],
        "problem_types": ["housing"],
    }
)  # fmt: skip


def create_card(**overrides: Any) -> ClientCard:
    fields: dict[str, Any] = {
        "client_id": "cl-1",
        "organisation": ORG,
        "identity_key": identity_key(ORG, "Jana", "Nováková", date(1961, 4, 12)),
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": date(1961, 4, 12),
        "phone": "+421 900 123 456",
        "email": "",
        "address": "Main street 1",
        "region_id": "reg-north",
        "centre_ids": ("ctr-north-town",),
        "client_type": "senior",
        "problem_types": ("housing",),
        "status": "applicant",
        "referral_ids": (),
        "registered_at": T0 - timedelta(days=30),
        "history": (HistoryEntry(T0 - timedelta(days=30), "card created", "w-anna"),),
    }
    fields.update(overrides)
    return ClientCard(**fields)


def refused(**changes: Any) -> set[str]:
    with pytest.raises(InvalidArgument) as raised:
        update_card(
            create_card(), CardChanges(**changes), ORGANISATION, frozenset({"ctr-north-town"}),
            "w-anna", T0,
        )  # fmt: skip
    return {e.field for e in raised.value.errors}


@pytest.mark.parametrize("name", ["Jana\x00", "Ja\u202ena", "\u2066Jana\u2069", "Ja\nna"])
def test_a_name_with_control_or_bidi_characters_is_refused(name: str) -> None:
    assert refused(given_name=name) == {"changes.given_name"}


@pytest.mark.parametrize(
    "address", ["<script>alert(1)</script>@x.y", "<script>@x.yz", "jana@exa\u202emple.org"]
)
def test_an_e_mail_that_is_markup_or_hides_its_direction_is_refused(address: str) -> None:
    contacts = (ContactPoint(ContactKind.EMAIL, address, "home"),)
    assert refused(contacts=contacts) == {"changes.contacts[0].value"}


@pytest.mark.parametrize("text", ["Called\x00", "Called \u202eback", "\x1b[31mred"])
def test_a_note_with_control_or_bidi_characters_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        add_note(create_card(), note_id="n1", text=text, corrects_note_id="", author="w", now=T0)
    assert {e.field for e in raised.value.errors} == {"text"}


def test_a_note_keeps_its_line_breaks() -> None:
    card, _ = add_note(
        create_card(), note_id="n1", text="Called.\n\tBack on Monday.", corrects_note_id="",
        author="w-anna", now=T0,
    )  # fmt: skip
    assert card.notes[-1].text == "Called.\n\tBack on Monday."


def test_a_card_keeps_at_most_its_cap_of_notes() -> None:
    notes = tuple(Note(f"n{i}", "w-anna", T0, "Called.") for i in range(MAX_NOTES))
    card = create_card(notes=notes)
    with pytest.raises(FailedPrecondition) as raised:
        add_note(card, note_id="n-last", text="One more.", corrects_note_id="", author="w", now=T0)
    assert raised.value.field == "text"
    assert card.notes == notes
