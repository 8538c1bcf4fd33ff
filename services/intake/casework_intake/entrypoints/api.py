"""gRPC entry point of intake: each call translates its request to a command
(`translate`), runs the use case in the call's unit of work, and translates the
answer back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import grpc

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework_common import safe_json
from casework_common.messages import guard_requests, moment, plain_struct
from casework_common.paging import next_token, page_window, paged
from casework_common.routing import Case
from casework_common.unit_of_work import UnitOfWork, current_unit_of_work
from casework_intake import services
from casework_intake.bootstrap import Intake, bootstrap
from casework_intake.domain.outreach import Outcome
from casework_intake.domain.projects import CreateProject
from casework_intake.entrypoints.translate import (
    CHANNELS,
    OUTREACH_STATUSES,
    SELF_FILL_PATH,
    answers_message,
    comment_message,
    consultation_message,
    form_message,
    outreach_message,
    project_message,
    rule_set_message,
    task_message,
    timestamp,
    to_command,
    to_consultation_command,
    to_message,
    to_plan_command,
    to_rule,
)
from casework_intake.use_cases import queries

T = TypeVar("T")
M = TypeVar("M")


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
                request.referral_id, CHANNELS.get(request.channel), request.note
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
        found, token = _centre_page(request, self._intake.consultations_for, consultation_message)
        return intake_pb2.ListConsultationsResponse(consultations=found, next_page_token=token)

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
        token = next_token(offset, limit, len(page))
        return intake_pb2.ListRoutingRuleSetsResponse(
            rule_sets=[rule_set_message(r) for r in page],
            next_page_token=token,
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
            expires_at=timestamp(expires_at),
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
        status = OUTREACH_STATUSES.get(request.status)
        status_unknown = bool(request.status) and status is None
        page, token = paged(
            request,
            lambda offset, limit: queries.list_outreach(
                request.centre_id,
                request.worker_id,
                status,
                queries.Page(offset, limit),
                uow,
                self._intake.outreach_for(uow),
                status_unknown=status_unknown,
            ),
        )
        found = [outreach_message(o) for o in page]
        return intake_pb2.ListOutreachResponse(outreach=found, next_page_token=token)

    def RecordOutreachOutcome(
        self, request: intake_pb2.RecordOutreachOutcomeRequest, context: grpc.ServicerContext
    ) -> intake_pb2.RecordOutreachOutcomeResponse:
        uow = current_unit_of_work()
        done = services.record_outreach_outcome(
            services.RecordOutreachOutcome(
                request.outreach_id,
                Outcome(
                    request.outcome,
                    request.people_reached,
                    request.contacts_made,
                    tuple(dict.fromkeys(c.strip() for c in request.client_ids)),
                ),
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
        found, token = _centre_page(request, self._intake.projects_for, project_message)
        return intake_pb2.ListProjectsResponse(projects=found, next_page_token=token)

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


def _centre_page(
    request: Any,
    repository_for: Callable[[UnitOfWork], queries.CentrePages[T]],
    message: Callable[[T], M],
) -> tuple[list[M], str]:
    """One page of a list in the caller's centres (or the one centre the request names),
    as messages, and the next page's token."""
    uow = current_unit_of_work()
    page, token = paged(
        request,
        lambda offset, limit: queries.list_in_centre(
            request.centre_id, queries.Page(offset, limit), uow, repository_for(uow)
        ),
    )
    return [message(item) for item in page], token


def register(server: grpc.Server) -> Iterable[str]:
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(IntakeServicer(bootstrap()), server)
    return [intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name]
