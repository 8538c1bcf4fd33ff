"""Workers' preferences, escalation of unread action notifications, and messages to
clients (only with the consent on their card)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument, NotFound
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork
from casework_common.values import email_error
from casework_notify.adapters.mail import EmailRepository
from casework_notify.adapters.preferences import ConsentRepository, PreferencesRepository
from casework_notify.adapters.repository import claim_escalation, escalation_due
from casework_notify.domain import inbox
from casework_notify.domain.cards import ClientCard
from casework_notify.domain.consent import PURPOSE_OF_MESSAGE, require_consent
from casework_notify.domain.email import Email, Preferences, parse_clock, render
from casework_notify.domain.webhooks import url_errors
from casework_notify.use_cases.delivery import Postbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetPreferences:
    email_kinds: tuple[str, ...]
    quiet_from: str
    quiet_until: str
    time_zone: str


def set_preferences(
    command: SetPreferences, uow: UnitOfWork, repository: PreferencesRepository
) -> Preferences:
    principal = uow.principal
    errors = []
    if len(command.email_kinds) > 50 or any(not k or len(k) > 100 for k in command.email_kinds):
        errors.append(
            FieldError("preferences.email_kinds", "at most 50 kinds, each 1-100 characters")
        )
    clocks = {}
    for name in ("quiet_from", "quiet_until"):
        try:
            clocks[name] = parse_clock(getattr(command, name))
        except ValueError:
            errors.append(FieldError(f"preferences.{name}", "must be HH:MM or empty"))
    if (clocks.get("quiet_from") is None) != (clocks.get("quiet_until") is None) and not errors:
        errors.append(FieldError("preferences.quiet_until", "quiet hours need a start and an end"))
    if command.time_zone:
        try:
            if len(command.time_zone) > 64:
                raise ValueError
            ZoneInfo(command.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(FieldError("preferences.time_zone", "is not a time zone"))
    if errors:
        raise InvalidArgument(errors)
    preferences = Preferences(
        organisation=principal.organisation,
        worker_id=principal.subject,
        email_kinds=frozenset(command.email_kinds),
        quiet_from=clocks.get("quiet_from"),
        quiet_until=clocks.get("quiet_until"),
        time_zone=command.time_zone,
    )
    repository.put(preferences, uow.now)
    return preferences


def get_preferences(uow: UnitOfWork, repository: PreferencesRepository) -> Preferences:
    principal = uow.principal
    return repository.get(principal.organisation, principal.subject) or Preferences(
        principal.organisation, principal.subject
    )


def escalate_unread(
    now: datetime,
    organisations: Mapping[str, Organisation],
    postbox_of: Callable[[str], Postbox],
    escalate_after: Callable[[str], timedelta],
) -> int:
    """Worker -> the centre's duty worker -> its manager, one step each time an action
    notification is still unread at its escalation moment. The copy is delivered before
    the step is recorded: redone after a crash, it lands once (derived id)."""
    done = 0
    for n in escalation_due(now):
        org = organisations.get(n.organisation)
        centre = org.centre(n.centre_id) if org is not None else None
        target = inbox.escalation_target(n, centre.duty_worker, centre.manager) if centre else None
        if target is None:
            claim_escalation(n, n.escalation_level, None)  # top of the chain
            continue
        level, worker = target
        further = inbox.escalation_target(
            replace(n, escalation_level=level),
            centre.duty_worker if centre else None,
            centre.manager if centre else None,
        )
        postbox_of(n.organisation).deliver([inbox.escalate(n, level, worker, now)])
        claim_escalation(n, level, now + escalate_after(n.organisation) if further else None)
        done += 1
    return done


@dataclass(frozen=True)
class SendClientMessage:
    client_id: str
    kind: str  # "self_fill" | "survey"
    link: str
    # The request's former address field: refused when given (the card's address is used).
    email: str
    idempotency_key: str


class Cards(Protocol):
    def get(
        self, organisation: str, client_id: str, trace: dict[str, str] | None = None
    ) -> ClientCard: ...


def send_client_message(
    command: SendClientMessage,
    uow: UnitOfWork,
    organisation: Organisation,
    cards: Cards,
    consents: ConsentRepository,
    emails: EmailRepository,
    *,
    production: bool,
) -> Email:
    """E-mails the client, at the address on their card, a link the card's consent
    allows; only a worker serving one of the card's centres may (any other gets
    NOT_FOUND, exactly as for a client that does not exist)."""
    principal = uow.principal
    errors = []
    if not command.client_id or len(command.client_id) > 100:
        errors.append(FieldError("client_id", "is required"))
    if command.kind not in PURPOSE_OF_MESSAGE:
        errors.append(FieldError("kind", "must be self-fill or survey"))
    errors += [replace(e, field="link") for e in url_errors(command.link, production=production)]
    if command.email:
        errors.append(
            FieldError("email", "is no longer accepted: the message goes to the card's address")
        )
    if not command.idempotency_key or len(command.idempotency_key) > 200:
        errors.append(FieldError("idempotency_key", "is required, at most 200 characters"))
    if errors:
        raise InvalidArgument(errors)
    card = cards.get(principal.organisation, command.client_id, dict(uow.trace.carrier))
    if not card.visible_to(principal.centres):
        raise NotFound(f"client {command.client_id} not found")
    email_id = (
        f"client-message:{principal.organisation}:{principal.subject}:{command.idempotency_key}"
    )
    existing = emails.get(email_id)
    if existing is not None:
        return existing
    if not card.email or email_error(card.email):
        raise FailedPrecondition(
            f"client {command.client_id} has no usable e-mail address on the card (field email)",
            field="email",
        )
    purpose = require_consent(
        command.kind, consents.given(principal.organisation, command.client_id)
    )
    # Personal data of a client: who sent what to whom, never the address itself.
    log.info(
        "audit: message to a client",
        extra={
            "fields": {
                "audit": True,
                "worker": principal.subject,
                "client_id": command.client_id,
                "kind": command.kind,
                "consent": purpose,
            }
        },
    )
    subject, text, language = render(
        command.kind,
        organisation.language,
        {"organisation": organisation.name, "link": command.link},
    )
    email = Email(
        email_id=email_id,
        organisation=principal.organisation,
        recipient=card.email,
        subject=subject,
        text=text,
        language=language,
        created_at=uow.now,
        next_attempt_at=uow.now,
    )
    emails.queue(email)
    return emails.get(email_id) or email
