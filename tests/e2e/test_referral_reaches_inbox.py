"""A partner's referral reaches the responsible worker's inbox, through real processes:
intake (gRPC) -> RabbitMQ -> clients -> RabbitMQ -> notify, and the worker reads it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import kombu
import pymongo
import pytest

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.auth import SigningKey, generate_signing_key
from casework_common.messaging import EVENT_CONTENT_TYPE, dead_letter_exchange
from casework_common.rpc_errors import field_violations
from casework_dev.bench import read_spans
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import (
    create_partner_token,
    create_token,
    session_signing_key,
)
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Iterator[Suite]:
    yield suite_factory(("intake", "clients", "notify"))


@pytest.fixture(scope="module")
def intake(suite: Suite) -> Any:
    return stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def notify(suite: Suite) -> Any:
    return stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)


@pytest.fixture(scope="module")
def databases(suite: Suite) -> Iterator[dict[str, Any]]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    prefix = suite.env["MONGO_DB_PREFIX"]
    yield {name: client[f"{prefix}_{name}"] for name in ("intake", "clients", "notify")}
    client.close()


def create_referral(**overrides: Any) -> intake_pb2.SubmitReferralRequest:
    """A valid partner referral of a new person to North Town about housing."""
    fields: dict[str, Any] = {
        "idempotency_key": f"key-{secrets.token_hex(8)}",
        "given_name": "Jana",
        "family_name": f"Nováková-{secrets.token_hex(3)}",
        "date_of_birth": "1961-04-12",
        "phone": "+421 900 123 456",
        "email": "",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": intake_pb2.CHANNEL_PARTNER_REFERRAL,
        "free_text": "Lives alone, the landlord wants her out by the end of the month.",
    }
    fields.update(overrides)
    return intake_pb2.SubmitReferralRequest(
        idempotency_key=fields["idempotency_key"],
        person=intake_pb2.Person(
            given_name=fields["given_name"],
            family_name=fields["family_name"],
            date_of_birth=fields["date_of_birth"],
        ),
        contact=intake_pb2.Contact(phone=fields["phone"], email=fields["email"]),
        centre_id=fields["centre_id"],
        client_type=fields["client_type"],
        problem_type=fields["problem_type"],
        channel=fields["channel"],
        free_text=fields["free_text"],
    )


PARTNER = auth(create_partner_token())
SESSION_KID = session_signing_key().kid
FORGER = generate_signing_key("forger").private_key
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
DUTY_NORTH = auth(
    create_token(subject="w-duty-north", centres=["ctr-north-town", "ctr-north-village"])
)


def inbox_entry(notify: Any, who: Any, referral_id: str) -> Any:
    reply = notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200), metadata=who)
    return next((n for n in reply.notifications if n.referral_id == referral_id), None)


def test_a_partner_referral_reaches_the_responsible_workers_inbox_and_card(
    intake: Any, clients: Any, notify: Any
) -> None:
    reply = intake.SubmitReferral(create_referral(), metadata=PARTNER)
    referral = reply.referral
    assert not reply.replayed
    assert referral.reference_number.startswith("R-")

    note = eventually(lambda: inbox_entry(notify, ANNA, referral.referral_id))
    assert note.kind == "new_client"
    assert referral.person.family_name in note.title
    assert "north-town-housing-and-debt" in note.routing_reason

    card = clients.GetClient(
        clients_pb2.GetClientRequest(client_id=note.client_id), metadata=ANNA
    ).client
    assert card.family_name == referral.person.family_name
    assert card.status == clients_pb2.CLIENT_STATUS_APPLICANT
    assert list(card.referral_ids) == [referral.referral_id]
    assert list(card.centre_ids) == ["ctr-north-town"]


def test_with_no_matching_rule_the_centres_duty_worker_is_notified(
    intake: Any, notify: Any
) -> None:
    referral = intake.SubmitReferral(
        create_referral(
            centre_id="ctr-north-village", client_type="youth", problem_type="employment"
        ),
        metadata=PARTNER,
    ).referral
    note = eventually(lambda: inbox_entry(notify, DUTY_NORTH, referral.referral_id))
    assert "duty worker" in note.routing_reason
    assert inbox_entry(notify, ANNA, referral.referral_id) is None


def test_the_same_idempotency_key_twice_is_one_referral_and_one_card(
    intake: Any, clients: Any, notify: Any, databases: dict[str, Any]
) -> None:
    request = create_referral()
    first = intake.SubmitReferral(request, metadata=PARTNER)
    second = intake.SubmitReferral(request, metadata=PARTNER)
    assert second.replayed and second.referral.referral_id == first.referral.referral_id
    eventually(lambda: inbox_entry(notify, ANNA, first.referral.referral_id))
    assert (
        databases["intake"].referrals.count_documents({"idempotency_key": request.idempotency_key})
        == 1
    )
    assert (
        databases["clients"].clients.count_documents({"family_name": request.person.family_name})
        == 1
    )


def test_a_reused_key_with_different_content_is_refused_and_overwrites_nothing(
    intake: Any, databases: dict[str, Any]
) -> None:
    request = create_referral()
    first = intake.SubmitReferral(request, metadata=PARTNER).referral
    changed = create_referral(idempotency_key=request.idempotency_key, free_text="something else")
    with pytest.raises(grpc.RpcError) as refused:
        intake.SubmitReferral(changed, metadata=PARTNER)
    assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    stored = databases["intake"].referrals.find_one({"_id": first.referral_id})
    assert stored["free_text"] == request.free_text


def test_a_returning_person_is_proposed_to_their_card_and_joins_it_once_confirmed(
    intake: Any, clients: Any, notify: Any
) -> None:
    family_name = f"Dvořáková-{secrets.token_hex(3)}"
    first = intake.SubmitReferral(
        create_referral(family_name=family_name), metadata=PARTNER
    ).referral
    first_note = eventually(lambda: inbox_entry(notify, ANNA, first.referral_id))
    # Typed without diacritics and in capitals by another partner: the same person.
    again = intake.SubmitReferral(
        create_referral(
            family_name=family_name.upper().replace("Ř", "R").replace("Á", "A"), problem_type="debt"
        ),
        metadata=PARTNER,
    ).referral
    # A referral never changes a card by itself: the card's worker is asked first.
    second_note = eventually(lambda: inbox_entry(notify, ANNA, again.referral_id))
    assert second_note.kind == "match_proposed"
    assert second_note.client_id == first_note.client_id
    assert second_note.subject_kind == "match_proposal"
    untouched = clients.GetClient(
        clients_pb2.GetClientRequest(client_id=first_note.client_id), metadata=ANNA
    ).client
    assert list(untouched.referral_ids) == [first.referral_id]
    clients.ConfirmMatchProposal(
        clients_pb2.ConfirmMatchProposalRequest(proposal_id=second_note.subject_id), metadata=ANNA
    )
    card = clients.GetClient(
        clients_pb2.GetClientRequest(client_id=first_note.client_id), metadata=ANNA
    ).client
    assert list(card.referral_ids) == [first.referral_id, again.referral_id]
    assert set(card.problem_types) == {"housing", "debt"}
    # Confirmed for the card's own centre: its workers are told, as of a returning client.
    returning = eventually(
        lambda: next(
            (n for n in notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200),
                                         metadata=ANNA).notifications
             if n.referral_id == again.referral_id and n.kind == "returning_client"),
            None,
        )
    )  # fmt: skip
    assert returning.client_id == first_note.client_id


def test_a_worker_never_sees_a_client_outside_their_centres(
    intake: Any, clients: Any, notify: Any
) -> None:
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    note = eventually(lambda: inbox_entry(notify, ANNA, referral.referral_id))
    with pytest.raises(grpc.RpcError) as hidden:
        clients.GetClient(clients_pb2.GetClientRequest(client_id=note.client_id), metadata=ILZE)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    assert hidden.value.details() == f"client {note.client_id} not found"
    listed = clients.ListClients(clients_pb2.ListClientsRequest(page_size=200), metadata=ILZE)
    assert note.client_id not in [c.client_id for c in listed.clients]
    assert inbox_entry(notify, ILZE, referral.referral_id) is None


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        ([], "missing bearer token"),
        ([("authorization", "Bearer not-a-jwt")], "invalid token"),
        ([("authorization", "Basic dXNlcjpwYXNz")], "Bearer"),
        (
            # The trusted key's id, another key's signature: a forgery.
            auth(create_partner_token(signing_key=SigningKey(SESSION_KID, FORGER))),
            "invalid token",
        ),
        (auth(create_partner_token(ttl=__import__("datetime").timedelta(seconds=-5))), "expired"),
    ],
    ids=["missing", "garbage", "wrong-scheme", "wrong-signature", "expired"],
)
def test_a_call_without_a_valid_token_is_unauthenticated_and_stores_nothing(
    intake: Any, databases: dict[str, Any], metadata: Any, why: str
) -> None:
    request = create_referral()
    with pytest.raises(grpc.RpcError) as refused:
        intake.SubmitReferral(request, metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert why in refused.value.details()
    assert (
        databases["intake"].referrals.count_documents({"idempotency_key": request.idempotency_key})
        == 0
    )


def test_a_partner_may_only_make_the_calls_its_token_names(intake: Any, clients: Any) -> None:
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    with pytest.raises(grpc.RpcError) as refused:
        intake.GetReferral(
            intake_pb2.GetReferralRequest(referral_id=referral.referral_id), metadata=PARTNER
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as refused:
        clients.ListClients(clients_pb2.ListClientsRequest(), metadata=PARTNER)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_referral_to_a_centre_outside_the_callers_scope_is_refused(
    intake: Any, databases: dict[str, Any]
) -> None:
    north_only = auth(create_partner_token(centres=["ctr-north-town"]))
    request = create_referral(centre_id="ctr-south-city")
    with pytest.raises(grpc.RpcError) as refused:
        intake.SubmitReferral(request, metadata=north_only)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (
        databases["intake"].referrals.count_documents({"idempotency_key": request.idempotency_key})
        == 0
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"given_name": ""}, "person.given_name"),
        ({"family_name": "   "}, "person.family_name"),
        ({"date_of_birth": "12.04.1961"}, "person.date_of_birth"),
        ({"date_of_birth": "2999-01-01"}, "person.date_of_birth"),
        ({"phone": "", "email": ""}, "contact"),
        ({"phone": "call me"}, "contact.phone"),
        ({"email": "jana-at-example"}, "contact.email"),
        ({"centre_id": "ctr-atlantis"}, "centre_id"),
        ({"client_type": "dragon"}, "client_type"),
        ({"problem_type": ""}, "problem_type"),
        ({"channel": intake_pb2.CHANNEL_UNSPECIFIED}, "channel"),
        ({"free_text": "x" * 4001}, "free_text"),
        ({"idempotency_key": "short"}, "idempotency_key"),
    ],
)
def test_bad_input_is_refused_with_the_field_named_and_nothing_is_stored(
    intake: Any, databases: dict[str, Any], overrides: dict[str, Any], field: str
) -> None:
    request = create_referral(**overrides)
    with pytest.raises(grpc.RpcError) as refused:
        intake.SubmitReferral(request, metadata=PARTNER)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(refused.value)
    assert field in violations, violations
    assert (
        databases["intake"].referrals.count_documents({"family_name": request.person.family_name})
        == 0
    )


def test_a_malformed_event_is_dead_lettered_with_its_reason_and_the_consumer_keeps_going(
    suite: Suite, intake: Any, notify: Any
) -> None:
    with kombu.Connection(suite.env["AMQP_URI"]) as connection:
        producer = kombu.Producer(connection.default_channel)
        for body, content_type in (
            (b"{not json", EVENT_CONTENT_TYPE),
            (
                json.dumps({"id": "x", "type": "intake.referral.submitted"}).encode(),
                EVENT_CONTENT_TYPE,
            ),
            (b"\x80\x81 binary", "application/x-unknown"),
        ):
            producer.publish(
                body,
                exchange="casework.events",
                routing_key="intake.referral.submitted.v1",
                content_type=content_type,
                content_encoding="binary",
                delivery_mode=2,
            )
        dead = connection.SimpleQueue(
            kombu.Queue(
                "casework.events.dead-letter",
                exchange=dead_letter_exchange("casework.events"),
                routing_key="#",
                durable=True,
            )
        )
        reasons = []
        try:
            for _ in range(3):
                message = dead.get(timeout=15)
                reasons.append(message.headers["x-casework-reason"])
                message.ack()
        finally:
            dead.close()
    assert any("not JSON" in r for r in reasons), reasons
    assert any("version must be a positive integer" in r for r in reasons), reasons
    assert any("undecodable" in r for r in reasons), reasons
    # The consumers are still there: the next referral goes all the way through.
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    eventually(lambda: inbox_entry(notify, ANNA, referral.referral_id))


def test_referrals_sent_while_clients_is_down_are_handled_once_when_it_returns(
    suite: Suite, intake: Any, notify: Any, databases: dict[str, Any]
) -> None:
    suite.kill("clients", "events")
    family_name = f"Offline-{secrets.token_hex(3)}"
    requests = [create_referral(family_name=family_name, given_name=f"Person{i}") for i in range(5)]
    referrals = [intake.SubmitReferral(r, metadata=PARTNER).referral for r in requests]
    # Two are sent again, as a partner retrying after a timeout would.
    for request in (requests[0], requests[3]):
        assert intake.SubmitReferral(request, metadata=PARTNER).replayed
    assert databases["clients"].clients.count_documents({"family_name": family_name}) == 0
    suite.start("clients", "events")
    suite.wait_ready("clients", "events")
    for referral in referrals:
        eventually(lambda r=referral: inbox_entry(notify, ANNA, r.referral_id))
    assert databases["clients"].clients.count_documents({"family_name": family_name}) == 5
    for referral in referrals:
        assert (
            databases["notify"].notifications.count_documents({"referral_id": referral.referral_id})
            == 1
        )


def test_one_trace_follows_the_referral_from_the_partners_call_into_clients_and_notify(
    suite: Suite, intake: Any, notify: Any
) -> None:
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    eventually(lambda: inbox_entry(notify, ANNA, referral.referral_id))

    def joined() -> dict[str, Any] | None:
        all_spans = read_spans(Path(suite.env["CASEWORK_TRACE_DIR"]))
        root = next(
            (
                s
                for s in all_spans
                if s["name"].endswith("IntakeService/SubmitReferral")
                and s["attributes"].get("casework.subject") == "partner-city-hospital"
                # A span is written when it ends, after all of its children.
                and {"casework-clients-events", "casework-notify-events"}
                <= {c["service"] for c in all_spans if c["trace_id"] == s["trace_id"]}
            ),
            None,
        )
        if root is None:
            return None
        return {"root": root, "trace": [s for s in all_spans if s["trace_id"] == root["trace_id"]]}

    found = eventually(joined)
    by_service = {s["service"]: s for s in found["trace"]}
    assert {"casework-intake-api", "casework-clients-events", "casework-notify-events"} <= set(
        by_service
    )
    clients_span = by_service["casework-clients-events"]
    notify_span = by_service["casework-notify-events"]
    assert clients_span["parent_id"] == found["root"]["span_id"]
    assert notify_span["parent_id"] == clients_span["span_id"]

    # Where each handler waited shows in the trace: its database commands and the
    # broker's confirm of what it published.
    def children(span: dict[str, Any]) -> set[str]:
        return {s["name"] for s in found["trace"] if s["parent_id"] == span["span_id"]}

    # Each consumer's span holds its claim of the event and its done mark as well.
    assert {
        "insert processed_events",
        "insert clients",
        "publish clients.client.registered.v1",
        "update processed_events",
    } <= children(clients_span)
    assert {"insert processed_events", "insert notifications"} <= children(notify_span)
    # The api's relay thread publishes after the answer, in the call's trace.
    assert {"insert referrals", "publish intake.referral.submitted.v1"} <= children(found["root"])

    # The consumers' structured log lines carry the same trace id.
    trace_id = found["root"]["trace_id"]
    for process in ("clients-events", "notify-events"):
        lines = (suite.run_dir / f"{process}.log").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        assert any(
            r.get("trace_id") == trace_id and r["message"] == "event handled" for r in records
        ), process


def test_a_referral_stored_while_its_publish_fails_is_sent_by_the_sweeper(
    suite: Suite, intake: Any, notify: Any
) -> None:
    # The api stores the referral but cannot reach the broker (as if it crashed right
    # after the write): the events process's sweeper must publish it all the same.
    suite.stop("intake", "api")
    suite.start("intake", "api", extra_env={"AMQP_URI": "amqp://guest:guest@127.0.0.1:1//"})
    suite.wait_ready("intake", "api")
    try:
        referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
        note = eventually(lambda: inbox_entry(notify, ANNA, referral.referral_id), timeout=30)
        assert note.kind == "new_client"
    finally:
        suite.stop("intake", "api")
        suite.start("intake", "api")
        suite.wait_ready("intake", "api")
