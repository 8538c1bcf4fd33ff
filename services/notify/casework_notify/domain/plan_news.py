"""What plans tells notify about an individual plan becomes in inboxes: monitoring and
reviews due or missed, decisions asked for and made, discrepancies between planned and
delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casework_notify.domain.inbox import Notification, notification_id


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
