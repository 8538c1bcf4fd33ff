"""Specification of the notifications clients' proposals and sharing requests put in
inboxes: only the card's own workers (or its centre's manager) are told, and only
with ids they may see (pure domain, no server)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from casework_common.envelope import Actor, EventEnvelope, MalformedEvent
from casework_common.events_runtime import PoisonEvent
from casework_common.routing import Recipient
from casework_notify.domain.client_news import (
    MatchProposed,
    SharingRequested,
    tell_known_elsewhere,
    tell_manager_of_sharing_request,
    tell_of_match_proposal,
)
from casework_notify.entrypoints import events as consumers

T0 = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


def create_payload(**overrides: Any) -> dict[str, Any]:
    """clients.match.proposed.v1 for a North Town card, referred to South City."""
    fields: dict[str, Any] = {
        "proposal_id": "mp-ref-2", "client_id": "cl-1", "referral_id": "ref-2",
        "display_name": "Jana Nováková", "centre_ids": ["ctr-north-town"],
        "region_id": "reg-north", "referring_centre_id": "ctr-south-city",
        "client_type": "senior", "problem_type": "debt", "match": "exact", "score": 100,
        "tell_referring_centre": False,
    }  # fmt: skip
    fields.update(overrides)
    return fields


def read_match_proposed(event_id: str, organisation: str, payload: Any) -> MatchProposed:
    return consumers.match_proposed(
        EventEnvelope(
            id=event_id, type="clients.match.proposed", version=1, organisation=organisation,
            actor=Actor.system("clients"), payload=payload,
        )
    )  # fmt: skip


def read_sharing_requested(
    event_id: str, organisation: str, payload: dict[str, Any]
) -> SharingRequested:
    return consumers.sharing_requested(
        EventEnvelope(
            id=event_id, type="clients.sharing.requested", version=1, organisation=organisation,
            actor=Actor.system("clients"), payload=payload,
        )
    )  # fmt: skip


def test_the_cards_workers_are_asked_about_the_match_with_the_proposal_as_subject() -> None:
    proposed = read_match_proposed("ev-1", "org-demo", create_payload())
    [note] = tell_of_match_proposal(
        proposed, [(Recipient("w-anna", "rule north-town"), "ctr-north-town")], T0
    )
    assert note.kind == "match_proposed"
    assert (note.worker_id, note.client_id, note.centre_id) == (
        "w-anna",
        "cl-1",
        "ctr-north-town",
    )
    assert (note.subject_kind, note.subject_id) == ("match_proposal", "mp-ref-2")
    assert "changed nothing on the card" in note.body
    assert note.notification_id == "ev-1:w-anna"


def test_the_referring_centre_when_told_learns_no_card() -> None:
    proposed = read_match_proposed("ev-1", "org-demo", create_payload(tell_referring_centre=True))
    [note] = tell_known_elsewhere(proposed, [Recipient("w-ilze", "rule south")], T0)
    assert note.kind == "referral_known_elsewhere"
    assert note.client_id == ""
    assert "cl-1" not in note.body and "Nováková" not in note.body + note.title
    assert (note.subject_kind, note.subject_id, note.centre_id) == (
        "referral",
        "ref-2",
        "ctr-south-city",
    )


def test_a_sharing_request_goes_to_the_manager_of_the_cards_centre() -> None:
    requested = read_sharing_requested(
        "ev-2", "org-demo",
        {"request_id": "sr-1", "client_id": "cl-1", "centre_ids": ["ctr-north-town"],
         "requester_client_id": "cl-2", "requesting_centre_ids": ["ctr-south-city"]},
    )  # fmt: skip
    [note] = tell_manager_of_sharing_request(requested, [("w-manager-north", "ctr-north-town")], T0)
    assert (note.kind, note.worker_id, note.client_id) == (
        "sharing_requested",
        "w-manager-north",
        "cl-1",
    )
    assert (note.subject_kind, note.subject_id) == ("sharing_request", "sr-1")


@pytest.mark.parametrize(
    "payload",
    [
        create_payload(centre_ids=[]),
        create_payload(centre_ids="ctr-north-town"),
        {k: v for k, v in create_payload().items() if k != "proposal_id"},
    ],
    ids=["no-centres", "centres-not-a-list", "no-proposal-id"],
)
def test_an_unreadable_proposal_event_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises((MalformedEvent, PoisonEvent)):
        read_match_proposed("ev-1", "org-demo", payload)
