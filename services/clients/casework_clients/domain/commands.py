"""What a worker asks clients to do, as the entry point received it, and the rules
that turn each request into the domain's values.

A command holds the caller's values as they came (text, ISO dates, names of enum
members): the entry point only copies fields. Each ``*_of`` function here applies the
rules, refuses every bad field at once with ``InvalidArgument`` naming it, and answers
the values a use case works with. Identity and contact values follow the one rule of
``casework_common.values`` that intake applies to referrals too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from casework_clients.domain import cards, details, search
from casework_clients.domain.cards import Contract, NewPerson
from casework_clients.domain.records import ConsentPurpose, ContactChannel, ContactPoint
from casework_clients.domain.rules import contract_date_errors
from casework_clients.domain.status import ClientStatus
from casework_common import values
from casework_common.errors import FieldError, InvalidArgument, raise_if_any
from casework_common.organisation import Organisation

MAX_CONTRACT_ID = 100
MAX_SEARCH_LIMIT = 100


# ------------------------------------------------------------------ rules of single fields


def required(field: str, value: str) -> None:
    """The identifier a command is about must be given."""
    if not value:
        raise InvalidArgument([FieldError(field, "is required")])


def day(
    raw: str,
    field: str,
    errors: list[FieldError],
    *,
    today: date,
    required: bool = False,
    default: date | None = None,
    future_ok: bool = False,
) -> date | None:
    """The day `raw` writes (YYYY-MM-DD); blank answers `default`. A day something
    happened cannot be in the future unless `future_ok`."""
    if not raw:
        if required:
            errors.append(FieldError(field, "is required (YYYY-MM-DD)"))
        return default
    parsed = values.iso_day(raw)
    if parsed is None:
        errors.append(FieldError(field, "must be a date YYYY-MM-DD"))
        return None
    if not future_ok and parsed > today:
        errors.append(FieldError(field, f"is in the future (today is {today.isoformat()})"))
        return None
    return parsed


def status_name(raw: str, field: str, errors: list[FieldError], *, required: bool) -> str:
    """A client status by name; blank is "not given"."""
    if not raw:
        if required:
            errors.append(FieldError(field, "is required"))
        return ""
    if raw not in {s.value for s in ClientStatus}:
        errors.append(FieldError(field, f"unknown status {raw}"))
        return ""
    return raw


def _chosen(member: object, raw: int, field: str, errors: list[FieldError]) -> None:
    """A choice from a list (`member`; None when `raw`, the number sent, names none)."""
    if member is None:
        errors.append(FieldError(field, "is required" if raw == 0 else f"unknown {field} {raw}"))


def _optional_name(raw: str, field: str, errors: list[FieldError]) -> str:
    value = raw.strip()
    if value:
        problem = values.person_name_error(value)
        if problem:
            errors.append(FieldError(field, problem))
    return value


# ------------------------------------------------------------------ registration and search


@dataclass(frozen=True)
class RegisterClient:
    """A worker registers a person at one of their centres."""

    given_name: str
    family_name: str
    date_of_birth: str
    phone: str
    email: str
    address: str
    centre_id: str
    client_type: str
    problem_type: str
    dismissed_client_ids: frozenset[str] = frozenset()
    project_id: str = ""
    channel: str = ""
    first_status: str = ""


def new_person(
    command: RegisterClient, org: Organisation | None, organisation: str, today: date
) -> NewPerson:
    """The person the registration describes, by the rules every service shares for
    names, date of birth, phone, e-mail and address."""
    c = command
    given, family = c.given_name.strip(), c.family_name.strip()
    phone, email = c.phone.strip(), c.email.strip()
    address = " ".join(c.address.split())
    # Empty for a person without papers (seed 004): the card is marked and found by
    # its other details.
    born, born_problem = (
        values.birth_date_from(c.date_of_birth, today) if c.date_of_birth.strip() else (None, None)
    )
    errors = values.collect(
        ("given_name", values.person_name_error(given)),
        ("family_name", values.person_name_error(family)),
        ("date_of_birth", born_problem),
        ("address", values.address_error(address)),
        ("email", values.email_error(email) if email else None),
        ("phone", values.phone_error(phone) if phone else None),
        ("channel", cards.channel_error(c.channel.strip())),
    )
    centre = org.centre(c.centre_id) if org else None
    if not c.centre_id:
        errors.append(FieldError("centre_id", "is required"))
    elif centre is None:
        errors.append(FieldError("centre_id", f"unknown centre {c.centre_id}"))
    if org is not None:
        errors += values.collect(
            ("client_type", details.client_type_error(org, c.client_type)),
            (
                "problem_type",
                details.problem_type_error(org, c.problem_type) if c.problem_type else None,
            ),
        )
    raise_if_any(errors)
    assert centre is not None
    return NewPerson(
        organisation=organisation,
        given_name=given,
        family_name=family,
        date_of_birth=born,
        phone=phone,
        email=email,
        address=address,
        region_id=centre.region,
        centre_id=centre.id,
        client_type=c.client_type,
        problem_type=c.problem_type,
        project_id=c.project_id.strip(),
        channel=c.channel.strip(),
        first_status=c.first_status,
    )


@dataclass(frozen=True)
class SearchClients:
    """Who might this person be? Any of the details; scores 0 and limits 0 mean defaults."""

    given_name: str = ""
    family_name: str = ""
    date_of_birth: str = ""
    phone: str = ""
    email: str = ""
    min_score: int = 0
    limit: int = 0


@dataclass(frozen=True)
class Search:
    query: search.SearchQuery
    min_score: int
    limit: int


def search_of(command: SearchClients, today: date) -> Search:
    c = command
    errors: list[FieldError] = []
    given = _optional_name(c.given_name, "given_name", errors)
    family = _optional_name(c.family_name, "family_name", errors)
    born = day(c.date_of_birth, "date_of_birth", errors, today=today)
    if not 0 <= c.min_score <= 100:
        errors.append(FieldError("min_score", "between 1 and 100 (0 means 40)"))
    if not 0 <= c.limit <= MAX_SEARCH_LIMIT:
        errors.append(FieldError("limit", "between 1 and 100 (0 means 20)"))
    raise_if_any(errors)
    return Search(
        search.SearchQuery(given, family, born, c.phone, c.email),
        min_score=c.min_score or search.DEFAULT_MIN_SCORE,
        limit=c.limit or 20,
    )


# ------------------------------------------------------------------ status


@dataclass(frozen=True)
class RecordStatus:
    """A worker's decision about a client's (or a family's) status on a day."""

    subject_id: str
    status: str
    reason: str
    effective_on: str


@dataclass(frozen=True)
class StatusDecision:
    status: str
    reason: str
    on: date


def status_decision_of(
    command: RecordStatus, id_field: str, today: date, *, status_required: bool = True
) -> StatusDecision:
    """The decision, dated today when no day is given."""
    errors: list[FieldError] = []
    if not command.subject_id:
        errors.append(FieldError(id_field, "is required"))
    status = status_name(command.status, "status", errors, required=status_required)
    on = day(command.effective_on, "effective_on", errors, today=today, default=today)
    raise_if_any(errors)
    assert on is not None
    return StatusDecision(status, command.reason.strip(), on)


@dataclass(frozen=True)
class RecordContractSigned:
    client_id: str
    contract_id: str
    signed_on: str
    valid_until: str


def contract_of(command: RecordContractSigned, now: datetime) -> Contract:
    """The contract to keep on the card, recorded `now`."""
    c = command
    errors: list[FieldError] = []
    if not c.client_id:
        errors.append(FieldError("client_id", "is required"))
    if not c.contract_id.strip() or len(c.contract_id) > MAX_CONTRACT_ID:
        errors.append(
            FieldError("contract_id", f"is required (at most {MAX_CONTRACT_ID} characters)")
        )
    today = now.date()
    signed = day(c.signed_on, "signed_on", errors, today=today, required=True, future_ok=True)
    until = day(c.valid_until, "valid_until", errors, today=today, future_ok=True)
    if signed is not None:
        errors += contract_date_errors(signed, until, today)
    raise_if_any(errors)
    assert signed is not None
    return Contract(c.contract_id.strip(), signed, until, now)


# ------------------------------------------------------------------ consents and contacts


@dataclass(frozen=True)
class RecordConsent:
    """Consent given (or, with ``withdraw``, withdrawn) for a purpose on a day."""

    client_id: str
    purpose: ConsentPurpose | None
    purpose_raw: int
    partner: str
    on: str
    document_ref: str = ""
    reason: str = ""
    withdraw: bool = False


@dataclass(frozen=True)
class ConsentFacts:
    purpose: ConsentPurpose
    on: date


def consent_of(command: RecordConsent, today: date) -> ConsentFacts:
    c = command
    errors: list[FieldError] = []
    if not c.client_id:
        errors.append(FieldError("client_id", "is required"))
    _chosen(c.purpose, c.purpose_raw, "purpose", errors)
    on = day(c.on, "withdrawn_on" if c.withdraw else "given_on", errors, today=today, required=True)
    raise_if_any(errors)
    assert c.purpose is not None and on is not None
    return ConsentFacts(c.purpose, on)


@dataclass(frozen=True)
class RecordContact:
    """A worker was in contact with the client (today when no day is given)."""

    client_id: str
    contacted_on: str
    channel: ContactChannel | None
    channel_raw: int
    worker_id: str
    summary: str


@dataclass(frozen=True)
class ContactFacts:
    on: date
    channel: ContactChannel
    worker_id: str


def contact_of(command: RecordContact, today: date, caller: str) -> ContactFacts:
    c = command
    errors: list[FieldError] = []
    if not c.client_id:
        errors.append(FieldError("client_id", "is required"))
    on = day(c.contacted_on, "contacted_on", errors, today=today, default=today)
    _chosen(c.channel, c.channel_raw, "channel", errors)
    raise_if_any(errors)
    assert on is not None and c.channel is not None
    return ContactFacts(on, c.channel, c.worker_id.strip() or caller)


# ------------------------------------------------------------------ card details


@dataclass(frozen=True)
class UpdateClient:
    """A worker's edit of the card: ``paths`` name the details that change; the others
    of the request are ignored."""

    client_id: str
    paths: tuple[str, ...]
    given_name: str = ""
    family_name: str = ""
    date_of_birth: str = ""
    contacts: tuple[ContactPoint, ...] = ()
    address: str = ""
    centre_ids: tuple[str, ...] = ()
    client_type: str = ""
    problem_types: tuple[str, ...] = ()


UPDATE_PATHS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "contacts",
    "address",
    "centre_ids",
    "client_type",
    "problem_types",
)


def changes_of(command: UpdateClient, today: date) -> details.CardChanges:
    """The changes the command names; the rules of each detail are the card's own
    (``details.update_card``), the same as a registration's."""
    c = command
    errors: list[FieldError] = []
    paths = c.paths
    if not paths:
        errors.append(FieldError("update_mask", f"name what to change: {', '.join(UPDATE_PATHS)}"))
    unknown = [p for p in paths if p not in UPDATE_PATHS]
    if unknown:
        errors.append(
            FieldError(
                "update_mask",
                f"unknown path(s) {', '.join(unknown)}; known: {', '.join(UPDATE_PATHS)}",
            )
        )
    born = None
    if "date_of_birth" in paths:
        raw, born = c.date_of_birth, None
        parsed, problem = values.birth_date_from(raw, today)
        if problem:
            errors.append(FieldError("changes.date_of_birth", problem))
        born = parsed
    raise_if_any(errors)
    return details.CardChanges(
        given_name=c.given_name if "given_name" in paths else None,
        family_name=c.family_name if "family_name" in paths else None,
        date_of_birth=born,
        contacts=c.contacts if "contacts" in paths else None,
        address=c.address if "address" in paths else None,
        centre_ids=c.centre_ids if "centre_ids" in paths else None,
        client_type=c.client_type if "client_type" in paths else None,
        problem_types=c.problem_types if "problem_types" in paths else None,
    )


# ------------------------------------------------------------------ statistics


@dataclass(frozen=True)
class GetStatistics:
    period_start: str
    period_end: str
    centre_id: str = ""
    region_id: str = ""


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    centre_id: str | None
    region_id: str | None


def period_of(command: GetStatistics, org: Organisation | None, today: date) -> Period:
    c = command
    errors: list[FieldError] = []
    start = day(c.period_start, "period_start", errors, today=today, required=True, future_ok=True)
    end = day(c.period_end, "period_end", errors, today=today, required=True, future_ok=True)
    if start and end and end < start:
        errors.append(FieldError("period_end", "is before period_start"))
    if c.centre_id and (org is None or org.centre(c.centre_id) is None):
        errors.append(FieldError("centre_id", f"unknown centre {c.centre_id}"))
    if c.region_id and (org is None or c.region_id not in org.regions):
        errors.append(FieldError("region_id", f"unknown region {c.region_id}"))
    raise_if_any(errors)
    assert start is not None and end is not None
    return Period(start, end, c.centre_id or None, c.region_id or None)
