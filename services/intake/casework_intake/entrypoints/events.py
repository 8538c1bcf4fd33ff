"""nameko entry point of intake: publishes intake's outbox (referral events)."""

from __future__ import annotations

from casework_common.events_runtime import EventsService
from casework_intake.adapters.repository import ReferralDocument


class IntakeEvents(EventsService):
    name = "intake"
    casework_service = "intake"
    outbox_documents = (ReferralDocument,)
