"""Today's producers keep the event contracts: intake's and clients' use cases run against
the database MONGO_URI names (the development wire server by default), and every event
they store in their outboxes (exactly what the relay publishes) parses strictly into
the message of its routing key: no field the contract lacks, every value of the
contract's type, and the message says back what the producer wrote. Every routing key
of the service is produced at least once, so a new event cannot skip its contract.

And every consumer's reader is fed the events its producers' use cases stored: each
key a queue is bound to has its reader here, each reader reads what its producer built
(the facts a consumer acts on are checked where they matter), and a payload that does
not parse is refused as a malformed event, which the events runtime dead-letters."""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import mongoengine as me
import pytest

from casework_clients import services as clients
from casework_clients.adapters.repository import (
    ClientRepository,
    ConsultationRepository,
    FamilyRepository,
    MatchProposalRepository,
    SharingRequestRepository,
)
from casework_clients.domain.cards import (
    Consultation,
    Contract,
    NewPerson,
    ReferralFacts,
)
from casework_clients.domain.cards import Outcome as Referred
from casework_clients.domain.details import CardChanges
from casework_clients.domain.enrolments import EndEnrolment, EnrolClient
from casework_clients.domain.families import FamilyMember
from casework_clients.domain.projects import SettingsBook, define_project
from casework_clients.domain.records import ConsentPurpose, ContactChannel
from casework_clients.domain.status import StatusSettings
from casework_clients.entrypoints import events as clients_consumers
from casework_clients.use_cases import enrolments as enrolling
from casework_common import contracts
from casework_common.auth import Principal
from casework_common.envelope import Actor, EventEnvelope, MalformedEvent
from casework_common.organisation import parse
from casework_common.routing import Rule
from casework_common.unit_of_work import SystemActor, Trace, UnitOfWork
from casework_feedback.adapters.call_repository import CallRepository, ConsentRepository
from casework_feedback.adapters.complaint_repository import ComplaintRepository
from casework_feedback.adapters.repository import LinkRepository, SurveyRepository, VisitRepository
from casework_feedback.adapters.response_repository import ResponseRepository
from casework_feedback.domain.surveys import (
    Aspect,
    Audience,
    DefinitionStatus,
    Question,
    QuestionKind,
    SurveyDefinition,
)
from casework_feedback.entrypoints import events as feedback_consumers
from casework_feedback.use_cases import calls as feedback_calls
from casework_feedback.use_cases import complaints as feedback_complaints
from casework_feedback.use_cases import visits as feedback_visits
from casework_intake import services as intake
from casework_intake.adapters import repository as intake_repo
from casework_intake.adapters.repository import (
    ConsultationRepository as IntakeConsultations,
)
from casework_intake.adapters.repository import (
    OutreachRepository,
    ProjectRepository,
    ReferralRepository,
    RoutingRulesRepository,
)
from casework_intake.domain.consultations import RecordConsultation
from casework_intake.domain.outreach import ActivityType, Outcome, PlanOutreach
from casework_intake.domain.projects import CreateProject
from casework_intake.domain.referrals import Channel, SubmitReferral
from casework_notify.entrypoints import events as notify_consumers
from casework_plans.adapters.repository import (
    CatalogueRepository,
    ClientStatusRepository,
    PlanRepository,
    WaitingListRepository,
)
from casework_plans.domain.catalogue import CatalogueService, LeaveReason
from casework_plans.domain.monitoring import Cadence
from casework_plans.domain.plans import BudgetHolder, ContactMode, Signer
from casework_plans.entrypoints import events as plans_consumers
from casework_plans.use_cases import plans as plan_cases
from casework_plans.use_cases import queries as plan_queries
from casework_plans.use_cases import records as plan_records
from casework_plans.use_cases import review_requests as plan_review_requests
from casework_plans.use_cases import timers as plan_timers

pytestmark = pytest.mark.usefixtures("mongo_db")

ORG = "org-demo"
DEV = parse(
    json.loads(
        (Path(__file__).resolve().parents[2] / "config" / "organisation.dev.json").read_text()
    )
)
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def create_principal(**overrides: Any) -> Principal:
    fields: dict[str, Any] = {
        "organisation": ORG,
        "subject": "w-anna",
        "kind": "worker",
        "centres": frozenset({"ctr-north-town"}),
        "roles": frozenset({"case_worker"}),
        "scopes": frozenset(),
    }
    fields.update(overrides)
    return Principal(**fields)


ANNA = create_principal()
PETR = create_principal(
    subject="w-petr", centres=frozenset({"ctr-north-town", "ctr-north-village"})
)
MANAGER = create_principal(
    subject="w-manager-north",
    centres=frozenset({"ctr-north-town", "ctr-north-village"}),
    roles=frozenset({"manager"}),
)
PARTNER = create_principal(subject="partner-x", kind="partner", centres=frozenset(DEV.centres))


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


# ------------------------------------------------------------------ the check


def stored_events() -> list[dict[str, Any]]:
    """Every event waiting in any outbox of the test's database, as the relay sends it."""
    db = me.get_db()
    events: list[dict[str, Any]] = []
    for name in sorted(db.list_collection_names()):
        for doc in db[name].find({}):
            events.extend(doc.get("outbox") or [])
    return events


def _instant(value: str) -> datetime | None:
    if "T" not in value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def differences(written: Any, read_back: Any, path: str = "payload") -> list[str]:
    """Where the message read back says something else than the producer wrote
    (an instant may be spelled `+00:00` or `Z`; a key the producer left out may come
    back at its default)."""
    if isinstance(written, dict) and isinstance(read_back, dict):
        return [
            d
            for key in written
            for d in differences(written[key], read_back.get(key), f"{path}.{key}")
        ]
    if isinstance(written, list) and isinstance(read_back, list) and len(written) == len(read_back):
        return [d for n, pair in enumerate(zip(written, read_back, strict=True))
                for d in differences(*pair, f"{path}[{n}]")]  # fmt: skip
    if isinstance(written, str) and isinstance(read_back, str):
        at, back = _instant(written), _instant(read_back)
        if at is not None and at == back:
            return []
    if type(written) is type(read_back) and written == read_back:
        return []
    return [f"{path}: wrote {written!r}, the contract reads {read_back!r}"]


def contract_problems(events: list[dict[str, Any]]) -> list[str]:
    problems = []
    for event in events:
        key = f"{event['type']}.v{event['version']}"
        try:
            message = contracts.decode(key, event["payload"], strict=True)
        except contracts.UnreadablePayload as exc:
            problems.append(str(exc))
            continue
        problems += [f"{key} {d}" for d in differences(event["payload"], contracts.encode(message))]
    return problems


def keys_of(events: list[dict[str, Any]]) -> set[str]:
    return {f"{e['type']}.v{e['version']}" for e in events}


def contract_keys(service: str) -> set[str]:
    return {k for k in contracts.registry() if k.startswith(f"{service}.")}


def test_the_check_catches_a_wrong_type_a_missing_zone_and_a_field_the_contract_lacks() -> None:
    good = contracts.encode(
        contracts.registry()["intake.referral.acknowledged.v1"](referral_id="r-1", worker_id="w")
    )
    base = {"type": "intake.referral.acknowledged", "version": 1}
    bad = [
        {**base, "payload": {**good, "worker_id": 7}},
        {**base, "payload": {**good, "acknowledged_at": "2025-06-02T09:00:00"}},
        {**base, "payload": {**good, "mood": "cheerful"}},
        {**base, "payload": {**good, "worker_id": None}},
    ]
    assert len(contract_problems(bad)) == 4
    assert contract_problems([{**base, "payload": good}]) == []


# What each queue's handler reads from its events (the entry points' parse sites).
READERS: dict[str, Callable[[EventEnvelope], object]] = {
    "intake.referral.submitted.v1": clients_consumers.referral_facts,
    "intake.consultation.recorded.v1": clients_consumers.consultation_facts,
    "documents.contract.signed.v1": lambda e: clients_consumers.contract_facts(e, T0),
    "documents.contract.ended.v1": clients_consumers.contract_end_facts,
    "clients.client.merged.v1": clients_consumers.merged_cards,
    "intake.referral.acknowledged.v1": clients_consumers.intake_contact,
    "intake.referral.first_contact_recorded.v1": clients_consumers.intake_contact,
    "intake.outreach.outcome_recorded.v1": clients_consumers.outreach_contacts,
    # Read by clients (a contact counts as contact) and by feedback (one in person is
    # a visit sampled for phone surveys).
    "plans.monitoring.contact_recorded.v1": lambda e: (
        clients_consumers.plans_contact(e),
        feedback_consumers.monitoring_contact(e),
    ),
    # Read by clients (a family's shared status) and by plans.
    "clients.client.status_changed.v1": lambda e: (
        clients_consumers.family_status_input(e),
        plans_consumers.status_change(e),
    ),
    "clients.family.created.v1": clients_consumers.family_status_input,
    "clients.family.member_added.v1": clients_consumers.family_status_input,
    "clients.family.member_merged.v1": clients_consumers.family_status_input,
    "clients.family.status_changed.v1": clients_consumers.family_status_input,
    "clients.client.registered.v1": notify_consumers.client_arrived,
    "clients.client.matched.v1": notify_consumers.client_arrived,
    "intake.routing_rules.published.v1": notify_consumers.published_rules,
    "intake.referral.first_contact_overdue.v1": notify_consumers.overdue_referral,
    "intake.outreach.reminder_due.v1": notify_consumers.outreach_due,
    "intake.outreach.outcome_due.v1": notify_consumers.outreach_due,
    "intake.task.assigned.v1": notify_consumers.task_news,
    "intake.task.overdue.v1": notify_consumers.task_news,
    "clients.match.proposed.v1": notify_consumers.match_proposed,
    "clients.sharing.requested.v1": notify_consumers.sharing_requested,
    "plans.monitoring.due.v1": notify_consumers.plan_news,
    "plans.monitoring.missed.v1": notify_consumers.plan_news,
    "plans.review.due.v1": notify_consumers.plan_news,
    "plans.review.overdue.v1": notify_consumers.plan_news,
    "plans.decision.requested.v1": notify_consumers.plan_news,
    "plans.decision.decided.v1": notify_consumers.plan_news,
    "plans.discrepancy.raised.v1": notify_consumers.plan_news,
    "feedback.complaint.received.v1": lambda e: notify_consumers.feedback_notification(e, DEV, T0),
    "feedback.complaint.deadline_approaching.v1": lambda e: notify_consumers.feedback_notification(
        e, DEV, T0
    ),
    "feedback.complaint.deadline_missed.v1": lambda e: notify_consumers.feedback_notification(
        e, DEV, T0
    ),
    # Read by notify (the worker's task) and by plans (recorded on the client's plan).
    "feedback.plan_review.requested.v1": lambda e: (
        notify_consumers.feedback_notification(e, DEV, T0),
        plans_consumers.review_request(e),
    ),
    "feedback.call.scheduled.v1": notify_consumers.follow_up_call,
    "feedback.call.cancelled.v1": notify_consumers.follow_up_call,
    "feedback.complaint.answered.v1": notify_consumers.complaint_answer,
    "feedback.survey.later_issued.v1": notify_consumers.survey_offer,
    "clients.consent.recorded.v1": feedback_consumers.consent_fact,
    "clients.consent.withdrawn.v1": feedback_consumers.consent_fact,
    "plans.plan.drafted.v1": clients_consumers.plan_state,
    "plans.plan.signed.v1": clients_consumers.plan_state,
    "plans.plan.superseded.v1": clients_consumers.plan_state,
    "plans.plan.closed.v1": clients_consumers.plan_state,
}


def read_all(events: list[dict[str, Any]]) -> tuple[dict[str, list[Any]], list[str]]:
    """Each stored event a queue is bound to, as its consumer reads it (key -> what
    was read, in the order stored), and the consumers that refused one."""
    read: dict[str, list[Any]] = {}
    problems = []
    for event in events:
        key = f"{event['type']}.v{event['version']}"
        reader = READERS.get(key)
        if reader is None:
            continue
        try:
            read.setdefault(key, []).append(reader(EventEnvelope.from_dict(event)))
        except Exception as exc:  # any refusal is a broken producer/consumer pair
            problems.append(f"{key}: {exc!r}")
    return read, problems


def test_every_key_a_queue_is_bound_to_has_its_reader_here() -> None:
    handlers = (
        Path(__file__).resolve().parents[2].glob("services/*/casework_*/entrypoints/events.py")
    )
    bound = {
        key
        for path in handlers
        for binding in re.findall(r"event_handler\(\s*\"[^\"]+\",\s*\[([^\]]*)\]", path.read_text())
        for key in re.findall(r"\"([^\"]+)\"", binding)
    }
    assert bound == set(READERS)


@pytest.mark.parametrize(
    ("key", "payload"),
    [
        ("intake.referral.submitted.v1", {"referral_id": "r-1", "submitted_at": "today"}),
        ("intake.task.overdue.v1", {"task_id": "t-1", "assignee_id": "w-petr", "due_at": 5}),
        ("clients.match.proposed.v1", {"proposal_id": "mp-1", "centre_ids": "ctr-north-town"}),
        ("clients.client.merged.v1", {"survivor_client_id": ["cl-1"]}),
    ],
    ids=["timestamp-not-an-instant", "timestamp-a-number", "list-a-string", "string-a-list"],
)
def test_a_payload_that_does_not_parse_into_its_message_is_refused_as_malformed(
    key: str, payload: dict[str, Any]
) -> None:
    event_type, _, version = key.rpartition(".v")
    event = EventEnvelope(
        type=event_type, version=int(version), organisation=ORG,
        actor=Actor("system", "test"), payload=payload, trace={},
    )  # fmt: skip
    with pytest.raises(MalformedEvent):
        READERS[key](event)


def test_a_reader_ignores_fields_its_contract_does_not_know() -> None:
    merged = contracts.registry()["clients.client.merged.v1"](
        survivor_client_id="cl-1", absorbed_client_id="cl-2", reason="typed twice"
    )
    event = contracts.envelope(merged, organisation=ORG, actor=Actor("worker", "w-anna"), trace={})
    newer = EventEnvelope.from_dict(
        {**event.to_dict(), "payload": {**event.payload, "merged_on_device": "tablet-7"}}
    )
    assert clients_consumers.merged_cards(newer) == ("cl-2", "cl-1")


def test_a_contract_signed_encoded_by_the_codec_is_read_by_clients() -> None:
    signed = contracts.registry()["documents.contract.signed.v1"](
        client_id="cl-1", contract_id="k-1", signed_on="2025-06-01", valid_until=""
    )
    event = contracts.envelope(signed, organisation=ORG, actor=Actor("worker", "w-anna"), trace={})
    client_id, contract = clients_consumers.contract_facts(event, T0)
    assert (client_id, contract.contract_id, contract.valid_until) == ("cl-1", "k-1", None)
    assert contract.signed_on == date(2025, 6, 1)


# ------------------------------------------------------------------ intake


def create_referral(**overrides: Any) -> SubmitReferral:
    fields: dict[str, Any] = {
        "idempotency_key": new_key(),
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": "1961-04-12",
        "phone": "+421 900 123 456",
        "email": "",
        "address": "",
        "region_id": "",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": Channel.PHONE,
        "free_text": "",
    }
    fields.update(overrides)
    return SubmitReferral(**fields)


def create_consultation_command(**overrides: Any) -> RecordConsultation:
    fields: dict[str, Any] = {
        "idempotency_key": new_key(),
        "given_name": "Taras",
        "family_name": "Shevchenko",
        "date_of_birth": "1961-03-09",
        "phone": "",
        "email": "",
        "topic": "rent arrears",
        "duration_minutes": 15,
        "worker_id": "",
        "channel": Channel.PHONE,
        "centre_id": "ctr-north-town",
        "notes": "",
    }
    fields.update(overrides)
    return RecordConsultation(**fields)


def create_outreach(**overrides: Any) -> PlanOutreach:
    fields: dict[str, Any] = {
        "worker_id": "",
        "centre_id": "ctr-north-town",
        "activity_type": ActivityType.GROUP_EVENT,
        "planned_at": T0 + 48 * HOUR,
        "place": "town library",
        "description": "talk on housing benefit",
        "idempotency_key": new_key(),
    }
    fields.update(overrides)
    return PlanOutreach(**fields)


def produce_intake_events() -> None:
    """Each of intake's use cases and timers that emit an event, once."""

    def unit(caller: Principal | SystemActor, at: datetime = T0) -> UnitOfWork:
        return UnitOfWork(caller, now=at)

    timers = SystemActor("intake")
    referrals = ReferralRepository(ORG, None)
    taken, _ = intake.submit_referral(create_referral(), unit(PARTNER), DEV, referrals)
    forgotten, _ = intake.submit_referral(create_referral(), unit(PARTNER), DEV, referrals)
    mine = ReferralRepository(ORG, ANNA.centres)
    intake.acknowledge_referral(intake.AcknowledgeReferral(taken.referral_id), unit(ANNA), mine)
    intake.record_first_contact(
        intake.RecordFirstContact(taken.referral_id, Channel.PHONE, "called"), unit(ANNA), mine
    )
    late = T0 + 100 * HOUR
    assert forgotten.referral_id in [r.referral_id for r in intake_repo.overdue_referrals(late)]
    intake.escalate_overdue(
        unit(timers, late), {ORG: DEV}, lambda org: ReferralRepository(org, None),
        intake_repo.overdue_referrals(late),
    )  # fmt: skip

    consultations = IntakeConsultations(ORG, ANNA.centres)
    intake.record_consultation(create_consultation_command(), unit(ANNA), DEV, consultations)
    anonymous = create_consultation_command(given_name="", family_name="", date_of_birth="")
    intake.record_consultation(anonymous, unit(ANNA), DEV, consultations)

    rules = RoutingRulesRepository(ORG)
    rule = Rule("south-youth", 40, (), ("ctr-south-city",), ("youth",), (), ("w-ilze",))
    saved = intake.save_routing_rules(intake.SaveRoutingRules((rule,)), unit(MANAGER), DEV, rules)
    intake.publish_routing_rules(
        intake.PublishRoutingRules(saved.version), unit(MANAGER), DEV, rules
    )

    outreach = OutreachRepository(ORG, PETR.centres)
    planned = intake.plan_outreach(create_outreach(), unit(ANNA), DEV, outreach, reminder_hours=24)
    dropped = intake.plan_outreach(create_outreach(), unit(ANNA), DEV, outreach)
    intake.cancel_outreach(intake.CancelOutreach(dropped.outreach_id), unit(ANNA), outreach)

    def unscoped_outreach(org: str) -> OutreachRepository:
        return OutreachRepository(org, None)

    soon, after = T0 + 30 * HOUR, T0 + 50 * HOUR
    intake.remind_outreach(
        unit(timers, soon), intake_repo.outreach_needing_reminder(soon), unscoped_outreach
    )
    intake.request_outreach_outcomes(
        unit(timers, after), intake_repo.outreach_needing_outcome(after), unscoped_outreach
    )
    intake.record_outreach_outcome(
        intake.RecordOutreachOutcome(
            planned.outreach_id, Outcome("14 visitors", 14, 4, ("cl-met-1",))
        ),
        unit(PETR, after),
        outreach,
    )

    projects = ProjectRepository(ORG, ANNA.centres)
    project = intake.create_project(
        CreateProject("Open day", "ctr-north-town", "", ("w-petr",), new_key()), unit(ANNA), DEV,
        projects,
    )  # fmt: skip
    _, task = intake.add_task(
        intake.AddTask(project.project_id, "book the hall", "w-petr", T0 + HOUR, new_key()),
        unit(ANNA),
        projects,
    )
    intake.comment_on_task(
        intake.CommentOnTask(project.project_id, task.task_id, "the big hall, please", new_key()),
        unit(ANNA),
        projects,
    )
    overdue_at = T0 + 2 * HOUR
    intake.flag_overdue_tasks(
        unit(timers, overdue_at),
        intake_repo.projects_with_overdue_tasks(overdue_at),
        lambda org: ProjectRepository(org, None),
    )
    intake.complete_task(
        intake.CompleteTask(project.project_id, task.task_id), unit(ANNA, overdue_at), projects
    )
    intake.reopen_task(
        intake.ReopenTask(project.project_id, task.task_id, overdue_at + HOUR),
        unit(ANNA, overdue_at),
        projects,
    )


def test_every_event_intake_stores_parses_strictly_into_its_contract() -> None:
    produce_intake_events()
    events = stored_events()
    assert keys_of(events) == contract_keys("intake")
    assert contract_problems(events) == []


def test_every_consumer_of_intake_reads_what_intake_stored() -> None:
    produce_intake_events()
    read, problems = read_all(stored_events())
    assert problems == []
    referred = read["intake.referral.submitted.v1"]
    assert {(f.given_name, f.date_of_birth, f.phone, f.submitted_at) for f in referred} == {
        ("Jana", date(1961, 4, 12), "+421 900 123 456", T0)
    }
    consultations = read["intake.consultation.recorded.v1"]
    assert {c.date_of_birth for c in consultations} == {date(1961, 3, 9), None}
    [rules] = read["intake.routing_rules.published.v1"]
    assert [(r.id, r.workers) for r in rules.rules] == [("south-youth", ("w-ilze",))]
    [overdue] = read["intake.referral.first_contact_overdue.v1"]
    assert overdue.manager_id == "w-manager-north" and overdue.due_at.tzinfo is not None
    [reminder] = read["intake.outreach.reminder_due.v1"]
    [outcome] = read["intake.outreach.outcome_due.v1"]
    assert (reminder.outcome, outcome.outcome) == (False, True)
    assert reminder.worker_id == "w-anna" and reminder.planned_at == T0 + 48 * HOUR
    [assigned] = read["intake.task.assigned.v1"]
    [late] = read["intake.task.overdue.v1"]
    assert (assigned.assignee_id, assigned.assigned_by, assigned.overdue) == (
        "w-petr", "w-anna", False,
    )  # fmt: skip
    assert (late.assignee_id, late.overdue, late.due_at) == ("w-petr", True, T0 + HOUR)


# ------------------------------------------------------------------ clients


SETTINGS = StatusSettings(inactivity_days=60)
OWN_FAMILY_STATUS = StatusSettings(inactivity_days=60, shared_with_family=False)


def create_facts(**overrides: Any) -> ReferralFacts:
    fields: dict[str, Any] = {
        "referral_id": f"ref-{secrets.token_hex(4)}",
        "organisation": ORG,
        "given_name": "Taras",
        "family_name": "Shevchenko",
        "date_of_birth": date(1961, 3, 9),
        "phone": "+380 44 123 4567",
        "email": "",
        "address": "",
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": "partner_referral",
        "submitted_at": T0,
    }
    fields.update(overrides)
    return ReferralFacts(**fields)


def create_waiting_consultation(**overrides: Any) -> Consultation:
    fields: dict[str, Any] = {
        "consultation_id": f"cons-{secrets.token_hex(4)}",
        "organisation": ORG,
        "given_name": "Taras",
        "family_name": "Shevchenko",
        "date_of_birth": date(1961, 3, 9),
        "phone": "",
        "email": "",
        "topic": "rent arrears",
        "duration_minutes": 15,
        "worker_id": "w-duty-north",
        "channel": "phone",
        "centre_id": "ctr-north-town",
        "recorded_at": T0 - timedelta(days=10),
    }
    fields.update(overrides)
    return Consultation(**fields)


def produce_clients_events() -> None:
    """Each of clients' use cases and timers that emit an event, once."""
    system = ClientRepository(ORG, None)
    anna = ClientRepository(ORG, ANNA.centres)
    waiting = ConsultationRepository(ORG)

    def unit(principal: Principal | SystemActor = ANNA, at: datetime = T0) -> UnitOfWork:
        return UnitOfWork(principal, now=at, trace=Trace({}))

    # The events process's units of work: the service itself acting.
    service = SystemActor("clients")
    clients.consultation_recorded(create_waiting_consultation(), unit(service), system, waiting)
    every_proposal = MatchProposalRepository(ORG, None)
    refer: dict[str, Any] = {
        "settings": SETTINGS, "consultations": waiting, "proposals_repo": every_proposal,
    }  # fmt: skip
    taras, _ = clients.register_from_referral(create_facts(), unit(service), system, **refer)
    # The same person referred twice more: each a proposal to the card's workers, one
    # confirmed (the referral joins the card: matched), one rejected (a card of its own).
    again, rejected = create_facts(), create_facts()
    for facts in (again, rejected):
        _, outcome = clients.register_from_referral(facts, unit(service), system, **refer)
        assert outcome is Referred.PROPOSED
    annas_proposals = MatchProposalRepository(ORG, ANNA.centres)
    by_referral = {
        p.referral.referral_id: p.proposal_id
        for p in annas_proposals.page(status=None, offset=0, limit=10)
    }
    clients.confirm_match_proposal(
        by_referral[again.referral_id], (), False, unit(), annas_proposals, anna,
        consultations=waiting,
    )  # fmt: skip
    clients.reject_match_proposal(
        by_referral[rejected.referral_id], "another Taras", unit(), annas_proposals, anna, system,
        settings=SETTINGS, consultations=waiting,
    )  # fmt: skip
    # A person with a card in South City registered again in North Town: South City's
    # manager is asked to share the card, and declines.
    south = create_facts(
        given_name="Mykola", family_name="Lysenko", date_of_birth=date(1975, 8, 30),
        region_id="reg-south", centre_id="ctr-south-city",
    )  # fmt: skip
    clients.register_from_referral(south, unit(service), system, **refer)
    clients.register_client(
        NewPerson(ORG, "Mykola", "Lysenko", date(1975, 8, 30), "", "", "", "reg-north",
                  "ctr-north-town", "senior", ""),
        frozenset(), unit(), anna, settings=SETTINGS, consultations=waiting,
        sharing=SharingRequestRepository(ORG, None),
    )  # fmt: skip
    south_manager = create_principal(
        subject="w-manager-south", centres=frozenset({"ctr-south-city"}),
        roles=frozenset({"manager"}),
    )  # fmt: skip
    south_requests = SharingRequestRepository(ORG, south_manager.centres)
    [request] = south_requests.page(status=None, offset=0, limit=10)
    clients.decide_sharing_request(
        request.request_id, False, unit(south_manager), south_requests,
        ClientRepository(ORG, south_manager.centres), system,
        families_repo=FamilyRepository(ORG, None),
    )  # fmt: skip
    person = NewPerson(
        ORG, "Olena", "Kovalenko", date(1980, 5, 1), "", "", "", "reg-north", "ctr-north-town",
        "senior", "",
    )  # fmt: skip
    olena = clients.register_client(
        person, frozenset(), unit(), anna, settings=SETTINGS, consultations=waiting
    ).card
    assert olena is not None
    twin = clients.register_client(
        NewPerson(ORG, "Oleh", "Bondar", date(2012, 1, 1), "", "", "", "reg-north",
                  "ctr-north-town", "senior", ""),
        frozenset(), unit(), anna, settings=SETTINGS, consultations=waiting,
    ).card  # fmt: skip
    assert twin is not None

    clients.record_contract_signed(
        taras.client_id, Contract("k-1", T0.date(), None, T0), unit(service), system,
        settings=SETTINGS, by=Actor("worker", "w-anna"),
    )  # fmt: skip
    clients.record_status(
        taras.client_id, "terminated", "goals_achieved", T0.date(), unit(), anna,
        settings=SETTINGS,
    )  # fmt: skip
    clients.archive_client(taras.client_id, unit(MANAGER), ClientRepository(ORG, MANAGER.centres))

    clients.update_client(
        olena.client_id, CardChanges(address="Lake road 7"), unit(), anna, org=DEV
    )
    clients.assign_responsible_worker(olena.client_id, "w-petr", unit(), anna, org=DEV)
    clients.unassign_responsible_worker(olena.client_id, "w-petr", "moved", unit(), anna)
    today = T0.date()
    clients.record_consent(
        olena.client_id, ConsentPurpose.FEEDBACK_CALLS, "", today, "DOC-7", unit(), anna
    )
    clients.withdraw_consent(
        olena.client_id, ConsentPurpose.FEEDBACK_CALLS, "", today, "", "no more calls",
        unit(), anna,
    )  # fmt: skip
    clients.add_note(olena.client_id, "Lives with her sister.", "", unit(), anna)
    housing = define_project("prj-housing", ORG, "Housing", SETTINGS, T0.date(), "w-admin", T0)
    book = SettingsBook(SETTINGS, {"prj-housing": housing})
    enrolling.enrol_client(
        EnrolClient(olena.client_id, "prj-housing", "", False), unit(), anna, settings=book
    )
    enrolling.end_enrolment(
        EndEnrolment(olena.client_id, "prj-housing", "", "moved away"), unit(), anna,
        settings=book,
    )  # fmt: skip
    clients.record_contact(
        olena.client_id, today, ContactChannel.HOME_VISIT, "w-anna", "visited", unit(), anna,
        org=DEV,
    )  # fmt: skip

    families = FamilyRepository(ORG, ANNA.centres)
    home = clients.create_family(
        "Household", "ctr-north-town", (FamilyMember(olena.client_id, "head"),), unit(), anna,
        families, region_id="reg-north",
    )  # fmt: skip
    clients.add_family_member(
        home.family_id, FamilyMember(twin.client_id, "child", (olena.client_id,)), unit(), anna,
        families,
    )  # fmt: skip
    clients.record_family_status(
        home.family_id, "applicant", "", today, unit(), families,
        settings=OWN_FAMILY_STATUS,
    )  # fmt: skip
    # The child's card was typed twice: merging it moves the family onto the survivor.
    again = clients.register_client(
        NewPerson(ORG, "Oleg", "Bondar", date(2012, 1, 1), "", "", "", "reg-north",
                  "ctr-north-town", "senior", ""),
        frozenset({twin.client_id}), unit(), anna, settings=SETTINGS, consultations=waiting,
    ).card  # fmt: skip
    assert again is not None
    clients.merge_clients(
        again.client_id, twin.client_id, "typed twice", unit(), anna,
        families_repo=FamilyRepository(ORG, None),
    )  # fmt: skip

    silent = T0 + timedelta(days=120)
    clients.sweep_inactivity(unit(SystemActor("clients.inactivity"), silent), system, SETTINGS)


def test_every_event_clients_stores_parses_strictly_into_its_contract() -> None:
    produce_clients_events()
    events = stored_events()
    assert keys_of(events) == contract_keys("clients")
    assert contract_problems(events) == []


def test_every_consumer_of_clients_reads_what_clients_stored() -> None:
    produce_clients_events()
    read, problems = read_all(stored_events())
    assert problems == []
    arrived = read["clients.client.registered.v1"] + read["clients.client.matched.v1"]
    taras = [a for a in arrived if a.display_name == "Taras Shevchenko"]
    # New: the first referral's card and the rejected referral's own; returning: the
    # confirmed one.
    assert sorted(a.returning for a in taras) == [False, False, True]
    assert all(a.referral_id for a in taras)
    proposals = read["clients.match.proposed.v1"]
    assert len(proposals) == 2  # one confirmed, one rejected
    assert {(p.centre_ids, p.display_name, p.referring_centre_id) for p in proposals} == {
        (("ctr-north-town",), "Taras Shevchenko", "ctr-north-town")
    }
    [requested] = read["clients.sharing.requested.v1"]
    assert requested.centre_ids == ("ctr-south-city",)
    [merged] = read["clients.client.merged.v1"]
    assert all(merged)
    # notify reads the consents too (feedback's reader is the one in READERS).
    consents = [
        notify_consumers.consent_change(EventEnvelope.from_dict(e))
        for e in stored_events()
        if e["type"] in ("clients.consent.recorded", "clients.consent.withdrawn")
    ]
    assert any(c.given for c in consents) and any(not c.given for c in consents)
    assert all(c.purpose and c.client_id for c in consents)


# ------------------------------------------------------------------- feedback


def produce_feedback_events() -> None:
    def unit(caller: Principal | SystemActor, at: datetime = T0) -> UnitOfWork:
        return UnitOfWork(caller, now=at)

    survey = SurveyDefinition(
        survey_id="srv-contract",
        version=1,
        centre_id="ctr-north-town",
        title="After your visit",
        audience=Audience.FRONT_LINE,
        language="en",
        questions=(Question("mood", QuestionKind.SMILEY, "How was it?", Aspect.ATTITUDE),),
        status=DefinitionStatus.PUBLISHED,
    )
    SurveyRepository(ORG, None).add(survey)
    with unit(ANNA) as uow:
        feedback_visits.submit_response(
            feedback_visits.SubmitResponse(
                survey_id="srv-contract", version=1, visit_id="", anonymous=False,
                client_id="cl-1", channel="phone", answers={"mood": 1}, comment="",
                shown_to_client=False,
            ),
            uow, SurveyRepository.for_caller(ANNA, uow), VisitRepository.for_caller(ANNA, uow),
            ResponseRepository.for_caller(ANNA, uow),
        )  # fmt: skip
    with unit(ANNA) as uow:
        complaint = feedback_complaints.record_complaint(
            feedback_complaints.RecordComplaint(
                centre_id="ctr-north-town", kind="complaint", channel="letter", subject="service",
                subject_ref="", client_id="cl-1", text="Nobody called back.",
                reply_to="a@example.invalid", answer_within_days=1,
            ),
            uow, DEV, ComplaintRepository.for_caller(ANNA, uow),
        )  # fmt: skip
    system = SystemActor("feedback")
    with unit(system, T0 + timedelta(days=2)) as uow:
        feedback_complaints.raise_deadline_notices(uow, DEV, ComplaintRepository(ORG, None, uow))
    with unit(ANNA, T0 + timedelta(days=3)) as uow:
        feedback_complaints.answer(
            complaint.complaint_id, "We are sorry.", uow, ComplaintRepository.for_caller(ANNA, uow)
        )
    consent = ConsentRepository(ORG)
    with unit(system) as uow:
        feedback_calls.keep_consent(
            uow, ORG, client_id="cl-1", purpose="feedback_calls", granted=True,
            occurred_at=T0, consent=consent, calls=CallRepository(ORG, None, uow),
        )  # fmt: skip
    with unit(ANNA) as uow:
        feedback_calls.record_referral_elsewhere(
            feedback_calls.RecordReferralElsewhere("ctr-north-town", "cl-1", "ref-1", "Shelter"),
            uow, CallRepository.for_caller(ANNA, uow), consent,
        )  # fmt: skip
    with unit(system, T0 + HOUR) as uow:
        feedback_calls.keep_consent(
            uow, ORG, client_id="cl-1", purpose="feedback_calls", granted=False,
            occurred_at=T0 + HOUR, consent=consent, calls=CallRepository(ORG, None, uow),
        )  # fmt: skip
    SurveyRepository(ORG, None).add(
        dataclasses.replace(survey, survey_id="srv-contract-later", audience=Audience.LATER)
    )
    with unit(ANNA) as uow:
        feedback_visits.record_visit(
            feedback_visits.RecordVisit("ctr-north-town", "front_line", "", "cl-2", ""),
            uow, VisitRepository.for_caller(ANNA, uow), SurveyRepository.for_caller(ANNA, uow),
            LinkRepository(), secret=b"contract-secret-" * 2, validity=HOUR,
            sample_after=HOUR, later_after=timedelta(days=7),
        )  # fmt: skip
    with unit(system, T0 + timedelta(days=8)) as uow:
        feedback_visits.issue_later_surveys(
            uow, ORG, VisitRepository(ORG, None, uow), SurveyRepository(ORG, None),
            LinkRepository(), secret=b"contract-secret-" * 2, validity=HOUR,
        )  # fmt: skip


def test_every_event_feedback_stores_parses_strictly_into_its_contract() -> None:
    produce_feedback_events()
    events = stored_events()
    assert keys_of(events) == contract_keys("feedback")
    assert contract_problems(events) == []


def test_feedback_reads_the_consent_clients_stored() -> None:
    produce_clients_events()
    read, problems = read_all(stored_events())
    assert problems == []
    facts = read["clients.consent.recorded.v1"] + read.get("clients.consent.withdrawn.v1", [])
    assert facts and all(f.client_id and f.purpose for f in facts)


# ------------------------------------------------------------------ plans


def produce_plans_events() -> None:
    """Every plans event: a plan drafted, signed, a decision asked and made, a contact
    and a short delivery recorded, a budget's spending item approved, the timer's due
    and missed work, a review feedback
    asked for, a review signed into a new version, the client taken off a waiting list,
    and the closure."""
    from casework_dev.testing.plans import NOW, create_action, create_content, create_goal

    def unit(caller: Principal | SystemActor, at: datetime = NOW) -> UnitOfWork:
        return UnitOfWork(caller, now=at)

    def mine(u: UnitOfWork) -> PlanRepository:
        return PlanRepository(ORG, ANNA.centres, u)

    statuses = ClientStatusRepository(ORG)
    content = create_content(goals=(create_goal(actions=(create_action(needs_decision=True),)),))
    u = unit(ANNA)
    plan, _ = plan_cases.create_plan(
        plan_cases.CreatePlan(new_key(), "cl-plan-1", "", "ctr-north-town", "", content), u, mine(u)
    )
    for signer in Signer:
        u = unit(ANNA)
        plan_cases.sign(plan.plan_id, 1, signer, "Jana", u, mine(u), statuses)
    u = unit(ANNA)
    plan_cases.request_decision(plan.plan_id, "meals", u, mine(u))
    u = unit(MANAGER)
    plan_cases.decide(plan.plan_id, "meals", True, "", u, PlanRepository(ORG, MANAGER.centres, u))
    u = unit(ANNA)
    plan_records.record_contact(
        plan_records.RecordContact(plan.plan_id, NOW.date(), ContactMode.PHONE, "well", ()),
        u,
        mine(u),
    )
    u = unit(ANNA, NOW + timedelta(days=1))
    plan_records.record_delivery(
        plan_records.RecordDelivery(plan.plan_id, "meals", NOW.date(), 2, "Kitchen", "R-1", 0),
        u,
        mine(u),
        statuses,
    )
    u = unit(ANNA, NOW + timedelta(days=1))
    plan_cases.set_budget(plan.plan_id, BudgetHolder.CLIENT, "Jana", {"meals": 500}, u, mine(u))
    u = unit(ANNA, NOW + timedelta(days=1))
    costed, _ = plan_records.record_delivery(
        plan_records.RecordDelivery(
            plan.plan_id, "meals", (NOW + timedelta(days=1)).date(), 1, "Kitchen", "R-2", 100
        ),
        u,
        mine(u),
        statuses,
        approve_spending=True,
    )
    u = unit(MANAGER, NOW + timedelta(days=1))
    plan_cases.decide_spending(
        plan.plan_id, costed.deliveries[-1].delivery_id, True, "", u,
        PlanRepository(ORG, MANAGER.centres, u),
    )  # fmt: skip
    for days in (13, 20, 175, 190):
        u = unit(SystemActor("plans"), NOW + timedelta(days=days))
        plan_timers.raise_due_work(
            ORG, u, Cadence(), lambda org, unit_: PlanRepository(org, None, unit_)
        )
    u = unit(SystemActor("plans"))
    plan_review_requests.request_review(
        plan_review_requests.RequestReview(
            "cl-plan-1", "ctr-north-town", "complaint", "complaint-1", (), NOW
        ),
        u,
        PlanRepository(ORG, None, u),
    )
    u = unit(ANNA)
    plan_cases.review(plan.plan_id, "keep going", None, u, mine(u))
    for signer in Signer:
        u = unit(ANNA)
        plan_cases.sign(plan.plan_id, 2, signer, "Jana", u, mine(u), statuses)
    catalogue_repo = CatalogueRepository(ORG)
    catalogue_repo.put(
        CatalogueService(ORG, "day-care", "Day care", "ask", ("ctr-north-town",), (), "m", NOW)
    )
    u = unit(ANNA)
    plan_queries.put_on_waiting_list(
        plan.plan_id, "day-care", None, u, mine(u), WaitingListRepository(ORG, None, u),
        catalogue_repo,
    )  # fmt: skip
    u = unit(ANNA)
    plan_queries.take_off_waiting_list(
        plan.plan_id, "day-care", LeaveReason.MOVED_AWAY, u, mine(u),
        WaitingListRepository(ORG, None, u),
    )  # fmt: skip
    u = unit(ANNA)
    plan_cases.close(plan.plan_id, "moved away", u, mine(u))


def test_every_event_plans_stores_parses_strictly_into_its_contract() -> None:
    produce_plans_events()
    events = stored_events()
    assert keys_of(events) == contract_keys("plans")
    assert contract_problems(events) == []


def test_clients_reads_the_plan_state_plans_stored() -> None:
    produce_plans_events()
    read, problems = read_all(stored_events())
    assert problems == []
    states = [
        s
        for key in ("drafted", "signed", "superseded", "closed")
        for s in read[f"plans.plan.{key}.v1"]
    ]
    assert [s.in_effect for s in states] == [False, True, True, True, False]
    assert all(s.client_id == "cl-plan-1" for s in states)


def test_clients_reads_a_monitoring_contact_plans_stored_as_a_contact_with_the_client() -> None:
    from casework_dev.testing.plans import NOW as PLANS_NOW

    produce_plans_events()
    read, problems = read_all(stored_events())
    assert problems == []
    [(contact, visit)] = read["plans.monitoring.contact_recorded.v1"]
    assert visit is None  # by phone: feedback keeps no visit
    assert contact.client_id == "cl-plan-1"
    assert contact.contact_id.startswith("plans-monitoring-")
    assert contact.on == PLANS_NOW.date()
    assert contact.channel == "phone"


# ------------------------------------------------------------------ documents


class _Archive:
    """The archive's write and verified read, in memory (the real one is tested against
    S3 in documents' integration tests)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes, **_: Any) -> Any:
        from casework_documents.adapters.archive import StoredObject, sha256_of

        self.objects[key] = data
        return StoredObject(key, "v1", sha256_of(data), len(data))

    def read_verified(self, key: str, expected_sha256: str) -> Any:
        from casework_documents.adapters.archive import VerifiedRead

        return VerifiedRead(self.objects[key], "v1")


class _Cards:
    def get(self, organisation: str, client_id: str, trace: Any = None) -> Any:
        from casework_documents.domain.context import Card

        return Card(client_id, "Žofia", "Ďurišová", "1961-03-14", "Hlavná 12", "", "",
                    "senior", ("ctr-north-town",))  # fmt: skip


class _Signer:
    subject = "CN=test"

    def seal(self, pdf: bytes, *, reason: str, location: str = "") -> bytes:
        return pdf + b"%sealed"


def produce_documents_events() -> None:
    """Each of documents' use cases that emit an event, once: generate, sign (replacing
    an earlier contract) and end."""
    from casework_dev.testing.documents import create_signature_png, create_template_docx
    from casework_documents.adapters.rendering import Renderer
    from casework_documents.adapters.repository import DocumentRepository, TemplateRepository
    from casework_documents.domain.documents import SigningMethod
    from casework_documents.domain.templates import TemplateKind
    from casework_documents.use_cases import documents as uc
    from casework_documents.use_cases import templates as tuc

    renderer = Renderer(
        template_sources=lambda content: ["{{ client.full_name }} {{ client_signature }}"
                                          " {{ worker_signature }}"],
        render_docx=lambda content, context, images=None: b"docx",
        docx_to_pdf=lambda docx: b"%PDF-1.7",
    )  # fmt: skip
    archive = _Archive()
    uow = UnitOfWork(ANNA, now=T0)
    ports = uc.Ports(DEV, TemplateRepository(ORG, uow), DocumentRepository(ORG, ANNA.centres, uow),
                     archive, _Cards(), renderer)  # type: ignore[arg-type]  # fmt: skip
    template = tuc.upload_template(
        tuc.UploadTemplate("", TemplateKind.CONTRACT, "Contract", create_template_docx()),
        UnitOfWork(MANAGER, now=T0), ports.templates, archive, renderer,  # type: ignore[arg-type]
    )  # fmt: skip
    png = create_signature_png()

    def signed_contract() -> str:
        draft = uc.generate_document(uc.GenerateDocument(template.template_id, "cl-1"), uow, ports)
        return draft.document_id

    first = signed_contract()
    uc.sign_document(uc.SignDocument(first, png, png, SigningMethod.DRAWN), uow, ports, _Signer())  # type: ignore[arg-type]
    second = signed_contract()
    uc.sign_document(
        uc.SignDocument(second, png, png, SigningMethod.TABLET, replaces_contract_id=first),
        uow, ports, _Signer(),  # type: ignore[arg-type]
    )  # fmt: skip
    uc.end_contract(
        uc.EndContract(second, T0.date() + timedelta(days=30), "moved away"), uow, ports
    )


def test_every_event_documents_stores_parses_strictly_into_its_contract() -> None:
    produce_documents_events()
    events = stored_events()
    assert keys_of(events) == contract_keys("documents")
    assert contract_problems(events) == []


def test_clients_reads_every_contract_documents_signed_and_ended() -> None:
    produce_documents_events()
    read, problems = read_all(stored_events())
    assert problems == []
    signed = read["documents.contract.signed.v1"]
    ended = read["documents.contract.ended.v1"]
    assert [contract.signed_on for _, contract in signed] == [T0.date(), T0.date()]
    first, second = (contract.contract_id for _, contract in signed)
    assert {(e.contract_id, e.reason) for e in ended} == {
        (first, "replaced"),
        (second, "moved away"),
    }
