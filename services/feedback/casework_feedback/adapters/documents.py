"""feedback's documents that carry an outbox: the events process's relay sweeps them
for events their writer did not get to publish."""

from __future__ import annotations

from casework_feedback.adapters.call_repository import CallDocument
from casework_feedback.adapters.campaign_repository import CampaignDocument
from casework_feedback.adapters.complaint_repository import ComplaintDocument
from casework_feedback.adapters.repository import SurveyDocument, VisitDocument
from casework_feedback.adapters.response_repository import ResponseDocument

OUTBOX_DOCUMENTS = (
    SurveyDocument,
    VisitDocument,
    ResponseDocument,
    CallDocument,
    ComplaintDocument,
    CampaignDocument,
)
