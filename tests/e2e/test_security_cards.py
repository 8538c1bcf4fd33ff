"""Nobody changes a card they may not see, and no answer tells a worker that someone is a
client of another centre: each test here replays an attack on the real processes
(intake's public web form and gRPC, clients, notify over RabbitMQ)."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_dev.clients_testing import register
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

NORTH = ["ctr-north-town", "ctr-north-village"]
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
DUTY_SOUTH = auth(
    create_token(subject="w-duty-south", centres=["ctr-south-city"], roles=["front_line"])
)
DUTY_NORTH = auth(create_token(subject="w-duty-north", centres=NORTH, roles=["front_line"]))
MANAGER_NORTH = auth(create_token(subject="w-manager-north", centres=NORTH, roles=["manager"]))
MANAGER_SOUTH = auth(
    create_token(subject="w-manager-south", centres=["ctr-south-city"], roles=["manager"])
)
DPO_NORTH = auth(create_token(subject="w-dpo", centres=NORTH, roles=["data_protection_officer"]))
DPO = auth(create_token(subject="w-dpo", centres=[], roles=["data_protection_officer"]))
ADMIN = auth(create_token(subject="w-admin", centres=[], roles=["admin"]))
PARTNER = auth(create_partner_token())
TODAY = date.today()


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    started: Suite = suite_factory(
        ("intake", "clients", "notify"), env={"INTAKE_WEB_FORM_PER_MINUTE": "100"}
    )
    return started


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def intake(suite: Suite) -> Any:
    return stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)


@pytest.fixture(scope="module")
def notify(suite: Suite) -> Any:
    return stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)


def a_birthday() -> str:
    """A date of birth no other test uses: look-alikes of other tests stay out of the
    search before registration."""
    return (date(1930, 1, 1) + timedelta(days=secrets.randbelow(25_000))).isoformat()


def create_client_of_north_town(clients: Any) -> pb.Client:
    """Jana Nováková, a client of North Town with the contact details her worker checked."""
    return register(
        clients,
        ANNA,
        family_name=f"Nováková{secrets.token_hex(3)}",
        date_of_birth=a_birthday(),
        phone="+421 900 123 456",
        email="jana@example.test",
        address="Main street 1",
    )


def post_web_form(suite: Suite, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{suite.public_port}/public/v1/organisations/org-demo/referrals",
        data=json.dumps(form).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def create_attackers_form(card: pb.Client, **overrides: Any) -> dict[str, Any]:
    """The card's names without diacritics and its date of birth, with the attacker's
    own contact details, sent to another centre."""
    fields = {
        "given_name": card.given_name.upper(),
        "family_name": card.family_name.replace("á", "a"),
        "date_of_birth": card.date_of_birth,
        "phone": "+421 911 000 666",
        "email": "attacker@evil.test",
        "address": "Elsewhere 13",
        "centre_id": "ctr-south-city",
        "client_type": "senior",
        "problem_type": "debt",
        "free_text": "Please call me back.",
    }
    fields.update(overrides)
    return fields


def inbox(notify: Any, who: Any) -> list[Any]:
    reply = notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200), metadata=who)
    return list(reply.notifications)


def notification(notify: Any, who: Any, kind: str, **match: str) -> Callable[[], Any]:
    def probe() -> Any:
        return next(
            (
                n
                for n in inbox(notify, who)
                if n.kind == kind and all(getattr(n, k) == v for k, v in match.items())
            ),
            None,
        )

    return probe


def refused(call: Callable[[], Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as error:
        call()
    code: grpc.StatusCode = error.value.code()
    return code


def get(clients: Any, client_id: str, who: Any = ANNA) -> pb.GetClientResponse:
    return clients.GetClient(pb.GetClientRequest(client_id=client_id), metadata=who)


def contact_details(card: pb.Client) -> tuple[Any, ...]:
    return (
        card.phone,
        card.email,
        card.address,
        list(card.centre_ids),
        [(c.kind, c.value) for c in card.contacts],
        list(card.referral_ids),
    )


# ------------------------------------------------------------------ no card takeover


def test_the_public_web_form_cannot_change_a_card_or_share_it_with_another_centre(
    suite: Suite, clients: Any, notify: Any
) -> None:
    card = create_client_of_north_town(clients)
    before = contact_details(get(clients, card.client_id).client)

    status, reply = post_web_form(suite, create_attackers_form(card))

    # The submitter is answered exactly as for anybody else.
    assert status == 201 and set(reply) == {"reference_number"}
    proposed = eventually(notification(notify, ANNA, "match_proposed", client_id=card.client_id))
    assert proposed.subject_kind == "match_proposal"
    assert contact_details(get(clients, card.client_id).client) == before
    assert refused(lambda: get(clients, card.client_id, ILZE)) == grpc.StatusCode.NOT_FOUND
    assert not [n for n in inbox(notify, ILZE) if n.client_id == card.client_id]
    # The other centre cannot read or decide the proposal either.
    assert (
        refused(lambda: clients.GetMatchProposal(
            pb.GetMatchProposalRequest(proposal_id=proposed.subject_id), metadata=ILZE))
        == grpc.StatusCode.NOT_FOUND
    )  # fmt: skip
    assert (
        refused(lambda: clients.ConfirmMatchProposal(
            pb.ConfirmMatchProposalRequest(proposal_id=proposed.subject_id,
                                           share_with_referring_centre=True), metadata=ILZE))
        == grpc.StatusCode.NOT_FOUND
    )  # fmt: skip

    # The card's own worker sees the referral's details beside the card's ...
    proposal = clients.GetMatchProposal(
        pb.GetMatchProposalRequest(proposal_id=proposed.subject_id), metadata=ANNA
    ).proposal
    assert proposal.client_id == card.client_id
    assert proposal.unverified.phone == "+421 911 000 666"
    assert proposal.unverified.email == "attacker@evil.test"
    assert proposal.status == pb.MATCH_PROPOSAL_STATUS_PENDING
    pending = clients.ListMatchProposals(
        pb.ListMatchProposalsRequest(status=pb.MATCH_PROPOSAL_STATUS_PENDING), metadata=ANNA
    ).proposals
    assert proposal.proposal_id in [p.proposal_id for p in pending]
    # ... and confirms, trusting only the phone, not sharing the card.
    confirmed = clients.ConfirmMatchProposal(
        pb.ConfirmMatchProposalRequest(
            proposal_id=proposal.proposal_id, merge_details=[pb.REFERRAL_DETAIL_PHONE]
        ),
        metadata=ANNA,
    )
    after = confirmed.client
    assert confirmed.proposal.status == pb.MATCH_PROPOSAL_STATUS_CONFIRMED
    assert confirmed.proposal.decided_by == "w-anna"
    assert after.phone == "+421 900 123 456" and after.email == "jana@example.test"
    assert after.address == "Main street 1"
    assert ("+421 911 000 666", "from referral") in [(c.value, c.label) for c in after.contacts]
    assert list(after.centre_ids) == ["ctr-north-town"]
    assert proposal.referral_id in after.referral_ids
    assert refused(lambda: get(clients, card.client_id, ILZE)) == grpc.StatusCode.NOT_FOUND
    assert (
        refused(lambda: clients.RejectMatchProposal(
            pb.RejectMatchProposalRequest(proposal_id=proposal.proposal_id), metadata=ANNA))
        == grpc.StatusCode.FAILED_PRECONDITION
    )  # fmt: skip


def test_a_partners_referral_cannot_change_a_card_and_a_rejected_one_is_a_new_client_there(
    intake: Any, clients: Any, notify: Any
) -> None:
    card = create_client_of_north_town(clients)
    before = contact_details(get(clients, card.client_id).client)
    form = create_attackers_form(card)
    referral = intake.SubmitReferral(
        intake_pb2.SubmitReferralRequest(
            idempotency_key=f"key-{secrets.token_hex(8)}",
            person=intake_pb2.Person(given_name=form["given_name"],
                                     family_name=form["family_name"],
                                     date_of_birth=form["date_of_birth"]),
            contact=intake_pb2.Contact(phone=form["phone"], email=form["email"],
                                       address=form["address"]),
            centre_id="ctr-south-city", client_type="senior", problem_type="debt",
            channel=intake_pb2.CHANNEL_PARTNER_REFERRAL,
        ),
        metadata=PARTNER,
    ).referral  # fmt: skip

    proposed = eventually(
        notification(notify, ANNA, "match_proposed", referral_id=referral.referral_id)
    )
    assert proposed.client_id == card.client_id
    assert contact_details(get(clients, card.client_id).client) == before
    assert refused(lambda: get(clients, card.client_id, ILZE)) == grpc.StatusCode.NOT_FOUND

    rejected = clients.RejectMatchProposal(
        pb.RejectMatchProposalRequest(proposal_id=proposed.subject_id, reason="another Jana"),
        metadata=ANNA,
    ).proposal
    assert rejected.status == pb.MATCH_PROPOSAL_STATUS_REJECTED
    # The referral's person is now a new client of South City, exactly as an unknown
    # person would have been: South City's responsible worker (its duty worker, for
    # debts) is told, and South City opens a card of its own.
    arrived = eventually(
        notification(notify, DUTY_SOUTH, "new_client", referral_id=referral.referral_id)
    )
    assert arrived.client_id != card.client_id
    theirs = get(clients, arrived.client_id, ILZE).client
    assert list(theirs.centre_ids) == ["ctr-south-city"]
    assert theirs.phone == "+421 911 000 666"
    assert list(theirs.referral_ids) == [referral.referral_id]
    assert contact_details(get(clients, card.client_id).client) == before


# ------------------------------------------------------------------ no existence oracle


def _shape(message: Any) -> list[str]:
    return sorted(field.name for field, _ in message.ListFields())


def test_registering_a_client_of_another_centre_answers_as_for_an_unknown_person(
    clients: Any, notify: Any
) -> None:
    card = create_client_of_north_town(clients)
    unknown = clients.RegisterClient(
        pb.RegisterClientRequest(
            given_name="Jana", family_name=f"Neznáma{secrets.token_hex(3)}",
            date_of_birth=a_birthday(), phone="+421 900 777 801",
            centre_id="ctr-south-city", client_type="senior",
        ),
        metadata=ILZE,
    )  # fmt: skip
    known = clients.RegisterClient(
        pb.RegisterClientRequest(
            given_name=card.given_name, family_name=card.family_name,
            date_of_birth=card.date_of_birth, phone="+421 900 777 802",
            centre_id="ctr-south-city", client_type="senior",
        ),
        metadata=ILZE,
    )  # fmt: skip

    assert known.created and unknown.created
    assert _shape(known) == _shape(unknown)
    assert _shape(known.client) == _shape(unknown.client)
    assert [h.what for h in known.client.history] == [h.what for h in unknown.client.history]
    assert known.client.client_id != card.client_id
    assert list(known.client.centre_ids) == ["ctr-south-city"]
    assert card.client_id not in str(known)
    # North Town's manager is asked instead, and only they see both cards.
    asked = eventually(
        notification(notify, MANAGER_NORTH, "sharing_requested", client_id=card.client_id)
    )
    request = clients.ListSharingRequests(
        pb.ListSharingRequestsRequest(status=pb.SHARING_REQUEST_STATUS_PENDING),
        metadata=MANAGER_NORTH,
    ).requests
    mine = next(r for r in request if r.request_id == asked.subject_id)
    assert mine.requester_client_id == known.client.client_id
    assert mine.requested_by == "w-ilze" and mine.cause == "registration"
    assert not [n for n in inbox(notify, ILZE) if n.client_id == card.client_id]
    assert (
        refused(lambda: clients.ListSharingRequests(pb.ListSharingRequestsRequest(),
                                                    metadata=ILZE))
        == grpc.StatusCode.PERMISSION_DENIED
    )  # fmt: skip
    south = clients.ListSharingRequests(pb.ListSharingRequestsRequest(), metadata=MANAGER_SOUTH)
    assert mine.request_id not in [r.request_id for r in south.requests]
    audit = clients.ListAuditEntries(
        pb.ListAuditEntriesRequest(client_id=card.client_id), metadata=MANAGER_NORTH
    ).entries
    assert ("w-ilze", "sharing-request") in [(e.subject, e.action) for e in audit]

    # The manager merges: South City's card now opens the shared card.
    decided = clients.DecideSharingRequest(
        pb.DecideSharingRequestRequest(request_id=mine.request_id, accept=True),
        metadata=MANAGER_NORTH,
    )
    assert decided.request.status == pb.SHARING_REQUEST_STATUS_ACCEPTED
    assert set(decided.client.centre_ids) == {"ctr-north-town", "ctr-south-city"}
    opened = get(clients, known.client.client_id, ILZE)
    assert opened.client.client_id == card.client_id
    assert opened.redirected_from_client_id == known.client.client_id


def test_renaming_a_card_into_a_client_of_another_centre_reveals_nothing(
    clients: Any, notify: Any
) -> None:
    card = create_client_of_north_town(clients)
    own = register(clients, ILZE, family_name=f"Iná{secrets.token_hex(3)}",
                   centre_id="ctr-south-city")  # fmt: skip
    other = register(clients, ILZE, family_name=f"Iná{secrets.token_hex(3)}",
                     centre_id="ctr-south-city")  # fmt: skip

    def rename(client_id: str, family_name: str) -> pb.UpdateClientResponse:
        return clients.UpdateClient(
            pb.UpdateClientRequest(
                client_id=client_id,
                changes=pb.ClientChanges(family_name=family_name,
                                         date_of_birth=card.date_of_birth),
                update_mask=FieldMask(paths=["family_name", "date_of_birth"]),
            ),
            metadata=ILZE,
        )  # fmt: skip

    to_unknown = rename(other.client_id, f"Nikto{secrets.token_hex(3)}")
    to_known = rename(own.client_id, card.family_name)

    assert _shape(to_known.client) == _shape(to_unknown.client)
    assert to_known.client.history[-1].what == to_unknown.client.history[-1].what
    assert to_known.client.family_name == card.family_name
    assert card.client_id not in str(to_known)
    asked = eventually(
        notification(notify, MANAGER_NORTH, "sharing_requested", client_id=card.client_id)
    )
    requests = clients.ListSharingRequests(
        pb.ListSharingRequestsRequest(), metadata=MANAGER_NORTH
    ).requests
    mine = next(r for r in requests if r.request_id == asked.subject_id)
    assert (mine.requester_client_id, mine.cause) == (own.client_id, "update")
    # Declined: the cards stay apart, and the other centre still sees nothing.
    clients.DecideSharingRequest(
        pb.DecideSharingRequestRequest(request_id=mine.request_id, accept=False),
        metadata=MANAGER_NORTH,
    )
    assert refused(lambda: get(clients, card.client_id, ILZE)) == grpc.StatusCode.NOT_FOUND
    assert get(clients, own.client_id, ILZE).client.client_id == own.client_id


def test_a_reused_project_key_does_not_name_another_centres_project(intake: Any) -> None:
    key = f"project-{secrets.token_hex(6)}"
    theirs = intake.CreateProject(
        intake_pb2.CreateProjectRequest(name="Open day", centre_id="ctr-south-city",
                                        idempotency_key=key),
        metadata=ILZE,
    ).project  # fmt: skip
    with pytest.raises(grpc.RpcError) as collision:
        intake.CreateProject(
            intake_pb2.CreateProjectRequest(name="Other", centre_id="ctr-north-town",
                                            idempotency_key=key),
            metadata=ANNA,
        )  # fmt: skip
    assert collision.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert theirs.project_id not in (collision.value.details() or "")
    assert "idempotency_key" in (collision.value.details() or "")


# ------------------------------------------------------------------ roles on records


def _closed_card(clients: Any) -> pb.Client:
    card = register(clients, ANNA)
    clients.RecordStatus(
        pb.RecordStatusRequest(
            client_id=card.client_id, status=pb.CLIENT_STATUS_REJECTED, reason="no_capacity"
        ),
        metadata=ANNA,
    )
    return card


def test_merging_needs_a_case_worker_or_manager_serving_both_cards(clients: Any) -> None:
    one = register(clients, ANNA)
    two = register(clients, ANNA, given_name="Janna", family_name=one.family_name)
    south = register(clients, ILZE, centre_id="ctr-south-city")

    def merge(who: Any, absorbed: str) -> Any:
        return clients.MergeClients(
            pb.MergeClientsRequest(survivor_client_id=one.client_id,
                                   absorbed_client_id=absorbed, reason="same person"),
            metadata=who,
        )  # fmt: skip

    assert refused(lambda: merge(DUTY_NORTH, two.client_id)) == grpc.StatusCode.PERMISSION_DENIED
    assert refused(lambda: merge(MANAGER_NORTH, south.client_id)) == grpc.StatusCode.NOT_FOUND
    assert refused(lambda: merge(ILZE, two.client_id)) == grpc.StatusCode.NOT_FOUND
    merged = merge(MANAGER_NORTH, two.client_id).client
    assert two.client_id in merged.merged_from_client_ids


def test_archiving_is_for_a_manager_of_the_cards_centre(clients: Any) -> None:
    card = _closed_card(clients)
    archive = pb.ArchiveClientRequest(client_id=card.client_id)
    assert (
        refused(lambda: clients.ArchiveClient(archive, metadata=ANNA))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        refused(lambda: clients.ArchiveClient(archive, metadata=MANAGER_SOUTH))
        == grpc.StatusCode.NOT_FOUND
    )
    assert not get(clients, card.client_id).client.archived
    assert clients.ArchiveClient(archive, metadata=MANAGER_NORTH).client.archived


def test_withdrawing_a_consent_needs_a_case_worker_manager_or_data_protection_officer(
    clients: Any,
) -> None:
    card = register(clients, ANNA)
    for _ in range(2):
        clients.RecordConsent(
            pb.RecordConsentRequest(client_id=card.client_id,
                                    purpose=pb.CONSENT_PURPOSE_FEEDBACK_CALLS,
                                    given_on=TODAY.isoformat()),
            metadata=ANNA,
        )  # fmt: skip
    withdraw = pb.WithdrawConsentRequest(
        client_id=card.client_id, purpose=pb.CONSENT_PURPOSE_FEEDBACK_CALLS,
        withdrawn_on=TODAY.isoformat(),
    )  # fmt: skip
    assert (
        refused(lambda: clients.WithdrawConsent(withdraw, metadata=DUTY_NORTH))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        refused(lambda: clients.WithdrawConsent(withdraw, metadata=ILZE))
        == grpc.StatusCode.NOT_FOUND
    )
    after = clients.WithdrawConsent(withdraw, metadata=DPO_NORTH).client
    assert after.consent_records[-1].recorded_by == "w-dpo"


def test_statistics_are_for_managers_of_their_centres_and_the_organisation_wide_roles(
    clients: Any,
) -> None:
    _closed_card(clients)

    def stats(who: Any, **scope: str) -> pb.GetStatisticsResponse:
        return clients.GetStatistics(
            pb.GetStatisticsRequest(
                period_start=(TODAY - timedelta(days=30)).isoformat(),
                period_end=TODAY.isoformat(), **scope,
            ),
            metadata=who,
        )  # fmt: skip

    assert refused(lambda: stats(ANNA)) == grpc.StatusCode.PERMISSION_DENIED
    assert (
        refused(lambda: stats(MANAGER_NORTH, centre_id="ctr-south-city"))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        refused(lambda: stats(MANAGER_NORTH, region_id="reg-south"))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    north = stats(MANAGER_NORTH)
    assert north.clients.total >= 1
    whole = stats(ADMIN)
    assert whole.clients.total >= north.clients.total
    assert stats(DPO, region_id="reg-south").clients.total <= whole.clients.total


def test_the_audit_trail_is_for_the_data_protection_officer_and_the_cards_manager(
    clients: Any,
) -> None:
    card = register(clients, ANNA)
    get(clients, card.client_id)

    def trail(who: Any) -> list[Any]:
        return list(
            clients.ListAuditEntries(
                pb.ListAuditEntriesRequest(client_id=card.client_id), metadata=who
            ).entries
        )

    by_dpo = trail(DPO)
    assert ("w-anna", "read") in [(e.subject, e.action) for e in by_dpo]
    assert ("w-anna", "create") in [(e.subject, e.action) for e in by_dpo]
    assert trail(MANAGER_NORTH)
    assert refused(lambda: trail(ANNA)) == grpc.StatusCode.PERMISSION_DENIED
    assert refused(lambda: trail(MANAGER_SOUTH)) == grpc.StatusCode.NOT_FOUND
    # A case worker may not read any trail: refused by role before the card is looked up,
    # so the answer is the same whether the card exists or not.
    assert refused(lambda: trail(ILZE)) == grpc.StatusCode.PERMISSION_DENIED
    assert (
        refused(
            lambda: clients.ListAuditEntries(
                pb.ListAuditEntriesRequest(client_id="no-such-card"), metadata=ILZE
            )
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )
    # Reading the trail is itself in the trail.
    assert ("w-dpo", "audit-read") in [(e.subject, e.action) for e in trail(DPO)]
