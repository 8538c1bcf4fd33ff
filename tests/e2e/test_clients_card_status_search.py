"""clients through its real processes: search before register, the status engine with
contracts (RPC and event), consultations joining a card, merge, families, statistics,
every bad input, and the inactivity rule on its timer."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import kombu
import pymongo
import pytest

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework_common.envelope import Actor, EventEnvelope
from casework_common.messaging import EVENT_CONTENT_TYPE
from casework_common.rpc_errors import field_violations
from casework_dev.clients_testing import create_registration, create_silent_card, register
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

ORG = "org-demo"
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
# Archiving and statistics are a manager's (record-dependent role checks).
MANAGER_NORTH = auth(
    create_token(
        subject="w-manager-north", centres=["ctr-north-town", "ctr-north-village"],
        roles=["manager"],
    )
)  # fmt: skip
OTHER_ORG = auth(create_token(organisation="org-other", subject="w-x", centres=["ctr-north-town"]))
TODAY = date.today()


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    # The inactivity rule runs every second in this suite (an hour by default).
    started: Suite = suite_factory(("clients",), env={"CASEWORK_INACTIVITY_SWEEP_SECONDS": "1"})
    return started


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def db(suite: Suite) -> Iterator[Any]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    yield client[f"{suite.env['MONGO_DB_PREFIX']}_clients"]
    client.close()


def publish(suite: Suite, routing_key: str, payload: dict[str, Any]) -> None:
    service, entity, verb, _ = routing_key.split(".")
    envelope = EventEnvelope(
        type=f"{service}.{entity}.{verb}",
        version=1,
        organisation=ORG,
        actor=Actor("system", service),
        payload=payload,
    )
    # As the owning service's own broker user: consumers believe no one else.
    with kombu.Connection(suite.amqp_uris[service]) as connection:
        kombu.Producer(connection.default_channel).publish(
            envelope.to_json(),
            exchange="casework.events",
            routing_key=routing_key,
            content_type=EVENT_CONTENT_TYPE,
            content_encoding="binary",
            delivery_mode=2,
            user_id=connection.userid,
        )


def get(clients: Any, client_id: str) -> pb.Client:
    return clients.GetClient(pb.GetClientRequest(client_id=client_id), metadata=ANNA).client


def version(db: Any, client_id: str) -> int:
    return int(db.clients.find_one({"_id": client_id})["version"])


# ------------------------------------------------------------------ search and register


def test_registration_offers_the_existing_card_first_and_search_ranks_it(clients: Any) -> None:
    family_name = f"Шевченко{secrets.token_hex(2)}"
    card = register(
        clients, given_name="Taras", family_name=family_name, date_of_birth="1961-03-09"
    )
    latin = family_name.replace("Шевченко", "Ševčenko")
    reply = clients.RegisterClient(
        create_registration(given_name="TARAS", family_name=latin, date_of_birth="1961-03-09"),
        metadata=ANNA,
    )
    assert not reply.created
    assert [c.client.client_id for c in reply.candidates] == [card.client_id]
    found = clients.SearchClients(
        pb.SearchClientsRequest(
            given_name=latin.replace("Ševčenko", "Shevchenko"),  # swapped and transliterated
            family_name="Taras",
            date_of_birth="1961-09-03",  # day and month swapped
        ),
        metadata=ANNA,
    ).candidates
    assert found[0].client.client_id == card.client_id
    assert any("swapped" in r for r in found[0].reasons)
    # The answer left only once the cards it shows were audited as read by the caller.
    audit = clients.ListAuditEntries(
        pb.ListAuditEntriesRequest(client_id=card.client_id), metadata=MANAGER_NORTH
    ).entries
    assert ("w-anna", "search-result") in [(e.subject, e.action) for e in audit]
    hidden = clients.SearchClients(
        pb.SearchClientsRequest(given_name="Taras", family_name=latin), metadata=ILZE
    )
    assert card.client_id not in [c.client.client_id for c in hidden.candidates]
    assert card.colour.colour == pb.COLOUR_BLUE and "applicant" in card.colour.explanation
    assert card.status == pb.CLIENT_STATUS_APPLICANT and len(card.status_history) == 1


# ------------------------------------------------------------------ status and contracts


def test_a_contract_makes_the_client_a_service_user_by_rpc_and_by_event(
    suite: Suite, clients: Any
) -> None:
    by_rpc = register(clients)
    reply = clients.RecordContractSigned(
        pb.RecordContractSignedRequest(
            client_id=by_rpc.client_id, contract_id="k-1", signed_on=TODAY.isoformat()
        ),
        metadata=ANNA,
    )
    assert reply.status_changed and reply.client.status == pb.CLIENT_STATUS_SERVICE_USER
    assert reply.client.colour.colour == pb.COLOUR_AMBER  # no plan yet
    again = clients.RecordContractSigned(
        pb.RecordContractSignedRequest(
            client_id=by_rpc.client_id, contract_id="k-1", signed_on=TODAY.isoformat()
        ),
        metadata=ANNA,
    )
    assert not again.recorded and len(again.client.status_history) == 2

    by_event = register(clients)
    publish(
        suite,
        "documents.contract.signed.v1",
        {"client_id": by_event.client_id, "contract_id": "k-2", "signed_on": TODAY.isoformat(),
         "valid_until": ""},
    )  # fmt: skip
    card = eventually(
        lambda: (
            (c := get(clients, by_event.client_id)).status == pb.CLIENT_STATUS_SERVICE_USER and c
        )
    )
    assert card.status_history[-1].source == pb.STATUS_SOURCE_AUTOMATIC
    ended = clients.RecordStatus(
        pb.RecordStatusRequest(
            client_id=card.client_id, status=pb.CLIENT_STATUS_TERMINATED, reason="goals_achieved"
        ),
        metadata=ANNA,
    ).client
    assert ended.colour.colour == pb.COLOUR_RED  # terminated while the contract is valid
    clients.ArchiveClient(pb.ArchiveClientRequest(client_id=card.client_id), metadata=MANAGER_NORTH)
    back = clients.ReopenEpisode(pb.ReopenEpisodeRequest(client_id=card.client_id), metadata=ANNA)
    assert back.client.episode == 2 and back.client.status == pb.CLIENT_STATUS_APPLICANT
    assert not back.client.archived and len(back.client.status_history) == 4


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "code", "field"),
    [
        (lambda c, i: c.RecordStatus(pb.RecordStatusRequest(client_id=i), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "status"),
        (lambda c, i: c.RecordStatus(pb.RecordStatusRequest(client_id=i, status=77), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "status"),
        (lambda c, i: c.RecordStatus(pb.RecordStatusRequest(
            client_id=i, status=pb.CLIENT_STATUS_REJECTED, reason="bored"), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "reason"),
        (lambda c, i: c.RecordStatus(pb.RecordStatusRequest(
            client_id=i, status=pb.CLIENT_STATUS_REJECTED), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "reason"),
        (lambda c, i: c.RecordStatus(pb.RecordStatusRequest(
            client_id=i, status=pb.CLIENT_STATUS_SERVICE_USER,
            effective_on=(TODAY + timedelta(days=3)).isoformat()), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "effective_on"),
        (lambda c, i: c.RecordStatus(pb.RecordStatusRequest(
            client_id=i, status=pb.CLIENT_STATUS_TERMINATED, reason="moved_away"), metadata=ANNA),
         grpc.StatusCode.FAILED_PRECONDITION, None),
        (lambda c, i: c.ReopenEpisode(pb.ReopenEpisodeRequest(client_id=i), metadata=ANNA),
         grpc.StatusCode.FAILED_PRECONDITION, None),
        (lambda c, i: c.RecordContractSigned(pb.RecordContractSignedRequest(
            client_id=i, contract_id="k", signed_on=(TODAY + timedelta(days=1)).isoformat()),
            metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "signed_on"),
        (lambda c, i: c.MergeClients(pb.MergeClientsRequest(
            survivor_client_id=i, absorbed_client_id=i, reason="same"), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "absorbed_client_id"),
        (lambda c, i: c.MergeClients(pb.MergeClientsRequest(
            survivor_client_id=i, absorbed_client_id="nobody", reason="same"), metadata=ANNA),
         grpc.StatusCode.NOT_FOUND, None),
        (lambda c, i: c.RecordStatus(pb.RecordStatusRequest(
            client_id=i, status=pb.CLIENT_STATUS_SERVICE_USER), metadata=OTHER_ORG),
         grpc.StatusCode.NOT_FOUND, None),
        (lambda c, i: c.SearchClients(pb.SearchClientsRequest(), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "query"),
        (lambda c, i: c.ArchiveClient(pb.ArchiveClientRequest(client_id=i),
                                      metadata=MANAGER_NORTH),
         grpc.StatusCode.FAILED_PRECONDITION, None),
        (lambda c, i: c.GetStatistics(pb.GetStatisticsRequest(
            period_start="2025-02-01", period_end="2025-01-01"), metadata=MANAGER_NORTH),
         grpc.StatusCode.INVALID_ARGUMENT, "period_end"),
    ],
    ids=[
        "no-status", "unknown-status", "unknown-reason", "missing-reason", "future-date",
        "forbidden-transition", "reopen-open-episode", "future-contract", "merge-self",
        "merge-unknown", "other-organisation", "empty-search", "archive-open", "bad-period",
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error_and_changes_nothing(
    clients: Any, db: Any, call: Any, code: grpc.StatusCode, field: str | None
) -> None:
    card = register(clients)
    before = db.clients.find_one({"_id": card.client_id})
    with pytest.raises(grpc.RpcError) as refused:
        call(clients, card.client_id)
    assert refused.value.code() == code, refused.value.details()
    if field:
        assert field in field_violations(refused.value), refused.value.details()
    after = db.clients.find_one({"_id": card.client_id})
    assert after["version"] == before["version"]
    assert after["status_entries"] == before["status_entries"]


def test_a_family_cycle_is_refused_and_the_family_unchanged(clients: Any, db: Any) -> None:
    mum, kid = register(clients), register(clients, given_name="Kid")
    family = clients.CreateFamily(
        pb.CreateFamilyRequest(
            name="Household",
            centre_id="ctr-north-town",
            members=[
                pb.FamilyMember(client_id=mum.client_id, role="head"),
                pb.FamilyMember(client_id=kid.client_id, role="child",
                                parent_client_ids=[mum.client_id]),
            ],
        ),
        metadata=ANNA,
    ).family  # fmt: skip
    assert family.status == pb.CLIENT_STATUS_APPLICANT and family.colour.colour == pb.COLOUR_BLUE
    with pytest.raises(grpc.RpcError) as refused:
        clients.AddFamilyMember(
            pb.AddFamilyMemberRequest(
                family_id=family.family_id,
                member=pb.FamilyMember(client_id=mum.client_id, role="head",
                                       parent_client_ids=[kid.client_id]),
            ),
            metadata=ANNA,
        )  # fmt: skip
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "member.parent_client_ids" in field_violations(refused.value)
    # Unchanged by the refused call (its shared status may be refreshed meanwhile).
    stored = db.families.find_one({"_id": family.family_id})
    assert stored["member_ids"] == [mum.client_id, kid.client_id]
    assert [m.get("parent_ids") or [] for m in stored["members"]] == [[], [mum.client_id]]
    with pytest.raises(grpc.RpcError) as hidden:
        clients.GetFamily(pb.GetFamilyRequest(family_id=family.family_id), metadata=ILZE)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND


# ------------------------------------------------------------------ merge


def test_merging_two_cards_keeps_both_histories_and_redirects(clients: Any) -> None:
    first = register(clients)
    second = register(clients, given_name="Janna", family_name=first.family_name)
    merged = clients.MergeClients(
        pb.MergeClientsRequest(
            survivor_client_id=first.client_id,
            absorbed_client_id=second.client_id,
            reason="the same person typed twice",
        ),
        metadata=ANNA,
    ).client
    assert second.client_id in merged.merged_from_client_ids
    assert any(f"[from card {second.client_id}]" in h.what for h in merged.history)
    redirected = clients.GetClient(pb.GetClientRequest(client_id=second.client_id), metadata=ANNA)
    assert redirected.client.client_id == first.client_id
    assert redirected.redirected_from_client_id == second.client_id


# ------------------------------------------------------------------ events from intake


def test_a_consultation_and_a_referral_find_the_card(suite: Suite, clients: Any, db: Any) -> None:
    family_name = f"Коваленко{secrets.token_hex(2)}"
    latin = family_name.replace("Коваленко", "Kovalenko")
    consultation_id = f"cons-{secrets.token_hex(4)}"
    publish(
        suite,
        "intake.consultation.recorded.v1",
        {"consultation_id": consultation_id,
         "person": {"given_name": "Olena", "family_name": family_name,
                    "date_of_birth": "1985-07-01"},
         "contact": {"phone": "", "email": ""}, "topic": "debts", "duration_minutes": 20,
         "worker_id": "w-duty-north", "channel": "phone", "centre_id": "ctr-north-town",
         "recorded_at": datetime.now(UTC).isoformat()},
    )  # fmt: skip
    eventually(lambda: db.unattached_consultations.find_one({"_id": consultation_id}))
    card = register(clients, given_name="Olena", family_name=latin, date_of_birth="1985-07-01")
    assert list(card.consultation_ids) == [consultation_id]

    referral_id = f"ref-{secrets.token_hex(4)}"
    publish(
        suite,
        "intake.referral.submitted.v1",
        {"referral_id": referral_id, "reference_number": "R-1",
         "person": {"given_name": "OLENA", "family_name": latin.replace("Kovalenko", "Kowalenko"),
                    "date_of_birth": "1985-07-01"},
         "contact": {"phone": "", "email": "", "address": ""}, "region_id": "reg-north",
         "centre_id": "ctr-north-town", "client_type": "senior", "problem_type": "debt",
         "channel": "partner_referral", "submitted_at": datetime.now(UTC).isoformat()},
    )  # fmt: skip
    # The referral changes nothing by itself: it is proposed to the card's own workers,
    # and joins the card once one of them confirms it.
    proposal = eventually(
        lambda: next(
            (p for p in clients.ListMatchProposals(pb.ListMatchProposalsRequest(),
                                                   metadata=ANNA).proposals
             if p.referral_id == referral_id),
            None,
        )
    )  # fmt: skip
    assert proposal.client_id == card.client_id
    assert referral_id not in get(clients, card.client_id).referral_ids
    joined = clients.ConfirmMatchProposal(
        pb.ConfirmMatchProposalRequest(proposal_id=proposal.proposal_id), metadata=ANNA
    ).client
    assert referral_id in joined.referral_ids
    assert set(joined.problem_types) == {"housing", "debt"}


# ------------------------------------------------------------------ statistics and timer


def test_statistics_count_statuses_reasons_and_flows(clients: Any) -> None:
    card = register(clients)
    clients.RecordStatus(
        pb.RecordStatusRequest(
            client_id=card.client_id, status=pb.CLIENT_STATUS_REJECTED, reason="no_capacity"
        ),
        metadata=ANNA,
    )
    stats = clients.GetStatistics(
        pb.GetStatisticsRequest(
            period_start=(TODAY - timedelta(days=30)).isoformat(), period_end=TODAY.isoformat()
        ),
        metadata=MANAGER_NORTH,
    )
    rejected = {s.status: s.count for s in stats.clients.statuses}[pb.CLIENT_STATUS_REJECTED]
    assert rejected >= 1
    assert {r.reason for r in stats.clients.rejection_reasons} >= {"no_capacity"}
    assert any(
        f.from_status == pb.CLIENT_STATUS_APPLICANT and f.to_status == pb.CLIENT_STATUS_REJECTED
        for f in stats.clients.flows
    )
    assert stats.clients.total >= 1


def test_the_inactivity_timer_closes_a_silent_episode(suite: Suite, clients: Any) -> None:
    client_id = create_silent_card(suite)
    closed = eventually(
        lambda: (c := get(clients, client_id)).status == pb.CLIENT_STATUS_REJECTED and c,
        timeout=20,
    )
    last = closed.status_history[-1]
    assert last.reason == "did_not_come" and last.source == pb.STATUS_SOURCE_AUTOMATIC
    assert len(closed.status_history) == 2
