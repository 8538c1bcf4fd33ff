"""Specification of what a referral may do to an existing card (nothing, by itself), of
the match proposal's life, of sharing requests, and of what the referring centre is
told (pure domain, no server)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from casework_clients.adapters.settings import InvalidStatusSettings, load_disclosures
from casework_clients.domain import proposals
from casework_clients.domain.cards import (
    ClientCard,
    ReferralFacts,
    join_referral,
    register_from_referral,
)
from casework_clients.domain.identity import identity_key, other_card_key, person_key
from casework_clients.domain.proposals import (
    Disclosure,
    MatchProposal,
    ProposalStatus,
    SharingRequest,
    SharingStatus,
)
from casework_clients.domain.records import ContactKind, ContactPoint
from casework_common.errors import FailedPrecondition, InvalidArgument

ORG = "org-demo"
T0 = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
T1 = T0 + timedelta(days=3)


def create_facts(**overrides: Any) -> ReferralFacts:
    """The public web form naming a client of North Town, with other contact details,
    sent to South City."""
    fields: dict[str, Any] = {
        "referral_id": "ref-2",
        "organisation": ORG,
        "given_name": "Jana",
        "family_name": "Novakova",
        "date_of_birth": date(1950, 3, 14),
        "phone": "+421 911 000 666",
        "email": "someone@attacker.test",
        "address": "Elsewhere 13",
        "region_id": "reg-south",
        "centre_id": "ctr-south-city",
        "client_type": "senior",
        "problem_type": "debt",
        "channel": "web_form",
        "submitted_at": T1,
    }
    fields.update(overrides)
    return ReferralFacts(**fields)


def create_card(**overrides: Any) -> ClientCard:
    """Jana Nováková's card in North Town, as a partner's referral created it."""
    facts = create_facts(
        referral_id="ref-1", family_name="Nováková", phone="+421 900 123 456",
        email="jana@example.test", address="Main street 1", region_id="reg-north",
        centre_id="ctr-north-town", problem_type="housing", channel="partner_referral",
        submitted_at=T0,
    )  # fmt: skip
    card, _ = register_from_referral(
        None, facts, new_client_id="cl-1", initial_status="applicant", now=T0
    )
    return replace(card, **{"version": 1, **overrides})


def create_proposal(**overrides: Any) -> MatchProposal:
    facts = overrides.pop("facts", create_facts())
    proposal = proposals.propose(
        create_card(), facts, match="exact", score=100, reasons=("same identity",), now=T1
    )
    return replace(proposal, **overrides)


def create_sharing_request(**overrides: Any) -> SharingRequest:
    fields: dict[str, Any] = {
        "request_id": "sr-1", "organisation": ORG, "client_id": "cl-1",
        "centre_ids": ("ctr-north-town",), "requester_client_id": "cl-2",
        "requesting_centre_ids": ("ctr-south-city",), "requested_by": "w-ilze",
        "cause": "registration", "requested_at": T1,
    }  # fmt: skip
    fields.update(overrides)
    return SharingRequest(**fields)


# ------------------------------------------------------------------ the proposal


def test_a_match_becomes_a_pending_proposal_keeping_the_referrals_details_unverified() -> None:
    proposal = create_proposal()

    assert proposal.status is ProposalStatus.PENDING
    assert proposal.proposal_id == "mp-ref-2"  # one per referral: redelivery finds it
    assert (proposal.client_id, proposal.centre_ids) == ("cl-1", ("ctr-north-town",))
    assert proposal.unverified == proposals.UnverifiedDetails(
        "+421 911 000 666", "someone@attacker.test", "Elsewhere 13"
    )
    assert proposal.referring_centre_id == "ctr-south-city"
    assert not proposal.from_own_centre


def test_confirming_records_who_decided_and_which_details_they_trust() -> None:
    decided = proposals.confirm(
        create_proposal(), merge=("phone",), share_with_referring_centre=True, by="w-anna", now=T1
    )
    assert decided.status is ProposalStatus.CONFIRMED
    assert (decided.decided_by, decided.decided_at) == ("w-anna", T1)
    assert decided.merged_details == ("phone",)
    assert decided.shared_with_referring_centre


def test_a_referral_to_the_cards_own_centre_is_never_a_sharing() -> None:
    own = create_proposal(facts=create_facts(centre_id="ctr-north-town"))
    decided = proposals.confirm(
        own, merge=(), share_with_referring_centre=True, by="w-anna", now=T1
    )
    assert own.from_own_centre and not decided.shared_with_referring_centre


@pytest.mark.parametrize(
    ("merge", "field"),
    [
        (("centre",), "merge_details[0]"),
        (("phone", "phone"), "merge_details"),
        (("phone", "email", "address", "name"), "merge_details[3]"),
    ],
)
def test_confirming_with_details_the_referral_cannot_give_is_refused(
    merge: tuple[str, ...], field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        proposals.confirm(
            create_proposal(), merge=merge, share_with_referring_centre=False, by="w-a", now=T1
        )
    assert field in {e.field for e in refused.value.errors}


def test_a_detail_the_referral_left_empty_cannot_be_merged() -> None:
    without_email = create_proposal(facts=create_facts(email=""))
    with pytest.raises(InvalidArgument) as refused:
        proposals.confirm(
            without_email, merge=("email",), share_with_referring_centre=False, by="w", now=T1
        )
    assert [e.field for e in refused.value.errors] == ["merge_details[0]"]


def test_rejecting_names_the_new_card_of_the_referrals_person() -> None:
    decided = proposals.reject(
        create_proposal(), new_client_id="cl-9", reason=" another Jana ", by="w-anna", now=T1
    )
    assert decided.status is ProposalStatus.REJECTED
    assert (decided.new_client_id, decided.reason, decided.decided_by) == (
        "cl-9",
        "another Jana",
        "w-anna",
    )


def test_a_decided_proposal_cannot_be_decided_again() -> None:
    confirmed = proposals.confirm(
        create_proposal(), merge=(), share_with_referring_centre=False, by="w-anna", now=T1
    )
    with pytest.raises(FailedPrecondition) as refused:
        proposals.reject(confirmed, new_client_id="cl-9", reason="", by="w-petr", now=T1)
    assert refused.value.field == "proposal_id"
    rejected = proposals.reject(
        create_proposal(), new_client_id="cl-9", reason="", by="w-anna", now=T1
    )
    with pytest.raises(FailedPrecondition):
        proposals.confirm(rejected, merge=(), share_with_referring_centre=False, by="w", now=T1)


def test_an_overlong_rejection_reason_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        proposals.reject(create_proposal(), new_client_id="c", reason="x" * 1001, by="w", now=T1)


# ------------------------------------------------------------------ joining a confirmed referral


def test_a_confirmed_referral_without_chosen_details_leaves_contacts_and_centres() -> None:
    card = create_card()
    joined = join_referral(card, create_facts(), now=T1, by="w-anna")
    assert (joined.phone, joined.email, joined.address) == (card.phone, card.email, card.address)
    assert joined.contacts == card.contacts
    assert joined.centre_ids == ("ctr-north-town",)
    assert joined.referral_ids == ("ref-1", "ref-2")
    assert joined.problem_types == ("housing", "debt")
    assert joined.history[-1].by == "w-anna"


def test_a_trusted_phone_joins_the_cards_contacts_beside_the_primary_one() -> None:
    joined = join_referral(create_card(), create_facts(), now=T1, merge=("phone",), by="w-anna")
    assert joined.phone == "+421 900 123 456"  # the primary one stays
    assert joined.contacts == (
        ContactPoint(ContactKind.PHONE, "+421 900 123 456", "primary"),
        ContactPoint(ContactKind.EMAIL, "jana@example.test", "primary"),
        ContactPoint(ContactKind.PHONE, "+421 911 000 666", "from referral"),
    )
    assert joined.email == "jana@example.test"
    assert "details taken from the referral: phone" in joined.history[-1].what


def test_a_trusted_address_replaces_the_cards_and_a_known_phone_is_not_added_twice() -> None:
    joined = join_referral(
        create_card(),
        create_facts(phone="+421 900 123 456"),
        now=T1,
        merge=("phone", "address"),
        by="w-anna",
    )
    assert joined.address == "Elsewhere 13"
    assert joined.contacts == ()


def test_sharing_adds_the_referring_centre_only_when_chosen() -> None:
    shared = join_referral(create_card(), create_facts(), now=T1, share=True, by="w-anna")
    assert shared.centre_ids == ("ctr-north-town", "ctr-south-city")
    assert "card shared with ctr-south-city" in shared.history[-1].what


# ---------------------------------------------------------- what the referring centre learns


def test_by_default_the_referring_centre_is_told_nothing() -> None:
    assert not proposals.tell_referring_centre(create_proposal(), Disclosure.NONE)


def test_the_organisation_may_let_the_referring_centre_know_the_person_is_known_elsewhere() -> None:
    assert proposals.tell_referring_centre(create_proposal(), Disclosure.TELL_KNOWN_ELSEWHERE)
    own = create_proposal(facts=create_facts(centre_id="ctr-north-town"))
    assert not proposals.tell_referring_centre(own, Disclosure.TELL_KNOWN_ELSEWHERE)


def test_the_disclosure_setting_defaults_to_nothing_and_a_wrong_value_stops_the_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "org.json"
    path.write_text(json.dumps({"organisations": [{"id": "a"}, {"id": "b",
                    "known_elsewhere_disclosure": "tell_known_elsewhere"}]}))  # fmt: skip
    assert load_disclosures(path) == {"a": Disclosure.NONE, "b": Disclosure.TELL_KNOWN_ELSEWHERE}
    path.write_text(json.dumps({"id": "c", "known_elsewhere_disclosure": "everything"}))
    with pytest.raises(InvalidStatusSettings, match="known_elsewhere_disclosure"):
        load_disclosures(path)


# ------------------------------------------------------------------ sharing requests


def test_a_sharing_request_is_accepted_or_declined_once() -> None:
    accepted = proposals.decide_sharing(
        create_sharing_request(), accept=True, by="w-manager-north", now=T1
    )
    assert accepted.status is SharingStatus.ACCEPTED
    assert (accepted.decided_by, accepted.decided_at) == ("w-manager-north", T1)
    declined = proposals.decide_sharing(create_sharing_request(), accept=False, by="m", now=T1)
    assert declined.status is SharingStatus.DECLINED
    with pytest.raises(FailedPrecondition) as refused:
        proposals.decide_sharing(accepted, accept=False, by="m", now=T1)
    assert refused.value.field == "request_id"


def test_a_second_card_of_one_identity_stands_apart_under_its_own_key() -> None:
    key = identity_key(ORG, "Jana", "Nováková", date(1950, 3, 14))
    other = other_card_key(key, "cl-2")
    assert other != key and person_key(other) == key and person_key(key) == key


# ------------------------------------------------------------------ roles on records


@pytest.mark.parametrize(
    ("roles", "allowed", "expected"),
    [
        ({"case_worker"}, proposals.MAY_MERGE, True),
        ({"front_line"}, proposals.MAY_MERGE, False),
        ({"case_worker"}, proposals.MAY_ARCHIVE, False),
        ({"manager"}, proposals.MAY_ARCHIVE, True),
        ({"data_protection_officer"}, proposals.MAY_WITHDRAW_CONSENT, True),
        ({"front_line"}, proposals.MAY_WITHDRAW_CONSENT, False),
        ({"admin"}, proposals.ORG_WIDE_STATISTICS, True),
        ({"manager"}, proposals.ORG_WIDE_AUDIT, False),
        (set(), proposals.CENTRE_AUDIT, False),
    ],
)
def test_who_may_act_on_a_record_they_can_see(
    roles: set[str], allowed: frozenset[str], expected: bool
) -> None:
    assert proposals.has_any(frozenset(roles), allowed) is expected
