"""Who may make each intake call: deny by default, a call missing here is refused.

Record-dependent rules (the referral's centre, a project's members) stay in the use
cases; this map decides only whether a caller's role lets them ask at all."""

from __future__ import annotations

from casework_common.auth import (
    ADMIN,
    FRONT_LINE_AND_ABOVE,
    MANAGER,
    PARTNER,
    access_map,
)

SERVICE = "casework.intake.v1.IntakeService"
# The organisation's configuration: a manager for their centres, an admin for everyone.
CONFIGURES = frozenset({MANAGER, ADMIN})

ACCESS = access_map(
    SERVICE,
    {
        # Referrals and first contact
        "SubmitReferral": FRONT_LINE_AND_ABOVE | {PARTNER},
        "GetReferral": FRONT_LINE_AND_ABOVE,
        "AcknowledgeReferral": FRONT_LINE_AND_ABOVE,
        "RecordFirstContact": FRONT_LINE_AND_ABOVE,
        "RecordConsultation": FRONT_LINE_AND_ABOVE,
        "ListConsultations": FRONT_LINE_AND_ABOVE,
        # Routing rules: saved and published by those who configure; any worker may read
        # them and ask who a case would reach.
        "SaveRoutingRules": CONFIGURES,
        "ListRoutingRuleSets": FRONT_LINE_AND_ABOVE | CONFIGURES,
        "PublishRoutingRules": CONFIGURES,
        "DryRunRouting": FRONT_LINE_AND_ABOVE | CONFIGURES,
        # Forms
        "PublishForm": CONFIGURES,
        "GetForm": FRONT_LINE_AND_ABOVE | CONFIGURES,
        "SubmitFormAnswers": FRONT_LINE_AND_ABOVE,
        "IssueSelfFillLink": FRONT_LINE_AND_ABOVE,
        "ListFormAnswers": FRONT_LINE_AND_ABOVE,
        # Outreach
        "PlanOutreach": FRONT_LINE_AND_ABOVE,
        "ListOutreach": FRONT_LINE_AND_ABOVE,
        "RecordOutreachOutcome": FRONT_LINE_AND_ABOVE,
        "CancelOutreach": FRONT_LINE_AND_ABOVE,
        # Projects and their tasks
        "CreateProject": FRONT_LINE_AND_ABOVE,
        "GetProject": FRONT_LINE_AND_ABOVE,
        "ListProjects": FRONT_LINE_AND_ABOVE,
        "AddTask": FRONT_LINE_AND_ABOVE,
        "CompleteTask": FRONT_LINE_AND_ABOVE,
        "ReopenTask": FRONT_LINE_AND_ABOVE,
        "CommentOnTask": FRONT_LINE_AND_ABOVE,
    },
)
