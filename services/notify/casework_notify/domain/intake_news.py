"""What intake's timers report becomes in inboxes: an overdue referral for the
centre's manager, an outreach reminder or outcome request for its worker, a task
assigned or overdue for its assignee."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casework_notify.domain.inbox import Notification, notification_id


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
