"""nameko entry point of documents: health, metrics and the outbox relay; no handlers yet."""

from __future__ import annotations

from casework_common.events_runtime import EventsService


class DocumentsEvents(EventsService):
    name = "documents"
    casework_service = "documents"
