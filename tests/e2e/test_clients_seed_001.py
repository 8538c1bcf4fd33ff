"""clients against seed 001 (and 000, 004) through its real processes: status settings
per project set by an administrator, manual mode and the same-day rule, the worker's
first status, families both ways, lists by
status, colour and worker, merge keeping status, the channel on the card. What needs
intake's API too (contacts, consultations, people without papers) is in
test_clients_intake_contacts."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

import grpc
import pytest

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework_clients.domain.status import StatusSettings
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


def get(clients: Any, client_id: str) -> pb.Client:
    return clients.GetClient(pb.GetClientRequest(client_id=client_id), metadata=ANNA).client


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
