"""nameko entry point of plans: health, metrics and the outbox relay; no handlers yet."""

from __future__ import annotations

from casework_common.events_runtime import EventsService


class PlansEvents(EventsService):
    name = "plans"
    casework_service = "plans"
