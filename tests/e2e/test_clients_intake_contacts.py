"""Seed 001 and 004 through intake and clients together: every contact intake records
(outreach, acknowledgement, first contact) moves the client's inactivity clock, a
consultation intake recorded is attached to a card by a worker, and a partner's
referral of a person without papers is matched by names and phone. Intake is called
through its API; what clients does with intake's events is read through clients' API.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework_dev.clients_testing import create_silent_card, register
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
ADMIN = auth(create_token(subject="w-admin", centres=[], roles=["admin"]))
PARTNER = auth(create_partner_token())
OUTREACH_IN_SECONDS = 2.0


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    started: Suite = suite_factory(
        ("intake", "clients", "notify"), env={"CASEWORK_INACTIVITY_SWEEP_SECONDS": "1"}
    )
    return started


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def intake(suite: Suite) -> Any:
    return stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)


def set_inactivity_days(clients: Any, project_id: str, days: int) -> None:
    clients.SetProjectStatusSettings(
        pb.SetProjectStatusSettingsRequest(
            project_id=project_id,
            name=f"Project {project_id}",
            settings=pb.StatusSettings(mode=pb.STATUS_MODE_AUTOMATIC, inactivity_days=days),
        ),
        metadata=ADMIN,
    )


def get(clients: Any, client_id: str) -> pb.Client:
    return clients.GetClient(pb.GetClientRequest(client_id=client_id), metadata=ANNA).client


def create_referral(**overrides: Any) -> intake_pb2.SubmitReferralRequest:
    """A partner refers Vlasta, born 1948, of North Town, with a phone."""
    fields: dict[str, Any] = {
        "idempotency_key": f"key-{secrets.token_hex(8)}",
        "person": intake_pb2.Person(
            given_name="Vlasta",
            family_name=f"Zelená{secrets.token_hex(3)}",
            date_of_birth="1948-05-17",
        ),
        "contact": intake_pb2.Contact(phone="+421 905 111 222"),
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": intake_pb2.CHANNEL_PARTNER_REFERRAL,
    }
    fields.update(overrides)
    return intake_pb2.SubmitReferralRequest(**fields)


def card_of(clients: Any, referral: intake_pb2.Referral) -> pb.Client | None:
    """The card clients made of intake's referral (None until its consumer has)."""
    found = clients.SearchClients(
        pb.SearchClientsRequest(
            given_name=referral.person.given_name,
            family_name=referral.person.family_name,
            phone=referral.contact.phone,
        ),
        metadata=ANNA,
    )
    return next(
        (c.client for c in found.candidates if referral.referral_id in c.client.referral_ids),
        None,
    )


def in_seconds(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC) + timedelta(seconds=seconds))
    return stamp


def outreach_done(intake: Any, client_ids: list[str]) -> intake_pb2.Outreach:
    """Anna's field work, planned a moment from now; its outcome, naming the clients
    she met, is recorded once the activity has begun (refused before)."""
    planned = intake.PlanOutreach(
        intake_pb2.PlanOutreachRequest(
            centre_id="ctr-north-town",
            activity_type=intake_pb2.OUTREACH_ACTIVITY_TYPE_FIELD_WORK,
            planned_at=in_seconds(OUTREACH_IN_SECONDS),
            place=f"railway station {secrets.token_hex(3)}",
            description="talk to people sleeping rough",
            idempotency_key=f"key-{secrets.token_hex(8)}",
        ),
        metadata=ANNA,
    ).outreach
    request = intake_pb2.RecordOutreachOutcomeRequest(
        outreach_id=planned.outreach_id,
        outcome="met five people, one of them our client",
        people_reached=5,
        contacts_made=1,
        client_ids=client_ids,
    )

    def recorded() -> intake_pb2.Outreach | None:
        try:
            done: intake_pb2.Outreach = intake.RecordOutreachOutcome(
                request, metadata=ANNA
            ).outreach
            return done
        except grpc.RpcError as error:
            if error.code() is grpc.StatusCode.FAILED_PRECONDITION:
                return None  # not begun yet
            raise

    return eventually(recorded, timeout=OUTREACH_IN_SECONDS + 15, interval=0.2)


# ------------------------------------------------------------------ every contact counts


def test_intakes_contacts_move_the_inactivity_clock(
    clients: Any, intake: Any, suite: Suite
) -> None:
    project_id = f"prj-{secrets.token_hex(3)}"
    set_inactivity_days(clients, project_id, 30)
    unseen_id = create_silent_card(suite, days_ago=20, project_id=project_id)
    met_id = create_silent_card(suite, days_ago=20, project_id=project_id)

    # A field worker meets one of the silent clients in outreach.
    done = outreach_done(intake, [met_id])
    met_on = done.planned_at.ToDatetime(UTC).date()
    met = eventually(lambda: get(clients, met_id).contact_records, timeout=20)
    assert [r.contacted_on for r in met] == [met_on.isoformat()]
    assert get(clients, met_id).last_contact_on == met_on.isoformat()

    # A partner's referral: the worker takes it on, then reaches the person by phone.
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    card = eventually(lambda: card_of(clients, referral), timeout=20)
    intake.AcknowledgeReferral(
        intake_pb2.AcknowledgeReferralRequest(referral_id=referral.referral_id), metadata=ANNA
    )
    intake.RecordFirstContact(
        intake_pb2.RecordFirstContactRequest(
            referral_id=referral.referral_id, channel=intake_pb2.CHANNEL_PHONE, note="agreed"
        ),
        metadata=ANNA,
    )

    def contacted() -> pb.Client | None:
        c = get(clients, card.client_id)
        return c if len(c.contact_records) >= 2 else None

    reached = eventually(contacted, timeout=20)
    assert {r.channel for r in reached.contact_records} >= {
        pb.CONTACT_CHANNEL_OTHER,
        pb.CONTACT_CHANNEL_PHONE,
    }
    assert reached.last_contact_on == date.today().isoformat()

    # Ten days of silence now close an episode: the card nobody saw is closed as "did
    # not come"; the one met in outreach stays open.
    set_inactivity_days(clients, project_id, 10)

    def rejected() -> pb.Client | None:
        c = get(clients, unseen_id)
        return c if c.status == pb.CLIENT_STATUS_REJECTED else None

    closed = eventually(rejected, timeout=20)
    assert closed.status_history[-1].reason == "did_not_come"
    assert get(clients, met_id).status == pb.CLIENT_STATUS_APPLICANT


# ------------------------------------------------------------------ consultations


def test_a_worker_attaches_an_anonymous_consultation_intake_recorded(
    clients: Any, intake: Any
) -> None:
    consultation = intake.RecordConsultation(
        intake_pb2.RecordConsultationRequest(
            idempotency_key=f"cons-{secrets.token_hex(8)}",
            topic="asked about rent arrears help",
            duration_minutes=15,
            channel=intake_pb2.CHANNEL_PHONE,
            centre_id="ctr-north-town",
        ),
        metadata=ANNA,
    ).consultation
    consultation_id = consultation.consultation_id
    card = register(clients)

    def attach(client_id: str, metadata: Any = ANNA) -> pb.Client:
        reply = clients.AttachConsultation(
            pb.AttachConsultationRequest(client_id=client_id, consultation_id=consultation_id),
            metadata=metadata,
        )
        attached: pb.Client = reply.client
        return attached

    def attached_once() -> pb.Client | None:
        try:
            return attach(card.client_id)
        except grpc.RpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return None  # clients has not kept intake's consultation yet
            raise

    with_it = eventually(attached_once, timeout=20)
    [record_] = with_it.consultations
    assert record_.consultation_id == consultation_id
    assert record_.topic == "asked about rent arrears help"
    assert record_.duration_minutes == 15
    assert record_.attached_by == "w-anna"
    assert list(get(clients, card.client_id).consultation_ids) == [consultation_id]
    # Again for the same card: nothing changes; for another card: refused.
    assert len(attach(card.client_id).consultations) == 1
    other = register(clients)
    with pytest.raises(grpc.RpcError) as taken:
        attach(other.client_id)
    assert taken.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as elsewhere:
        attach(card.client_id, ILZE)
    assert elsewhere.value.code() is grpc.StatusCode.NOT_FOUND


# ------------------------------------------------------------------ people without papers


def test_a_person_without_papers_is_registered_marked_and_found_by_other_data(
    clients: Any, intake: Any
) -> None:
    family_name = f"Bezdomný{secrets.token_hex(2)}"
    phone = f"+421 944 {secrets.randbelow(900) + 100} {secrets.randbelow(900) + 100}"
    card = register(
        clients, given_name="Karol", family_name=family_name, date_of_birth="", address="",
        phone=phone,
    )  # fmt: skip
    assert card.date_of_birth == ""
    assert list(card.missing_details) == ["date_of_birth", "address"]

    # A second registration of the same names and phone is offered this card first.
    again = clients.RegisterClient(
        pb.RegisterClientRequest(
            given_name="Karol", family_name=family_name, phone=phone,
            centre_id="ctr-north-town", client_type="homeless",
        ),
        metadata=ANNA,
    )  # fmt: skip
    assert not again.created
    assert card.client_id in [c.client.client_id for c in again.candidates]

    # A partner's referral through intake without a date of birth, same names and
    # phone: proposed to the card's workers, never a second card.
    referral = intake.SubmitReferral(
        create_referral(
            person=intake_pb2.Person(given_name="Karol", family_name=family_name),
            contact=intake_pb2.Contact(phone=phone),
            client_type="homeless",
        ),
        metadata=PARTNER,
    ).referral
    assert referral.person.date_of_birth == ""

    def proposed() -> pb.MatchProposal | None:
        found = clients.ListMatchProposals(pb.ListMatchProposalsRequest(), metadata=ANNA)
        return next((p for p in found.proposals if p.referral_id == referral.referral_id), None)

    proposal = eventually(proposed, timeout=20)
    assert proposal.client_id == card.client_id
