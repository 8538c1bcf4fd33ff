"""Intake's use cases against in-memory repositories and a fake unit of work: what
they store, which events they emit under whose name, and what they refuse. No
database, no broker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from casework_common.auth import Principal
from casework_common.errors import AlreadyExists, InvalidArgument, PermissionDenied
from casework_common.unit_of_work import SystemActor
from casework_dev.testing.fakes import MOMENT, FakeUnitOfWork
from casework_dev.testing.organisations import create_case, create_organisation, create_rule
from casework_intake import services
from casework_intake.domain.referrals import Channel, SubmitReferral

from .fakes import FakeReferralRepository, FakeRoutingRulesRepository

ORGANISATION = create_organisation()


def create_principal(**overrides: Any) -> Principal:
    fields: dict[str, Any] = {
        "organisation": "org-demo",
        "subject": "partner-portal",
        "kind": "partner",
        "centres": frozenset({"ctr-north-town"}),
        "roles": frozenset(),
        "scopes": frozenset(),
    }
    fields.update(overrides)
    return Principal(**fields)


PARTNER = create_principal()
ANNA = create_principal(subject="w-anna", kind="worker", roles=frozenset({"case_worker"}))
MANAGER = create_principal(
    subject="w-manager-north",
    kind="worker",
    centres=frozenset({"ctr-north-town", "ctr-north-village"}),
    roles=frozenset({"manager"}),
)


def create_command(**overrides: Any) -> SubmitReferral:
    fields: dict[str, Any] = {
        "idempotency_key": "partner-key-0001",
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": "1950-03-14",
        "phone": "+421 900 123 456",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": Channel.PARTNER_REFERRAL,
        "free_text": "Rent arrears since March.",
    }
    fields.update(overrides)
    return SubmitReferral(**fields)


def submit(uow: FakeUnitOfWork, repository: FakeReferralRepository, **overrides: Any) -> Any:
    return services.submit_referral(
        create_command(**overrides), uow, ORGANISATION, repository, first_response_hours=24
    )


# ---------------------------------------------------------------------- referrals


def test_a_submitted_referral_is_stored_with_its_event_under_the_callers_name() -> None:
    uow = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(uow)

    referral, replayed = submit(uow, referrals)

    assert replayed is False
    assert referrals.stored == {referral.referral_id: referral}
    assert referral.referral_id == "id-1" and referral.submitted_at == MOMENT
    assert referral.first_response_due_at == MOMENT + timedelta(hours=24)
    [event] = uow.events
    assert event.type == "intake.referral.submitted"
    assert (event.actor.kind, event.actor.subject) == ("partner", "partner-portal")
    assert event.payload["referral_id"] == referral.referral_id
    assert event.trace == uow.trace.carrier


def test_a_retried_submission_answers_the_first_referral_and_emits_nothing() -> None:
    first = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(first)
    referral, _ = submit(first, referrals)

    again = FakeUnitOfWork(PARTNER)
    replayed_referral, replayed = submit(again, referrals.scoped(again, None))

    assert (replayed_referral, replayed) == (referral, True)
    assert again.events == []


def test_a_key_reused_with_other_content_is_refused_naming_the_field() -> None:
    uow = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(uow)
    submit(uow, referrals)

    with pytest.raises(AlreadyExists) as refused:
        submit(FakeUnitOfWork(PARTNER), referrals, free_text="Something else.")

    assert refused.value.field == "idempotency_key"
    assert len(referrals.stored) == 1


def test_the_first_submission_reads_nothing_before_its_write() -> None:
    uow = FakeUnitOfWork(PARTNER)
    looked_up: list[str] = []

    class Counting(FakeReferralRepository):
        def by_idempotency_key(self, key: str) -> Any:
            looked_up.append(key)
            return super().by_idempotency_key(key)

    referrals = Counting(uow)
    submit(uow, referrals)
    assert looked_up == []

    submit(FakeUnitOfWork(PARTNER), referrals)
    assert looked_up == ["partner-key-0001"]


def test_a_key_reused_with_content_that_is_now_invalid_is_refused_as_reused() -> None:
    uow = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(uow)
    submit(uow, referrals)

    with pytest.raises(AlreadyExists) as refused:
        submit(FakeUnitOfWork(PARTNER), referrals, given_name=" ")

    assert refused.value.field == "idempotency_key"
    assert len(referrals.stored) == 1


def test_a_retry_from_a_caller_no_longer_serving_the_centre_answers_the_first_referral() -> None:
    uow = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(uow)
    referral, _ = submit(uow, referrals)
    moved = FakeUnitOfWork(create_principal(centres=frozenset({"ctr-south-city"})))

    again, replayed = submit(moved, referrals.scoped(moved, None))

    assert (again, replayed) == (referral, True)
    assert moved.events == []


def test_another_callers_key_is_refused_without_naming_their_referral() -> None:
    uow = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(uow)
    referral, _ = submit(uow, referrals)
    other = FakeUnitOfWork(create_principal(subject="other-portal"))

    with pytest.raises(AlreadyExists) as refused:
        submit(other, referrals.scoped(other, None))

    assert refused.value.field == "idempotency_key"
    assert referral.reference_number not in str(refused.value)
    assert referral.referral_id not in str(refused.value)
    assert other.events == []


def test_a_referral_to_a_centre_the_caller_does_not_serve_is_refused_and_nothing_stored() -> None:
    uow = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(uow)

    with pytest.raises(PermissionDenied):
        submit(uow, referrals, centre_id="ctr-south-city", region_id="reg-south")

    assert referrals.stored == {} and uow.events == []


def test_an_invalid_referral_is_refused_by_field_and_nothing_stored() -> None:
    uow = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(uow)

    with pytest.raises(InvalidArgument) as refused:
        submit(uow, referrals, given_name=" ", idempotency_key="short")

    assert {e.field for e in refused.value.errors} >= {"person.given_name", "idempotency_key"}
    assert referrals.stored == {} and uow.events == []


def test_acknowledging_a_referral_emits_its_event_once() -> None:
    submitting = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(submitting)
    referral, _ = submit(submitting, referrals)
    command = services.AcknowledgeReferral(referral.referral_id)

    first = FakeUnitOfWork(ANNA, now=MOMENT + timedelta(hours=1))
    acked = services.acknowledge_referral(command, first, referrals.scoped(first, ANNA.centres))
    second = FakeUnitOfWork(ANNA, now=MOMENT + timedelta(hours=2))
    services.acknowledge_referral(command, second, referrals.scoped(second, ANNA.centres))

    assert acked.acknowledged_by == "w-anna"
    assert acked.acknowledged_at == MOMENT + timedelta(hours=1)
    assert [e.type for e in first.events] == ["intake.referral.acknowledged"]
    assert second.events == []


def test_an_overdue_referral_is_escalated_by_the_system_to_the_centres_manager() -> None:
    submitting = FakeUnitOfWork(PARTNER)
    referrals = FakeReferralRepository(submitting)
    referral, _ = submit(submitting, referrals)
    timer = FakeUnitOfWork(SystemActor("intake"), now=MOMENT + timedelta(hours=25))

    escalated = services.escalate_overdue(
        timer,
        {"org-demo": ORGANISATION},
        lambda org: referrals.scoped(timer, None),
        [referral],
    )

    assert escalated == 1
    [event] = timer.events
    assert event.type == "intake.referral.first_contact_overdue"
    assert (event.actor.kind, event.actor.subject) == ("system", "intake")
    assert event.payload["manager_id"] == "w-manager-north"


# ------------------------------------------------------------------ routing dry run


def test_the_dry_run_routes_by_the_organisation_file_while_nothing_is_published() -> None:
    rules = FakeRoutingRulesRepository(FakeUnitOfWork(MANAGER))

    version, decision = services.dry_run_routing(
        services.DryRunRouting(0, create_case()),
        ORGANISATION,
        rules,
    )

    assert version == 0
    assert [r.worker_id for r in decision.recipients] == ["w-anna"]
    assert decision.matching_rule_ids == ("north-town-housing-and-debt",)


def test_the_dry_run_routes_by_the_published_version_once_there_is_one() -> None:
    uow = FakeUnitOfWork(MANAGER)
    rules = FakeRoutingRulesRepository(uow)
    petr_for_housing = create_rule(
        id="north-housing", priority=50, problem_types=("housing",), workers=("w-petr",)
    )
    saved = services.save_routing_rules(
        services.SaveRoutingRules((petr_for_housing,)),
        uow,
        ORGANISATION,
        rules,
    )
    services.publish_routing_rules(
        services.PublishRoutingRules(saved.version),
        uow,
        ORGANISATION,
        rules,
    )

    version, decision = services.dry_run_routing(
        services.DryRunRouting(0, create_case()),
        ORGANISATION,
        rules,
    )

    assert version == saved.version
    assert [r.worker_id for r in decision.recipients] == ["w-petr"]
    assert [e.type for e in uow.events] == ["intake.routing_rules.published"]


def test_the_dry_run_of_a_case_naming_an_unknown_centre_is_refused_by_field() -> None:
    rules = FakeRoutingRulesRepository(FakeUnitOfWork(MANAGER))

    with pytest.raises(InvalidArgument) as refused:
        services.dry_run_routing(
            services.DryRunRouting(0, create_case(centre_id="ctr-nowhere")),
            ORGANISATION,
            rules,
        )

    assert "centre_id" in [e.field for e in refused.value.errors]
