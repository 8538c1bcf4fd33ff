"""nameko entry point of notify: puts new clients into the responsible workers' inboxes."""

from __future__ import annotations

from casework_common.envelope import EventEnvelope
from casework_common.events_runtime import EventsService, PoisonEvent, event_handler
from casework_notify import services
from casework_notify.bootstrap import bootstrap
from casework_notify.domain.inbox import ClientArrived


def client_arrived(envelope: EventEnvelope) -> ClientArrived:
    payload = envelope.payload
    try:
        return ClientArrived(
            event_id=envelope.id,
            organisation=envelope.organisation,
            client_id=str(payload["client_id"]),
            referral_id=str(payload["referral_id"]),
            display_name=str(payload["display_name"]),
            centre_id=str(payload["centre_id"]),
            client_type=str(payload["client_type"]),
            problem_type=str(payload["problem_type"]),
            returning=envelope.type == "clients.client.matched",
        )
    except (KeyError, TypeError) as exc:
        raise PoisonEvent(f"{envelope.routing_key} payload unreadable: {exc!r}") from None


class NotifyEvents(EventsService):
    name = "notify"
    casework_service = "notify"

    def __init__(self) -> None:
        self.app = bootstrap()

    @event_handler(
        "notify.tell-responsible-workers",
        ["clients.client.registered.v1", "clients.client.matched.v1"],
    )
    def on_client_arrived(self, envelope: EventEnvelope) -> None:
        organisation = self.app.organisations.get(envelope.organisation)
        if organisation is None:
            raise PoisonEvent(f"organisation {envelope.organisation} is not served here")
        services.notify_responsible_workers(
            client_arrived(envelope),
            organisation,
            self.app.inboxes_of_organisation(envelope.organisation),
            now=self.app.clock(),
        )
