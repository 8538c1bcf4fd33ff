"""clients against seed 001 (and 000, 004) through its real processes: status settings
per project set by an administrator, manual mode and the same-day rule, the worker's
first status, every contact moving the inactivity clock, families both ways, lists by
status, colour and worker, consultations attached to a card, people without papers,
merge keeping status, the channel on the card."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

import grpc
import kombu
import pytest

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework_clients.domain.status import StatusSettings
from casework_common.envelope import Actor, EventEnvelope
from casework_common.messaging import EVENT_CONTENT_TYPE
from casework_common.rpc_errors import field_violations
from casework_dev.clients_testing import create_silent_card, register
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ADMIN = auth(create_token(subject="w-admin", centres=[], roles=["admin"]))
TODAY = date.today()


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    started: Suite = suite_factory(("clients",), env={"CASEWORK_INACTIVITY_SWEEP_SECONDS": "1"})
    return started


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


def new_project_id() -> str:
    return f"prj-{secrets.token_hex(3)}"


def set_settings(clients: Any, project_id: str, **overrides: Any) -> pb.Project:
    fields: dict[str, Any] = {"mode": pb.STATUS_MODE_AUTOMATIC}
    extra = {k: overrides.pop(k) for k in ("effective_from", "expected_version", "name", "note")
             if k in overrides}  # fmt: skip
    fields.update(overrides)
    request = pb.SetProjectStatusSettingsRequest(
        project_id=project_id,
        name=extra.pop("name", f"Project {project_id}"),
        settings=pb.StatusSettings(**fields),
        **extra,
    )
    reply: pb.SetProjectStatusSettingsResponse = clients.SetProjectStatusSettings(
        request, metadata=ADMIN
    )
    return reply.project


# ------------------------------------------------------------------ settings per project


def test_an_administrator_sets_status_settings_per_project_in_versions(clients: Any) -> None:
    project_id = new_project_id()
    first = set_settings(clients, project_id, use_approached=True, inactivity_days=30, note="pilot")
    assert [v.version for v in first.versions] == [1]
    assert first.in_force.changed_by == "w-admin"
    assert first.in_force.settings.use_approached

    # A worker reads the settings but never changes them.
    listed = clients.ListProjects(pb.ListProjectsRequest(), metadata=ANNA)
    assert project_id in [p.project_id for p in listed.projects]
    assert listed.organisation_default.mode == pb.STATUS_MODE_AUTOMATIC
    with pytest.raises(grpc.RpcError) as denied:
        clients.SetProjectStatusSettings(
            pb.SetProjectStatusSettingsRequest(
                project_id=project_id, settings=pb.StatusSettings(mode=pb.STATUS_MODE_MANUAL)
            ),
            metadata=ANNA,
        )
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED

    # A change from tomorrow is a second version; today the first is still in force.
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    second = set_settings(
        clients, project_id, mode=pb.STATUS_MODE_MANUAL, effective_from=tomorrow,
        expected_version=1,
    )  # fmt: skip
    assert [(v.version, v.effective_from) for v in second.versions] == [
        (1, TODAY.isoformat()),
        (2, tomorrow),
    ]
    assert second.in_force.version == 1

    # Changing settings read at an old version, or from a past day, is refused.
    with pytest.raises(grpc.RpcError) as stale:
        set_settings(clients, project_id, expected_version=1)
    assert stale.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as past:
        set_settings(clients, project_id, effective_from=(TODAY - timedelta(days=1)).isoformat())
    assert past.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "effective_from" in field_violations(past.value)
    with pytest.raises(grpc.RpcError) as bad:
        set_settings(clients, project_id, mode=pb.STATUS_MODE_UNSPECIFIED)
    assert "settings.mode" in field_violations(bad.value)
    kept = clients.GetProject(pb.GetProjectRequest(project_id=project_id), metadata=ANNA).project
    assert [v.version for v in kept.versions] == [1, 2]


def test_a_client_enrolled_in_a_project_follows_that_projects_settings(clients: Any) -> None:
    project_id = new_project_id()
    set_settings(clients, project_id, use_approached=True)
    enrolled = register(clients, project_id=project_id, channel="phone")
    assert enrolled.project_id == project_id
    assert enrolled.channel == "phone"
    assert enrolled.status == pb.CLIENT_STATUS_APPROACHED  # the project uses Approached
    # The organisation's default (the file) starts directly at Applicant.
    plain = register(clients)
    assert plain.project_id == ""
    assert plain.status == pb.CLIENT_STATUS_APPLICANT

    with pytest.raises(grpc.RpcError) as unknown:
        register(clients, project_id="prj-nobody-knows")
    assert "project_id" in field_violations(unknown.value)
    with pytest.raises(grpc.RpcError) as channel:
        register(clients, channel="carrier-pigeon")
    assert "channel" in field_violations(channel.value)


# ------------------------------------------------------------------ manual mode, same day


def contract(clients: Any, client_id: str, signed_on: date) -> pb.RecordContractSignedResponse:
    reply: pb.RecordContractSignedResponse = clients.RecordContractSigned(
        pb.RecordContractSignedRequest(
            client_id=client_id,
            contract_id=f"ct-{secrets.token_hex(4)}",
            signed_on=signed_on.isoformat(),
        ),
        metadata=ANNA,
    )
    return reply


def record(
    clients: Any, client_id: str, status: pb.ClientStatus.ValueType, reason: str = "", on: str = ""
) -> pb.Client:
    return clients.RecordStatus(
        pb.RecordStatusRequest(client_id=client_id, status=status, reason=reason, effective_on=on),
        metadata=ANNA,
    ).client


def test_in_a_manual_project_a_contract_leaves_the_status_to_the_worker(clients: Any) -> None:
    project_id = new_project_id()
    set_settings(clients, project_id, mode=pb.STATUS_MODE_MANUAL)
    card = register(clients, project_id=project_id)
    assert card.status_history[0].source == pb.STATUS_SOURCE_MANUAL
    signed = contract(clients, card.client_id, TODAY)
    assert signed.recorded and not signed.status_changed
    assert "manual" in signed.explanation
    assert signed.client.status == pb.CLIENT_STATUS_APPLICANT
    # The worker writes the admission by hand.
    admitted = record(clients, card.client_id, pb.CLIENT_STATUS_SERVICE_USER)
    assert admitted.status == pb.CLIENT_STATUS_SERVICE_USER


def test_a_workers_exclusion_on_the_contracts_day_wins_and_the_contract_is_kept(
    clients: Any,
) -> None:
    card = register(clients)
    record(clients, card.client_id, pb.CLIENT_STATUS_REJECTED, "outside_target_group")
    signed = contract(clients, card.client_id, TODAY)
    assert signed.recorded and not signed.status_changed
    assert signed.client.status == pb.CLIENT_STATUS_REJECTED
    assert [c.signed_on for c in signed.client.contracts] == [TODAY.isoformat()]


def test_a_contract_signed_on_a_day_a_worker_decided_is_not_lost(
    clients: Any, suite: Suite
) -> None:
    project_id = new_project_id()
    set_settings(clients, project_id, use_approached=True)
    client_id = create_silent_card(
        suite, days_ago=3, settings=StatusSettings(use_approached=True), project_id=project_id
    )
    yesterday = TODAY - timedelta(days=1)
    # Yesterday the worker moved the approached person to applicant by hand, and the
    # contract was signed the same day: the worker's entry decided yesterday ...
    record(clients, client_id, pb.CLIENT_STATUS_APPLICANT, on=yesterday.isoformat())
    signed = contract(clients, client_id, yesterday)
    # ... and the contract takes effect from today.
    assert signed.status_changed
    assert signed.client.status == pb.CLIENT_STATUS_SERVICE_USER
    last = signed.client.status_history[-1]
    assert last.effective_on == TODAY.isoformat()
    assert last.source == pb.STATUS_SOURCE_AUTOMATIC


def test_a_worker_picks_the_first_status_where_the_project_allows(clients: Any) -> None:
    project_id = new_project_id()
    set_settings(clients, project_id, use_approached=True)
    picked = register(clients, project_id=project_id, first_status=pb.CLIENT_STATUS_APPLICANT)
    assert picked.status == pb.CLIENT_STATUS_APPLICANT
    assert picked.status_history[0].source == pb.STATUS_SOURCE_MANUAL
    assert "chose it at the first contact" in picked.status_history[0].explanation
    # The organisation's default does not use Approached: a worker cannot pick it.
    with pytest.raises(grpc.RpcError) as refused:
        register(clients, first_status=pb.CLIENT_STATUS_APPROACHED)
    assert "first_status" in field_violations(refused.value)
    with pytest.raises(grpc.RpcError) as closed:
        register(clients, project_id=project_id, first_status=pb.CLIENT_STATUS_SERVICE_USER)
    assert "first_status" in field_violations(closed.value)


# ------------------------------------------------------------------ every contact counts


def publish(suite: Suite, routing_key: str, payload: dict[str, Any]) -> None:
    service, entity, verb, _ = routing_key.split(".")
    envelope = EventEnvelope(
        type=f"{service}.{entity}.{verb}",
        version=1,
        organisation="org-demo",
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


def test_intakes_contacts_move_the_inactivity_clock(clients: Any, suite: Suite) -> None:
    project_id = new_project_id()
    set_settings(clients, project_id, inactivity_days=30)
    seen, unseen = (f"ref-{secrets.token_hex(4)}" for _ in range(2))
    seen_id = create_silent_card(suite, days_ago=20, project_id=project_id, referral_id=seen)
    unseen_id = create_silent_card(suite, days_ago=20, project_id=project_id, referral_id=unseen)
    met_id = create_silent_card(suite, days_ago=20, project_id=project_id)
    outreach_id = f"out-{secrets.token_hex(3)}"

    def publish_contacts() -> None:
        # Redelivery adds nothing (each contact's id comes from its source), so the
        # facts are published again while the consumer may still be starting.
        # A field worker met this client in outreach three days ago (intake's outcome).
        publish(
            suite,
            "intake.outreach.outcome_recorded.v1",
            {"outreach_id": outreach_id, "centre_id": "ctr-north-town",
             "worker_id": "w-anna", "activity_type": "field_work",
             "planned_at": (TODAY - timedelta(days=3)).isoformat() + "T15:00:00Z",
             "people_reached": 5, "contacts_made": 1, "recorded_by": "w-anna",
             "recorded_at": (TODAY - timedelta(days=2)).isoformat() + "T08:00:00Z",
             "client_ids": [met_id]},
        )  # fmt: skip
        last_week = (TODAY - timedelta(days=6)).isoformat() + "T10:00:00Z"
        publish(
            suite,
            "intake.referral.acknowledged.v1",
            {"referral_id": seen, "centre_id": "ctr-north-town", "worker_id": "w-anna",
             "acknowledged_at": (TODAY - timedelta(days=8)).isoformat() + "T09:00:00Z"},
        )  # fmt: skip
        publish(
            suite,
            "intake.referral.first_contact_recorded.v1",
            {"referral_id": seen, "centre_id": "ctr-north-town", "worker_id": "w-anna",
             "channel": "phone", "first_contact_at": last_week,
             "submitted_at": (TODAY - timedelta(days=20)).isoformat() + "T09:00:00Z"},
        )  # fmt: skip

    tries = iter(range(10**6))

    def contacted() -> pb.Client | None:
        if next(tries) % 20 == 0:
            publish_contacts()
        c = get(clients, seen_id)
        met = get(clients, met_id)
        return c if len(c.contact_records) == 2 and met.contact_records else None

    card = eventually(contacted, timeout=20)
    met = get(clients, met_id).contact_records
    assert met[0].contacted_on == (TODAY - timedelta(days=3)).isoformat()
    assert card.last_contact_on == (TODAY - timedelta(days=6)).isoformat()
    assert {r.channel for r in card.contact_records} == {
        pb.CONTACT_CHANNEL_OTHER,
        pb.CONTACT_CHANNEL_PHONE,
    }
    # Ten days of silence now close an episode: the card nobody saw is closed as "did
    # not come", the one seen last week stays open.
    set_settings(clients, project_id, inactivity_days=10)

    def rejected() -> pb.Client | None:
        c = get(clients, unseen_id)
        return c if c.status == pb.CLIENT_STATUS_REJECTED else None

    closed = eventually(rejected, timeout=20)
    assert closed.status_history[-1].reason == "did_not_come"
    assert get(clients, seen_id).status == pb.CLIENT_STATUS_APPLICANT
    assert get(clients, met_id).status == pb.CLIENT_STATUS_APPLICANT


# ------------------------------------------------------------------ merge keeps status

PETR = auth(create_token(subject="w-petr", centres=["ctr-north-town", "ctr-north-village"]))
MANAGER_NORTH = auth(
    create_token(
        subject="w-manager-north", centres=["ctr-north-town", "ctr-north-village"],
        roles=["manager"],
    )
)  # fmt: skip


def village_statistics(clients: Any) -> pb.StatusReport:
    reply = clients.GetStatistics(
        pb.GetStatisticsRequest(
            period_start=(TODAY - timedelta(days=30)).isoformat(),
            period_end=TODAY.isoformat(),
            centre_id="ctr-north-village",
        ),
        metadata=MANAGER_NORTH,
    )
    report: pb.StatusReport = reply.clients
    return report


def test_a_merge_keeps_the_absorbed_cards_status_in_history_and_statistics(
    clients: Any,
) -> None:
    survivor = register(clients, PETR, centre_id="ctr-north-village")
    absorbed = register(clients, PETR, centre_id="ctr-north-village", given_name="Janka")
    clients.RecordStatus(
        pb.RecordStatusRequest(
            client_id=absorbed.client_id,
            status=pb.CLIENT_STATUS_REJECTED,
            reason="no_capacity",
        ),
        metadata=PETR,
    )
    before = village_statistics(clients)
    merged = clients.MergeClients(
        pb.MergeClientsRequest(
            survivor_client_id=survivor.client_id,
            absorbed_client_id=absorbed.client_id,
            reason="same person, nickname",
        ),
        metadata=PETR,
    ).client
    kept = [(e.from_client_id, e.status, e.reason) for e in merged.merged_status_history]
    assert kept == [
        (absorbed.client_id, pb.CLIENT_STATUS_APPLICANT, ""),
        (absorbed.client_id, pb.CLIENT_STATUS_REJECTED, "no_capacity"),
    ]
    after = village_statistics(clients)
    # One person now: counted once at the period's end, but the absorbed card's
    # rejection and its flows stay in the statistics.
    assert after.total == before.total - 1
    assert {r.reason: r.count for r in after.rejection_reasons} == {
        r.reason: r.count for r in before.rejection_reasons
    }
    assert {(f.from_status, f.to_status): f.count for f in after.flows} == {
        (f.from_status, f.to_status): f.count for f in before.flows
    }
    assert any(r.reason == "no_capacity" for r in after.rejection_reasons)


# ------------------------------------------------------------------ lists and families


def listed(clients: Any, metadata: Any = ANNA, **filters: Any) -> list[str]:
    reply = clients.ListClients(pb.ListClientsRequest(page_size=200, **filters), metadata=metadata)
    return [c.client_id for c in reply.clients]


def test_lists_filter_by_status_colour_and_my_clients(clients: Any) -> None:
    mine = register(clients)
    clients.AssignResponsibleWorker(
        pb.AssignResponsibleWorkerRequest(client_id=mine.client_id, worker_id="w-anna"),
        metadata=ANNA,
    )
    rejected = register(clients)
    record(clients, rejected.client_id, pb.CLIENT_STATUS_REJECTED, "no_capacity")

    assert mine.client_id in listed(clients, mine=True)
    assert rejected.client_id not in listed(clients, mine=True)
    assert mine.client_id in listed(clients, responsible_worker_id="w-anna")
    only_rejected = listed(clients, statuses=[pb.CLIENT_STATUS_REJECTED])
    assert rejected.client_id in only_rejected and mine.client_id not in only_rejected
    colour = get(clients, mine.client_id).colour.colour
    assert mine.client_id in listed(clients, colours=[colour])
    other = pb.COLOUR_GREY if colour != pb.COLOUR_GREY else pb.COLOUR_GREEN
    assert mine.client_id not in listed(clients, colours=[other])
    with pytest.raises(grpc.RpcError) as bad:
        listed(clients, colours=[99])
    assert "colours" in field_violations(bad.value)


def family_of(clients: Any, family_id: str, metadata: Any) -> pb.Family:
    family: pb.Family = clients.GetFamily(
        pb.GetFamilyRequest(family_id=family_id), metadata=metadata
    ).family
    return family


def families_listed(clients: Any, **filters: Any) -> list[str]:
    reply = clients.ListFamilies(pb.ListFamiliesRequest(page_size=200, **filters), metadata=PETR)
    return [f.family_id for f in reply.families]


def test_a_shared_family_status_is_the_same_whoever_looks_and_lists_filter_by_it(
    clients: Any,
) -> None:
    # One member in North Town (which Anna serves), one in North Village (she does not).
    town = register(clients, PETR, centre_id="ctr-north-town")
    village = register(clients, PETR, centre_id="ctr-north-village", given_name="Ondrej")
    contract(clients, town.client_id, TODAY)  # Anna's member becomes a service user
    family = clients.CreateFamily(
        pb.CreateFamilyRequest(
            name=f"Household {secrets.token_hex(2)}",
            centre_id="ctr-north-town",
            members=[
                pb.FamilyMember(client_id=town.client_id, role="head"),
                pb.FamilyMember(client_id=village.client_id, role="partner"),
            ],
        ),
        metadata=PETR,
    ).family
    as_petr = family_of(clients, family.family_id, PETR)
    as_anna = family_of(clients, family.family_id, ANNA)
    assert as_anna.hidden_member_count == 1 and as_petr.hidden_member_count == 0
    assert as_anna.status == as_petr.status == pb.CLIENT_STATUS_SERVICE_USER
    assert as_anna.colour.colour == as_petr.colour.colour
    assert as_anna.colour.explanation.startswith("For the family")

    # The family's shared status reaches the list (refreshed from the members' events).
    eventually(
        lambda: (
            family.family_id in families_listed(clients, statuses=[pb.CLIENT_STATUS_SERVICE_USER])
        ),
        timeout=20,
    )
    assert family.family_id not in families_listed(clients, statuses=[pb.CLIENT_STATUS_APPLICANT])
    assert family.family_id in families_listed(clients, colours=[as_petr.colour.colour])

    # Seed 001 lets a worker record the family's status in shared mode too.
    recorded = clients.RecordFamilyStatus(
        pb.RecordFamilyStatusRequest(
            family_id=family.family_id, status=pb.CLIENT_STATUS_REJECTED, reason="other"
        ),
        metadata=PETR,
    ).family
    assert recorded.status == pb.CLIENT_STATUS_REJECTED
    assert "worker recorded it for the family" in recorded.status_explanation
    assert family_of(clients, family.family_id, ANNA).status == pb.CLIENT_STATUS_REJECTED
    eventually(
        lambda: family.family_id in families_listed(clients, statuses=[pb.CLIENT_STATUS_REJECTED]),
        timeout=20,
    )


# ------------------------------------------------------------------ consultations

ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))


def test_a_worker_attaches_an_anonymous_consultation_and_the_card_lists_it(
    clients: Any, suite: Suite
) -> None:
    consultation_id = f"cons-{secrets.token_hex(4)}"
    recorded = {
        "consultation_id": consultation_id, "person": {}, "contact": {},
        "topic": "asked about rent arrears help", "duration_minutes": 15,
        "worker_id": "w-anna", "channel": "phone", "centre_id": "ctr-north-town",
        "recorded_at": (TODAY - timedelta(days=2)).isoformat() + "T10:00:00Z",
    }  # fmt: skip
    card = register(clients)

    def attach(client_id: str, metadata: Any = ANNA) -> pb.Client:
        reply = clients.AttachConsultation(
            pb.AttachConsultationRequest(client_id=client_id, consultation_id=consultation_id),
            metadata=metadata,
        )
        attached: pb.Client = reply.client
        return attached

    tries = iter(range(10**6))

    def attached_once() -> pb.Client | None:
        if next(tries) % 20 == 0:
            # Again now and then: a consumer that is still starting has no queue yet
            # (the consumer keeps a consultation once, whatever the redelivery).
            publish(suite, "intake.consultation.recorded.v1", recorded)
        try:
            return attach(card.client_id)
        except grpc.RpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return None  # the consumer has not kept it yet
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
    clients: Any, suite: Suite
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

    # A partner's referral without a date of birth, same names and phone: proposed to
    # the card's workers, never a second card.
    referral_id = f"ref-{secrets.token_hex(4)}"
    referral = {
        "referral_id": referral_id, "reference_number": "R-9",
        "person": {"given_name": "Karol", "family_name": family_name, "date_of_birth": ""},
        "contact": {"phone": phone, "email": "", "address": ""}, "region_id": "reg-north",
        "centre_id": "ctr-north-town", "client_type": "homeless", "problem_type": "housing",
        "channel": "partner_referral", "submitted_at": (TODAY.isoformat() + "T08:00:00Z"),
    }  # fmt: skip
    tries = iter(range(10**6))

    def proposed() -> pb.MatchProposal | None:
        if next(tries) % 20 == 0:
            publish(suite, "intake.referral.submitted.v1", referral)
        found = clients.ListMatchProposals(pb.ListMatchProposalsRequest(), metadata=ANNA)
        return next((p for p in found.proposals if p.referral_id == referral_id), None)

    proposal = eventually(proposed, timeout=20)
    assert proposal.client_id == card.client_id
