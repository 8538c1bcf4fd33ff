"""Intake's gRPC messages to commands and domain objects, and back: the translation
the servicer does, and nothing else."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from google.protobuf import struct_pb2

from casework.intake.v1 import intake_pb2
from casework_common.messages import enum_codes, moment, same_fields, timestamp
from casework_common.routing import Rule
from casework_intake.domain import form_codec
from casework_intake.domain.consultations import Consultation, RecordConsultation
from casework_intake.domain.forms import FormDefinition
from casework_intake.domain.outreach import (
    ActivityType,
    Outreach,
    OutreachStatus,
    PlanOutreach,
)
from casework_intake.domain.projects import Comment, Project, Task, TaskStatus
from casework_intake.domain.referrals import Channel, Referral, SubmitReferral
from casework_intake.domain.routing_rules import RuleSet

SELF_FILL_PATH = "/public/v1/self-fill/"

CHANNELS = enum_codes(intake_pb2.Channel, Channel)
CHANNEL_CODES = {channel: code for code, channel in CHANNELS.items()}
_ACTIVITY_TYPES = enum_codes(intake_pb2.OutreachActivityType, ActivityType)
_ACTIVITY_TYPE_CODES = {kind: code for code, kind in _ACTIVITY_TYPES.items()}
OUTREACH_STATUSES = enum_codes(intake_pb2.OutreachStatus, OutreachStatus)
_OUTREACH_STATUS_CODES = {status: code for code, status in OUTREACH_STATUSES.items()}
_TASK_STATUS_CODES = {
    status: code for code, status in enum_codes(intake_pb2.TaskStatus, TaskStatus).items()
}


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(data))
    return message


def _person_and_contact(
    request: intake_pb2.SubmitReferralRequest | intake_pb2.RecordConsultationRequest,
) -> dict[str, Any]:
    """The person and the ways to reach them, as a referral and a consultation are
    both asked for them."""
    return {
        "given_name": request.person.given_name,
        "family_name": request.person.family_name,
        "date_of_birth": request.person.date_of_birth,
        "phone": request.contact.phone,
        "email": request.contact.email,
    }


def _person(given_name: str, family_name: str, born: date | None) -> intake_pb2.Person:
    return intake_pb2.Person(
        given_name=given_name,
        family_name=family_name,
        date_of_birth=born.isoformat() if born else "",
    )


def to_command(request: intake_pb2.SubmitReferralRequest) -> SubmitReferral:
    return SubmitReferral(
        idempotency_key=request.idempotency_key,
        **_person_and_contact(request),
        address=request.contact.address,
        region_id=request.region_id,
        centre_id=request.centre_id,
        client_type=request.client_type,
        problem_type=request.problem_type,
        channel=CHANNELS.get(request.channel),
        free_text=request.free_text,
    )


def to_message(referral: Referral) -> intake_pb2.Referral:
    message = intake_pb2.Referral(
        **same_fields(
            referral,
            "referral_id reference_number region_id centre_id client_type problem_type free_text"
            " idempotency_key submitted_by acknowledged_by first_contact_by",
        ),
        person=_person(referral.given_name, referral.family_name, referral.date_of_birth),
        contact=intake_pb2.Contact(
            phone=referral.phone, email=referral.email, address=referral.address
        ),
        channel=CHANNEL_CODES[referral.channel],
        submitted_at=timestamp(referral.submitted_at),
        first_response_due_at=timestamp(referral.first_response_due_at),
        acknowledged_at=timestamp(referral.acknowledged_at),
        first_contact_at=timestamp(referral.first_contact_at),
        escalated_at=timestamp(referral.escalated_at),
    )
    if referral.first_contact_channel is not None:
        message.first_contact_channel = CHANNEL_CODES[referral.first_contact_channel]
    return message


def to_consultation_command(request: intake_pb2.RecordConsultationRequest) -> RecordConsultation:
    return RecordConsultation(
        idempotency_key=request.idempotency_key,
        **_person_and_contact(request),
        topic=request.topic,
        duration_minutes=request.duration_minutes,
        worker_id=request.worker_id,
        channel=CHANNELS.get(request.channel),
        centre_id=request.centre_id,
        notes=request.notes,
    )


def consultation_message(c: Consultation) -> intake_pb2.Consultation:
    return intake_pb2.Consultation(
        **same_fields(
            c,
            "consultation_id topic duration_minutes worker_id centre_id notes idempotency_key",
        ),
        person=_person(c.given_name, c.family_name, c.date_of_birth),
        contact=intake_pb2.Contact(phone=c.phone, email=c.email),
        channel=CHANNEL_CODES[c.channel],
        recorded_at=timestamp(c.recorded_at),
    )


def to_rule(message: intake_pb2.RoutingRule) -> Rule:
    return Rule(
        id=message.id,
        priority=message.priority,
        regions=tuple(message.regions),
        centres=tuple(message.centres),
        client_types=tuple(message.client_types),
        problem_types=tuple(message.problem_types),
        workers=tuple(message.workers),
    )


def rule_set_message(rule_set: RuleSet) -> intake_pb2.RoutingRuleSet:
    return intake_pb2.RoutingRuleSet(
        **same_fields(rule_set, "version fallback saved_by published_by"),
        rules=[
            intake_pb2.RoutingRule(
                **same_fields(r, "id priority regions centres client_types problem_types workers"),
            )
            for r in rule_set.rules
        ],
        saved_at=timestamp(rule_set.saved_at),
        published_at=timestamp(rule_set.published_at),
    )


def form_message(defn: FormDefinition, by: str, at: datetime) -> intake_pb2.FormVersion:
    return intake_pb2.FormVersion(
        **same_fields(defn, "form_id version title"),
        definition_json=json.dumps(form_codec.definition_to_dict(defn), ensure_ascii=False),
        published_by=by,
        published_at=timestamp(at),
    )


def answers_message(record: Mapping[str, Any]) -> intake_pb2.FormAnswers:
    return intake_pb2.FormAnswers(
        answers_id=record["id"],
        referral_id=record["referral_id"],
        form_id=record["form_id"],
        form_version=record["form_version"],
        answers=_struct(record["answers"]),
        verdicts=[
            intake_pb2.EligibilityVerdict(
                programme_id=v["programme_id"],
                eligible=bool(v["eligible"]),
                reason=v["reason"],
                deciding_question_ids=list(v["deciding_question_ids"]),
            )
            for v in record["verdicts"]
        ],
        submitted_by=record["submitted_by"],
        submitted_at=timestamp(record["submitted_at"]),
    )


def to_plan_command(request: intake_pb2.PlanOutreachRequest) -> PlanOutreach:
    return PlanOutreach(
        worker_id=request.worker_id,
        centre_id=request.centre_id,
        activity_type=_ACTIVITY_TYPES.get(request.activity_type),
        planned_at=moment(request, "planned_at"),
        place=request.place,
        description=request.description,
        idempotency_key=request.idempotency_key,
    )


def outreach_message(o: Outreach) -> intake_pb2.Outreach:
    return intake_pb2.Outreach(
        **same_fields(
            o,
            "outreach_id worker_id centre_id place description planned_by outcome_recorded_by"
            " cancelled_by",
        ),
        activity_type=_ACTIVITY_TYPE_CODES[o.activity_type],
        planned_at=timestamp(o.planned_at),
        status=_OUTREACH_STATUS_CODES[o.status],
        remind_at=timestamp(o.remind_at),
        reminded_at=timestamp(o.reminded_at),
        outcome_requested_at=timestamp(o.outcome_requested_at),
        outcome=o.outcome.text if o.outcome else "",
        people_reached=o.outcome.people_reached if o.outcome else 0,
        contacts_made=o.outcome.contacts_made if o.outcome else 0,
        client_ids=list(o.outcome.client_ids) if o.outcome else [],
        outcome_recorded_at=timestamp(o.outcome_recorded_at),
        cancelled_at=timestamp(o.cancelled_at),
    )


def comment_message(c: Comment) -> intake_pb2.TaskComment:
    return intake_pb2.TaskComment(
        **same_fields(c, "comment_id author_id text"),
        created_at=timestamp(c.created_at),
    )


def task_message(t: Task) -> intake_pb2.Task:
    return intake_pb2.Task(
        **same_fields(t, "task_id title assignee_id created_by completed_by"),
        due_at=timestamp(t.due_at),
        status=_TASK_STATUS_CODES[t.status],
        created_at=timestamp(t.created_at),
        completed_at=timestamp(t.completed_at),
        overdue_notified_at=timestamp(t.overdue_notified_at),
        comments=[comment_message(c) for c in t.comments],
    )


def project_message(p: Project) -> intake_pb2.Project:
    return intake_pb2.Project(
        **same_fields(p, "project_id centre_id name description created_by"),
        members=list(p.members),
        created_at=timestamp(p.created_at),
        tasks=[task_message(t) for t in p.tasks],
    )
