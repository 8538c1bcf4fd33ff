"""nameko entry point of feedback: health, metrics and the outbox relay; no handlers yet."""

from __future__ import annotations

from casework_common.events_runtime import EventsService


class FeedbackEvents(EventsService):
    name = "feedback"
    casework_service = "feedback"
