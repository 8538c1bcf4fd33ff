"""gRPC entry point of intake: translates messages to commands and back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import grpc
from google.protobuf import struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework_common import safe_json
from casework_common.messages import guard_requests, moment, plain_struct
from casework_common.paging import next_token, page_window
from casework_common.routing import Case, Rule
from casework_common.unit_of_work import current_unit_of_work
from casework_intake import services
from casework_intake.bootstrap import Intake, bootstrap
from casework_intake.domain import form_codec
from casework_intake.domain.consultations import Consultation, RecordConsultation
from casework_intake.domain.forms import FormDefinition
from casework_intake.domain.outreach import (
    ActivityType,
    Outcome,
    Outreach,
    OutreachStatus,
    PlanOutreach,
)
from casework_intake.domain.projects import Comment, CreateProject, Project, Task, TaskStatus
from casework_intake.domain.referrals import Channel, Referral, SubmitReferral
from casework_intake.domain.routing_rules import RuleSet
from casework_intake.use_cases import queries

SELF_FILL_PATH = "/public/v1/self-fill/"

_CHANNELS = {
    intake_pb2.CHANNEL_PHONE: Channel.PHONE,
    intake_pb2.CHANNEL_EMAIL: Channel.EMAIL,
    intake_pb2.CHANNEL_WEB_FORM: Channel.WEB_FORM,
    intake_pb2.CHANNEL_PARTNER_REFERRAL: Channel.PARTNER_REFERRAL,
    intake_pb2.CHANNEL_CLIENT_REFERRAL: Channel.CLIENT_REFERRAL,
    intake_pb2.CHANNEL_GROUP_EVENT: Channel.GROUP_EVENT,
    intake_pb2.CHANNEL_OUTREACH: Channel.OUTREACH,
}
_CHANNEL_CODES = {channel: code for code, channel in _CHANNELS.items()}
_ACTIVITY_TYPES = {
    intake_pb2.OUTREACH_ACTIVITY_TYPE_FIELD_WORK: ActivityType.FIELD_WORK,
    intake_pb2.OUTREACH_ACTIVITY_TYPE_GROUP_EVENT: ActivityType.GROUP_EVENT,
    intake_pb2.OUTREACH_ACTIVITY_TYPE_NEWSLETTER: ActivityType.NEWSLETTER,
    intake_pb2.OUTREACH_ACTIVITY_TYPE_OTHER: ActivityType.OTHER,
}
_ACTIVITY_TYPE_CODES = {kind: code for code, kind in _ACTIVITY_TYPES.items()}
_OUTREACH_STATUSES = {
    intake_pb2.OUTREACH_STATUS_PLANNED: OutreachStatus.PLANNED,
    intake_pb2.OUTREACH_STATUS_DONE: OutreachStatus.DONE,
    intake_pb2.OUTREACH_STATUS_CANCELLED: OutreachStatus.CANCELLED,
}
_OUTREACH_STATUS_CODES = {status: code for code, status in _OUTREACH_STATUSES.items()}
_TASK_STATUS_CODES = {
    TaskStatus.OPEN: intake_pb2.TASK_STATUS_OPEN,
    TaskStatus.DONE: intake_pb2.TASK_STATUS_DONE,
}


def _timestamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(data))
    return message


def to_command(request: intake_pb2.SubmitReferralRequest) -> SubmitReferral:
    return SubmitReferral(
        idempotency_key=request.idempotency_key,
        given_name=request.person.given_name,
        family_name=request.person.family_name,
        date_of_birth=request.person.date_of_birth,
        phone=request.contact.phone,
        email=request.contact.email,
        address=request.contact.address,
        region_id=request.region_id,
        centre_id=request.centre_id,
        client_type=request.client_type,
        problem_type=request.problem_type,
        channel=_CHANNELS.get(request.channel),
        free_text=request.free_text,
    )


def to_message(referral: Referral) -> intake_pb2.Referral:
    message = intake_pb2.Referral(
        referral_id=referral.referral_id,
        reference_number=referral.reference_number,
        person=intake_pb2.Person(
            given_name=referral.given_name,
            family_name=referral.family_name,
            date_of_birth=referral.date_of_birth.isoformat(),
        ),
        contact=intake_pb2.Contact(
            phone=referral.phone, email=referral.email, address=referral.address
        ),
        region_id=referral.region_id,
        centre_id=referral.centre_id,
        client_type=referral.client_type,
        problem_type=referral.problem_type,
        channel=_CHANNEL_CODES[referral.channel],
        free_text=referral.free_text,
        idempotency_key=referral.idempotency_key,
        submitted_by=referral.submitted_by,
        submitted_at=_timestamp(referral.submitted_at),
        first_response_due_at=_timestamp(referral.first_response_due_at),
        acknowledged_at=_timestamp(referral.acknowledged_at),
        acknowledged_by=referral.acknowledged_by,
        first_contact_at=_timestamp(referral.first_contact_at),
        first_contact_by=referral.first_contact_by,
        escalated_at=_timestamp(referral.escalated_at),
    )
    if referral.first_contact_channel is not None:
        message.first_contact_channel = _CHANNEL_CODES[referral.first_contact_channel]
    return message


def to_consultation_command(request: intake_pb2.RecordConsultationRequest) -> RecordConsultation:
    return RecordConsultation(
        idempotency_key=request.idempotency_key,
        given_name=request.person.given_name,
        family_name=request.person.family_name,
        date_of_birth=request.person.date_of_birth,
        phone=request.contact.phone,
        email=request.contact.email,
        topic=request.topic,
        duration_minutes=request.duration_minutes,
        worker_id=request.worker_id,
        channel=_CHANNELS.get(request.channel),
        centre_id=request.centre_id,
        notes=request.notes,
    )


def consultation_message(c: Consultation) -> intake_pb2.Consultation:
    return intake_pb2.Consultation(
        consultation_id=c.consultation_id,
        person=intake_pb2.Person(
            given_name=c.given_name,
            family_name=c.family_name,
            date_of_birth=c.date_of_birth.isoformat() if c.date_of_birth else "",
        ),
        contact=intake_pb2.Contact(phone=c.phone, email=c.email),
        topic=c.topic,
        duration_minutes=c.duration_minutes,
        worker_id=c.worker_id,
        channel=_CHANNEL_CODES[c.channel],
        centre_id=c.centre_id,
        notes=c.notes,
        recorded_at=_timestamp(c.recorded_at),
        idempotency_key=c.idempotency_key,
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
        version=rule_set.version,
        rules=[
            intake_pb2.RoutingRule(
                id=r.id,
                priority=r.priority,
                regions=r.regions,
                centres=r.centres,
                client_types=r.client_types,
                problem_types=r.problem_types,
                workers=r.workers,
            )
            for r in rule_set.rules
        ],
        fallback=rule_set.fallback,
        saved_by=rule_set.saved_by,
        saved_at=_timestamp(rule_set.saved_at),
        published_at=_timestamp(rule_set.published_at),
        published_by=rule_set.published_by,
    )


def form_message(defn: FormDefinition, by: str, at: datetime) -> intake_pb2.FormVersion:
    return intake_pb2.FormVersion(
        form_id=defn.form_id,
        version=defn.version,
        title=defn.title,
        definition_json=json.dumps(form_codec.definition_to_dict(defn), ensure_ascii=False),
        published_by=by,
        published_at=_timestamp(at),
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
        submitted_at=_timestamp(record["submitted_at"]),
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
        outreach_id=o.outreach_id,
        worker_id=o.worker_id,
        centre_id=o.centre_id,
        activity_type=_ACTIVITY_TYPE_CODES[o.activity_type],
        planned_at=_timestamp(o.planned_at),
        place=o.place,
        description=o.description,
        planned_by=o.planned_by,
        status=_OUTREACH_STATUS_CODES[o.status],
        remind_at=_timestamp(o.remind_at),
        reminded_at=_timestamp(o.reminded_at),
        outcome_requested_at=_timestamp(o.outcome_requested_at),
        outcome=o.outcome.text if o.outcome else "",
        people_reached=o.outcome.people_reached if o.outcome else 0,
        contacts_made=o.outcome.contacts_made if o.outcome else 0,
        outcome_recorded_at=_timestamp(o.outcome_recorded_at),
        outcome_recorded_by=o.outcome_recorded_by,
        cancelled_at=_timestamp(o.cancelled_at),
        cancelled_by=o.cancelled_by,
    )


def comment_message(c: Comment) -> intake_pb2.TaskComment:
    return intake_pb2.TaskComment(
        comment_id=c.comment_id,
        author_id=c.author_id,
        text=c.text,
        created_at=_timestamp(c.created_at),
    )


def task_message(t: Task) -> intake_pb2.Task:
    return intake_pb2.Task(
        task_id=t.task_id,
        title=t.title,
        assignee_id=t.assignee_id,
        due_at=_timestamp(t.due_at),
        status=_TASK_STATUS_CODES[t.status],
        created_by=t.created_by,
        created_at=_timestamp(t.created_at),
        completed_at=_timestamp(t.completed_at),
        completed_by=t.completed_by,
        overdue_notified_at=_timestamp(t.overdue_notified_at),
        comments=[comment_message(c) for c in t.comments],
    )


def project_message(p: Project) -> intake_pb2.Project:
    return intake_pb2.Project(
        project_id=p.project_id,
        centre_id=p.centre_id,
        name=p.name,
        description=p.description,
        members=list(p.members),
        created_by=p.created_by,
        created_at=_timestamp(p.created_at),
        tasks=[task_message(t) for t in p.tasks],
    )


@guard_requests
class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    """Each call: request -> command -> use case in the call's unit of work (opened by
    the interceptor) -> response."""

    def __init__(self, intake: Intake) -> None:
        self._intake = intake

    # ------------------------------------------------------------ referrals

    def SubmitReferral(
        self, request: intake_pb2.SubmitReferralRequest, context: grpc.ServicerContext
    ) -> intake_pb2.SubmitReferralResponse:
        uow = current_unit_of_work()
        referral, replayed = services.submit_referral(
            to_command(request),
            uow,
            self._intake.organisation_of(uow),
            self._intake.referrals_for(uow),
            first_response_hours=self._intake.first_response_hours_of(uow.organisation),
        )
        return intake_pb2.SubmitReferralResponse(referral=to_message(referral), replayed=replayed)

    def GetReferral(
        self, request: intake_pb2.GetReferralRequest, context: grpc.ServicerContext
    ) -> intake_pb2.GetReferralResponse:
        uow = current_unit_of_work()
        referral = queries.get_referral(request.referral_id, self._intake.referrals_for(uow))
        return intake_pb2.GetReferralResponse(referral=to_message(referral))

    def AcknowledgeReferral(
        self, request: intake_pb2.AcknowledgeReferralRequest, context: grpc.ServicerContext
    ) -> intake_pb2.AcknowledgeReferralResponse:
        uow = current_unit_of_work()
        referral = services.acknowledge_referral(
            services.AcknowledgeReferral(request.referral_id), uow, self._intake.referrals_for(uow)
        )
        return intake_pb2.AcknowledgeReferralResponse(referral=to_message(referral))

    def RecordFirstContact(
        self, request: intake_pb2.RecordFirstContactRequest, context: grpc.ServicerContext
    ) -> intake_pb2.RecordFirstContactResponse:
        uow = current_unit_of_work()
        referral = services.record_first_contact(
            services.RecordFirstContact(
                request.referral_id, _CHANNELS.get(request.channel), request.note
            ),
            uow,
            self._intake.referrals_for(uow),
        )
        return intake_pb2.RecordFirstContactResponse(referral=to_message(referral))

    # -------------------------------------------------------- consultations

    def RecordConsultation(
        self, request: intake_pb2.RecordConsultationRequest, context: grpc.ServicerContext
    ) -> intake_pb2.RecordConsultationResponse:
        uow = current_unit_of_work()
        consultation, replayed = services.record_consultation(
            to_consultation_command(request),
            uow,
            self._intake.organisation_of(uow),
            self._intake.consultations_for(uow),
        )
        return intake_pb2.RecordConsultationResponse(
            consultation=consultation_message(consultation), replayed=replayed
        )

    def ListConsultations(
        self, request: intake_pb2.ListConsultationsRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListConsultationsResponse:
        uow = current_unit_of_work()
        offset, limit = page_window(request.page_size, request.page_token)
        page = queries.list_consultations(
            request.centre_id, queries.Page(offset, limit), uow, self._intake.consultations_for(uow)
        )
        return intake_pb2.ListConsultationsResponse(
            consultations=[consultation_message(c) for c in page],
            next_page_token=next_token(offset, limit, len(page)),
        )

    # -------------------------------------------------------- routing rules

    def SaveRoutingRules(
        self, request: intake_pb2.SaveRoutingRulesRequest, context: grpc.ServicerContext
    ) -> intake_pb2.SaveRoutingRulesResponse:
        uow = current_unit_of_work()
        rule_set = services.save_routing_rules(
            services.SaveRoutingRules(tuple(to_rule(r) for r in request.rules)),
            uow,
            self._intake.organisation_of(uow),
            self._intake.routing_rules_of(uow),
        )
        return intake_pb2.SaveRoutingRulesResponse(rule_set=rule_set_message(rule_set))

    def ListRoutingRuleSets(
        self, request: intake_pb2.ListRoutingRuleSetsRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListRoutingRuleSetsResponse:
        uow = current_unit_of_work()
        self._intake.organisation_of(uow)
        offset, limit = page_window(request.page_size, request.page_token)
        page, published = queries.list_routing_rule_sets(
            queries.Page(offset, limit), self._intake.routing_rules_of(uow)
        )
        return intake_pb2.ListRoutingRuleSetsResponse(
            rule_sets=[rule_set_message(r) for r in page],
            next_page_token=next_token(offset, limit, len(page)),
            published_version=published.version if published else 0,
        )

    def PublishRoutingRules(
        self, request: intake_pb2.PublishRoutingRulesRequest, context: grpc.ServicerContext
    ) -> intake_pb2.PublishRoutingRulesResponse:
        uow = current_unit_of_work()
        rule_set = services.publish_routing_rules(
            services.PublishRoutingRules(request.version),
            uow,
            self._intake.organisation_of(uow),
            self._intake.routing_rules_of(uow),
        )
        return intake_pb2.PublishRoutingRulesResponse(rule_set=rule_set_message(rule_set))

    def DryRunRouting(
        self, request: intake_pb2.DryRunRoutingRequest, context: grpc.ServicerContext
    ) -> intake_pb2.DryRunRoutingResponse:
        uow = current_unit_of_work()
        version, result = services.dry_run_routing(
            services.DryRunRouting(
                request.version,
                Case(request.centre_id, request.client_type, request.problem_type),
            ),
            self._intake.organisation_of(uow),
            self._intake.routing_rules_of(uow),
        )
        return intake_pb2.DryRunRoutingResponse(
            version=version,
            recipients=[
                intake_pb2.RoutingRecipient(worker_id=r.worker_id, reason=r.reason)
                for r in result.recipients
            ],
            matching_rule_ids=list(result.matching_rule_ids),
        )

    # ---------------------------------------------------------------- forms

    def PublishForm(
        self, request: intake_pb2.PublishFormRequest, context: grpc.ServicerContext
    ) -> intake_pb2.PublishFormResponse:
        uow = current_unit_of_work()
        definition = safe_json.loads(request.definition_json or "null", field="definition_json")
        published = services.publish_form(
            services.PublishForm(request.form_id, definition), uow, self._intake.forms_for(uow)
        )
        return intake_pb2.PublishFormResponse(
            form=form_message(published, uow.principal.subject, uow.now)
        )

    def GetForm(
        self, request: intake_pb2.GetFormRequest, context: grpc.ServicerContext
    ) -> intake_pb2.GetFormResponse:
        uow = current_unit_of_work()
        defn, meta = services.get_form(
            request.form_id, request.version, uow, self._intake.forms_for(uow)
        )
        return intake_pb2.GetFormResponse(
            form=form_message(defn, meta["published_by"], meta["published_at"])
        )

    def SubmitFormAnswers(
        self, request: intake_pb2.SubmitFormAnswersRequest, context: grpc.ServicerContext
    ) -> intake_pb2.SubmitFormAnswersResponse:
        uow = current_unit_of_work()
        record = services.submit_form_answers(
            services.SubmitFormAnswers(
                request.referral_id,
                request.form_id,
                request.form_version,
                plain_struct(request.answers, field="answers"),
            ),
            uow,
            self._intake.referrals_for(uow),
            self._intake.forms_for(uow),
        )
        return intake_pb2.SubmitFormAnswersResponse(form_answers=answers_message(record))

    def IssueSelfFillLink(
        self, request: intake_pb2.IssueSelfFillLinkRequest, context: grpc.ServicerContext
    ) -> intake_pb2.IssueSelfFillLinkResponse:
        uow = current_unit_of_work()
        token, expires_at, defn, question_ids = services.issue_self_fill_link(
            services.IssueSelfFillLink(
                request.referral_id,
                request.form_id,
                request.form_version,
                tuple(request.question_ids),
                request.valid_hours,
            ),
            uow,
            self._intake.referrals_for(uow),
            self._intake.forms_for(uow),
            secret=self._intake.self_fill_secret,
        )
        return intake_pb2.IssueSelfFillLinkResponse(
            token=token,
            path=f"{SELF_FILL_PATH}{token}",
            expires_at=_timestamp(expires_at),
            form_version=defn.version,
            question_ids=list(question_ids),
        )

    def ListFormAnswers(
        self, request: intake_pb2.ListFormAnswersRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListFormAnswersResponse:
        uow = current_unit_of_work()
        docs = queries.list_form_answers(
            request.referral_id, self._intake.referrals_for(uow), self._intake.forms_for(uow)
        )
        return intake_pb2.ListFormAnswersResponse(
            form_answers=[
                answers_message(doc.to_mongo().to_dict() | {"id": doc.id}) for doc in docs
            ]
        )

    # ------------------------------------------------------------- outreach

    def PlanOutreach(
        self, request: intake_pb2.PlanOutreachRequest, context: grpc.ServicerContext
    ) -> intake_pb2.PlanOutreachResponse:
        uow = current_unit_of_work()
        planned = services.plan_outreach(
            to_plan_command(request),
            uow,
            self._intake.organisation_of(uow),
            self._intake.outreach_for(uow),
            reminder_hours=self._intake.outreach_reminder_hours_of(uow.organisation),
        )
        return intake_pb2.PlanOutreachResponse(outreach=outreach_message(planned))

    def ListOutreach(
        self, request: intake_pb2.ListOutreachRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListOutreachResponse:
        uow = current_unit_of_work()
        offset, limit = page_window(request.page_size, request.page_token)
        page = queries.list_outreach(
            request.centre_id,
            request.worker_id,
            _OUTREACH_STATUSES.get(request.status),
            queries.Page(offset, limit),
            uow,
            self._intake.outreach_for(uow),
            status_unknown=bool(request.status) and request.status not in _OUTREACH_STATUSES,
        )
        return intake_pb2.ListOutreachResponse(
            outreach=[outreach_message(o) for o in page],
            next_page_token=next_token(offset, limit, len(page)),
        )

    def RecordOutreachOutcome(
        self, request: intake_pb2.RecordOutreachOutcomeRequest, context: grpc.ServicerContext
    ) -> intake_pb2.RecordOutreachOutcomeResponse:
        uow = current_unit_of_work()
        done = services.record_outreach_outcome(
            services.RecordOutreachOutcome(
                request.outreach_id,
                Outcome(request.outcome, request.people_reached, request.contacts_made),
            ),
            uow,
            self._intake.outreach_for(uow),
        )
        return intake_pb2.RecordOutreachOutcomeResponse(outreach=outreach_message(done))

    def CancelOutreach(
        self, request: intake_pb2.CancelOutreachRequest, context: grpc.ServicerContext
    ) -> intake_pb2.CancelOutreachResponse:
        uow = current_unit_of_work()
        cancelled = services.cancel_outreach(
            services.CancelOutreach(request.outreach_id), uow, self._intake.outreach_for(uow)
        )
        return intake_pb2.CancelOutreachResponse(outreach=outreach_message(cancelled))

    # ------------------------------------------------------------- projects

    def CreateProject(
        self, request: intake_pb2.CreateProjectRequest, context: grpc.ServicerContext
    ) -> intake_pb2.CreateProjectResponse:
        uow = current_unit_of_work()
        project = services.create_project(
            CreateProject(
                name=request.name,
                centre_id=request.centre_id,
                description=request.description,
                members=tuple(request.members),
                idempotency_key=request.idempotency_key,
            ),
            uow,
            self._intake.organisation_of(uow),
            self._intake.projects_for(uow),
        )
        return intake_pb2.CreateProjectResponse(project=project_message(project))

    def GetProject(
        self, request: intake_pb2.GetProjectRequest, context: grpc.ServicerContext
    ) -> intake_pb2.GetProjectResponse:
        uow = current_unit_of_work()
        project = queries.get_project(request.project_id, self._intake.projects_for(uow))
        return intake_pb2.GetProjectResponse(project=project_message(project))

    def ListProjects(
        self, request: intake_pb2.ListProjectsRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListProjectsResponse:
        uow = current_unit_of_work()
        offset, limit = page_window(request.page_size, request.page_token)
        page = queries.list_projects(
            request.centre_id, queries.Page(offset, limit), uow, self._intake.projects_for(uow)
        )
        return intake_pb2.ListProjectsResponse(
            projects=[project_message(p) for p in page],
            next_page_token=next_token(offset, limit, len(page)),
        )

    def AddTask(
        self, request: intake_pb2.AddTaskRequest, context: grpc.ServicerContext
    ) -> intake_pb2.AddTaskResponse:
        uow = current_unit_of_work()
        project, task = services.add_task(
            services.AddTask(
                request.project_id,
                request.title,
                request.assignee_id,
                moment(request, "due_at"),
                request.idempotency_key,
            ),
            uow,
            self._intake.projects_for(uow),
        )
        return intake_pb2.AddTaskResponse(project=project_message(project), task=task_message(task))

    def CompleteTask(
        self, request: intake_pb2.CompleteTaskRequest, context: grpc.ServicerContext
    ) -> intake_pb2.CompleteTaskResponse:
        uow = current_unit_of_work()
        project, task = services.complete_task(
            services.CompleteTask(request.project_id, request.task_id),
            uow,
            self._intake.projects_for(uow),
        )
        return intake_pb2.CompleteTaskResponse(
            project=project_message(project), task=task_message(task)
        )

    def ReopenTask(
        self, request: intake_pb2.ReopenTaskRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ReopenTaskResponse:
        uow = current_unit_of_work()
        project, task = services.reopen_task(
            services.ReopenTask(request.project_id, request.task_id, moment(request, "due_at")),
            uow,
            self._intake.projects_for(uow),
        )
        return intake_pb2.ReopenTaskResponse(
            project=project_message(project), task=task_message(task)
        )

    def CommentOnTask(
        self, request: intake_pb2.CommentOnTaskRequest, context: grpc.ServicerContext
    ) -> intake_pb2.CommentOnTaskResponse:
        uow = current_unit_of_work()
        project, comment = services.comment_on_task(
            services.CommentOnTask(
                request.project_id, request.task_id, request.text, request.idempotency_key
            ),
            uow,
            self._intake.projects_for(uow),
        )
        return intake_pb2.CommentOnTaskResponse(
            project=project_message(project), comment=comment_message(comment)
        )


def register(server: grpc.Server) -> Iterable[str]:
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(IntakeServicer(bootstrap()), server)
    return [intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name]
