"""Specification of what clients accepts from a worker (pure domain, no server): each
command's rules refuse every bad field at once, naming it; the contract-date rule and
the archive and merge preconditions, written once in ``domain.rules``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from casework_clients.domain import commands, rules
from casework_clients.domain.cards import ClientCard
from casework_clients.domain.identity import identity_key
from casework_clients.domain.records import ConsentPurpose, ContactChannel
from casework_clients.domain.status import (
    ClientStatus,
    EntrySource,
    StatusEntry,
)
from casework_common.errors import FailedPrecondition, InvalidArgument
from casework_common.organisation import Organisation, parse

ORG = "org-test"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
ORGANISATION: Organisation = parse(
    {
        "id": ORG,
        "regions": [{"id": "reg-north", "name": "N"}],
        "centres": [
            {"id": "ctr-north", "region": "reg-north", "name": "North",
             "duty_worker": "w-anna", "manager": "w-anna"},
        ],
        "workers": [{"id": "w-anna", "name": "Anna", "centres": ["ctr-north"]}],
        "client_types": ["senior"],
        "problem_types": ["housing"],
    }
)  # fmt: skip


def create_registration(**overrides: Any) -> commands.RegisterClient:
    fields: dict[str, Any] = {
        "given_name": " Jana ",
        "family_name": "Nováková",
        "date_of_birth": "1950-03-14",
        "phone": " +421 900 123 456 ",
        "email": "jana@example.org",
        "address": "Main  street 1\nNorth Town",
        "centre_id": "ctr-north",
        "client_type": "senior",
        "problem_type": "housing",
    }
    fields.update(overrides)
    return commands.RegisterClient(**fields)


def create_card(**overrides: Any) -> ClientCard:
    fields: dict[str, Any] = {
        "client_id": "cl-1",
        "organisation": ORG,
        "identity_key": identity_key(ORG, "Jana", "Nováková", date(1950, 3, 14)),
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": date(1950, 3, 14),
        "phone": "",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_ids": ("ctr-north",),
        "client_type": "senior",
        "problem_types": (),
        "status": "applicant",
        "referral_ids": (),
        "registered_at": NOW - timedelta(days=10),
    }
    fields.update(overrides)
    return ClientCard(**fields)


def with_status(card: ClientCard, status: ClientStatus) -> ClientCard:
    entry = StatusEntry(
        status=status, effective_on=TODAY, recorded_at=NOW, source=EntrySource.MANUAL,
        actor="w-anna", reason="no_show" if status is ClientStatus.REJECTED else None,
        explanation="", sequence=1, episode=1,
    )  # fmt: skip
    return replace(card, status=status.value, status_entries=(entry,))


def refused(build: Any) -> list[str]:
    with pytest.raises(InvalidArgument) as error:
        build()
    return [e.field for e in error.value.errors]


# ------------------------------------------------------------------ registration


def test_a_registration_becomes_a_person_with_tidy_values_and_the_centres_region() -> None:
    person = commands.new_person(create_registration(), ORGANISATION, ORG, TODAY)

    assert (person.given_name, person.phone) == ("Jana", "+421 900 123 456")
    assert person.address == "Main street 1 North Town"
    assert (person.centre_id, person.region_id) == ("ctr-north", "reg-north")


def test_a_registration_refuses_every_bad_field_at_once() -> None:
    command = create_registration(
        given_name="", family_name="N" * 201, date_of_birth="2026-06-02", phone="12345",
        email="jana@", address="x" * 501, centre_id="ctr-nowhere", client_type="youth",
        problem_type="debt",
    )  # fmt: skip

    assert refused(lambda: commands.new_person(command, ORGANISATION, ORG, TODAY)) == [
        "given_name", "family_name", "date_of_birth", "address", "email", "phone",
        "centre_id", "client_type", "problem_type",
    ]  # fmt: skip


@pytest.mark.parametrize("born", ["14.03.1950", "1950-3-14", "1899-12-31"])
def test_a_given_date_of_birth_must_be_a_plausible_iso_date(born: str) -> None:
    command = create_registration(date_of_birth=born)
    assert refused(lambda: commands.new_person(command, ORGANISATION, ORG, TODAY)) == [
        "date_of_birth"
    ]


def test_a_person_without_papers_is_registered_without_a_date_of_birth() -> None:
    person = commands.new_person(create_registration(date_of_birth=""), ORGANISATION, ORG, TODAY)
    assert person.date_of_birth is None


def test_a_registration_may_leave_phone_e_mail_address_and_problem_empty() -> None:
    command = create_registration(phone="", email="", address="", problem_type="")
    person = commands.new_person(command, ORGANISATION, ORG, TODAY)
    assert (person.phone, person.email, person.address) == ("", "", "")


# ------------------------------------------------------------------ search, status, details


def test_a_search_names_its_bad_fields_and_fills_in_defaults() -> None:
    wanted = commands.search_of(commands.SearchClients(given_name="Jana"), TODAY)
    assert (wanted.query.given_name, wanted.min_score, wanted.limit) == ("Jana", 40, 20)
    bad = commands.SearchClients(date_of_birth="tomorrow", min_score=101, limit=-1)
    assert refused(lambda: commands.search_of(bad, TODAY)) == [
        "date_of_birth", "min_score", "limit",
    ]  # fmt: skip


def test_a_status_decision_is_dated_today_unless_a_past_day_is_given() -> None:
    decision = commands.status_decision_of(
        commands.RecordStatus("cl-1", "service_user", " moved in ", ""), "client_id", TODAY
    )
    assert (decision.status, decision.reason, decision.on) == ("service_user", "moved in", TODAY)
    future = commands.RecordStatus("", "7", "", "2026-06-02")
    assert refused(lambda: commands.status_decision_of(future, "family_id", TODAY)) == [
        "family_id", "status", "effective_on",
    ]  # fmt: skip


def test_an_update_names_only_what_its_mask_names_and_checks_the_date_of_birth() -> None:
    command = commands.UpdateClient("cl-1", ("given_name",), given_name="Jana", family_name="X")
    changes = commands.changes_of(command, TODAY)
    assert (changes.given_name, changes.family_name) == ("Jana", None)
    assert refused(lambda: commands.changes_of(commands.UpdateClient("cl-1", ()), TODAY)) == [
        "update_mask"
    ]
    future = commands.UpdateClient("cl-1", ("date_of_birth",), date_of_birth="2030-01-01")
    assert refused(lambda: commands.changes_of(future, TODAY)) == ["changes.date_of_birth"]


def test_consent_and_contact_choices_are_required_and_unknown_numbers_refused() -> None:
    consent = commands.RecordConsent("cl-1", None, 9, "", "2026-05-01")
    assert refused(lambda: commands.consent_of(consent, TODAY)) == ["purpose"]
    given = commands.RecordConsent("cl-1", ConsentPurpose.FEEDBACK_CALLS, 2, "", "2026-05-01")
    assert commands.consent_of(given, TODAY).on == date(2026, 5, 1)
    contact = commands.RecordContact("cl-1", "", None, 0, "", "called")
    assert refused(lambda: commands.contact_of(contact, TODAY, "w-anna")) == ["channel"]
    called = replace(contact, channel=ContactChannel.PHONE, channel_raw=1)
    assert commands.contact_of(called, TODAY, "w-anna").worker_id == "w-anna"


def test_a_statistics_period_ends_after_it_starts_in_known_places() -> None:
    bad = commands.GetStatistics("2026-05-31", "2026-05-01", "ctr-nowhere", "reg-nowhere")
    assert refused(lambda: commands.period_of(bad, ORGANISATION, TODAY)) == [
        "period_end", "centre_id", "region_id",
    ]  # fmt: skip


# ------------------------------------------------------------------ rules written once


def test_a_contract_is_signed_on_a_past_day_and_valid_no_earlier_than_that() -> None:
    assert rules.contract_date_errors(TODAY, None, TODAY) == []
    assert [e.field for e in rules.contract_date_errors(TODAY, TODAY - timedelta(1), TODAY)] == [
        "valid_until"
    ]
    assert [e.field for e in rules.contract_date_errors(TODAY + timedelta(1), None, TODAY)] == [
        "signed_on"
    ]


def test_a_worker_contract_command_applies_the_contract_date_rule() -> None:
    command = commands.RecordContractSigned("cl-1", "k-1", "2026-05-01", "2026-04-30")
    assert refused(lambda: commands.contract_of(command, NOW)) == ["valid_until"]
    ok = commands.contract_of(replace(command, valid_until=""), NOW)
    assert (ok.contract_id, ok.valid_until, ok.recorded_at) == ("k-1", None, NOW)


def test_only_a_closed_episode_not_merged_away_may_be_archived() -> None:
    rules.require_archivable(with_status(create_card(), ClientStatus.REJECTED))
    with pytest.raises(FailedPrecondition, match="episode is closed"):
        rules.require_archivable(with_status(create_card(), ClientStatus.SERVICE_USER))
    merged = replace(with_status(create_card(), ClientStatus.TERMINATED), merged_into="cl-2")
    with pytest.raises(FailedPrecondition, match="merged into cl-2"):
        rules.require_archivable(merged)


def test_a_merge_names_two_different_cards_and_says_why() -> None:
    assert refused(lambda: rules.check_merge_request("cl-1", "cl-1", " ")) == [
        "absorbed_client_id", "reason",
    ]  # fmt: skip
    assert refused(lambda: rules.check_merge_request("", "cl-2", "x" * 1001)) == [
        "survivor_client_id", "reason",
    ]  # fmt: skip


def test_a_merge_is_refused_into_a_redirecting_card_or_of_a_card_merged_elsewhere() -> None:
    survivor, absorbed = create_card(client_id="cl-1"), create_card(client_id="cl-2")
    assert rules.merge_state(survivor, absorbed) == rules.MergeState(False, False)
    with pytest.raises(FailedPrecondition, match="survivor_client_id"):
        rules.merge_state(replace(survivor, merged_into="cl-9"), absorbed)
    with pytest.raises(FailedPrecondition, match="absorbed_client_id"):
        rules.merge_state(survivor, replace(absorbed, merged_into="cl-9"))


def test_a_merge_cut_short_is_resumed_and_a_finished_one_is_recognised() -> None:
    survivor, absorbed = create_card(client_id="cl-1"), create_card(client_id="cl-2")
    redirecting = replace(absorbed, merged_into="cl-1")
    assert rules.merge_state(survivor, redirecting) == rules.MergeState(True, False)
    knowing = replace(survivor, merged_from=("cl-2",))
    assert rules.merge_state(knowing, redirecting) == rules.MergeState(True, True)
