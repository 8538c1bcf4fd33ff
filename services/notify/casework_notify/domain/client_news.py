"""What clients' news becomes in inboxes: a new or returning client for the workers the
routing rules name, a match proposal for the card's workers (and, where the
organisation allows, word to the referring centre), a sharing request for the card
centres' managers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casework_common.routing import Recipient
from casework_notify.domain.inbox import Notification, notification_id


@dataclass(frozen=True)
class ClientArrived:
    """A card was created or matched from a referral (clients' events)."""

    event_id: str
    organisation: str
    client_id: str
    referral_id: str
    display_name: str
    centre_id: str
    client_type: str
    problem_type: str
    returning: bool


def notify_responsible(
    arrival: ClientArrived, recipients: list[Recipient], now: datetime
) -> list[Notification]:
    kind = "returning_client" if arrival.returning else "new_client"
    title = (
        f"Returning client: {arrival.display_name}"
        if arrival.returning
        else f"New client: {arrival.display_name}"
    )
    body = (
        f"{arrival.display_name} was referred to {arrival.centre_id} "
        f"({arrival.client_type}, {arrival.problem_type}). Please make first contact."
    )
    return [
        Notification(
            notification_id=notification_id(arrival.event_id, recipient.worker_id),
            organisation=arrival.organisation,
            worker_id=recipient.worker_id,
            kind=kind,
            title=title,
            body=body,
            client_id=arrival.client_id,
            referral_id=arrival.referral_id,
            centre_id=arrival.centre_id,
            routing_reason=recipient.reason,
            created_at=now,
            subject_kind="client",
            subject_id=arrival.client_id,
        )
        for recipient in recipients
    ]


@dataclass(frozen=True)
class MatchProposed:
    """A referral matched an existing card: a proposal for the card's own workers
    (clients.match.proposed.v1)."""

    event_id: str
    organisation: str
    proposal_id: str
    client_id: str
    referral_id: str
    display_name: str
    centre_ids: tuple[str, ...]
    referring_centre_id: str
    client_type: str
    problem_type: str
    tell_referring_centre: bool


def tell_of_match_proposal(
    proposed: MatchProposed, recipients: list[tuple[Recipient, str]], now: datetime
) -> list[Notification]:
    """Into the inboxes of workers of the card's own centres (``recipients``: each with
    the card's centre they serve). Only ids those workers may see: the card's and the
    proposal's (which carries the referral)."""
    return [
        Notification(
            notification_id=notification_id(proposed.event_id, recipient.worker_id),
            organisation=proposed.organisation,
            worker_id=recipient.worker_id,
            kind="match_proposed",
            title=f"Is this your client? {proposed.display_name}",
            body=(
                f"A referral ({proposed.client_type}, {proposed.problem_type}) matches the "
                f"card of {proposed.display_name}. It changed nothing on the card: confirm it, "
                "choosing which of its contact details to trust, or reject it "
                f"(match proposal {proposed.proposal_id})."
            ),
            client_id=proposed.client_id,
            referral_id=proposed.referral_id,
            centre_id=centre_id,
            routing_reason=recipient.reason,
            created_at=now,
            subject_kind="match_proposal",
            subject_id=proposed.proposal_id,
        )
        for recipient, centre_id in recipients
    ]


def tell_known_elsewhere(
    proposed: MatchProposed, recipients: list[Recipient], now: datetime
) -> list[Notification]:
    """Where the organisation allows it: the referring centre's workers learn that the
    person is a client of another centre, which decides; never which card."""
    return [
        Notification(
            notification_id=notification_id(f"{proposed.event_id}:elsewhere", r.worker_id),
            organisation=proposed.organisation,
            worker_id=r.worker_id,
            kind="referral_known_elsewhere",
            title="Referral handled by another centre",
            body=(
                "The person of this referral is already a client of another centre of the "
                "organisation; that centre decides how to go on."
            ),
            client_id="",
            referral_id=proposed.referral_id,
            centre_id=proposed.referring_centre_id,
            routing_reason=r.reason,
            created_at=now,
            subject_kind="referral",
            subject_id=proposed.referral_id,
        )
        for r in recipients
    ]


@dataclass(frozen=True)
class SharingRequested:
    """A worker of another centre registered (or renamed a card into) a client of these
    centres, without learning it (clients.sharing.requested.v1)."""

    event_id: str
    organisation: str
    request_id: str
    client_id: str
    centre_ids: tuple[str, ...]


def tell_manager_of_sharing_request(
    requested: SharingRequested, managers: list[tuple[str, str]], now: datetime
) -> list[Notification]:
    """Into the inbox of the manager of each of the card's centres (``managers``:
    worker id and centre)."""
    return [
        Notification(
            notification_id=notification_id(requested.event_id, manager),
            organisation=requested.organisation,
            worker_id=manager,
            kind="sharing_requested",
            title="Another centre may have registered your client",
            body=(
                f"A worker of another centre registered a person with the names and date of "
                f"birth of your client {requested.client_id}. Merge the cards or keep them "
                f"apart (sharing request {requested.request_id})."
            ),
            client_id=requested.client_id,
            referral_id="",
            centre_id=centre_id,
            routing_reason=f"manager of {centre_id}",
            created_at=now,
            subject_kind="sharing_request",
            subject_id=requested.request_id,
        )
        for manager, centre_id in managers
    ]
