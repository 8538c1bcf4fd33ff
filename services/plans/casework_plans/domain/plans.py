"""The individual service plan: needs, SMART goals with their actions, signatures,
versions, manager decisions, the personal budget, goal progress and closure.

Pure rules, no I/O. A plan is one aggregate holding every version; the content of a
version is frozen once both the client and the worker signed it (it is a kind of
contract), so what changes over the plan's life lives beside the versions: goal
progress, decisions, the budget's spending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum

from casework_common.errors import FailedPrecondition, FieldError, NotFound, clip, raise_if_any
from casework_common.values import length_error, text_errors

MAX_TEXT = 2000
MAX_NAME = 200
MAX_ITEMS = 50
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


class VersionStatus(Enum):
    DRAFT = "draft"
    IN_EFFECT = "in_effect"
    SUPERSEDED = "superseded"
    CLOSED = "closed"


class NeedKind(Enum):
    STATED = "stated"  # the reason for the request, in the client's words
    ASSESSED = "assessed"  # found in the assessment (anamnesis)
    HIDDEN = "hidden"  # not yet stated by the client
    FUTURE = "future"  # may come: a waiting list, a condition being watched


class ProviderKind(Enum):
    WORKER = "worker"
    VOLUNTEER = "volunteer"
    PARTNER = "partner"


class Period(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Progress(Enum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    REACHED = "reached"
    DROPPED = "dropped"


class Signer(Enum):
    CLIENT = "client"
    WORKER = "worker"


class DecisionState(Enum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"


class BudgetHolder(Enum):
    CLIENT = "client"
    CARER = "carer"


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    plan_id: str
    service_code: str
    delivered_on: date
    quantity: int
    delivered_by: str
    receipt: str
    cost: int = 0
    recorded_by: str = ""
    recorded_at: datetime | None = None


class DiscrepancyKind(Enum):
    SHORT = "short"  # fewer delivered than planned in a period
    OVER = "over"  # more delivered than planned
    UNPLANNED = "unplanned"  # a service the plan does not name
    AFTER_SERVICE_END = "after_service_end"  # delivered after the client left Service user


@dataclass(frozen=True)
class Discrepancy:
    kind: DiscrepancyKind
    service_code: str
    period_start: date
    period_end: date
    planned: int
    delivered: int

    @property
    def key(self) -> str:
        """Stable identity: the same finding found twice is one discrepancy."""
        return f"{self.kind.value}:{self.service_code}:{self.period_start.isoformat()}"

    def describe(self) -> str:
        if self.kind is DiscrepancyKind.AFTER_SERVICE_END:
            return (
                f"{self.delivered} of {self.service_code} delivered from "
                f"{self.period_start.isoformat()} after the client left Service user"
            )
        if self.kind is DiscrepancyKind.UNPLANNED:
            return f"{self.delivered} of {self.service_code} delivered but not planned"
        return (
            f"{self.service_code}: {self.planned} planned, {self.delivered} delivered "
            f"{self.period_start.isoformat()}..{self.period_end.isoformat()}"
        )


class ContactMode(Enum):
    IN_PERSON = "in_person"
    PHONE = "phone"


@dataclass(frozen=True)
class Contact:
    contact_id: str
    plan_id: str
    contacted_on: date
    mode: ContactMode
    worker_id: str
    notes: str
    goal_ids: tuple[str, ...]
    recorded_at: datetime


class DiscrepancyState(Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    EXPLAINED = "explained"


@dataclass(frozen=True)
class RaisedDiscrepancy:
    """A discrepancy raised for the worker, until they acknowledge or explain it."""

    discrepancy_id: str
    found: Discrepancy
    raised_at: datetime
    state: DiscrepancyState = DiscrepancyState.OPEN
    note: str = ""
    resolved_by: str = ""
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class OfferedService:
    service_code: str
    name: str
    how_to_obtain: str


@dataclass(frozen=True)
class OfferPack:
    """What the client was handed: the services offered, how to obtain them, and who
    to call (the worker's name and phone)."""

    services: tuple[OfferedService, ...]
    worker_name: str
    worker_phone: str
    handed_over_on: date
    recorded_by: str


@dataclass(frozen=True)
class RequestedService:
    """A service the client asked for, with the time frame they asked for it in."""

    service_code: str
    time_frame: str


# Client statuses (clients' words) under which no plan may take effect.
CLOSED_CLIENT_STATUSES = frozenset({"rejected", "terminated"})
SERVICE_USER = "service_user"


@dataclass(frozen=True)
class Frequency:
    """How much of a service per period: three meals a day is Frequency(3, DAY)."""

    amount: int
    per: Period

    def describe(self) -> str:
        return f"{self.amount} a {self.per.value}"


@dataclass(frozen=True)
class Action:
    """An action or service that reaches a goal."""

    action_id: str
    service_code: str
    description: str
    provider: ProviderKind
    provider_name: str
    frequency: Frequency | None
    deadline: date
    needs_decision: bool = False


@dataclass(frozen=True)
class Goal:
    goal_id: str
    description: str
    target_date: date
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Need:
    need_id: str
    kind: NeedKind
    need_code: str  # the organisation's kind of need, e.g. "meals", "mobility"
    description: str
    service_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Content:
    """What the client and the worker agree on; frozen once signed."""

    reason_for_request: str
    plan_date: date
    next_review_on: date
    needs: tuple[Need, ...] = ()
    goals: tuple[Goal, ...] = ()
    # Days between monitoring contacts once the first two months are over.
    monitoring_interval_days: int = 30
    requested: tuple[RequestedService, ...] = ()


@dataclass(frozen=True)
class Signature:
    signer: Signer
    name: str
    signed_by: str  # the worker who recorded the signature
    signed_at: datetime


@dataclass(frozen=True)
class Version:
    number: int
    status: VersionStatus
    content: Content
    created_by: str
    created_at: datetime
    signatures: tuple[Signature, ...] = ()
    in_effect_from: datetime | None = None
    ended_at: datetime | None = None
    review_outcome: str = ""


@dataclass(frozen=True)
class GoalProgress:
    goal_id: str
    progress: Progress
    note: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class Decision:
    """A manager's decision a service needs before it is delivered."""

    service_code: str
    state: DecisionState
    requested_by: str
    requested_at: datetime
    decided_by: str = ""
    decided_at: datetime | None = None
    reason: str = ""
    # A decision to let deliveries of the service spend beyond its budget line.
    overspend: bool = False


@dataclass(frozen=True)
class BudgetLine:
    service_code: str
    allotted: int  # in the smallest unit of money (cents)
    spent: int = 0

    @property
    def remaining(self) -> int:
        return self.allotted - self.spent


@dataclass(frozen=True)
class Budget:
    holder: BudgetHolder
    holder_name: str
    lines: tuple[BudgetLine, ...] = ()

    def line(self, service_code: str) -> BudgetLine | None:
        return next((li for li in self.lines if li.service_code == service_code), None)


@dataclass(frozen=True)
class Closure:
    closed_by: str
    closed_at: datetime
    evaluation: str
    reached: tuple[str, ...]
    dropped: tuple[str, ...]
    not_reached: tuple[str, ...]


@dataclass(frozen=True)
class ReviewRequest:
    """Feedback asking the responsible worker to look at the plan again with the client:
    a negative answer or a complaint about the client's service. A signal to look,
    never a verdict on a worker; answered by the next review (or by a version taking
    effect, which is agreed with the client too)."""

    source: str  # feedback's word for what asked: `response` or `complaint`
    source_id: str  # the response's or complaint's id in feedback
    aspects: tuple[str, ...]  # the aspects answered negatively (none for a complaint)
    centre_id: str  # the centre of the visit or complaint
    requested_at: datetime
    recorded_at: datetime
    answered_at: datetime | None = None
    answered_by: str = ""
    answered_in_version: int = 0

    @property
    def pending(self) -> bool:
        return self.answered_at is None


@dataclass(frozen=True)
class Plan:
    plan_id: str
    organisation: str
    client_id: str
    family_id: str
    centre_ids: tuple[str, ...]
    worker_id: str
    versions: tuple[Version, ...]
    progress: tuple[GoalProgress, ...] = ()
    decisions: tuple[Decision, ...] = ()
    budget: Budget | None = None
    closure: Closure | None = None
    offer: OfferPack | None = None
    deliveries: tuple[Delivery, ...] = ()
    contacts: tuple[Contact, ...] = ()
    discrepancies: tuple[RaisedDiscrepancy, ...] = ()
    review_requests: tuple[ReviewRequest, ...] = ()
    # Keys of the due and missed items already raised (each is raised once).
    raised: tuple[str, ...] = ()
    # The day the timer last looked at the plan; cleared by what changes its due work
    # (a signature, a contact), so the timer looks again the same day.
    checked_on: date | None = None
    idempotency_key: str = ""
    fingerprint: str = ""

    @property
    def current(self) -> Version:
        return self.versions[-1]

    @property
    def in_effect(self) -> Version | None:
        return next((v for v in self.versions if v.status is VersionStatus.IN_EFFECT), None)

    @property
    def status(self) -> VersionStatus:
        """The plan's state as a whole: in effect while any version is, else the last
        version's state (a redraft under review keeps the plan in effect)."""
        return VersionStatus.IN_EFFECT if self.in_effect is not None else self.current.status

    @property
    def pending_review_requests(self) -> tuple[ReviewRequest, ...]:
        return tuple(r for r in self.review_requests if r.pending)

    def version(self, number: int) -> Version:
        for v in self.versions:
            if v.number == number:
                return v
        raise NotFound(f"plan {self.plan_id} has no version {number}")

    def progress_of(self, goal_id: str) -> GoalProgress | None:
        latest = None
        for p in self.progress:
            if p.goal_id == goal_id:
                latest = p
        return latest

    def decision(self, service_code: str, *, overspend: bool = False) -> Decision | None:
        return next(
            (
                d
                for d in self.decisions
                if d.service_code == service_code and d.overspend == overspend
            ),
            None,
        )

    def overspend_approved(self, service_code: str) -> bool:
        decision = self.decision(service_code, overspend=True)
        return decision is not None and decision.state is DecisionState.APPROVED


# --------------------------------------------------------------------- content rules


def planned_services(content: Content) -> dict[str, Action]:
    """Each service named by an action, with the first action naming it."""
    found: dict[str, Action] = {}
    for goal in content.goals:
        for action in goal.actions:
            found.setdefault(action.service_code, action)
    return found


def validate_content(content: Content, *, today: date) -> list[FieldError]:
    """Rules any draft must keep; the stricter ones of signing are in signing_errors."""
    errors = text_errors(
        {"content.reason_for_request": content.reason_for_request},
        free_text={"content.reason_for_request"},
    )
    problem = length_error(content.reason_for_request, MAX_TEXT)
    if problem:
        errors.append(FieldError("content.reason_for_request", problem))
    if content.next_review_on <= content.plan_date:
        errors.append(FieldError("content.next_review_on", "must be after the plan date"))
    elif content.next_review_on < today:
        errors.append(FieldError("content.next_review_on", "is in the past"))
    if not 1 <= content.monitoring_interval_days <= 366:
        errors.append(FieldError("content.monitoring_interval_days", "between 1 and 366"))
    if len(content.requested) > MAX_ITEMS:
        errors.append(FieldError("content.requested", f"at most {MAX_ITEMS}"))
    for i, asked in enumerate(content.requested[:MAX_ITEMS]):
        errors += _code_errors(f"content.requested[{i}].service_code", asked.service_code)
        errors += _text(f"content.requested[{i}].time_frame", asked.time_frame)
    if len(content.needs) > MAX_ITEMS:
        errors.append(FieldError("content.needs", f"at most {MAX_ITEMS}"))
    if len(content.goals) > MAX_ITEMS:
        errors.append(FieldError("content.goals", f"at most {MAX_ITEMS}"))
    ids: set[str] = set()
    for i, need in enumerate(content.needs[:MAX_ITEMS]):
        path = f"content.needs[{i}]"
        errors += _id_errors(f"{path}.need_id", need.need_id, ids)
        errors += _code_errors(f"{path}.need_code", need.need_code)
        errors += _text(f"{path}.description", need.description)
        for j, code in enumerate(need.service_codes[:MAX_ITEMS]):
            errors += _code_errors(f"{path}.service_codes[{j}]", code)
    for i, goal in enumerate(content.goals[:MAX_ITEMS]):
        path = f"content.goals[{i}]"
        errors += _id_errors(f"{path}.goal_id", goal.goal_id, ids)
        errors += _text(f"{path}.description", goal.description, required=True)
        if goal.target_date < content.plan_date:
            errors.append(FieldError(f"{path}.target_date", "is before the plan date"))
        if len(goal.actions) > MAX_ITEMS:
            errors.append(FieldError(f"{path}.actions", f"at most {MAX_ITEMS}"))
        for j, action in enumerate(goal.actions[:MAX_ITEMS]):
            apath = f"{path}.actions[{j}]"
            errors += _id_errors(f"{apath}.action_id", action.action_id, ids)
            errors += _code_errors(f"{apath}.service_code", action.service_code)
            errors += _text(f"{apath}.description", action.description)
            errors += _text(f"{apath}.provider_name", action.provider_name, required=True)
            if action.deadline < content.plan_date:
                errors.append(FieldError(f"{apath}.deadline", "is before the plan date"))
            if action.frequency is not None and not 1 <= action.frequency.amount <= 1000:
                errors.append(FieldError(f"{apath}.frequency.amount", "between 1 and 1000"))
    return errors


def signing_errors(content: Content) -> list[FieldError]:
    """A plan in effect must be SMART: every goal reached by at least one action."""
    errors = []
    if not content.goals:
        errors.append(FieldError("content.goals", "a plan needs at least one goal to be signed"))
    for i, goal in enumerate(content.goals):
        if not goal.actions:
            errors.append(
                FieldError(f"content.goals[{i}].actions", "a goal needs an action to be signed")
            )
    return errors


def _text(path: str, value: str, *, required: bool = False) -> list[FieldError]:
    if required and not value.strip():
        return [FieldError(path, "is required")]
    errors = text_errors({path: value}, free_text={path})
    problem = length_error(value, MAX_TEXT)
    if problem:
        errors.append(FieldError(path, problem))
    return errors


def _code_errors(path: str, code: str) -> list[FieldError]:
    if not _CODE.match(code):
        return [FieldError(path, "lowercase letters, digits, '_', '.', '-' (1-64)")]
    return []


def _id_errors(path: str, value: str, seen: set[str]) -> list[FieldError]:
    if not _CODE.match(value):
        return [FieldError(path, "lowercase letters, digits, '_', '.', '-' (1-64)")]
    if value in seen:
        return [FieldError(path, "is used twice in the plan")]
    seen.add(value)
    return []


# --------------------------------------------------------------------- life cycle


def draft(
    *,
    plan_id: str,
    organisation: str,
    client_id: str,
    family_id: str,
    centre_ids: Sequence[str],
    worker_id: str,
    content: Content,
    by: str,
    now: datetime,
    idempotency_key: str = "",
    fingerprint: str = "",
) -> Plan:
    raise_if_any(validate_content(content, today=now.date()))
    return Plan(
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        plan_id=plan_id,
        organisation=organisation,
        client_id=client_id,
        family_id=family_id,
        centre_ids=tuple(centre_ids),
        worker_id=worker_id,
        versions=(Version(1, VersionStatus.DRAFT, content, by, now),),
    )


def _require_draft(plan: Plan, version: int) -> Version:
    current = plan.current
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    if version != current.number or current.status is not VersionStatus.DRAFT:
        raise FailedPrecondition(
            f"version {version} of plan {plan.plan_id} is not the draft; a signed version "
            "never changes, a review makes a new one",
            field="version",
        )
    return current


def edit_draft(plan: Plan, version: int, content: Content, *, now: datetime) -> Plan:
    """Replace the draft's content; the signatures gathered so far no longer hold."""
    current = _require_draft(plan, version)
    raise_if_any(validate_content(content, today=now.date()))
    edited = replace(current, content=content, signatures=())
    return replace(plan, versions=(*plan.versions[:-1], edited))


def sign(
    plan: Plan,
    version: int,
    signer: Signer,
    name: str,
    *,
    client_status: str | None,
    by: str,
    now: datetime,
) -> tuple[Plan, bool]:
    """Record one signature; answers the plan and whether the version took effect (both
    signatures present). A version that takes effect supersedes the previous one.

    `client_status` is the client's status as plans last heard it (None: not heard)."""
    current = _require_draft(plan, version)
    errors = _text("name", name, required=True)
    if length_error(name, MAX_NAME):
        errors.append(FieldError("name", f"at most {MAX_NAME} characters"))
    raise_if_any(errors)
    raise_if_any(signing_errors(current.content))
    raise_if_any(validate_content(current.content, today=now.date()))
    if client_status in CLOSED_CLIENT_STATUSES:
        raise FailedPrecondition(
            f"the client's status is {client_status}: no plan takes effect", field="client_id"
        )
    if any(s.signer is signer for s in current.signatures):
        raise FailedPrecondition(f"the {signer.value} has signed already", field="signer")
    signatures = (*current.signatures, Signature(signer, name.strip(), by, now))
    complete = {s.signer for s in signatures} == set(Signer)
    signed = replace(
        current,
        signatures=signatures,
        status=VersionStatus.IN_EFFECT if complete else VersionStatus.DRAFT,
        in_effect_from=now if complete else None,
    )
    versions = list(plan.versions[:-1])
    if complete:
        versions = [
            replace(v, status=VersionStatus.SUPERSEDED, ended_at=now)
            if v.status is VersionStatus.IN_EFFECT
            else v
            for v in versions
        ]
    signed_plan = replace(plan, versions=(*versions, signed), checked_on=None)
    if complete:
        signed_plan = answer_review_requests(signed_plan, version=version, by=by, now=now)
    return signed_plan, complete


def start_review(
    plan: Plan, *, outcome: str, content: Content | None, by: str, now: datetime
) -> Plan:
    """A review with the client: its outcome is kept on the version in effect (a note
    beside the signed content, not a change of it) and a new draft starts from that
    content, or from `content` when the review already reshaped it."""
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    effective = plan.in_effect
    if effective is None:
        raise FailedPrecondition("only a plan in effect is reviewed", field="plan_id")
    if plan.current.status is VersionStatus.DRAFT:
        raise FailedPrecondition(
            f"version {plan.current.number} is already the review's draft", field="plan_id"
        )
    raise_if_any(_text("outcome", outcome, required=True))
    new_content = content if content is not None else effective.content
    raise_if_any(validate_content(new_content, today=now.date()))
    reviewed = replace(effective, review_outcome=outcome)
    versions = tuple(reviewed if v.number == effective.number else v for v in plan.versions)
    new = Version(plan.current.number + 1, VersionStatus.DRAFT, new_content, by, now)
    reviewed_plan = replace(plan, versions=(*versions, new))
    return answer_review_requests(reviewed_plan, version=new.number, by=by, now=now)


def answer_review_requests(plan: Plan, *, version: int, by: str, now: datetime) -> Plan:
    """Every pending review request answered by `version` (the review's draft, or the
    version that took effect); kept on the plan, never removed."""
    if not plan.pending_review_requests:
        return plan
    answered = tuple(
        replace(r, answered_at=now, answered_by=by, answered_in_version=version) if r.pending else r
        for r in plan.review_requests
    )
    return replace(plan, review_requests=answered)


def record_progress(
    plan: Plan, goal_id: str, progress: Progress, note: str, *, by: str, now: datetime
) -> Plan:
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    effective = plan.in_effect
    if effective is None:
        raise FailedPrecondition("progress is recorded on a plan in effect", field="plan_id")
    if goal_id not in {g.goal_id for g in effective.content.goals}:
        raise_if_any([FieldError("goal_id", "is not a goal of the plan in effect")])
    errors = _text("note", note, required=progress is Progress.DROPPED)
    if errors and progress is Progress.DROPPED and not note.strip():
        errors = [FieldError("note", "a dropped goal needs its reason")]
    raise_if_any(errors)
    entry = GoalProgress(goal_id, progress, note.strip(), by, now)
    return replace(plan, progress=(*plan.progress, entry))


def close(plan: Plan, evaluation: str, *, by: str, now: datetime) -> Plan:
    """Close the plan with an evaluation of each goal of the version in effect."""
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed already", field="plan_id")
    raise_if_any(_text("evaluation", evaluation, required=True))
    effective = plan.in_effect
    goals = effective.content.goals if effective else ()
    outcome: dict[Progress, list[str]] = {p: [] for p in Progress}
    for goal in goals:
        latest = plan.progress_of(goal.goal_id)
        outcome[latest.progress if latest else Progress.OPEN].append(goal.goal_id)
    closure = Closure(
        closed_by=by,
        closed_at=now,
        evaluation=evaluation.strip(),
        reached=tuple(outcome[Progress.REACHED]),
        dropped=tuple(outcome[Progress.DROPPED]),
        not_reached=tuple(outcome[Progress.OPEN] + outcome[Progress.IN_PROGRESS]),
    )
    versions = tuple(
        replace(v, status=VersionStatus.CLOSED, ended_at=now)
        if v.status in (VersionStatus.IN_EFFECT, VersionStatus.DRAFT)
        else v
        for v in plan.versions
    )
    return replace(plan, versions=versions, closure=closure)


# --------------------------------------------------------------------- decisions


def services_needing_decision(plan: Plan) -> list[str]:
    """Services of the version in effect that wait for a manager's decision nobody
    requested yet."""
    effective = plan.in_effect
    if effective is None:
        return []
    return [
        code
        for code, action in planned_services(effective.content).items()
        if action.needs_decision and plan.decision(code) is None
    ]


def request_decision(
    plan: Plan, service_code: str, *, by: str, now: datetime, overspend: bool = False
) -> Plan:
    """Ask a manager to approve a service before it is delivered, or (`overspend`) to
    let its deliveries spend beyond the personal budget's line."""
    content = (plan.in_effect or plan.current).content
    action = planned_services(content).get(service_code)
    if action is None:
        raise_if_any([FieldError("service_code", "is not a service of the plan")])
    if overspend and (plan.budget is None or plan.budget.line(service_code) is None):
        raise_if_any([FieldError("service_code", "has no line in the personal budget")])
    existing = plan.decision(service_code, overspend=overspend)
    if existing is not None and existing.state is not DecisionState.REFUSED:
        raise FailedPrecondition(
            f"a decision on {service_code} is {existing.state.value} already",
            field="service_code",
        )
    decisions = tuple(d for d in plan.decisions if d is not existing)
    asked = Decision(service_code, DecisionState.REQUESTED, by, now, overspend=overspend)
    return replace(plan, decisions=(*decisions, asked))


def decide(
    plan: Plan,
    service_code: str,
    approve: bool,
    reason: str,
    *,
    by: str,
    now: datetime,
    overspend: bool = False,
) -> Plan:
    existing = plan.decision(service_code, overspend=overspend)
    if existing is None:
        raise NotFound(f"no decision on {clip(service_code)} was requested")
    if existing.state is not DecisionState.REQUESTED:
        raise FailedPrecondition(
            f"the decision on {service_code} is {existing.state.value} already",
            field="service_code",
        )
    raise_if_any(_text("reason", reason, required=not approve))
    decided = replace(
        existing,
        state=DecisionState.APPROVED if approve else DecisionState.REFUSED,
        decided_by=by,
        decided_at=now,
        reason=reason.strip(),
    )
    return replace(plan, decisions=tuple(decided if d is existing else d for d in plan.decisions))


# --------------------------------------------------------------------- budget


def set_budget(
    plan: Plan, holder: BudgetHolder, holder_name: str, allotted: Mapping[str, int]
) -> Plan:
    """Set the budget's holder and lines; money spent so far stays on its line."""
    errors = _text("holder_name", holder_name, required=True)
    for code, amount in allotted.items():
        errors += _code_errors(f"lines[{code}].service_code", code)
        if amount < 0:
            errors.append(FieldError(f"lines[{code}].allotted", "must not be negative"))
    old = plan.budget
    for line in old.lines if old else ():
        if line.spent and line.service_code not in allotted:
            errors.append(FieldError(f"lines[{line.service_code}]", "money was spent on this line"))
    raise_if_any(errors)
    spent = {li.service_code: li.spent for li in old.lines} if old else {}
    lines = tuple(
        BudgetLine(code, amount, spent.get(code, 0)) for code, amount in sorted(allotted.items())
    )
    return replace(plan, budget=Budget(holder, holder_name.strip(), lines))


def budget_refusal(plan: Plan, service_code: str, cost: int, *, overspend_approved: bool) -> str:
    """Why spending `cost` on the service is refused ('' when it may be spent)."""
    if cost <= 0 or plan.budget is None:
        return ""
    line = plan.budget.line(service_code)
    if line is None:
        return f"the personal budget has no line for {service_code}"
    if cost > line.remaining and not overspend_approved:
        return (
            f"{cost} would overspend {service_code}: {line.remaining} of {line.allotted} "
            "remain; a manager's decision is needed"
        )
    return ""


def spend(plan: Plan, service_code: str, cost: int) -> Plan:
    if cost <= 0 or plan.budget is None:
        return plan
    lines = tuple(
        replace(li, spent=li.spent + cost) if li.service_code == service_code else li
        for li in plan.budget.lines
    )
    return replace(plan, budget=replace(plan.budget, lines=lines))


# --------------------------------------------------------------------- deliveries


def delivery_refusal(plan: Plan, service_code: str, on: date) -> tuple[str, str]:
    """Why a delivery of `service_code` on `on` may not be recorded, as (field, reason);
    ('', '') when it may."""
    effective = plan.in_effect
    if effective is None:
        return "plan_id", "only a plan in effect has deliveries"
    action = planned_services(effective.content).get(service_code)
    if action is None:
        return "service_code", f"{service_code} is not a service of the plan in effect"
    if action.needs_decision:
        decision = plan.decision(service_code)
        if decision is None or decision.state is not DecisionState.APPROVED:
            state = decision.state.value if decision else "not requested"
            return "service_code", f"{service_code} waits for a manager's decision ({state})"
    return "", ""


# --------------------------------------------------------------------- screening


@dataclass(frozen=True)
class ScreenHit:
    plan_id: str
    client_id: str
    centre_ids: tuple[str, ...]
    need_id: str
    need_kind: NeedKind
    need_code: str


def screen_for_service(
    plans: Iterable[Plan], service_code: str, answers_needs: Sequence[str]
) -> list[ScreenHit]:
    """Clients whose open plans name a need a new service answers: a need of one of the
    kinds `answers_needs`, or a need already waiting for this very service (a future
    need put on the service's waiting list). A plan counts with its latest version, the
    one the worker is working with; closed plans are left out."""
    wanted = set(answers_needs)
    hits = []
    for plan in plans:
        if plan.closure is not None:
            continue
        for need in plan.current.content.needs:
            if need.need_code in wanted or service_code in need.service_codes:
                hits.append(
                    ScreenHit(
                        plan.plan_id,
                        plan.client_id,
                        plan.centre_ids,
                        need.need_id,
                        need.kind,
                        need.need_code,
                    )
                )
                break
    return hits


@dataclass(frozen=True)
class PlanState:
    """What other services learn of a client's plan (the plan-state event)."""

    client_id: str
    plan_id: str
    in_effect: bool
    version: int
    next_review_on: date | None
    centre_ids: tuple[str, ...] = field(default=())


def state_of(plan: Plan) -> PlanState:
    effective = plan.in_effect if plan.closure is None else None
    return PlanState(
        client_id=plan.client_id,
        plan_id=plan.plan_id,
        in_effect=effective is not None,
        version=effective.number if effective else plan.current.number,
        next_review_on=effective.content.next_review_on if effective else None,
        centre_ids=plan.centre_ids,
    )


# --------------------------------------------------------------------- records


def _require_open(plan: Plan) -> Version:
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    effective = plan.in_effect
    if effective is None:
        raise FailedPrecondition("only a plan in effect has this", field="plan_id")
    return effective


def hand_over_offer(plan: Plan, offer: OfferPack) -> Plan:
    """Record the offer pack as handed over to the client (a draft may have it: the
    offer comes before the plan is built)."""
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    errors = _text("worker_name", offer.worker_name, required=True)
    errors += _text("worker_phone", offer.worker_phone, required=True)
    if not offer.services:
        errors.append(FieldError("services", "an offer names at least one service"))
    if len(offer.services) > MAX_ITEMS:
        errors.append(FieldError("services", f"at most {MAX_ITEMS}"))
    for i, service in enumerate(offer.services[:MAX_ITEMS]):
        errors += _code_errors(f"services[{i}].service_code", service.service_code)
        errors += _text(f"services[{i}].name", service.name, required=True)
        errors += _text(f"services[{i}].how_to_obtain", service.how_to_obtain, required=True)
    raise_if_any(errors)
    return replace(plan, offer=offer)


def record_contact(plan: Plan, contact: Contact) -> Plan:
    """A monitoring contact with the client (the rules of its fields are checked by
    monitoring.check_contact)."""
    _require_open(plan)
    return replace(plan, contacts=(*plan.contacts, contact), checked_on=None)


def record_delivery(plan: Plan, delivery: Delivery) -> Plan:
    """A delivery of a service of the plan in effect, after its decision, within its
    budget line unless a manager approved overspending it; nothing changes when it is
    refused."""
    _require_open(plan)
    field_name, reason = delivery_refusal(plan, delivery.service_code, delivery.delivered_on)
    if reason:
        if field_name == "plan_id":
            raise FailedPrecondition(reason, field=field_name)
        if "decision" in reason:
            raise FailedPrecondition(reason, field=field_name)
        raise_if_any([FieldError(field_name, reason)])
    refusal = budget_refusal(
        plan,
        delivery.service_code,
        delivery.cost,
        overspend_approved=plan.overspend_approved(delivery.service_code),
    )
    if refusal:
        raise FailedPrecondition(refusal, field="cost")
    spent = spend(plan, delivery.service_code, delivery.cost)
    return replace(spent, deliveries=(*spent.deliveries, delivery))


def raise_discrepancies(
    plan: Plan, found: Iterable[Discrepancy], *, now: datetime
) -> tuple[Plan, list[RaisedDiscrepancy]]:
    """Keep the findings not raised before (by their key); answer the new ones, which
    the worker is told of at once."""
    known = {d.discrepancy_id for d in plan.discrepancies}
    new = []
    for finding in found:
        if finding.key in known:
            continue
        known.add(finding.key)
        new.append(RaisedDiscrepancy(finding.key, finding, now))
    if not new:
        return plan, []
    return replace(plan, discrepancies=(*plan.discrepancies, *new)), new


def resolve_discrepancy(
    plan: Plan, discrepancy_id: str, state: DiscrepancyState, note: str, *, by: str, now: datetime
) -> Plan:
    """Acknowledge a discrepancy, or explain it (an explanation needs its words)."""
    existing = next((d for d in plan.discrepancies if d.discrepancy_id == discrepancy_id), None)
    if existing is None:
        raise NotFound(f"plan {plan.plan_id} has no discrepancy {clip(discrepancy_id)}")
    if state is DiscrepancyState.OPEN:
        raise_if_any([FieldError("resolution", "acknowledge or explain")])
    if existing.state is not DiscrepancyState.OPEN:
        raise FailedPrecondition(
            f"discrepancy {discrepancy_id} is {existing.state.value} already",
            field="discrepancy_id",
        )
    errors = _text("note", note, required=state is DiscrepancyState.EXPLAINED)
    raise_if_any(errors)
    done = replace(existing, state=state, note=note.strip(), resolved_by=by, resolved_at=now)
    return replace(
        plan, discrepancies=tuple(done if d is existing else d for d in plan.discrepancies)
    )


def mark_checked(plan: Plan, today: date) -> Plan:
    return plan if plan.checked_on == today else replace(plan, checked_on=today)


def mark_raised(plan: Plan, keys: Iterable[str]) -> Plan:
    fresh = [k for k in keys if k not in plan.raised]
    if not fresh:
        return plan
    # Only the latest keys matter: a raised item's key names its due date and version.
    return replace(plan, raised=(*plan.raised, *fresh)[-50:])
