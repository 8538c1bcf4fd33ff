"""Partner webhooks: subscriptions an admin makes, one delivery per subscription and
event, sent signed and retried until delivered or dead; dead letters listed and
replayed by an operator."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument
from casework_common.unit_of_work import UnitOfWork
from casework_notify.adapters.webhooks import WebhookRepository, record_delivery
from casework_notify.domain import webhooks
from casework_notify.domain.webhooks import DEAD, Attempt, Delivery, Subscription

Resolver = Callable[[str], list[str]]


class Sender(Protocol):
    def post(self, subscription: Subscription, delivery: Delivery, now: datetime) -> Attempt: ...


@dataclass(frozen=True)
class CreateSubscription:
    event_type: str
    url: str


def create_subscription(
    command: CreateSubscription,
    uow: UnitOfWork,
    repository: WebhookRepository,
    *,
    known_event_types: set[str],
    resolve: Resolver,
    production: bool,
) -> Subscription:
    errors = []
    if command.event_type not in known_event_types:
        errors.append(FieldError("event_type", "is not an event type of the suite"))
    errors += webhooks.url_errors(command.url, production=production)
    if not errors:
        why = webhooks.refusal(resolve(command.url), production=production)
        if why:
            errors.append(FieldError("url", f"refused: {why}"))
    if errors:
        raise InvalidArgument(errors)
    subscription = Subscription(
        subscription_id=uow.new_id(),
        organisation=uow.organisation,
        event_type=command.event_type,
        url=command.url,
        secret=secrets.token_urlsafe(32),
        created_at=uow.now,
    )
    repository.add_subscription(subscription)
    return subscription


def fan_out(
    repository: WebhookRepository,
    *,
    event_id: str,
    event_type: str,
    body: bytes,
    now: datetime,
) -> int:
    """One delivery per active subscription to this event type; a redelivered event
    adds none."""
    added = 0
    for subscription in repository.active_for(event_type):
        added += repository.add_delivery(
            Delivery(
                delivery_id=webhooks.delivery_id(subscription.subscription_id, event_id),
                subscription_id=subscription.subscription_id,
                organisation=subscription.organisation,
                event_id=event_id,
                event_type=event_type,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return added


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base: float
    ceiling: float


def attempt(
    delivery: Delivery,
    subscription: Subscription | None,
    holder: str,
    now: datetime,
    *,
    sender: Sender,
    resolve: Resolver,
    production: bool,
    policy: RetryPolicy,
) -> Delivery:
    """One try of a claimed delivery; the address is checked again at sending time (a
    name may resolve elsewhere now)."""
    if subscription is None or not subscription.active:
        outcome = replace(
            delivery,
            state=DEAD,
            attempts=(*delivery.attempts, Attempt(now, 0, "subscription deleted")),
        )
    else:
        why = webhooks.refusal(resolve(subscription.url), production=production)
        tried = (
            Attempt(now, 0, f"refused: {why}") if why else sender.post(subscription, delivery, now)
        )
        outcome = webhooks.after_attempt(
            delivery,
            tried,
            max_attempts=policy.max_attempts,
            base=policy.base,
            ceiling=policy.ceiling,
        )
    record_delivery(outcome, holder, list(outcome.attempts))
    return outcome


def replay(delivery_id: str, uow: UnitOfWork, repository: WebhookRepository) -> Delivery:
    if not delivery_id:
        raise InvalidArgument([FieldError("delivery_id", "is required")])
    delivery = repository.delivery(delivery_id)
    if delivery.state != DEAD or not repository.replay(delivery_id, uow.now):
        raise FailedPrecondition(f"delivery is {delivery.state}, not dead", field="delivery_id")
    return repository.delivery(delivery_id)
