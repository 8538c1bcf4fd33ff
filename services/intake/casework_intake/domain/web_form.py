"""The public web form an organisation puts on its website: what it may send, how a
bot is told apart from a person, and how many submissions one address may make.

Decisions:
- Honeypot: the form carries a field people never see (HONEYPOT, hidden with CSS).
  A submission that fills it is REFUSED with a field error, not silently discarded:
  a browser's autofill can fill a hidden field for a real person, and a person in
  crisis who got a fake reference number would wait for a call that never comes.
  A refusal tells them to try again or phone; it costs a bot nothing it did not know.
- Rate limit: at most `limit` submissions per client address per minute, counted
  before the content is read (floods of garbage count too), across every process and
  replica (the counter lives in the database).
- Whose address (casework_common.forwarded, shared with feedback's public
  endpoints): the connecting peer's, unless that peer is one of the operator's
  trusted proxies. Then the forwarding header is read from the right, each hop a
  trusted proxy appended, and the first address no trusted proxy vouches for is the
  client. Everything left of it was written by the client and is never believed: the
  left-most address is whatever a bot chooses, one new "client" per post. Without
  trusted proxies a proxy's address is every citizen's key (one shared bucket), which
  is safe but strict; the operator who runs a proxy names it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from casework_common.errors import FieldError

# The rule of whose address a submission counts under is shared by every public
# endpoint (casework_common.forwarded); its names stay importable from here.
from casework_common.forwarded import IPAddress as IPAddress
from casework_common.forwarded import Network as Network
from casework_common.forwarded import client_address as client_address
from casework_common.forwarded import parse_networks as parse_networks
from casework_common.rates import RateDecision as RateDecision
from casework_common.rates import decide as decide
from casework_common.rates import window_of as window_of
from casework_intake.domain.referrals import Channel, SubmitReferral

HONEYPOT = "website"
FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "phone",
    "email",
    "address",
    "centre_id",
    "client_type",
    "problem_type",
    "free_text",
)
MAX_FIELD = 5000
DEFAULT_PER_MINUTE = 5
# What a web-form referral's field errors are called on the form, by SubmitReferral's
# own field paths: the form is flat.
FORM_FIELD = {
    "person.given_name": "given_name",
    "person.family_name": "family_name",
    "person.date_of_birth": "date_of_birth",
    "contact": "phone",
    "contact.phone": "phone",
    "contact.email": "email",
}


class HoneypotFilled(Exception):
    """The hidden field was filled in."""


def read_form(form: Mapping[str, object]) -> tuple[SubmitReferral | None, list[FieldError]]:
    """A referral command from the posted fields, or field errors (form field names).

    The honeypot raises HoneypotFilled; the caller answers the refusal."""
    errors: list[FieldError] = []
    honey = form.get(HONEYPOT)
    if honey not in (None, ""):
        raise HoneypotFilled()
    values: dict[str, str] = {}
    for name in FIELDS:
        raw = form.get(name, "")
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            errors.append(FieldError(name, "must be text"))
            continue
        if len(raw) > MAX_FIELD:
            errors.append(FieldError(name, f"at most {MAX_FIELD} characters"))
            continue
        values[name] = raw
    known = set(FIELDS) | {HONEYPOT}
    for name in form:
        if name not in known:
            errors.append(FieldError(str(name)[:64], "is not a field of this form"))
    if errors:
        return None, errors
    command = SubmitReferral(
        # A web form has no retry key of its own: every accepted submission is new.
        idempotency_key=f"web-{secrets.token_hex(16)}",
        given_name=values["given_name"],
        family_name=values["family_name"],
        date_of_birth=values["date_of_birth"],
        phone=values["phone"],
        email=values["email"],
        address=values["address"],
        region_id="",
        centre_id=values["centre_id"],
        client_type=values["client_type"],
        problem_type=values["problem_type"],
        channel=Channel.WEB_FORM,
        free_text=values["free_text"],
    )
    return command, []


def form_errors(errors: list[FieldError]) -> list[FieldError]:
    """SubmitReferral's field errors renamed to the web form's flat field names."""
    return [FieldError(FORM_FIELD.get(e.field, e.field), e.description) for e in errors]
