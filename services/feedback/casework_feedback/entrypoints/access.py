"""Who may make each feedback call: deny by default, a call missing here is refused.

Record-dependent rules (the record's centre, the campaign's reviewer) stay in the use
cases and repositories; this map decides only whether a role may ask at all. A
complaint may be about the front-line worker who would read it: front-line staff
record complaints (they take the hotline) but reading, annotating and answering them
is for case workers and managers. Survey definitions, campaigns and reports are the
managers'; the audit trail is the managers' and the data-protection officers'."""

from __future__ import annotations

from casework_common.auth import (
    ADMIN,
    CASE_WORKER_AND_ABOVE,
    DATA_PROTECTION_OFFICER,
    FRONT_LINE_AND_ABOVE,
    MANAGER,
    access_map,
)

SERVICE = "casework.feedback.v1.FeedbackService"
MANAGES = frozenset({MANAGER, ADMIN})

ACCESS = access_map(
    SERVICE,
    {
        # Survey definitions
        "SaveSurveyDefinition": MANAGES,
        "LintSurveyDefinition": MANAGES,
        "SetSurveyStatus": MANAGES,
        "GetSurveyDefinition": FRONT_LINE_AND_ABOVE | MANAGES,
        # Visits and responses
        "RecordVisit": FRONT_LINE_AND_ABOVE,
        "SubmitResponse": FRONT_LINE_AND_ABOVE,
        "RecordRefusal": FRONT_LINE_AND_ABOVE,
        # Follow-up calls
        "RecordReferralElsewhere": FRONT_LINE_AND_ABOVE,
        "ListFollowUpCalls": FRONT_LINE_AND_ABOVE,
        "CloseFollowUpCall": FRONT_LINE_AND_ABOVE,
        # Complaints
        "RecordComplaint": FRONT_LINE_AND_ABOVE,
        "GetComplaint": CASE_WORKER_AND_ABOVE,
        "AddComplaintEntry": CASE_WORKER_AND_ABOVE,
        "AnswerComplaint": CASE_WORKER_AND_ABOVE,
        "UpdateComplaint": CASE_WORKER_AND_ABOVE,
        "DeleteComplaint": CASE_WORKER_AND_ABOVE,
        # Campaigns
        "StartCampaign": frozenset({MANAGER}),
        "RecordCampaignAnswers": CASE_WORKER_AND_ABOVE,
        "GetCampaign": CASE_WORKER_AND_ABOVE,
        "DecideCampaign": frozenset({MANAGER}),
        # Reports
        "GetFeedbackReport": MANAGES,
        # Audit trail
        "ListAuditEntries": frozenset({MANAGER, DATA_PROTECTION_OFFICER}),
    },
)
