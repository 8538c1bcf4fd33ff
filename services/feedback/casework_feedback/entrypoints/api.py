"""gRPC entry point of feedback: each call translates its request, runs the use case in
the call's unit of work (opened by the interceptor) and translates the answer back."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from casework.feedback.v1 import feedback_pb2, feedback_pb2_grpc
from casework_common.messages import guard_requests, moment
from casework_common.unit_of_work import current_unit_of_work
from casework_feedback.adapters.call_repository import ConsentRepository
from casework_feedback.adapters.repository import LinkRepository
from casework_feedback.bootstrap import Feedback, bootstrap
from casework_feedback.domain.campaigns import ClientToReview
from casework_feedback.entrypoints import translate as t
from casework_feedback.use_cases import (
    audit_trail,
    calls,
    campaigns,
    complaints,
    reports,
    surveys,
    visits,
)

P = feedback_pb2


@guard_requests
class FeedbackServicer(feedback_pb2_grpc.FeedbackServiceServicer):
    def __init__(self, feedback: Feedback) -> None:
        self._app = feedback

    # ---------------------------------------------------------------- surveys

    def SaveSurveyDefinition(
        self, request: P.SaveSurveyDefinitionRequest, context: grpc.ServicerContext
    ) -> P.SaveSurveyDefinitionResponse:
        uow = current_unit_of_work()
        saved, warnings = surveys.save_definition(
            t.to_definition(request.definition), uow, self._app.surveys_for(uow)
        )
        return P.SaveSurveyDefinitionResponse(
            definition=t.definition_message(saved), warnings=t.warning_messages(warnings)
        )

    def LintSurveyDefinition(
        self, request: P.LintSurveyDefinitionRequest, context: grpc.ServicerContext
    ) -> P.LintSurveyDefinitionResponse:
        warnings = surveys.lint_definition(t.to_definition(request.definition))
        return P.LintSurveyDefinitionResponse(warnings=t.warning_messages(warnings))

    def SetSurveyStatus(
        self, request: P.SetSurveyStatusRequest, context: grpc.ServicerContext
    ) -> P.SetSurveyStatusResponse:
        uow = current_unit_of_work()
        moved = surveys.set_status(
            request.survey_id, request.version, request.status, uow, self._app.surveys_for(uow)
        )
        return P.SetSurveyStatusResponse(definition=t.definition_message(moved))

    def GetSurveyDefinition(
        self, request: P.GetSurveyDefinitionRequest, context: grpc.ServicerContext
    ) -> P.GetSurveyDefinitionResponse:
        uow = current_unit_of_work()
        found = surveys.get_definition(
            request.survey_id, request.version, self._app.surveys_for(uow)
        )
        return P.GetSurveyDefinitionResponse(definition=t.definition_message(found))

    # ------------------------------------------------------- visits, responses

    def RecordVisit(
        self, request: P.RecordVisitRequest, context: grpc.ServicerContext
    ) -> P.RecordVisitResponse:
        uow = current_unit_of_work()
        recorded = visits.record_visit(
            visits.RecordVisit(
                request.centre_id,
                request.kind,
                request.department_id,
                request.client_id,
                request.worker_id,
            ),
            uow,
            self._app.visits_for(uow),
            self._app.surveys_for(uow),
            LinkRepository(),
            secret=self._app.link_secret,
            validity=self._app.link_validity,
            sample_after=self._app.sample_after,
            later_after=self._app.later_after,
        )
        return P.RecordVisitResponse(
            visit_id=recorded.visit.visit_id,
            survey=t.definition_message(recorded.survey) if recorded.survey else None,
            mini_survey_path=recorded.link_path,
            link_expires_at=t.timestamp(recorded.link_expires_at),
        )

    def SubmitResponse(
        self, request: P.SubmitResponseRequest, context: grpc.ServicerContext
    ) -> P.SubmitResponseResponse:
        uow = current_unit_of_work()
        recorded = visits.submit_response(
            visits.SubmitResponse(
                survey_id=request.survey_id,
                version=request.version,
                visit_id=request.visit_id,
                anonymous=request.anonymous,
                client_id=request.client_id,
                channel=request.channel,
                answers=t.to_answers(list(request.answers)),
                comment=request.free_text,
                shown_to_client=request.shown_to_client,
                department_id=request.department_id,
            ),
            uow,
            self._app.surveys_for(uow),
            self._app.visits_for(uow),
            self._app.responses_for(uow),
        )
        return P.SubmitResponseResponse(
            response_id=recorded.response.response_id,
            thanks=recorded.thanks,
            plan_review_requested=recorded.plan_review_requested,
        )

    def RecordRefusal(
        self, request: P.RecordRefusalRequest, context: grpc.ServicerContext
    ) -> P.RecordRefusalResponse:
        uow = current_unit_of_work()
        refusal_id = visits.record_refusal(
            request.visit_id, request.later_call_welcome, uow, self._app.visits_for(uow)
        )
        return P.RecordRefusalResponse(refusal_id=refusal_id)

    # ------------------------------------------------------------------ calls

    def RecordReferralElsewhere(
        self, request: P.RecordReferralElsewhereRequest, context: grpc.ServicerContext
    ) -> P.RecordReferralElsewhereResponse:
        uow = current_unit_of_work()
        call = calls.record_referral_elsewhere(
            calls.RecordReferralElsewhere(
                request.centre_id, request.client_id, request.referral_id, request.organisation_name
            ),
            uow,
            self._app.calls_for(uow),
            ConsentRepository(uow.organisation),
        )
        return P.RecordReferralElsewhereResponse(call=t.call_message(call))

    def ListFollowUpCalls(
        self, request: P.ListFollowUpCallsRequest, context: grpc.ServicerContext
    ) -> P.ListFollowUpCallsResponse:
        uow = current_unit_of_work()
        found = calls.list_calls(uow, request.centre_id, request.status, self._app.calls_for(uow))
        return P.ListFollowUpCallsResponse(calls=[t.call_message(c) for c in found])

    def CloseFollowUpCall(
        self, request: P.CloseFollowUpCallRequest, context: grpc.ServicerContext
    ) -> P.CloseFollowUpCallResponse:
        uow = current_unit_of_work()
        closed = calls.close_call(request.call_id, request.status, uow, self._app.calls_for(uow))
        return P.CloseFollowUpCallResponse(call=t.call_message(closed))

    # ------------------------------------------------------------- complaints

    def RecordComplaint(
        self, request: P.RecordComplaintRequest, context: grpc.ServicerContext
    ) -> P.RecordComplaintResponse:
        uow = current_unit_of_work()
        complaint = complaints.record_complaint(
            complaints.RecordComplaint(
                centre_id=request.centre_id,
                kind=request.kind,
                channel=request.channel,
                subject=request.subject,
                subject_ref=request.subject_ref,
                client_id=request.client_id,
                text=request.text,
                reply_to=request.reply_to,
                answer_within_days=request.answer_within_days,
            ),
            uow,
            self._app.organisation_of(uow),
            self._app.complaints_for(uow),
        )
        return P.RecordComplaintResponse(complaint=t.complaint_message(complaint))

    def GetComplaint(
        self, request: P.GetComplaintRequest, context: grpc.ServicerContext
    ) -> P.GetComplaintResponse:
        uow = current_unit_of_work()
        complaint = complaints.get_complaint(
            request.complaint_id, uow, self._app.complaints_for(uow)
        )
        return P.GetComplaintResponse(
            complaint_id=complaint.complaint_id,
            client_id=complaint.client_id,
            complaint=t.complaint_message(complaint),
        )

    def AddComplaintEntry(
        self, request: P.AddComplaintEntryRequest, context: grpc.ServicerContext
    ) -> P.AddComplaintEntryResponse:
        uow = current_unit_of_work()
        complaint = complaints.add_entry(
            request.complaint_id,
            request.kind,
            request.text,
            request.corrects,
            uow,
            self._app.complaints_for(uow),
        )
        return P.AddComplaintEntryResponse(complaint=t.complaint_message(complaint))

    def AnswerComplaint(
        self, request: P.AnswerComplaintRequest, context: grpc.ServicerContext
    ) -> P.AnswerComplaintResponse:
        uow = current_unit_of_work()
        complaint = complaints.answer(
            request.complaint_id, request.text, uow, self._app.complaints_for(uow)
        )
        return P.AnswerComplaintResponse(complaint=t.complaint_message(complaint))

    def UpdateComplaint(
        self, request: P.UpdateComplaintRequest, context: grpc.ServicerContext
    ) -> P.UpdateComplaintResponse:
        uow = current_unit_of_work()
        complaints.refuse_change(request.complaint_id, "edited", self._app.complaints_for(uow))
        return P.UpdateComplaintResponse()  # pragma: no cover - refused above

    def DeleteComplaint(
        self, request: P.DeleteComplaintRequest, context: grpc.ServicerContext
    ) -> P.DeleteComplaintResponse:
        uow = current_unit_of_work()
        complaints.refuse_change(request.complaint_id, "deleted", self._app.complaints_for(uow))
        return P.DeleteComplaintResponse()  # pragma: no cover - refused above

    # -------------------------------------------------------------- campaigns

    def StartCampaign(
        self, request: P.StartCampaignRequest, context: grpc.ServicerContext
    ) -> P.StartCampaignResponse:
        uow = current_unit_of_work()
        campaign = campaigns.start(
            campaigns.StartCampaign(
                centre_id=request.centre_id,
                provider_id=request.provider_id,
                survey_id=request.survey_id,
                version=request.version,
                clients=[ClientToReview(c.client_id, c.area) for c in request.clients],
                reviewers_by_area={r.area: list(r.reviewer_ids) for r in request.reviewers},
            ),
            uow,
            self._app.surveys_for(uow),
            self._app.campaigns_for(uow),
        )
        return P.StartCampaignResponse(campaign=t.campaign_message(campaign))

    def RecordCampaignAnswers(
        self, request: P.RecordCampaignAnswersRequest, context: grpc.ServicerContext
    ) -> P.RecordCampaignAnswersResponse:
        uow = current_unit_of_work()
        answers = None if request.unreachable else t.to_answers(list(request.answers))
        campaign = campaigns.record_answers(
            request.campaign_id,
            request.client_id,
            answers,
            uow,
            self._app.campaigns_for(uow),
            collected_by=request.collected_by,
        )
        return P.RecordCampaignAnswersResponse(campaign=t.campaign_message(campaign))

    def GetCampaign(
        self, request: P.GetCampaignRequest, context: grpc.ServicerContext
    ) -> P.GetCampaignResponse:
        uow = current_unit_of_work()
        campaign = self._app.campaigns_for(uow).get(request.campaign_id)
        return P.GetCampaignResponse(campaign=t.campaign_message(campaign))

    def DecideCampaign(
        self, request: P.DecideCampaignRequest, context: grpc.ServicerContext
    ) -> P.DecideCampaignResponse:
        uow = current_unit_of_work()
        campaign = campaigns.decide(
            request.campaign_id, request.decision, request.note, uow, self._app.campaigns_for(uow)
        )
        return P.DecideCampaignResponse(campaign=t.campaign_message(campaign))

    # ---------------------------------------------------------------- reports

    def GetFeedbackReport(
        self, request: P.GetFeedbackReportRequest, context: grpc.ServicerContext
    ) -> P.GetFeedbackReportResponse:
        uow = current_unit_of_work()
        report = reports.feedback_report(
            reports.ReportRequest(
                dimension=request.dimension,
                granularity=request.granularity,
                centre_ids=list(request.centre_ids),
                received_from=moment(request, "received_from"),
                received_before=moment(request, "received_before"),
            ),
            uow,
            self._app.responses_for(uow),
            minimum_group=self._app.minimum_group,
        )
        from casework_feedback.domain.reports import to_csv

        return P.GetFeedbackReportResponse(
            rows=[t.row_message(r) for r in report.rows],
            themes=[t.theme_message(x) for x in report.themes],
            csv=to_csv(report.rows) if request.csv else "",
            minimum_group=report.minimum_group,
        )

    # ------------------------------------------------------------- audit trail

    def ListAuditEntries(
        self, request: P.ListAuditEntriesRequest, context: grpc.ServicerContext
    ) -> P.ListAuditEntriesResponse:
        found, next_token = audit_trail.list_audit_entries(
            current_unit_of_work(),
            centre_id=request.centre_id,
            client_id=request.client_id,
            record_id=request.record_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return P.ListAuditEntriesResponse(
            entries=[t.audit_entry_message(e) for e in found], next_page_token=next_token
        )


def register(server: grpc.Server) -> Iterable[str]:
    feedback_pb2_grpc.add_FeedbackServiceServicer_to_server(FeedbackServicer(bootstrap()), server)
    return [feedback_pb2.DESCRIPTOR.services_by_name["FeedbackService"].full_name]
