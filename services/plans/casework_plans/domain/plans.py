"""The individual service plan: needs, SMART goals with their actions, signatures,
versions, manager decisions, the personal budget, goal progress and closure; the rules
any plan content keeps, and the plan state other services learn of. What changes a
plan lives beside it: life_cycle (drafting, signing, reviews, closure), decisions
(manager decisions, the personal budget), records (offer, contacts, deliveries,
discrepancies), review_requests (reviews feedback asks for).

Pure rules, no I/O. A plan is one aggregate holding every version; the content of a
version is frozen once both the client and the worker signed it (it is a kind of
contract), so what changes over the plan's life lives beside the versions: goal
progress, decisions, the budget's spending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from casework_common.errors import FieldError, NotFound
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


class Spending(Enum):
    """Where a delivery's cost stands with the personal budget. NOT_NEEDED: counted as
    spent when recorded (the organisation approves no item, or nothing was spent)."""

    NOT_NEEDED = "not_needed"
    AWAITING = "awaiting"
    APPROVED = "approved"
    REFUSED = "refused"


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
    spending: Spending = Spending.NOT_NEEDED
    spending_decided_by: str = ""
    spending_decided_at: datetime | None = None
    spending_reason: str = ""


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
        errors += code_errors(f"content.requested[{i}].service_code", asked.service_code)
        errors += field_text_errors(f"content.requested[{i}].time_frame", asked.time_frame)
    if len(content.needs) > MAX_ITEMS:
        errors.append(FieldError("content.needs", f"at most {MAX_ITEMS}"))
    if len(content.goals) > MAX_ITEMS:
        errors.append(FieldError("content.goals", f"at most {MAX_ITEMS}"))
    ids: set[str] = set()
    for i, need in enumerate(content.needs[:MAX_ITEMS]):
        path = f"content.needs[{i}]"
        errors += _id_errors(f"{path}.need_id", need.need_id, ids)
        errors += code_errors(f"{path}.need_code", need.need_code)
        errors += field_text_errors(f"{path}.description", need.description)
        for j, code in enumerate(need.service_codes[:MAX_ITEMS]):
            errors += code_errors(f"{path}.service_codes[{j}]", code)
    for i, goal in enumerate(content.goals[:MAX_ITEMS]):
        path = f"content.goals[{i}]"
        errors += _id_errors(f"{path}.goal_id", goal.goal_id, ids)
        errors += field_text_errors(f"{path}.description", goal.description, required=True)
        if goal.target_date < content.plan_date:
            errors.append(FieldError(f"{path}.target_date", "is before the plan date"))
        if len(goal.actions) > MAX_ITEMS:
            errors.append(FieldError(f"{path}.actions", f"at most {MAX_ITEMS}"))
        for j, action in enumerate(goal.actions[:MAX_ITEMS]):
            apath = f"{path}.actions[{j}]"
            errors += _id_errors(f"{apath}.action_id", action.action_id, ids)
            errors += code_errors(f"{apath}.service_code", action.service_code)
            errors += field_text_errors(f"{apath}.description", action.description)
            errors += field_text_errors(
                f"{apath}.provider_name", action.provider_name, required=True
            )
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


def field_text_errors(path: str, value: str, *, required: bool = False) -> list[FieldError]:
    if required and not value.strip():
        return [FieldError(path, "is required")]
    errors = text_errors({path: value}, free_text={path})
    problem = length_error(value, MAX_TEXT)
    if problem:
        errors.append(FieldError(path, problem))
    return errors


def code_errors(path: str, code: str) -> list[FieldError]:
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
