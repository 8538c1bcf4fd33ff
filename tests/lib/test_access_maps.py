"""Specification of every service's access map: each call of every proto has an entry
(a call left out would be refused to everyone), no entry names a call that does not
exist, and every entry admits only known roles."""

from __future__ import annotations

import importlib

import pytest

from casework_common.auth import PARTNER, ROLES, SERVICE
from casework_common.config import SERVICES


def proto_methods(service: str) -> set[str]:
    module = importlib.import_module(f"casework.{service}.v1.{service}_pb2")
    return {
        f"{described.full_name}/{method.name}"
        for described in module.DESCRIPTOR.services_by_name.values()
        for method in described.methods
    }


def access_map(service: str) -> dict[str, frozenset[str]]:
    return dict(importlib.import_module(f"casework_{service}.entrypoints.access").ACCESS)


@pytest.mark.parametrize("service", SERVICES)
def test_every_call_of_every_proto_is_in_its_services_access_map(service: str) -> None:
    methods = proto_methods(service)

    assert methods, f"{service} declares no calls"
    assert set(access_map(service)) == methods


@pytest.mark.parametrize("service", SERVICES)
def test_every_entry_admits_someone_and_only_known_roles(service: str) -> None:
    for method, admitted in access_map(service).items():
        assert admitted, method
        assert admitted <= ROLES | {PARTNER, SERVICE}, method


def open_to(kind: str) -> set[str]:
    return {
        method
        for service in SERVICES
        for method, admitted in access_map(service).items()
        if kind in admitted
    }


def test_partners_may_only_ever_submit_referrals() -> None:
    assert open_to(PARTNER) == {"casework.intake.v1.IntakeService/SubmitReferral"}


def test_services_may_only_read_a_card_and_plans_and_schedule_or_cancel_reminders() -> None:
    """documents reads a card and the plan in effect to fill a template, notify the card
    of a client it messages; any service may ask notify for a reminder and withdraw it."""
    assert open_to(SERVICE) == {
        "casework.clients.v1.ClientsService/GetClient",
        "casework.plans.v1.PlansService/ListPlans",
        "casework.notify.v1.NotifyService/ScheduleReminder",
        "casework.notify.v1.NotifyService/CancelReminder",
    }


def test_an_admin_configures_the_organisation_but_reads_no_client_card() -> None:
    clients, intake = access_map("clients"), access_map("intake")
    admin_calls = {m for m, admitted in {**clients, **intake}.items() if "admin" in admitted}

    assert admin_calls == {
        "casework.clients.v1.ClientsService/GetStatistics",
        "casework.clients.v1.ClientsService/ListProjects",
        "casework.clients.v1.ClientsService/GetProject",
        "casework.clients.v1.ClientsService/SetProjectStatusSettings",
        "casework.intake.v1.IntakeService/SaveRoutingRules",
        "casework.intake.v1.IntakeService/ListRoutingRuleSets",
        "casework.intake.v1.IntakeService/PublishRoutingRules",
        "casework.intake.v1.IntakeService/DryRunRouting",
        "casework.intake.v1.IntakeService/PublishForm",
        "casework.intake.v1.IntakeService/GetForm",
    }


def test_a_data_protection_officer_reads_cards_consents_and_the_audit_and_changes_nothing() -> None:
    dpo_calls = {
        m.rsplit("/", 1)[1]
        for m, admitted in access_map("clients").items()
        if "data_protection_officer" in admitted
    }

    assert dpo_calls == {
        "GetClient", "ListClients", "SearchClients", "GetFamily", "ListFamilies",
        "RecordConsent", "WithdrawConsent", "GetStatistics", "ListAuditEntries",
    }  # fmt: skip
