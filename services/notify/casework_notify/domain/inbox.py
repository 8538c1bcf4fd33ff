"""Notifications in a worker's inbox."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from casework_common.routing import Recipient


@dataclass(frozen=True)
class ClientArrived:
    """A card was created or matched from a referral (clients' events)."""

    event_id: str
    organisation: str
    client_id: str
    referral_id: str
    display_name: str
    centre_id: str
    client_type: str
    problem_type: str
    returning: bool


@dataclass(frozen=True)
class Notification:
    notification_id: str
    organisation: str
    worker_id: str
    kind: str
    title: str
    body: str
    client_id: str
    referral_id: str
    centre_id: str
    routing_reason: str
    created_at: datetime
    read_at: datetime | None = None
    # What the notification is about ("client", "referral", "outreach", "task") and
    # its id, taken from the event, so that an app can open it without reading the text.
    subject_kind: str = ""
    subject_id: str = ""
    # "low", "normal", "high" or "urgent"; "" until `classify` gives the kind's own.
    priority: str = ""
    # Every record it is about, the subject first (see `classify`).
    links: tuple[Link, ...] = ()
    # Someone must act on it: unread past `escalate_at`, it goes up the chain.
    needs_action: bool = False
    escalate_at: datetime | None = None
    escalation_level: int = 0


@dataclass(frozen=True)
class Link:
    """One record a notification is about: its kind ("client", "referral", "plan",
    "task", "complaint", ...) and its id in its own service."""

    kind: str
    id: str


PRIORITIES = ("low", "normal", "high", "urgent")
# What a kind asks for unless its maker said otherwise.
PRIORITY_OF_KIND = {
    "first_contact_overdue": "urgent",
    "task_overdue": "high",
    "new_client": "high",
    "returning_client": "high",
    "match_proposed": "high",
    "sharing_requested": "high",
    "escalated": "urgent",
}
# Kinds someone must act on: unread in time, they are escalated.
ACTION_KINDS = frozenset(
    {
        "new_client",
        "returning_client",
        "first_contact_overdue",
        "match_proposed",
        "sharing_requested",
    }
)


def links_of(n: Notification) -> tuple[Link, ...]:
    """The subject first, then the client and referral, then the maker's own; once each."""
    found: list[Link] = []
    candidates = [
        Link(n.subject_kind, n.subject_id),
        Link("client", n.client_id),
        Link("referral", n.referral_id),
        *n.links,
    ]
    for link in candidates:
        if link.kind and link.id and link not in found:
            found.append(link)
    return tuple(found)


def classify(n: Notification, escalate_after: timedelta | None = None) -> Notification:
    """Priority, links and, for an action kind, when it escalates if still unread."""
    needs_action = n.needs_action or n.kind in ACTION_KINDS
    escalate_at = n.escalate_at
    if needs_action and escalate_at is None and escalate_after is not None:
        escalate_at = n.created_at + escalate_after
    return replace(
        n,
        priority=n.priority or PRIORITY_OF_KIND.get(n.kind, "normal"),
        links=links_of(n),
        needs_action=needs_action,
        escalate_at=escalate_at if needs_action else None,
    )


def escalation_target(
    n: Notification, duty_worker: str | None, manager: str | None
) -> tuple[int, str] | None:
    """Who is next up the chain (worker -> duty worker -> centre manager) for a
    notification unread past its time, skipping whoever already has it; None at the
    top."""
    chain = [w for w in (duty_worker, manager) if w]
    level = n.escalation_level
    already = {n.worker_id}
    for step, worker in enumerate(chain, start=1):
        if step <= level:
            already.add(worker)
            continue
        if worker in already:
            continue
        return step, worker
    return None


def escalate(n: Notification, level: int, to_worker: str, now: datetime) -> Notification:
    """The copy for the next person up the chain; its id is derived, so an escalation
    redone after a crash lands once."""
    return classify(
        Notification(
            notification_id=f"{n.notification_id}:escalated:{level}",
            organisation=n.organisation,
            worker_id=to_worker,
            kind="escalated",
            title=f"Unread by {n.worker_id}: {n.title}",
            body=(
                f"{n.worker_id} has not read this since {n.created_at.isoformat()}. "
                f"Please make sure someone acts on it.\n\n{n.body}"
            ),
            client_id=n.client_id,
            referral_id=n.referral_id,
            centre_id=n.centre_id,
            routing_reason=f"escalation {level}: {n.kind} unread by {n.worker_id}",
            created_at=now,
            subject_kind=n.subject_kind,
            subject_id=n.subject_id,
            links=n.links,
        )
    )


def notification_id(event_id: str, worker_id: str) -> str:
    # Derived from the event, so a redelivered event lands on the same notification.
    return f"{event_id}:{worker_id}"


def notify_responsible(
    arrival: ClientArrived, recipients: list[Recipient], now: datetime
) -> list[Notification]:
    kind = "returning_client" if arrival.returning else "new_client"
    title = (
        f"Returning client: {arrival.display_name}"
        if arrival.returning
        else f"New client: {arrival.display_name}"
    )
    body = (
        f"{arrival.display_name} was referred to {arrival.centre_id} "
        f"({arrival.client_type}, {arrival.problem_type}). Please make first contact."
    )
    return [
        Notification(
            notification_id=notification_id(arrival.event_id, recipient.worker_id),
            organisation=arrival.organisation,
            worker_id=recipient.worker_id,
            kind=kind,
            title=title,
            body=body,
            client_id=arrival.client_id,
            referral_id=arrival.referral_id,
            centre_id=arrival.centre_id,
            routing_reason=recipient.reason,
            created_at=now,
            subject_kind="client",
            subject_id=arrival.client_id,
        )
        for recipient in recipients
    ]


def mark_read(notification: Notification, now: datetime) -> Notification:
    return notification if notification.read_at else replace(notification, read_at=now)


@dataclass(frozen=True)
class OverdueReferral:
    """Nobody took a referral on before its first-response deadline (intake's event)."""

    event_id: str
    organisation: str
    referral_id: str
    reference_number: str
    centre_id: str
    manager_id: str
    client_type: str
    problem_type: str
    due_at: datetime


def tell_manager_of_overdue(
    overdue: OverdueReferral, manager_id: str, now: datetime
) -> Notification:
    return Notification(
        notification_id=notification_id(overdue.event_id, manager_id),
        organisation=overdue.organisation,
        worker_id=manager_id,
        kind="first_contact_overdue",
        title=f"No first response yet: referral {overdue.reference_number}",
        body=(
            f"Referral {overdue.reference_number} to {overdue.centre_id} "
            f"({overdue.client_type}, {overdue.problem_type}) was not taken on by any "
            f"worker before {overdue.due_at.isoformat()}. Please make sure someone "
            "contacts the person."
        ),
        client_id="",
        referral_id=overdue.referral_id,
        centre_id=overdue.centre_id,
        routing_reason=f"manager of {overdue.centre_id}; first-response deadline missed",
        created_at=now,
        subject_kind="referral",
        subject_id=overdue.referral_id,
    )


@dataclass(frozen=True)
class OutreachDue:
    """intake's timer says a worker's outreach activity is coming up (reminder) or has
    taken place without an outcome (outcome)."""

    event_id: str
    organisation: str
    outreach_id: str
    worker_id: str
    centre_id: str
    activity_type: str
    planned_at: datetime
    place: str
    outcome: bool


def remind_of_outreach(due: OutreachDue, now: datetime) -> Notification:
    """Into the inbox of the worker who does the activity."""
    activity = due.activity_type.replace("_", " ")
    where = f" at {due.place}" if due.place else ""
    when = due.planned_at.isoformat()
    if due.outcome:
        kind = "outreach_outcome_due"
        title = f"How did your {activity} go?"
        body = (
            f"Your {activity}{where} planned for {when} has taken place. Please record its "
            f"outcome (outreach {due.outreach_id})."
        )
        reason = "planned outreach took place; outcome not recorded"
    else:
        kind = "outreach_reminder"
        title = f"Reminder: {activity} on {when}"
        body = f"You planned {activity}{where} for {when} (outreach {due.outreach_id})."
        reason = "planned outreach coming up"
    return Notification(
        notification_id=notification_id(due.event_id, due.worker_id),
        organisation=due.organisation,
        worker_id=due.worker_id,
        kind=kind,
        title=title,
        body=body,
        client_id="",
        referral_id="",
        centre_id=due.centre_id,
        routing_reason=reason,
        created_at=now,
        subject_kind="outreach",
        subject_id=due.outreach_id,
    )


@dataclass(frozen=True)
class TaskNews:
    """A project task was assigned to a worker, or became overdue (intake's events)."""

    event_id: str
    organisation: str
    project_id: str
    project_name: str
    centre_id: str
    task_id: str
    title: str
    assignee_id: str
    due_at: datetime
    assigned_by: str
    overdue: bool


def tell_assignee(news: TaskNews, now: datetime) -> Notification | None:
    """Into the assignee's inbox; nobody is told of a task they gave themselves."""
    if not news.overdue and news.assigned_by == news.assignee_id:
        return None
    due = news.due_at.isoformat()
    if news.overdue:
        kind = "task_overdue"
        title = f"Overdue task: {news.title}"
        body = f"Your task “{news.title}” in project {news.project_name} was due {due}."
        reason = "assignee of an overdue task"
    else:
        kind = "task_assigned"
        title = f"New task: {news.title}"
        body = (
            f"{news.assigned_by} gave you the task “{news.title}” in project "
            f"{news.project_name}, due {due}."
        )
        reason = "assignee of the task"
    return Notification(
        notification_id=notification_id(news.event_id, news.assignee_id),
        organisation=news.organisation,
        worker_id=news.assignee_id,
        kind=kind,
        title=title,
        body=body,
        client_id="",
        referral_id="",
        centre_id=news.centre_id,
        routing_reason=f"{reason} (project {news.project_id}, task {news.task_id})",
        created_at=now,
        subject_kind="task",
        subject_id=news.task_id,
    )


# ------------------------------------------------------------------ clients' proposals


@dataclass(frozen=True)
class MatchProposed:
    """A referral matched an existing card: a proposal for the card's own workers
    (clients.match.proposed.v1)."""

    event_id: str
    organisation: str
    proposal_id: str
    client_id: str
    referral_id: str
    display_name: str
    centre_ids: tuple[str, ...]
    referring_centre_id: str
    client_type: str
    problem_type: str
    tell_referring_centre: bool


def tell_of_match_proposal(
    proposed: MatchProposed, recipients: list[tuple[Recipient, str]], now: datetime
) -> list[Notification]:
    """Into the inboxes of workers of the card's own centres (``recipients``: each with
    the card's centre they serve). Only ids those workers may see: the card's and the
    proposal's (which carries the referral)."""
    return [
        Notification(
            notification_id=notification_id(proposed.event_id, recipient.worker_id),
            organisation=proposed.organisation,
            worker_id=recipient.worker_id,
            kind="match_proposed",
            title=f"Is this your client? {proposed.display_name}",
            body=(
                f"A referral ({proposed.client_type}, {proposed.problem_type}) matches the "
                f"card of {proposed.display_name}. It changed nothing on the card: confirm it, "
                "choosing which of its contact details to trust, or reject it "
                f"(match proposal {proposed.proposal_id})."
            ),
            client_id=proposed.client_id,
            referral_id=proposed.referral_id,
            centre_id=centre_id,
            routing_reason=recipient.reason,
            created_at=now,
            subject_kind="match_proposal",
            subject_id=proposed.proposal_id,
        )
        for recipient, centre_id in recipients
    ]


def tell_known_elsewhere(
    proposed: MatchProposed, recipients: list[Recipient], now: datetime
) -> list[Notification]:
    """Where the organisation allows it: the referring centre's workers learn that the
    person is a client of another centre, which decides; never which card."""
    return [
        Notification(
            notification_id=notification_id(f"{proposed.event_id}:elsewhere", r.worker_id),
            organisation=proposed.organisation,
            worker_id=r.worker_id,
            kind="referral_known_elsewhere",
            title="Referral handled by another centre",
            body=(
                "The person of this referral is already a client of another centre of the "
                "organisation; that centre decides how to go on."
            ),
            client_id="",
            referral_id=proposed.referral_id,
            centre_id=proposed.referring_centre_id,
            routing_reason=r.reason,
            created_at=now,
            subject_kind="referral",
            subject_id=proposed.referral_id,
        )
        for r in recipients
    ]


@dataclass(frozen=True)
class SharingRequested:
    """A worker of another centre registered (or renamed a card into) a client of these
    centres, without learning it (clients.sharing.requested.v1)."""

    event_id: str
    organisation: str
    request_id: str
    client_id: str
    centre_ids: tuple[str, ...]


def tell_manager_of_sharing_request(
    requested: SharingRequested, managers: list[tuple[str, str]], now: datetime
) -> list[Notification]:
    """Into the inbox of the manager of each of the card's centres (``managers``:
    worker id and centre)."""
    return [
        Notification(
            notification_id=notification_id(requested.event_id, manager),
            organisation=requested.organisation,
            worker_id=manager,
            kind="sharing_requested",
            title="Another centre may have registered your client",
            body=(
                f"A worker of another centre registered a person with the names and date of "
                f"birth of your client {requested.client_id}. Merge the cards or keep them "
                f"apart (sharing request {requested.request_id})."
            ),
            client_id=requested.client_id,
            referral_id="",
            centre_id=centre_id,
            routing_reason=f"manager of {centre_id}",
            created_at=now,
            subject_kind="sharing_request",
            subject_id=requested.request_id,
        )
        for manager, centre_id in managers
    ]


# ------------------------------------------------------------------------ plans


@dataclass(frozen=True)
class PlanNews:
    """What plans tells notify about an individual plan: a monitoring contact or a
    review due or missed, a decision requested or made, a discrepancy found."""

    event_id: str
    organisation: str
    what: str  # monitoring_due, monitoring_missed, review_due, review_overdue,
    # decision_requested, decision_made, discrepancy
    plan_id: str
    client_id: str
    worker_id: str
    centre_ids: tuple[str, ...]
    due_on: str = ""
    service_code: str = ""
    requested_by: str = ""
    approved: bool = False
    decided_by: str = ""
    overspend: bool = False
    discrepancy_id: str = ""
    discrepancy_kind: str = ""
    period: str = ""
    planned: int = 0
    delivered: int = 0


_PLAN_TEXTS = {
    "monitoring_due": ("plan_monitoring_due", "normal", False, "Monitoring contact due {due_on}"),
    "monitoring_missed": (
        "plan_monitoring_missed",
        "high",
        True,
        "Monitoring contact missed ({due_on})",
    ),
    "review_due": ("plan_review_due", "normal", False, "Plan review due {due_on}"),
    "review_overdue": ("plan_review_overdue", "high", True, "Plan review overdue (since {due_on})"),
    "decision_requested": (
        "plan_decision_requested",
        "high",
        True,
        "Decision requested: {service_code}{overspend}",
    ),
    "decision_made": (
        "plan_decision_made",
        "normal",
        False,
        "Decision on {service_code}: {verdict}",
    ),
    "discrepancy": (
        "plan_discrepancy",
        "high",
        False,
        "Delivered differs from planned: {service_code} ({discrepancy_kind})",
    ),
}


def tell_of_plan_news(news: PlanNews, recipients: list[str], now: datetime) -> list[Notification]:
    """Into the inboxes of `recipients` (the responsible worker; for a decision
    requested, the managers of the plan's centres), linked to the plan and the client."""
    kind, priority, needs_action, title = _PLAN_TEXTS[news.what]
    values = {
        "due_on": news.due_on,
        "service_code": news.service_code,
        "overspend": " (beyond its budget line)" if news.overspend else "",
        "verdict": "approved" if news.approved else "refused",
        "discrepancy_kind": news.discrepancy_kind,
    }
    body = {
        "decision_requested": f"{news.requested_by} asks to decide the service "
        f"{news.service_code} of plan {news.plan_id}.",
        "decision_made": f"{news.decided_by} decided the service {news.service_code} of "
        f"plan {news.plan_id}.",
        "discrepancy": f"Plan {news.plan_id}, {news.service_code}, {news.period}: planned "
        f"{news.planned}, delivered {news.delivered}.",
    }.get(news.what, f"Plan {news.plan_id} of client {news.client_id}.")
    # One per event and recipient; a discrepancy once per finding whatever the event.
    key = f"plans-discrepancy-{news.discrepancy_id}" if news.discrepancy_id else news.event_id
    return [
        Notification(
            notification_id=notification_id(key, worker),
            organisation=news.organisation,
            worker_id=worker,
            kind=kind,
            title=title.format(**values),
            body=body,
            client_id=news.client_id,
            referral_id="",
            centre_id=news.centre_ids[0] if news.centre_ids else "",
            routing_reason=(
                "manager of the plan's centre"
                if news.what == "decision_requested"
                else "responsible worker of the plan"
            ),
            created_at=now,
            subject_kind="plan",
            subject_id=news.plan_id,
            priority=priority,
            needs_action=needs_action,
        )
        for worker in dict.fromkeys(recipients)
        if worker
    ]


# --------------------------------------------------------------------- feedback


def plain_notification(
    *,
    event_id: str,
    organisation: str,
    worker_id: str,
    kind: str,
    title: str,
    body: str,
    centre_id: str,
    links: tuple[Link, ...],
    reason: str,
    now: datetime,
    priority: str = "",
    needs_action: bool = False,
) -> Notification:
    """A notification about another service's record (its links say which), one per
    event and worker."""
    subject = links[0] if links else Link("", "")
    return Notification(
        notification_id=notification_id(event_id, worker_id),
        organisation=organisation,
        worker_id=worker_id,
        kind=kind,
        title=title,
        body=body,
        client_id=next((lk.id for lk in links if lk.kind == "client"), ""),
        referral_id="",
        centre_id=centre_id,
        routing_reason=reason,
        created_at=now,
        subject_kind=subject.kind,
        subject_id=subject.id,
        priority=priority,
        links=links,
        needs_action=needs_action,
    )
