"""What notify reads from feedback's events: complaints and plan reviews for the
inbox, follow-up calls as reminders, a complaint's answer and a later survey for the
client."""

from __future__ import annotations

from typing import Any

from casework.feedback.v1 import events_pb2 as feedback_events
from casework_common import contracts
from casework_common.envelope import EventEnvelope
from casework_common.organisation import Organisation
from casework_common.storage import now as clock_now
from casework_notify.domain import reminders as reminder_rules
from casework_notify.domain.inbox import Link, plain_notification
from casework_notify.domain.outreach import ComplaintAnswer, SurveyOffer
from casework_notify.entrypoints.payloads import required


def complaint_answer(envelope: EventEnvelope) -> ComplaintAnswer:
    """feedback.complaint.answered.v1."""
    answered = contracts.read(envelope, feedback_events.ComplaintAnswered)
    return ComplaintAnswer(
        organisation=envelope.organisation,
        complaint_id=required("complaint_id", answered.complaint_id),
        centre_id=answered.centre_id,
        entry_id=required("entry_id", answered.entry_id),
        reply_to=answered.reply_to,
        answer_text=required("answer_text", answered.answer_text),
    )


def survey_offer(envelope: EventEnvelope) -> SurveyOffer:
    """feedback.survey.later_issued.v1."""
    issued = contracts.read(envelope, feedback_events.LaterSurveyIssued)
    return SurveyOffer(
        organisation=envelope.organisation,
        visit_id=required("visit_id", issued.visit_id),
        centre_id=issued.centre_id,
        client_id=required("client_id", issued.client_id),
        link=required("link", issued.link),
        expires_at=contracts.instant(issued, "expires_at"),
        issued_at=contracts.instant(issued, "issued_at"),
    )


def follow_up_call(envelope: EventEnvelope) -> reminder_rules.Reminder:
    """feedback.call.scheduled.v1: the reminder to keep; .cancelled.v1: the same
    reminder, cancelled (kept as the word that the call is off when it arrives first)."""
    if envelope.type == "feedback.call.cancelled":
        cancelled = contracts.read(envelope, feedback_events.FollowUpCallCancelled)
        key = f"call-{required('call_id', cancelled.call_id)}"
        return reminder_rules.Reminder(
            reminder_id=reminder_rules.reminder_id("feedback", key),
            organisation=envelope.organisation,
            owner="feedback",
            key=key,
            worker_id=required("assignee_id", cancelled.assignee_id),
            due_at=clock_now(),
            kind="follow_up_call_due",
            title="Follow-up call cancelled",
            body=f"Follow-up call {cancelled.call_id} is off ({cancelled.reason or 'cancelled'}).",
            centre_id=cancelled.centre_id,
            state=reminder_rules.CANCELLED,
            scheduled_at=clock_now(),
        )
    call = contracts.read(envelope, feedback_events.FollowUpCallScheduled)
    key = f"call-{required('call_id', call.call_id)}"
    links = tuple(
        link
        for link in (Link("follow_up_call", call.call_id), Link("client", call.client_id))
        if link.id
    )
    return reminder_rules.Reminder(
        reminder_id=reminder_rules.reminder_id("feedback", key),
        organisation=envelope.organisation,
        owner="feedback",
        key=key,
        worker_id=required("assignee_id", call.assignee_id),
        due_at=contracts.instant(call, "due_at"),
        kind="follow_up_call_due",
        title=f"Follow-up call due ({call.kind.replace('_', ' ')})",
        body=f"Call the client {call.client_id} (follow-up call {call.call_id}).",
        centre_id=call.centre_id,
        links=links,
        scheduled_at=clock_now(),
    )


_COMPLAINT_NEWS = {
    "feedback.complaint.received": (
        feedback_events.ComplaintReceived,
        "complaint_received",
        "high",
        "New {kind} for {centre}",
    ),
    "feedback.complaint.deadline_approaching": (
        feedback_events.ComplaintDeadlineApproaching,
        "complaint_deadline_approaching",
        "high",
        "Complaint answer due {due}",
    ),
    "feedback.complaint.deadline_missed": (
        feedback_events.ComplaintDeadlineMissed,
        "complaint_deadline_missed",
        "urgent",
        "Complaint unanswered past {due}",
    ),
}


def feedback_notification(envelope: EventEnvelope, organisation: Organisation, now: Any) -> Any:
    if envelope.type == "feedback.plan_review.requested":
        asked = contracts.read(envelope, feedback_events.PlanReviewRequested)
        centre = organisation.centre(asked.centre_id)
        worker = asked.worker_id or (centre.duty_worker if centre else "")
        return plain_notification(
            event_id=envelope.id,
            organisation=envelope.organisation,
            worker_id=required("worker_id", worker),
            kind="plan_review_requested",
            title="Feedback asks you to review a client's plan",
            body=(
                f"A {asked.source} about client {asked.client_id} asks for a look at their "
                "plan. A signal to look, not a verdict."
            ),
            centre_id=asked.centre_id,
            links=tuple(
                lk
                for lk in (Link("client", asked.client_id), Link(asked.source, asked.source_id))
                if lk.id and lk.kind
            ),
            reason="worker who served the client" if asked.worker_id else "duty worker",
            now=now,
        )
    message_type, kind, priority, title = _COMPLAINT_NEWS[envelope.type]
    news: Any = contracts.read(envelope, message_type)
    due = contracts.instant(news, "answer_due").date().isoformat()
    return plain_notification(
        event_id=envelope.id,
        organisation=envelope.organisation,
        worker_id=required("manager_id", news.manager_id),
        kind=kind,
        title=title.format(kind=getattr(news, "kind", "complaint"), centre=news.centre_id, due=due),
        body=f"Complaint {news.complaint_id} of {news.centre_id}, to be answered by {due}.",
        centre_id=news.centre_id,
        links=(Link("complaint", required("complaint_id", news.complaint_id)),),
        reason="manager of the centre",
        now=now,
        # feedback raises the deadline events itself: no escalation of notify's on top.
        priority=priority,
    )
