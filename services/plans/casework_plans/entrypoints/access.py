"""Who may make each plans call: deny by default, a call missing here is refused.

Record-dependent rules (the plan's centre, a manager's decision) stay in the use
cases; this map decides only whether a caller's role lets them ask at all. Plans are
case work: front-line duty workers do not build them."""

from __future__ import annotations

from casework_common.auth import ADMIN, CASE_WORKER_AND_ABOVE, MANAGER, SERVICE, access_map

PLANS = "casework.plans.v1.PlansService"
CONFIGURES = frozenset({MANAGER, ADMIN})

ACCESS = access_map(
    PLANS,
    {
        "GetPlan": CASE_WORKER_AND_ABOVE,
        # documents prints the goals of the plan in effect with a service token scoped to
        # this call; it keeps only the plans of centres its own caller serves.
        "ListPlans": CASE_WORKER_AND_ABOVE | {SERVICE},
        "CreatePlan": CASE_WORKER_AND_ABOVE,
        "EditPlanDraft": CASE_WORKER_AND_ABOVE,
        "SignPlan": CASE_WORKER_AND_ABOVE,
        "ReviewPlan": CASE_WORKER_AND_ABOVE,
        "RecordGoalProgress": CASE_WORKER_AND_ABOVE,
        "ClosePlan": CASE_WORKER_AND_ABOVE,
        "HandOverOffer": CASE_WORKER_AND_ABOVE,
        "RequestDecision": CASE_WORKER_AND_ABOVE,
        "DecideService": frozenset({MANAGER}),
        "SetBudget": CASE_WORKER_AND_ABOVE,
        "DecideSpending": frozenset({MANAGER}),
        "RecordMonitoringContact": CASE_WORKER_AND_ABOVE,
        "RecordDelivery": CASE_WORKER_AND_ABOVE,
        "ImportDeliveries": CASE_WORKER_AND_ABOVE,
        "ResolveDiscrepancy": CASE_WORKER_AND_ABOVE,
        "ListDueWork": CASE_WORKER_AND_ABOVE,
        "AddCatalogueService": CONFIGURES,
        "ListCatalogue": CASE_WORKER_AND_ABOVE | CONFIGURES,
        "ScreenPlansForService": CASE_WORKER_AND_ABOVE | CONFIGURES,
        "PutOnWaitingList": CASE_WORKER_AND_ABOVE,
        "GetWaitingList": CASE_WORKER_AND_ABOVE,
        "TakeOffWaitingList": CASE_WORKER_AND_ABOVE,
    },
)
