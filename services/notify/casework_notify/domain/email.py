"""E-mails notify sends: to workers (a notification of a kind they chose), and to
clients (a link, with their consent). Templated and localised: the organisation's
language first, English when a text has no translation.

An e-mail's id is derived from what caused it, so a cause gives one e-mail; it is
stored before it is sent and stays pending, retried with backoff, until the mail
server accepts it: never dropped, visible while pending."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, tzinfo
from string import Template

from casework_common.backoff import backoff

PENDING = "pending"
SENT = "sent"
FALLBACK_LANGUAGE = "en"

# (template, language) -> (subject, text). `$name` placeholders; values are plain text.
TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    ("notification", "en"): (
        "[$organisation] $title",
        "Hello $worker_name,\n\n$body\n\nOpen your inbox in casework to act on it.\n\n"
        'You receive this because you asked for "$kind" notifications by e-mail.\n',
    ),
    ("notification", "sk"): (
        "[$organisation] $title",
        "Dobrý deň, $worker_name,\n\n$body\n\nOtvorte si schránku v systéme casework.\n\n"
        'Tento e-mail dostávate, lebo ste si zvolili upozornenia "$kind" e-mailom.\n',
    ),
    ("self_fill", "en"): (
        "[$organisation] A form to fill in before your appointment",
        "Hello,\n\nplease fill in this form before your appointment:\n$link\n\n"
        "You receive this because you agreed that $organisation may contact you.\n",
    ),
    ("self_fill", "sk"): (
        "[$organisation] Formulár na vyplnenie pred stretnutím",
        "Dobrý deň,\n\nprosíme, vyplňte pred stretnutím tento formulár:\n$link\n\n"
        "Tento e-mail dostávate, lebo ste súhlasili, aby vás $organisation kontaktovala.\n",
    ),
    ("complaint_answer", "en"): (
        "[$organisation] The answer to your complaint",
        "Hello,\n\nthank you for telling us. This is our answer:\n\n$answer\n\n"
        "You receive this because you asked $organisation to answer you at this address.\n",
    ),
    ("complaint_answer", "sk"): (
        "[$organisation] Odpoveď na vašu sťažnosť",
        "Dobrý deň,\n\nďakujeme, že ste nám dali vedieť. Toto je naša odpoveď:\n\n$answer\n\n"
        "Tento e-mail dostávate, lebo ste $organisation požiadali o odpoveď na túto adresu.\n",
    ),
    ("later_survey", "en"): (
        "[$organisation] A few more questions about your visit",
        "Hello,\n\nsome days have passed since your visit. Would you tell us how it went?\n"
        "$link\n\nThe link works once, until $until. You may also ignore this e-mail.\n\n"
        "You receive this because you agreed to be asked for feedback.\n",
    ),
    ("later_survey", "sk"): (
        "[$organisation] Ešte pár otázok o vašej návšteve",
        "Dobrý deň,\n\nod vašej návštevy prešlo niekoľko dní. Poviete nám, ako to dopadlo?\n"
        "$link\n\nOdkaz funguje raz, do $until. Tento e-mail môžete aj ignorovať.\n\n"
        "Tento e-mail dostávate, lebo ste súhlasili, aby sme sa vás pýtali na názor.\n",
    ),
    ("survey", "en"): (
        "[$organisation] How did we do?",
        "Hello,\n\nwe would be glad to hear how our help worked for you:\n$link\n\n"
        "You receive this because you agreed to be asked for feedback.\n",
    ),
}


def render(template: str, language: str, values: dict[str, str]) -> tuple[str, str, str]:
    """Subject, text and the language used: the organisation's, else English."""
    used = language if (template, language) in TEMPLATES else FALLBACK_LANGUAGE
    subject, text = TEMPLATES[(template, used)]
    # Header injection: a subject is one line whatever the values hold.
    subject = " ".join(Template(subject).safe_substitute(values).split())
    return subject[:250], Template(text).safe_substitute(values), used


@dataclass(frozen=True)
class Email:
    email_id: str
    organisation: str
    recipient: str
    subject: str
    text: str
    language: str
    created_at: datetime
    next_attempt_at: datetime
    state: str = PENDING
    attempts: int = 0
    last_error: str = ""
    sent_at: datetime | None = None


def failed(email: Email, error: str, now: datetime, base: float, ceiling: float) -> Email:
    attempts = email.attempts + 1
    return replace(
        email,
        attempts=attempts,
        last_error=error[:300],
        next_attempt_at=now + backoff(attempts, base, ceiling),
    )


@dataclass(frozen=True)
class Preferences:
    """One worker's choices: kinds also sent by e-mail, and quiet hours in a zone."""

    organisation: str
    worker_id: str
    email_kinds: frozenset[str] = frozenset()
    quiet_from: time | None = None
    quiet_until: time | None = None
    time_zone: str = ""


def parse_clock(value: str) -> time | None:
    """`HH:MM` (24 h) or empty; ValueError otherwise."""
    if not value:
        return None
    hours, sep, minutes = value.partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise ValueError("must be HH:MM")
    parsed = time(int(hours), int(minutes)) if int(hours) < 24 and int(minutes) < 60 else None
    if parsed is None:
        raise ValueError("must be HH:MM")
    return parsed


def send_after(preferences: Preferences, now: datetime, zone: tzinfo) -> datetime:
    """Now, or the end of the worker's quiet hours when now falls inside them (a span
    may cross midnight, e.g. 20:00 to 07:00)."""
    start, end = preferences.quiet_from, preferences.quiet_until
    if start is None or end is None or start == end:
        return now
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return now
    wake = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake.astimezone(now.tzinfo)


def wants_email(preferences: Preferences | None, kind: str) -> bool:
    return preferences is not None and (
        kind in preferences.email_kinds or "*" in preferences.email_kinds
    )
