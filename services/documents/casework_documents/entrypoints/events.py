"""nameko entry point of documents: health, metrics and the outbox relay that publishes
`documents.contract.signed.v1` and `documents.contract.ended.v1` (the api process hands
them over at once; the relay's sweeper is the safety net)."""

from __future__ import annotations

from casework_common.events_runtime import EventsService
from casework_documents.adapters.repository import DocumentRecord


class DocumentsEvents(EventsService):
    name = "documents"
    casework_service = "documents"
    outbox_documents = (DocumentRecord,)
