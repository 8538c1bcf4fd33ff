"""Intake's use cases: build the domain objects, persist through the repositories, and
emit events through the outbox. Entry points call these; no rule lives here that the
domain modules could hold."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from google.protobuf.message import Message

from casework.intake.v1 import events_pb2
from casework_common import contracts
from casework_common import errors as common
from casework_common.auth import Principal
from casework_common.envelope import Actor, EventEnvelope
from casework_common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    raise_if_any,
)
from casework_common.organisation import Organisation
from casework_common.routing import Case, Decision, Rule, route
from casework_common.storage import DuplicateAggregate
from casework_intake.adapters.repository import (
    ConsultationRepository,
    FormsRepository,
    OutreachRepository,
    ProjectRepository,
    ReferralRepository,
    RoutingRulesRepository,
    referral_centre,
    self_fill_answers_id,
)
from casework_intake.domain import (
    consultations,
    first_response,
    form_codec,
    forms,
    outreach,
    projects,
    referrals,
    routing_rules,
    selffill,
)
from casework_intake.domain.consultations import Consultation, RecordConsultation
from casework_intake.domain.outreach import Outcome, Outreach, PlanOutreach
from casework_intake.domain.projects import Comment, CreateProject, Project, Task
from casework_intake.domain.referrals import Channel, Referral, SubmitReferral
from casework_intake.domain.routing_rules import RuleSet

# The events intake publishes, each its payload message (protos/casework/intake/v1/
# events.proto, which names the routing key).
REFERRAL_SUBMITTED = events_pb2.ReferralSubmitted
REFERRAL_ACKNOWLEDGED = events_pb2.ReferralAcknowledged
REFERRAL_FIRST_CONTACT = events_pb2.ReferralFirstContactRecorded
REFERRAL_OVERDUE = events_pb2.ReferralFirstContactOverdue
CONSULTATION_RECORDED = events_pb2.ConsultationRecorded
ROUTING_RULES_PUBLISHED = events_pb2.RoutingRulesPublished
OUTREACH_PLANNED = events_pb2.OutreachPlanned
OUTREACH_REMINDER_DUE = events_pb2.OutreachReminderDue
OUTREACH_OUTCOME_DUE = events_pb2.OutreachOutcomeDue
OUTREACH_OUTCOME_RECORDED = events_pb2.OutreachOutcomeRecorded
OUTREACH_CANCELLED = events_pb2.OutreachCancelled
PROJECT_CREATED = events_pb2.ProjectCreated
TASK_ASSIGNED = events_pb2.TaskAssigned
TASK_COMPLETED = events_pb2.TaskCompleted
TASK_REOPENED = events_pb2.TaskReopened
TASK_COMMENTED = events_pb2.TaskCommented
TASK_OVERDUE = events_pb2.TaskOverdue

SELF_FILL_DEFAULT_HOURS = 72
SELF_FILL_MAX_HOURS = int(selffill.MAX_VALIDITY.total_seconds() // 3600)
SELF_FILL_SUBMITTER = "self-fill"
# How often a keyed project change is tried when a concurrent change won the race.
_KEYED_ATTEMPTS = 3
_FORM_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def _event(
    message_type: type[Message],
    organisation: str,
    principal: Principal | None,
    payload: Mapping[str, object],
    trace: Mapping[str, str],
) -> EventEnvelope:
    """The event whose payload is `message_type` built from the domain's facts: the
    domain lists what an event reveals in its own plain values and stays free of
    generated code; here, at the one seam, they become the contract message (strictly,
    so a fact the schema lacks fails in the producer) and the codec encodes it."""
    actor = (
        Actor(kind=principal.kind, subject=principal.subject)
        if principal is not None
        else Actor.system("intake")
    )
    message = contracts.from_facts(message_type, payload)
    return contracts.envelope(message, organisation=organisation, actor=actor, trace=trace)


def to_common(errors: Iterable[forms.FieldError]) -> list[common.FieldError]:
    """The forms module's own field errors as the ones the gRPC layer reports."""
    return [common.FieldError(e.field, e.description) for e in errors]


# ---------------------------------------------------------------------- referrals


def submit_referral(
    command: SubmitReferral,
    principal: Principal,
    organisation: Organisation,
    repository: ReferralRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    first_response_hours: float = first_response.DEFAULT_FIRST_RESPONSE_HOURS,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> tuple[Referral, bool]:
    """Store a referral and its submitted event; answer (referral, replayed)."""
    existing = repository.by_idempotency_key(command.idempotency_key)
    if existing is not None:
        return _replay(existing, command, principal), True
    raise_if_any(referrals.validate(command, organisation, now.date()))
    principal.require_centre(command.centre_id)
    referral = referrals.accept(
        command,
        organisation,
        referral_id=new_id(),
        reference_number=referrals.reference_number(now.year, repository.next_sequence(now.year)),
        submitted_by=principal.subject,
        now=now,
    )
    referral = first_response.with_deadline(referral, first_response_hours)
    payload = referrals.submitted_event_payload(referral)
    assert referral.first_response_due_at is not None
    payload["first_response_due_at"] = referral.first_response_due_at.isoformat()
    event = _event(REFERRAL_SUBMITTED, organisation.id, principal, payload, trace)
    try:
        repository.add(referral, event)
    except DuplicateAggregate:
        # Two identical submissions raced; the unique key let exactly one through.
        stored = repository.by_idempotency_key(command.idempotency_key)
        if stored is None:
            raise
        return _replay(stored, command, principal), True
    return referral, False


def _replay(existing: Referral, command: SubmitReferral, principal: Principal) -> Referral:
    if existing.submitted_by != principal.subject:
        # Another caller's key: never hand their referral back.
        raise AlreadyExists(f"idempotency key {command.idempotency_key!r} is already in use")
    return referrals.check_replay(existing, command)


def _require_worker(principal: Principal) -> None:
    if principal.kind != "worker":
        raise PermissionDenied("only a worker of the referral's centre may do this")


def acknowledge_referral(
    referral_id: str,
    principal: Principal,
    repository: ReferralRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
) -> Referral:
    _require_worker(principal)

    def change(referral: Referral) -> tuple[Referral, list[EventEnvelope]]:
        acked, changed = first_response.acknowledge(referral, principal.subject, now)
        if not changed:
            return acked, []
        payload = first_response.acknowledged_event_payload(acked)
        return acked, [_event(REFERRAL_ACKNOWLEDGED, acked.organisation, principal, payload, trace)]

    return repository.update(referral_id, change)


def record_first_contact(
    referral_id: str,
    channel: Channel | None,
    note: str,
    principal: Principal,
    repository: ReferralRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
) -> Referral:
    _require_worker(principal)

    def change(referral: Referral) -> tuple[Referral, list[EventEnvelope]]:
        contacted, changed = first_response.record_first_contact(
            referral, principal.subject, channel, note, now
        )
        if not changed:
            return contacted, []
        payload = first_response.first_contact_event_payload(contacted)
        return contacted, [
            _event(REFERRAL_FIRST_CONTACT, contacted.organisation, principal, payload, trace)
        ]

    if not referral_id:
        raise InvalidArgument([common.FieldError("referral_id", "is required")])
    return repository.update(referral_id, change)


def escalate_overdue(
    organisations: Mapping[str, Organisation],
    repository_of: Callable[[str], ReferralRepository],
    overdue: list[Referral],
    *,
    now: datetime,
) -> int:
    """Tell the centre manager about each overdue referral, once: the escalation mark
    and its event are one version-guarded write, so two timers racing (two replicas)
    store and emit it once; the loser's Conflict is skipped."""
    escalated = 0
    for referral in overdue:
        organisation = organisations.get(referral.organisation)
        centre = organisation.centre(referral.centre_id) if organisation else None
        if centre is None:
            continue
        manager = centre.manager

        marked_now: list[Referral] = []

        def change(
            current: Referral, manager: str = manager, marked_now: list[Referral] = marked_now
        ) -> tuple[Referral, list[EventEnvelope]]:
            if not first_response.is_overdue(current, now):
                return current, []  # acknowledged or escalated meanwhile
            marked = first_response.escalate(current, now)
            marked_now.append(marked)
            payload = first_response.overdue_event_payload(marked, manager)
            return marked, [_event(REFERRAL_OVERDUE, marked.organisation, None, payload, {})]

        try:
            repository_of(referral.organisation).update(referral.referral_id, change)
        except (common.Conflict, NotFound):
            continue
        escalated += len(marked_now)
    return escalated


# ------------------------------------------------------------------ consultations


def record_consultation(
    command: RecordConsultation,
    principal: Principal,
    organisation: Organisation,
    repository: ConsultationRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> tuple[Consultation, bool]:
    _require_worker(principal)
    if not command.worker_id:
        command = dataclasses.replace(command, worker_id=principal.subject)
    existing = repository.by_idempotency_key(command.idempotency_key)
    if existing is not None:
        if existing.recorded_by != principal.subject:
            raise AlreadyExists(f"idempotency key {command.idempotency_key!r} is already in use")
        return consultations.check_replay(existing, command), True
    raise_if_any(consultations.validate(command, organisation, now.date()))
    principal.require_centre(command.centre_id)
    consultation = consultations.accept(
        command, organisation, consultation_id=new_id(), recorded_by=principal.subject, now=now
    )
    event = _event(
        CONSULTATION_RECORDED,
        organisation.id,
        principal,
        consultations.recorded_event_payload(consultation),
        trace,
    )
    try:
        repository.add(consultation, event)
    except DuplicateAggregate:
        stored = repository.by_idempotency_key(command.idempotency_key)
        if stored is None:
            raise
        return consultations.check_replay(stored, command), True
    return consultation, False


# ------------------------------------------------------------------ routing rules


def save_routing_rules(
    rules: list[Rule],
    principal: Principal,
    organisation: Organisation,
    repository: RoutingRulesRepository,
    *,
    now: datetime,
) -> RuleSet:
    raise_if_any(routing_rules.validate(rules, organisation))
    rule_set = RuleSet(
        organisation=organisation.id,
        version=repository.next_version(),
        rules=tuple(rules),
        saved_by=principal.subject,
        saved_at=now,
    )
    repository.add(rule_set)
    return rule_set


def publish_routing_rules(
    version: int,
    principal: Principal,
    organisation: Organisation,
    repository: RoutingRulesRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
) -> RuleSet:
    if version < 1:
        raise InvalidArgument([common.FieldError("version", "must be 1 or higher")])
    rule_set = repository.get(version)
    current = repository.published()
    if current is not None and current.version >= version:
        if current.version == version:
            return rule_set  # published already: a retry
        raise FailedPrecondition(
            f"version {current.version} is in effect; only a newer version can be published"
            " (save the older rules again to go back)"
        )
    # The organisation may have changed since the rules were saved (a worker left).
    raise_if_any(routing_rules.validate(list(rule_set.rules), organisation))
    published = dataclasses.replace(rule_set, published_at=now, published_by=principal.subject)
    event = _event(
        ROUTING_RULES_PUBLISHED,
        organisation.id,
        principal,
        routing_rules.published_event_payload(published),
        trace,
    )
    repository.mark_published(published, event)
    return published


def dry_run_routing(
    version: int,
    case: Case,
    organisation: Organisation,
    repository: RoutingRulesRepository,
) -> tuple[int, Decision]:
    """Who would get a referral like `case`: under a saved version, or (0) the rules
    in effect (the published version, else the organisation file's)."""
    raise_if_any(routing_rules.validate_case(case, organisation))
    if version < 0:
        raise InvalidArgument([common.FieldError("version", "must be 0 or higher")])
    if version:
        rules = repository.get(version).rules
        tried = version
    else:
        published = repository.published()
        rules = published.rules if published else organisation.routing_rules
        tried = published.version if published else 0
    return tried, route(rules, organisation, case)


# ------------------------------------------------------------------------- forms


def _catalogue(repository: FormsRepository, organisation: str, form_id: str) -> forms.FormCatalogue:
    definitions = []
    for stored in repository.versions(form_id):
        definitions.append(
            form_codec.definition_from_dict(
                stored["definition"],
                form_id=form_id,
                organisation=organisation,
                version=stored["version"],
            )
        )
    return forms.FormCatalogue(definitions)


def _form_violation(exc: forms.FormRuleViolation) -> InvalidArgument:
    return InvalidArgument(to_common(exc.errors))


def publish_form(
    form_id: str,
    definition: object,
    principal: Principal,
    repository: FormsRepository,
    *,
    now: datetime,
) -> forms.FormDefinition:
    if not _FORM_ID.fullmatch(form_id):
        raise InvalidArgument(
            [common.FieldError("form_id", "a letter, then letters, digits, '_' or '-'")]
        )
    try:
        draft = form_codec.definition_from_dict(
            definition, form_id=form_id, organisation=principal.organisation
        )
        published = _catalogue(repository, principal.organisation, form_id).publish(draft)
    except forms.FormRuleViolation as exc:
        raise _form_violation(exc) from None
    repository.add_version(
        form_id,
        published.version,
        form_codec.definition_to_dict(published),
        principal.subject,
        now,
    )
    return published


def get_form(
    form_id: str, version: int, principal: Principal, repository: FormsRepository
) -> tuple[forms.FormDefinition, dict[str, Any]]:
    catalogue = _catalogue(repository, principal.organisation, form_id)
    try:
        defn = catalogue.get(form_id, version) if version else catalogue.latest(form_id)
    except forms.UnknownFormVersion as exc:
        raise NotFound(exc.errors[0].description) from None
    meta = next(v for v in repository.versions(form_id) if v["version"] == defn.version)
    return defn, meta


def _form_version(
    repository: FormsRepository, organisation: str, form_id: str, version: int
) -> forms.FormDefinition:
    catalogue = _catalogue(repository, organisation, form_id)
    try:
        return catalogue.get(form_id, version) if version else catalogue.latest(form_id)
    except forms.UnknownFormVersion as exc:
        raise _form_violation(exc) from None


def submit_form_answers(
    referral_id: str,
    form_id: str,
    version: int,
    answers: Mapping[str, object],
    principal: Principal,
    referral_repository: ReferralRepository,
    repository: FormsRepository,
    *,
    now: datetime,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> dict[str, Any]:
    """Check the answers against the version they were given on, store them with it
    and the verdicts; answers the stored record."""
    _require_worker(principal)
    referral = referral_repository.get(referral_id)  # NotFound outside the caller's centres
    if version < 1:
        raise InvalidArgument(
            [common.FieldError("form_version", "the version the answers were given on")]
        )
    defn = _form_version(repository, principal.organisation, form_id, version)
    plain = form_codec.plain_answers(answers)
    try:
        forms.record_answers(defn, plain, now)
        verdicts = forms.evaluate_eligibility(defn, plain, now.date())
    except forms.FormRuleViolation as exc:
        raise _form_violation(exc) from None
    record: dict[str, Any] = {
        "id": new_id(),
        "centre_id": referral.centre_id,
        "referral_id": referral.referral_id,
        "form_id": defn.form_id,
        "form_version": defn.version,
        "answers": plain,
        "verdicts": [
            {
                "programme_id": v.programme_id,
                "eligible": v.eligible,
                "reason": v.reason,
                "deciding_question_ids": list(v.deciding_question_ids),
            }
            for v in verdicts
        ],
        "submitted_by": principal.subject,
        "submitted_at": now,
    }
    repository.add_answers(record)
    return record


def issue_self_fill_link(
    referral_id: str,
    form_id: str,
    version: int,
    question_ids: list[str],
    valid_hours: int,
    principal: Principal,
    referral_repository: ReferralRepository,
    repository: FormsRepository,
    *,
    secret: bytes,
    now: datetime,
) -> tuple[str, datetime, forms.FormDefinition, tuple[str, ...]]:
    _require_worker(principal)
    referral = referral_repository.get(referral_id)
    defn = _form_version(repository, principal.organisation, form_id, version)
    offered = forms.self_fill_question_ids(defn)
    errors = []
    if not offered:
        errors.append(common.FieldError("form_id", "the form has no self-fill questions"))
    chosen = tuple(question_ids) or offered
    for qid in question_ids:
        if qid not in offered:
            errors.append(common.FieldError("question_ids", f"{qid!r} is not a self-fill question"))
    hours = valid_hours or SELF_FILL_DEFAULT_HOURS
    if not 1 <= hours <= SELF_FILL_MAX_HOURS:
        errors.append(common.FieldError("valid_hours", f"between 1 and {SELF_FILL_MAX_HOURS}"))
    raise_if_any(errors)
    expires_at = now + timedelta(hours=hours)
    token = selffill.issue_link(
        secret,
        referral.referral_id,
        defn.form_id,
        defn.version,
        chosen,
        expires_at,
        issued_at=now,
    )
    # The token keeps the expiry to the whole second, rounded down.
    expires_at = expires_at.replace(microsecond=0)
    return token, expires_at, defn, tuple(sorted(set(chosen)))


# -------------------------------------------------------- self-fill (no token)


@dataclasses.dataclass(frozen=True)
class SelfFillForm:
    grant: selffill.SelfFillGrant
    definition: forms.FormDefinition
    """The form version with only the granted questions marked self-fill."""


class SelfFillRefused(Exception):
    """A link that cannot be used; `status` is the HTTP status to answer, `reason` what
    the person reads, `code` what the log records (never anything about the person)."""

    def __init__(self, status: int, reason: str, code: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code


_NOT_A_LINK = "this is not a valid link"
_USED = "this link was already used; the answers were sent"


def open_self_fill(
    token: str,
    organisations: Mapping[str, Organisation],
    repository_of: Callable[[str], FormsRepository],
    organisation_of_referral: Callable[[str], str | None],
    *,
    secret: bytes,
    now: datetime,
) -> tuple[str, SelfFillForm]:
    """Verify a link and load the form part it grants; answers (organisation, form)."""
    try:
        grant = selffill.verify_link(secret, token, now)
    except selffill.LinkExpired:
        raise SelfFillRefused(
            410, "this link has expired; ask your worker for a new one", "expired"
        ) from None
    except selffill.LinkValidTooLong:
        raise SelfFillRefused(404, _NOT_A_LINK, "valid_too_long") from None
    except selffill.SelfFillLinkRefused:
        raise SelfFillRefused(404, _NOT_A_LINK, "tampered") from None
    organisation = organisation_of_referral(grant.referral_id)
    if organisation is None or organisation not in organisations:
        raise SelfFillRefused(404, _NOT_A_LINK, "unknown_referral")
    repository = repository_of(organisation)
    if repository.answers_exist(self_fill_answers_id(grant.link_id)):
        raise SelfFillRefused(409, _USED, "used")
    try:
        defn = _catalogue(repository, organisation, grant.form_id).get(grant.form_id, grant.version)
    except forms.UnknownFormVersion:
        raise SelfFillRefused(
            410, "this form is no longer in use; ask your worker", "form_withdrawn"
        ) from None
    granted = set(grant.question_ids)
    restricted = dataclasses.replace(
        defn,
        steps=tuple(
            dataclasses.replace(
                step,
                questions=tuple(
                    dataclasses.replace(q, self_fill=q.self_fill and q.id in granted)
                    for q in step.questions
                ),
            )
            for step in defn.steps
        ),
    )
    return organisation, SelfFillForm(grant, restricted)


def self_fill_questions(form: SelfFillForm) -> list[dict[str, Any]]:
    """What the person sees: the granted questions and nothing else."""
    return [form_codec.question_to_dict(q) for q in form.definition.questions() if q.self_fill]


def submit_self_fill(
    organisation: str,
    form: SelfFillForm,
    answers: object,
    repository: FormsRepository,
    *,
    now: datetime,
) -> dict[str, Any]:
    """Check the person's answers the same way a worker's are checked and store them
    once: the link's id is the stored record's id, so a second submission finds it."""
    if not isinstance(answers, Mapping):
        raise InvalidArgument([common.FieldError("answers", "must map question ids to answers")])
    plain = form_codec.plain_answers(answers)
    problems = form.grant.answers_outside(plain) + forms.validate_answers(
        form.definition, plain, now.date(), only_self_fill=True
    )
    if problems:
        # One complaint per field: both checks refuse a question outside the link.
        first = {e.field: e for e in reversed(problems)}
        raise InvalidArgument(to_common(reversed(list(first.values()))))
    centre = referral_centre(organisation, form.grant.referral_id) or ""
    record = {
        "id": self_fill_answers_id(form.grant.link_id),
        "centre_id": centre,
        "referral_id": form.grant.referral_id,
        "form_id": form.grant.form_id,
        "form_version": form.grant.version,
        "answers": plain,
        "verdicts": [],
        "submitted_by": SELF_FILL_SUBMITTER,
        "submitted_at": now,
    }
    if not repository.add_answers(record):
        raise SelfFillRefused(409, _USED, "used")
    return record


# ----------------------------------------------------------------------- outreach


def plan_outreach(
    command: PlanOutreach,
    principal: Principal,
    organisation: Organisation,
    repository: OutreachRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    reminder_hours: float = outreach.DEFAULT_REMINDER_HOURS,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Outreach:
    """Store a planned activity (for the caller unless another worker is named)."""
    _require_worker(principal)
    if not command.worker_id:
        command = dataclasses.replace(command, worker_id=principal.subject)
    existing = repository.by_idempotency_key(command.idempotency_key)
    if existing is not None:
        return outreach.check_replay(existing, command, principal.subject)
    raise_if_any(outreach.validate(command, organisation, now))
    principal.require_centre(command.centre_id)
    planned = outreach.plan(
        command,
        organisation,
        outreach_id=new_id(),
        planned_by=principal.subject,
        now=now,
        reminder_hours=reminder_hours,
    )
    payload = outreach.event_payload(planned) | {"planned_by": planned.planned_by}
    try:
        repository.add(
            planned, _event(OUTREACH_PLANNED, organisation.id, principal, payload, trace)
        )
    except DuplicateAggregate:
        # Two calls with the same key raced; the unique key let exactly one through.
        stored = repository.by_idempotency_key(command.idempotency_key)
        if stored is None:
            raise
        return outreach.check_replay(stored, command, principal.subject)
    return planned


def _outreach_id(outreach_id: str) -> None:
    if not outreach_id:
        raise InvalidArgument([common.FieldError("outreach_id", "is required")])


def record_outreach_outcome(
    outreach_id: str,
    outcome: Outcome,
    principal: Principal,
    repository: OutreachRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
) -> Outreach:
    _require_worker(principal)
    _outreach_id(outreach_id)

    def change(current: Outreach) -> tuple[Outreach, list[EventEnvelope]]:
        done = outreach.record_outcome(current, outcome, principal.subject, now)
        payload = outreach.outcome_event_payload(done)
        return done, [
            _event(OUTREACH_OUTCOME_RECORDED, done.organisation, principal, payload, trace)
        ]

    return repository.update(outreach_id, change)


def cancel_outreach(
    outreach_id: str,
    principal: Principal,
    repository: OutreachRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
) -> Outreach:
    _require_worker(principal)
    _outreach_id(outreach_id)

    def change(current: Outreach) -> tuple[Outreach, list[EventEnvelope]]:
        cancelled, changed = outreach.cancel(current, principal.subject, now)
        if not changed:
            return cancelled, []
        payload = outreach.event_payload(cancelled) | {"cancelled_by": principal.subject}
        return cancelled, [
            _event(OUTREACH_CANCELLED, cancelled.organisation, principal, payload, trace)
        ]

    return repository.update(outreach_id, change)


def _once(
    items: list[Outreach],
    repository_of: Callable[[str], OutreachRepository],
    is_due: Callable[[Outreach], bool],
    mark: Callable[[Outreach], Outreach],
    event_type: type[Message],
) -> int:
    """Mark each due activity and emit its event in one version-guarded write, so two
    timers racing (two replicas) store and emit it once; the loser's Conflict is
    skipped."""
    done = 0
    for item in items:
        marked_now: list[Outreach] = []

        def change(
            current: Outreach, marked_now: list[Outreach] = marked_now
        ) -> tuple[Outreach, list[EventEnvelope]]:
            if not is_due(current):
                return current, []  # reminded, answered or cancelled meanwhile
            marked = mark(current)
            marked_now.append(marked)
            payload = outreach.event_payload(marked)
            return marked, [_event(event_type, marked.organisation, None, payload, {})]

        try:
            repository_of(item.organisation).update(item.outreach_id, change)
        except (common.Conflict, NotFound):
            continue
        done += len(marked_now)
    return done


def remind_outreach(
    due: list[Outreach],
    repository_of: Callable[[str], OutreachRepository],
    *,
    now: datetime,
) -> int:
    """Remind each planning worker of their activity, once (intake.outreach.reminder_due)."""
    return _once(
        due,
        repository_of,
        lambda o: outreach.reminder_due(o, now),
        lambda o: outreach.mark_reminded(o, now),
        OUTREACH_REMINDER_DUE,
    )


def request_outreach_outcomes(
    due: list[Outreach],
    repository_of: Callable[[str], OutreachRepository],
    *,
    now: datetime,
) -> int:
    """Ask each worker for the outcome of an activity that took place, once
    (intake.outreach.outcome_due)."""
    return _once(
        due,
        repository_of,
        lambda o: outreach.outcome_due(o, now),
        lambda o: outreach.mark_outcome_requested(o, now),
        OUTREACH_OUTCOME_DUE,
    )


# ----------------------------------------------------------------------- projects


def create_project(
    command: CreateProject,
    principal: Principal,
    organisation: Organisation,
    repository: ProjectRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Project:
    _require_worker(principal)
    existing = repository.by_idempotency_key(command.idempotency_key)
    if existing is not None:
        return projects.check_replay(existing, command, principal.subject)
    raise_if_any(projects.validate(command, organisation, principal.subject))
    principal.require_centre(command.centre_id)
    project = projects.create(
        command, organisation, project_id=new_id(), creator=principal.subject, now=now
    )
    payload = projects.created_event_payload(project)
    try:
        repository.add(project, _event(PROJECT_CREATED, organisation.id, principal, payload, trace))
    except DuplicateAggregate:
        stored = repository.by_idempotency_key(command.idempotency_key)
        if stored is None:
            raise
        return projects.check_replay(stored, command, principal.subject)
    return project


def _project_id(project_id: str) -> None:
    if not project_id:
        raise InvalidArgument([common.FieldError("project_id", "is required")])


def add_task(
    project_id: str,
    title: str,
    assignee_id: str,
    due_at: datetime | None,
    principal: Principal,
    repository: ProjectRepository,
    *,
    idempotency_key: str,
    now: datetime,
    trace: Mapping[str, str],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> tuple[Project, Task]:
    """The key is checked against those kept in the project, in the same
    version-guarded write that adds the task: a retry answers the first task and
    stores and emits nothing."""
    _require_worker(principal)
    _project_id(project_id)
    fingerprint = projects.task_fingerprint(title, assignee_id, due_at, principal.subject)
    added: list[Task] = []

    def change(current: Project) -> tuple[Project, list[EventEnvelope]]:
        replayed = projects.task_replay(current, idempotency_key, fingerprint, principal.subject)
        if replayed is not None:
            added.append(replayed)
            return current, []
        changed, task = projects.add_task(
            current,
            task_id=new_id(),
            title=title,
            assignee_id=assignee_id,
            due_at=due_at,
            by=principal.subject,
            now=now,
            idempotency_key=idempotency_key,
        )
        added.append(task)
        payload = projects.task_event_payload(changed, task) | {"assigned_by": principal.subject}
        return changed, [_event(TASK_ASSIGNED, changed.organisation, principal, payload, trace)]

    project = _update_keyed(repository, project_id, change)
    return project, project.task(added[-1].task_id)


def _update_keyed(
    repository: ProjectRepository,
    project_id: str,
    change: Callable[[Project], tuple[Project, list[EventEnvelope]]],
) -> Project:
    """A keyed change that lost a race is tried again on the project as it now stands:
    a concurrent retry of the same call then finds its key and answers the first."""
    for _ in range(_KEYED_ATTEMPTS - 1):
        try:
            return repository.update(project_id, change)
        except common.Conflict:
            continue
    return repository.update(project_id, change)


def _task_change(
    project_id: str,
    task_id: str,
    principal: Principal,
    repository: ProjectRepository,
    apply: Callable[[Project], Project],
    event_type: type[Message],
    extra: Mapping[str, object],
    trace: Mapping[str, str],
) -> tuple[Project, Task]:
    _require_worker(principal)
    _project_id(project_id)
    if not task_id:
        raise InvalidArgument([common.FieldError("task_id", "is required")])

    def change(current: Project) -> tuple[Project, list[EventEnvelope]]:
        changed = apply(current)
        payload = projects.task_event_payload(changed, changed.task(task_id)) | dict(extra)
        return changed, [_event(event_type, changed.organisation, principal, payload, trace)]

    project = repository.update(project_id, change)
    return project, project.task(task_id)


def complete_task(
    project_id: str,
    task_id: str,
    principal: Principal,
    repository: ProjectRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
) -> tuple[Project, Task]:
    return _task_change(
        project_id,
        task_id,
        principal,
        repository,
        lambda p: projects.complete_task(p, task_id, principal.subject, now),
        TASK_COMPLETED,
        {"completed_by": principal.subject, "completed_at": now.isoformat()},
        trace,
    )


def reopen_task(
    project_id: str,
    task_id: str,
    new_due_at: datetime | None,
    principal: Principal,
    repository: ProjectRepository,
    *,
    now: datetime,
    trace: Mapping[str, str],
) -> tuple[Project, Task]:
    return _task_change(
        project_id,
        task_id,
        principal,
        repository,
        lambda p: projects.reopen_task(p, task_id, new_due_at, principal.subject, now),
        TASK_REOPENED,
        {"reopened_by": principal.subject},
        trace,
    )


def comment_on_task(
    project_id: str,
    task_id: str,
    text: str,
    principal: Principal,
    repository: ProjectRepository,
    *,
    idempotency_key: str,
    now: datetime,
    trace: Mapping[str, str],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> tuple[Project, Comment]:
    """The comment is stored in the project; its event names it but carries no text
    (that stays in intake). The key is checked as for add_task."""
    _require_worker(principal)
    _project_id(project_id)
    if not task_id:
        raise InvalidArgument([common.FieldError("task_id", "is required")])
    fingerprint = projects.comment_fingerprint(task_id, text, principal.subject)
    added: list[Comment] = []

    def change(current: Project) -> tuple[Project, list[EventEnvelope]]:
        replayed = projects.comment_replay(current, idempotency_key, fingerprint, principal.subject)
        if replayed is not None:
            added.append(replayed)
            return current, []
        changed, comment = projects.comment_on_task(
            current,
            task_id,
            comment_id=new_id(),
            text=text,
            by=principal.subject,
            now=now,
            idempotency_key=idempotency_key,
        )
        added.append(comment)
        payload = projects.task_event_payload(changed, changed.task(task_id)) | {
            "comment_id": comment.comment_id,
            "author_id": comment.author_id,
        }
        return changed, [_event(TASK_COMMENTED, changed.organisation, principal, payload, trace)]

    project = _update_keyed(repository, project_id, change)
    return project, added[-1]


def flag_overdue_tasks(
    due: list[Project],
    repository_of: Callable[[str], ProjectRepository],
    *,
    now: datetime,
) -> int:
    """Tell each assignee of an overdue open task, once per due date: the marks and
    their intake.task.overdue events are one version-guarded write of the project."""
    flagged = 0
    for item in due:
        marked_now: list[Task] = []

        def change(
            current: Project, marked_now: list[Task] = marked_now
        ) -> tuple[Project, list[EventEnvelope]]:
            changed, marked = projects.mark_overdue(current, now)
            marked_now.extend(marked)
            events = [
                _event(
                    TASK_OVERDUE,
                    changed.organisation,
                    None,
                    projects.task_event_payload(changed, task),
                    {},
                )
                for task in marked
            ]
            return changed, events

        try:
            repository_of(item.organisation).update(item.project_id, change)
        except (common.Conflict, NotFound):
            continue
        flagged += len(marked_now)
    return flagged
