"""Sending what is pending to the mail server, retried with backoff for as long as it
takes; and the list of e-mails an operator looks at."""

from __future__ import annotations

import smtplib
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from casework_common.errors import FieldError, InvalidArgument
from casework_notify.adapters.mail import EmailRepository
from casework_notify.domain.email import PENDING, SENT, Email, failed

STATES = {"": "", "pending": PENDING, "sent": SENT}


class Mailer(Protocol):
    def send(self, email: Email, now: datetime) -> None: ...


def send_due_emails(
    now: datetime,
    repository: EmailRepository,
    mailer: Mailer,
    *,
    retry_base: float,
    retry_ceiling: float,
    lease: timedelta = timedelta(seconds=120),
    limit: int = 50,
) -> tuple[int, int]:
    """Answers (sent, failed)."""
    sent = failures = 0
    for email, holder in repository.claim_due(now, lease, limit):
        try:
            mailer.send(email, now)
        except (OSError, smtplib.SMTPException) as exc:
            failures += 1
            repository.record(
                failed(email, f"{type(exc).__name__}: {exc}", now, retry_base, retry_ceiling),
                holder,
            )
            continue
        sent += 1
        repository.record(
            replace(email, state=SENT, attempts=email.attempts + 1, sent_at=now, last_error=""),
            holder,
        )
    return sent, failures


def list_emails(
    repository: EmailRepository, organisation: str, state: str, offset: int, limit: int
) -> list[Email]:
    if state not in STATES:
        raise InvalidArgument([FieldError("state", "is not an e-mail state")])
    return repository.page(organisation, STATES[state], offset, limit)
