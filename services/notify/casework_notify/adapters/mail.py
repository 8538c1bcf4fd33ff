"""E-mails in the notify database (pending until the mail server accepts them) and the
SMTP sender (STARTTLS and login as configured)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import mongoengine as me

from casework_notify.adapters.claims import NEVER, claim_due, insert_new, release
from casework_notify.domain.email import PENDING, Email


class EmailDocument(me.Document):
    meta = {
        "collection": "emails",
        "indexes": [
            {"fields": ["state", "next_attempt_ts"]},
            {"fields": ["organisation", "state", "created_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    organisation = me.StringField(required=True)
    recipient = me.StringField(required=True)
    subject = me.StringField(required=True)
    text = me.StringField(required=True)
    language = me.StringField(default="en")
    state = me.StringField(required=True)
    attempts = me.IntField(default=0)
    last_error = me.StringField(default="")
    next_attempt_at = me.DateTimeField(required=True)
    next_attempt_ts = me.FloatField(required=True)  # as a number (see adapters.claims)
    created_at = me.DateTimeField(required=True)
    sent_at = me.DateTimeField()
    holder = me.StringField(default="")
    lease_until = me.FloatField(default=NEVER)


def _collection() -> Any:
    return EmailDocument._get_collection()


def to_domain(raw: dict[str, Any]) -> Email:
    return Email(
        email_id=str(raw["_id"]),
        organisation=raw["organisation"],
        recipient=raw["recipient"],
        subject=raw["subject"],
        text=raw["text"],
        language=raw.get("language", "en"),
        created_at=raw["created_at"],
        next_attempt_at=raw["next_attempt_at"],
        state=raw["state"],
        attempts=int(raw.get("attempts") or 0),
        last_error=raw.get("last_error", ""),
        sent_at=raw.get("sent_at"),
    )


class EmailRepository:
    def queue(self, email: Email) -> bool:
        """Store a new e-mail; one already there under its id (the same cause) stays."""
        doc = EmailDocument(
            id=email.email_id,
            organisation=email.organisation,
            recipient=email.recipient,
            subject=email.subject,
            text=email.text,
            language=email.language,
            state=PENDING,
            attempts=0,
            next_attempt_at=email.next_attempt_at,
            next_attempt_ts=email.next_attempt_at.timestamp(),
            created_at=email.created_at,
        )
        doc.validate()
        return insert_new(_collection(), dict(doc.to_mongo()))

    def get(self, email_id: str) -> Email | None:
        raw = _collection().find_one({"_id": email_id})
        return to_domain(raw) if raw else None

    def page(self, organisation: str, state: str, offset: int, limit: int) -> list[Email]:
        query: dict[str, Any] = {"organisation": organisation}
        if state:
            query["state"] = state
        cursor = _collection().find(query).sort([("created_at", 1), ("_id", 1)])
        return [to_domain(raw) for raw in cursor.skip(offset).limit(limit)]

    def claim_due(self, now: datetime, lease: timedelta, limit: int) -> list[tuple[Email, str]]:
        claimed = claim_due(
            _collection(),
            state=PENDING,
            due_field="next_attempt_ts",
            now=now,
            lease=lease,
            limit=limit,
        )
        return [(to_domain(raw), raw["holder"]) for raw in claimed]

    def record(self, email: Email, holder: str) -> bool:
        return release(
            _collection(),
            email.email_id,
            holder,
            {
                "state": email.state,
                "attempts": email.attempts,
                "last_error": email.last_error,
                "next_attempt_at": email.next_attempt_at,
                "next_attempt_ts": email.next_attempt_at.timestamp(),
                "sent_at": email.sent_at,
            },
        )


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 10.0
    # A CA bundle to verify the server's certificate with (else the system's).
    ca_file: str = ""


class SmtpMailer:
    """Sends one e-mail per connection: simple, and a server restart between two
    e-mails costs nothing. The Message-ID is derived from the e-mail's id, so a resend
    after a crash between acceptance and bookkeeping is recognisable as the same."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def send(self, email: Email, now: datetime) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.sender
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Date"] = format_datetime(now)
        message["Message-ID"] = f"<{_safe_id(email.email_id)}@casework>"
        message["X-Casework-Email-Id"] = _safe_id(email.email_id)
        message.set_content(email.text)
        # After the content: setting it drops the Content-* headers set before.
        message["Content-Language"] = email.language
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=s.ca_file or None))
            if s.username:
                smtp.login(s.username, s.password)
            smtp.send_message(message)


def _safe_id(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "-" for c in value)[:120]
