"""gRPC entry point of plans: each call translates its request, runs the use case in
the call's unit of work (opened by the interceptor), and translates the answer."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from casework.plans.v1 import plans_pb2, plans_pb2_grpc
from casework_common.errors import FieldError
from casework_common.messages import guard_requests, same_fields
from casework_common.unit_of_work import current_unit_of_work
from casework_plans.bootstrap import Plans, bootstrap
from casework_plans.domain.catalogue import LeaveReason
from casework_plans.domain.plans import BudgetHolder, ContactMode, Progress, Signer
from casework_plans.entrypoints.translate import (
    RESOLUTIONS,
    Reader,
    catalogue_message,
    departure_message,
    discrepancy_message,
    due_message,
    from_enum,
    plan_message,
    to_content,
    to_enum,
    to_offer,
    waiting_message,
)
from casework_plans.use_cases import plans as plan_cases
from casework_plans.use_cases import queries, records

P = plans_pb2


@guard_requests
class PlansServicer(plans_pb2_grpc.PlansServiceServicer):
    def __init__(self, app: Plans) -> None:
        self._app = app

    def GetPlan(
        self, request: P.GetPlanRequest, context: grpc.ServicerContext
    ) -> P.GetPlanResponse:
        uow = current_unit_of_work()
        plan = queries.get_plan(request.plan_id, uow, self._app.plans_for(uow))
        return P.GetPlanResponse(
            plan_id=plan.plan_id, client_id=plan.client_id, plan=plan_message(plan)
        )

    def ListPlans(
        self, request: P.ListPlansRequest, context: grpc.ServicerContext
    ) -> P.ListPlansResponse:
        uow = current_unit_of_work()
        found = queries.list_plans(request.client_id, uow, self._app.plans_for(uow))
        return P.ListPlansResponse(plans=[plan_message(p) for p in found])

    def CreatePlan(
        self, request: P.CreatePlanRequest, context: grpc.ServicerContext
    ) -> P.CreatePlanResponse:
        uow = current_unit_of_work()
        command = plan_cases.CreatePlan(
            request.idempotency_key,
            request.client_id,
            request.family_id,
            request.centre_id,
            request.worker_id,
            to_content(request.content),
        )
        plan, replayed = plan_cases.create_plan(
            command,
            uow,
            self._app.plans_for(uow),
            self._app.organisations.get(uow.principal.organisation),
        )
        return P.CreatePlanResponse(plan=plan_message(plan), replayed=replayed)

    def EditPlanDraft(
        self, request: P.EditPlanDraftRequest, context: grpc.ServicerContext
    ) -> P.EditPlanDraftResponse:
        uow = current_unit_of_work()
        plan = plan_cases.edit_draft(
            request.plan_id,
            request.version,
            to_content(request.content),
            uow,
            self._app.plans_for(uow),
        )
        return P.EditPlanDraftResponse(plan=plan_message(plan))

    def SignPlan(
        self, request: P.SignPlanRequest, context: grpc.ServicerContext
    ) -> P.SignPlanResponse:
        uow = current_unit_of_work()
        r = Reader()
        signer = r.enum("signer", Signer, request.signer)
        r.done()
        assert signer is not None
        plan, in_effect = plan_cases.sign(
            request.plan_id,
            request.version,
            signer,
            request.name,
            uow,
            self._app.plans_for(uow),
            self._app.statuses_for(uow),
        )
        return P.SignPlanResponse(plan=plan_message(plan), in_effect=in_effect)

    def ReviewPlan(
        self, request: P.ReviewPlanRequest, context: grpc.ServicerContext
    ) -> P.ReviewPlanResponse:
        uow = current_unit_of_work()
        content = to_content(request.content) if request.HasField("content") else None
        plan = plan_cases.review(
            request.plan_id, request.outcome, content, uow, self._app.plans_for(uow)
        )
        return P.ReviewPlanResponse(plan=plan_message(plan))

    def RecordGoalProgress(
        self, request: P.RecordGoalProgressRequest, context: grpc.ServicerContext
    ) -> P.RecordGoalProgressResponse:
        uow = current_unit_of_work()
        plan = plan_cases.record_progress(
            request.plan_id,
            request.goal_id,
            to_enum(Progress, request.progress),
            request.note,
            uow,
            self._app.plans_for(uow),
        )
        return P.RecordGoalProgressResponse(plan=plan_message(plan))

    def ClosePlan(
        self, request: P.ClosePlanRequest, context: grpc.ServicerContext
    ) -> P.ClosePlanResponse:
        uow = current_unit_of_work()
        plan = plan_cases.close(request.plan_id, request.evaluation, uow, self._app.plans_for(uow))
        return P.ClosePlanResponse(plan=plan_message(plan))

    def HandOverOffer(
        self, request: P.HandOverOfferRequest, context: grpc.ServicerContext
    ) -> P.HandOverOfferResponse:
        uow = current_unit_of_work()
        offer = to_offer(request.offer, uow.actor.subject, uow.now.date())
        plan = plan_cases.hand_over_offer(request.plan_id, offer, uow, self._app.plans_for(uow))
        return P.HandOverOfferResponse(plan=plan_message(plan))

    def RequestDecision(
        self, request: P.RequestDecisionRequest, context: grpc.ServicerContext
    ) -> P.RequestDecisionResponse:
        uow = current_unit_of_work()
        plan = plan_cases.request_decision(
            request.plan_id,
            request.service_code,
            uow,
            self._app.plans_for(uow),
            overspend=request.overspend,
        )
        return P.RequestDecisionResponse(plan=plan_message(plan))

    def DecideService(
        self, request: P.DecideServiceRequest, context: grpc.ServicerContext
    ) -> P.DecideServiceResponse:
        uow = current_unit_of_work()
        plan = plan_cases.decide(
            request.plan_id,
            request.service_code,
            request.approve,
            request.reason,
            uow,
            self._app.plans_for(uow),
            overspend=request.overspend,
        )
        return P.DecideServiceResponse(plan=plan_message(plan))

    def SetBudget(
        self, request: P.SetBudgetRequest, context: grpc.ServicerContext
    ) -> P.SetBudgetResponse:
        uow = current_unit_of_work()
        r = Reader()
        lines: dict[str, int] = {}
        for i, line in enumerate(request.lines):
            if line.service_code in lines:
                r.errors.append(FieldError(f"lines[{i}].service_code", "is named twice"))
            lines[line.service_code] = line.allotted
        r.done()
        plan = plan_cases.set_budget(
            request.plan_id,
            to_enum(BudgetHolder, request.holder),
            request.holder_name,
            lines,
            uow,
            self._app.plans_for(uow),
        )
        return P.SetBudgetResponse(plan=plan_message(plan))

    def DecideSpending(
        self, request: P.DecideSpendingRequest, context: grpc.ServicerContext
    ) -> P.DecideSpendingResponse:
        uow = current_unit_of_work()
        plan = plan_cases.decide_spending(
            request.plan_id,
            request.delivery_id,
            request.approve,
            request.reason,
            uow,
            self._app.plans_for(uow),
        )
        return P.DecideSpendingResponse(plan=plan_message(plan))

    def RecordMonitoringContact(
        self, request: P.RecordMonitoringContactRequest, context: grpc.ServicerContext
    ) -> P.RecordMonitoringContactResponse:
        uow = current_unit_of_work()
        r = Reader()
        on = r.day("contacted_on", request.contacted_on)
        r.done()
        command = records.RecordContact(
            request.plan_id,
            on,
            to_enum(ContactMode, request.mode),
            request.notes,
            tuple(request.goal_ids),
        )
        plan = records.record_contact(command, uow, self._app.plans_for(uow))
        return P.RecordMonitoringContactResponse(plan=plan_message(plan))

    def RecordDelivery(
        self, request: P.RecordDeliveryRequest, context: grpc.ServicerContext
    ) -> P.RecordDeliveryResponse:
        uow = current_unit_of_work()
        r = Reader()
        on = r.day("delivered_on", request.delivered_on)
        r.done()
        command = records.RecordDelivery(
            request.plan_id,
            request.service_code,
            on,
            request.quantity,
            request.delivered_by,
            request.receipt,
            request.cost,
        )
        plan, raised = records.record_delivery(
            command,
            uow,
            self._app.plans_for(uow),
            self._app.statuses_for(uow),
            approve_spending=self._app.approves_each_spending(uow.principal.organisation),
        )
        return P.RecordDeliveryResponse(
            plan=plan_message(plan), raised=[discrepancy_message(d) for d in raised]
        )

    def ImportDeliveries(
        self, request: P.ImportDeliveriesRequest, context: grpc.ServicerContext
    ) -> P.ImportDeliveriesResponse:
        uow = current_unit_of_work()
        result = records.import_deliveries(
            request.csv,
            request.all_or_nothing,
            uow,
            self._app.plans_for(uow),
            self._app.statuses_for(uow),
        )
        return P.ImportDeliveriesResponse(
            **same_fields(result, "rows_read rows_kept good_rows_kept discrepancies_raised"),
            errors=[
                P.RowError(line=e.line, field=e.field, description=e.description)
                for e in result.errors[:200]
            ],
        )

    def ResolveDiscrepancy(
        self, request: P.ResolveDiscrepancyRequest, context: grpc.ServicerContext
    ) -> P.ResolveDiscrepancyResponse:
        uow = current_unit_of_work()
        plan = records.resolve_discrepancy(
            request.plan_id,
            request.discrepancy_id,
            RESOLUTIONS.get(request.resolution),
            request.note,
            uow,
            self._app.plans_for(uow),
        )
        return P.ResolveDiscrepancyResponse(plan=plan_message(plan))

    def ListDueWork(
        self, request: P.ListDueWorkRequest, context: grpc.ServicerContext
    ) -> P.ListDueWorkResponse:
        uow = current_unit_of_work()
        r = Reader()
        on = r.day("on", request.on, required=False)
        due_before = r.day("due_before", request.due_before, required=False)
        r.done()
        query = queries.DueWorkQuery(
            on,
            request.centre_id,
            tuple(request.kinds),
            request.mine,
            due_before,
            request.page_size,
            request.page_token,
        )
        items, next_page_token = queries.list_due_work(
            query,
            uow,
            self._app.plans_for(uow),
            self._app.cadence_of(uow.principal.organisation),
        )
        return P.ListDueWorkResponse(
            items=[due_message(i) for i in items], next_page_token=next_page_token
        )

    def AddCatalogueService(
        self, request: P.AddCatalogueServiceRequest, context: grpc.ServicerContext
    ) -> P.AddCatalogueServiceResponse:
        uow = current_unit_of_work()
        s = request.service
        service = queries.add_catalogue_service(
            queries.AddService(
                s.service_code,
                s.name,
                s.how_to_obtain,
                tuple(s.centre_ids),
                tuple(s.answers_needs),
            ),
            uow,
            self._app.catalogue_for(uow),
            self._app.centres_of(uow.principal.organisation),
        )
        return P.AddCatalogueServiceResponse(service=catalogue_message(service))

    def ListCatalogue(
        self, request: P.ListCatalogueRequest, context: grpc.ServicerContext
    ) -> P.ListCatalogueResponse:
        uow = current_unit_of_work()
        services = queries.list_catalogue(request.centre_id, self._app.catalogue_for(uow))
        return P.ListCatalogueResponse(services=[catalogue_message(s) for s in services])

    def ScreenPlansForService(
        self, request: P.ScreenPlansForServiceRequest, context: grpc.ServicerContext
    ) -> P.ScreenPlansForServiceResponse:
        uow = current_unit_of_work()
        hits = queries.screen_plans(
            request.service_code, self._app.catalogue_for(uow), self._app.plans_for(uow)
        )
        return P.ScreenPlansForServiceResponse(
            hits=[
                P.ScreenHit(
                    **same_fields(h, "plan_id client_id need_id need_code"),
                    need_kind=from_enum(h.need_kind),
                )
                for h in hits
            ]
        )

    def PutOnWaitingList(
        self, request: P.PutOnWaitingListRequest, context: grpc.ServicerContext
    ) -> P.PutOnWaitingListResponse:
        uow = current_unit_of_work()
        r = Reader()
        on = r.day("entered_on", request.entered_on, required=False)
        r.done()
        entry, position = queries.put_on_waiting_list(
            request.plan_id,
            request.service_code,
            on,
            uow,
            self._app.plans_for(uow),
            self._app.waiting_lists_for(uow),
            self._app.catalogue_for(uow),
        )
        return P.PutOnWaitingListResponse(entry=waiting_message(entry, position))

    def GetWaitingList(
        self, request: P.GetWaitingListRequest, context: grpc.ServicerContext
    ) -> P.GetWaitingListResponse:
        uow = current_unit_of_work()
        entries = queries.waiting_list(request.service_code, uow, self._app.waiting_lists_for(uow))
        return P.GetWaitingListResponse(entries=[waiting_message(e, p) for e, p in entries])

    def TakeOffWaitingList(
        self, request: P.TakeOffWaitingListRequest, context: grpc.ServicerContext
    ) -> P.TakeOffWaitingListResponse:
        uow = current_unit_of_work()
        departure, replayed = queries.take_off_waiting_list(
            request.plan_id,
            request.service_code,
            to_enum(LeaveReason, request.reason),
            uow,
            self._app.plans_for(uow),
            self._app.waiting_lists_for(uow),
        )
        return departure_message(departure, request.service_code, replayed)


def register(server: grpc.Server) -> Iterable[str]:
    plans_pb2_grpc.add_PlansServiceServicer_to_server(PlansServicer(bootstrap()), server)
    return [plans_pb2.DESCRIPTOR.services_by_name["PlansService"].full_name]
