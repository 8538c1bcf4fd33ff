"""Wires notify's adapters for both processes.

Besides the SMTP and retry settings below, notify reads:

- NOTIFY_SERVICE_TOKENS_FILE: notify's service tokens for reading clients' cards
  (`clients.GetClient`), `{"<organisation>": "<jwt>"}` (see adapters/cards.py); while
  unset, messages to clients answer FAILED_PRECONDITION naming it.
- CLIENTS_GRPC_TARGET: clients' api, host:port (default 127.0.0.1 and clients' default
  port).
- NOTIFY_ESCALATE_AFTER_SECONDS: how long an action notification may stay unread before
  it is escalated, for organisations whose file gives no `escalate_after_seconds`.
- NOTIFY_FEEDBACK_PUBLIC_URL: where clients open feedback's public links (the base the
  path of a later survey's link is joined to; default feedback's local public port).
- NOTIFY_LIVE_INBOX_HINTS: `false` leaves live inboxes to their poll alone (a broker
  where notify may not declare its `notify.inbox-changed` exchange); default true.
- NOTIFY_OFFER_POLL_SECONDS: how often the api process reads the cards of later survey
  offers waiting for them (default 1).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from casework_common import organisation as organisations
from casework_common.config import (
    DEFAULT_GRPC_PORTS,
    InvalidConfiguration,
    Settings,
    load_settings,
)
from casework_common.errors import FailedPrecondition, PermissionDenied
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork, now_to_the_millisecond
from casework_notify.adapters.cards import ClientCards, notify_tokens
from casework_notify.adapters.inbox_signal import InboxSignal
from casework_notify.adapters.mail import EmailRepository, SmtpMailer, SmtpSettings
from casework_notify.adapters.outreach import SurveyOfferRepository
from casework_notify.adapters.preferences import ConsentRepository, PreferencesRepository
from casework_notify.adapters.repository import InboxRepository, PublishedRulesRepository
from casework_notify.adapters.webhooks import (
    HttpSender,
    WebhookRepository,
    bind_event_types,
    resolve,
)
from casework_notify.use_cases.delivery import Postbox
from casework_notify.use_cases.webhooks import RetryPolicy


def _number(env: Mapping[str, str], name: str, default: float, *, low: float = 0.001) -> float:
    raw = env.get(name) or ""
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise InvalidConfiguration(name, f"must be a number, got {raw!r}") from None
    if value < low:
        raise InvalidConfiguration(name, f"must be at least {low}, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").lower()
    if raw not in ("", "0", "1", "true", "false", "yes", "no"):
        raise InvalidConfiguration(name, f"must be true or false, got {raw!r}")
    return raw in ("1", "true", "yes")


@dataclass(frozen=True)
class NotifyConfig:
    """notify's own settings (environment, local defaults)."""

    smtp: SmtpSettings
    email_retry_base: float
    email_retry_ceiling: float
    webhook_policy: RetryPolicy
    webhook_timeout: float
    escalate_after: timedelta
    timer_interval: float
    watch_poll: float
    feedback_public_url: str = "http://127.0.0.1:8110"
    live_inbox_hints: bool = True
    offer_poll: float = 1.0

    @staticmethod
    def load(settings: Settings, env: Mapping[str, str] | None = None) -> NotifyConfig:
        env = os.environ if env is None else env
        user = env.get("SMTP_USER") or ""
        password = env.get("SMTP_PASSWORD") or ""
        if user and not password:
            raise InvalidConfiguration("SMTP_PASSWORD", "is required when SMTP_USER is set")
        return NotifyConfig(
            smtp=SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=env.get("NOTIFY_EMAIL_FROM") or "casework@localhost",
                starttls=_flag(env, "SMTP_STARTTLS"),
                username=user,
                password=password,
                timeout=_number(env, "SMTP_TIMEOUT_SECONDS", 10.0),
                ca_file=env.get("SMTP_CA_FILE") or "",
            ),
            email_retry_base=_number(env, "NOTIFY_EMAIL_RETRY_BASE_SECONDS", 5.0),
            email_retry_ceiling=_number(env, "NOTIFY_EMAIL_RETRY_MAX_SECONDS", 900.0),
            webhook_policy=RetryPolicy(
                max_attempts=int(_number(env, "NOTIFY_WEBHOOK_MAX_ATTEMPTS", 8, low=1)),
                base=_number(env, "NOTIFY_WEBHOOK_RETRY_BASE_SECONDS", 5.0),
                ceiling=_number(env, "NOTIFY_WEBHOOK_RETRY_MAX_SECONDS", 3600.0),
            ),
            webhook_timeout=_number(env, "NOTIFY_WEBHOOK_TIMEOUT_SECONDS", 5.0),
            escalate_after=timedelta(
                seconds=_number(env, "NOTIFY_ESCALATE_AFTER_SECONDS", 4 * 3600.0)
            ),
            timer_interval=_number(env, "NOTIFY_TIMER_SECONDS", 0.25),
            # A fallback: a live inbox looks at once when told its inbox changed.
            watch_poll=_number(env, "NOTIFY_WATCH_POLL_SECONDS", 1.0),
            feedback_public_url=env.get("NOTIFY_FEEDBACK_PUBLIC_URL") or "http://127.0.0.1:8110",
            offer_poll=_number(env, "NOTIFY_OFFER_POLL_SECONDS", 1.0),
            live_inbox_hints=(
                _flag(env, "NOTIFY_LIVE_INBOX_HINTS")
                if env.get("NOTIFY_LIVE_INBOX_HINTS")
                else True
            ),
        )


@dataclass
class Notify:
    settings: Settings
    organisations: dict[str, Organisation]
    clock: Callable[[], datetime]
    # Local defaults unless given (tests build a Notify without an environment).
    config: NotifyConfig = None  # type: ignore[assignment]

    published_rules: PublishedRulesRepository = field(default_factory=PublishedRulesRepository)
    preferences: PreferencesRepository = field(default_factory=PreferencesRepository)
    emails: EmailRepository = field(default_factory=EmailRepository)
    consents: ConsentRepository = field(default_factory=ConsentRepository)
    survey_offers: SurveyOfferRepository = field(default_factory=SurveyOfferRepository)
    # clients' cards (None: not configured, messages to clients are refused).
    cards: ClientCards | None = None
    # Hints to the live inboxes that notifications were stored (None: none sent).
    inbox_signal: InboxSignal | None = None

    def __post_init__(self) -> None:
        if self.config is None:
            self.config = NotifyConfig.load(self.settings, {})

    def inbox_of(self, uow: UnitOfWork) -> InboxRepository:
        principal = uow.principal
        # Inboxes belong to workers: a partner or service whose subject happens to equal
        # a worker's id must not read that worker's notifications.
        if principal.kind != "worker":
            raise PermissionDenied(f"a {principal.kind} has no inbox")
        return InboxRepository(principal.organisation, principal.subject)

    def inboxes_of_organisation(self, organisation: str) -> InboxRepository:
        return InboxRepository(organisation, None)

    def postbox_of(self, organisation: str) -> Postbox:
        """Every inbox of the organisation, with e-mails and escalation."""
        return Postbox(
            inbox=self.inboxes_of_organisation(organisation),
            organisation=self.organisations.get(organisation),
            preferences=self.preferences,
            emails=self.emails,
            escalate_after=self.escalate_after_of(organisation),
            announce=self.inbox_signal.announce if self.inbox_signal is not None else None,
        )

    def escalate_after_of(self, organisation: str) -> timedelta:
        """The organisation file's escalation wait, else NOTIFY_ESCALATE_AFTER_SECONDS."""
        org = self.organisations.get(organisation)
        if org is not None and org.escalate_after_seconds is not None:
            return timedelta(seconds=org.escalate_after_seconds)
        return self.config.escalate_after

    def client_cards(self) -> ClientCards:
        if self.cards is None:
            raise FailedPrecondition(
                "notify cannot read clients' cards: set NOTIFY_SERVICE_TOKENS_FILE"
            )
        return self.cards

    def webhooks_of(self, organisation: str) -> WebhookRepository:
        return WebhookRepository(organisation)

    def organisation_of(self, uow: UnitOfWork) -> Organisation:
        org = self.organisations.get(uow.organisation)
        if org is None:
            raise PermissionDenied(f"organisation {uow.organisation} is not served here")
        return org

    def mailer(self) -> SmtpMailer:
        return SmtpMailer(self.config.smtp)

    def http_sender(self) -> HttpSender:
        return HttpSender(self.config.webhook_timeout)

    resolve = staticmethod(resolve)

    def bind_webhook_type(self, event_type: str) -> bool:
        return bind_event_types(self.settings.amqp_uri, self.settings.events_exchange, [event_type])


def bootstrap(settings: Settings | None = None, env: Mapping[str, str] | None = None) -> Notify:
    env = os.environ if env is None else env
    settings = settings or load_settings("notify", env)
    config = NotifyConfig.load(settings, env)
    tokens_file = env.get("NOTIFY_SERVICE_TOKENS_FILE", "")
    target = env.get("CLIENTS_GRPC_TARGET") or f"127.0.0.1:{DEFAULT_GRPC_PORTS['clients']}"
    return Notify(
        settings=settings,
        organisations=organisations.load(settings.organisation_file),
        clock=now_to_the_millisecond,
        config=config,
        cards=ClientCards(target, notify_tokens(Path(tokens_file))) if tokens_file else None,
        inbox_signal=InboxSignal(settings.amqp_uri) if config.live_inbox_hints else None,
    )
