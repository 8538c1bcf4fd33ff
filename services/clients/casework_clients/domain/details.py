"""The card's details and what a worker does with them: contact details, address,
centres, client type and problems; responsible workers; consents; free notes; and
recorded contacts with the client.

Pure functions over :class:`ClientCard`. Each answers the new card (with a history
line) and refuses bad input with ``InvalidArgument`` naming the request field, or a
change the card's state forbids with ``FailedPrecondition``; a refused command changes
nothing. Consent records, notes and contacts are append-only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from casework_clients.domain import search
from casework_clients.domain.cards import ClientCard, HistoryEntry, ReferralFacts
from casework_clients.domain.identity import identity_key
from casework_clients.domain.records import (
    ConsentAction,
    ConsentPurpose,
    ConsentRecord,
    ContactChannel,
    ContactKind,
    ContactPoint,
    ContactRecord,
    Note,
    ResponsibleWorker,
)
from casework_common import values
from casework_common.errors import FailedPrecondition, FieldError, InvalidArgument, raise_if_any
from casework_common.organisation import Organisation

__all__ = [
    "MAX_CONTACTS",
    "MAX_NOTE",
    "CardChanges",
    "add_note",
    "assign_worker",
    "consent_state",
    "contact_errors",
    "contact_points",
    "corrected_by",
    "record_consent",
    "record_contact",
    "unassign_worker",
    "update_card",
    "with_acceptable_contact",
    "withdraw_consent",
]

MAX_LABEL = 50
MAX_CONTACTS = 20
MAX_NOTE = 5000
MAX_SUMMARY = 500
MAX_PARTNER = 200
MAX_DOCUMENT_REF = 200
MAX_RESPONSIBLE = 10
# Notes live inside the card's document: 1,000 notes of at most MAX_NOTE characters
# stay well inside a database document's 16 MB.
MAX_NOTES = 1000


def contact_errors(contacts: Iterable[ContactPoint], field: str) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[ContactKind, str]] = set()
    items = list(contacts)
    if len(items) > MAX_CONTACTS:
        errors.append(FieldError(field, f"at most {MAX_CONTACTS} contacts"))
    for i, point in enumerate(items):
        where = f"{field}[{i}]"
        value = point.value.strip()
        problem = (
            "is required"
            if not value
            else values.phone_error(value)
            if point.kind is ContactKind.PHONE
            else values.email_error(value)
        )
        if problem:
            errors.append(FieldError(f"{where}.value", problem))
        if len(point.label) > MAX_LABEL:
            errors.append(FieldError(f"{where}.label", f"at most {MAX_LABEL} characters"))
        key = (
            point.kind,
            search.phone_key(value) if point.kind is ContactKind.PHONE else value.casefold(),
        )
        if value and key in seen:
            errors.append(FieldError(f"{where}.value", "is listed twice"))
        seen.add(key)
    return errors


def with_acceptable_contact(facts: ReferralFacts) -> ReferralFacts:
    """The referral's phone and e-mail as a card may keep them, by the rule a
    registration and an edit apply: one the rule refuses (from a producer that did not
    apply it, or an event of an older rule) is left out, never stored where no worker
    could save the card's contacts again."""
    phone, email = facts.phone.strip(), facts.email.strip()
    return replace(
        facts,
        phone=facts.phone if phone and values.phone_error(phone) is None else "",
        email=facts.email if email and values.email_error(email) is None else "",
    )


def client_type_error(org: Organisation, client_type: str) -> str | None:
    """A card's client type is one of the organisation's."""
    if client_type in org.client_types:
        return None
    return f"must be one of: {', '.join(org.client_types)}"


def problem_type_error(org: Organisation, problem_type: str) -> str | None:
    """A problem type is one of the organisation's."""
    if problem_type in org.problem_types:
        return None
    return f"must be one of: {', '.join(org.problem_types)}"


def contact_points(card: ClientCard) -> tuple[ContactPoint, ...]:
    """Every contact of the card: the labelled ones, and the primary phone and e-mail
    (a referral may have brought them) when they are not among them."""
    primary = tuple(
        ContactPoint(kind, value, "primary")
        for kind, value in ((ContactKind.PHONE, card.phone), (ContactKind.EMAIL, card.email))
        if value and not any(p.kind is kind and p.value == value for p in card.contacts)
    )
    return (*primary, *card.contacts)


def _worker_serves(org: Organisation, worker_id: str, centres: Iterable[str]) -> bool:
    worker = org.workers.get(worker_id)
    return worker is not None and bool(set(worker.centres) & set(centres))


def _line(card: ClientCard, at: datetime, what: str, by: str) -> tuple[HistoryEntry, ...]:
    return (*card.history, HistoryEntry(at, what, by))


# ------------------------------------------------------------------ card details


@dataclass(frozen=True)
class CardChanges:
    """A worker's edit of the card: None leaves a detail as it is."""

    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    contacts: tuple[ContactPoint, ...] | None = None
    address: str | None = None
    centre_ids: tuple[str, ...] | None = None
    client_type: str | None = None
    problem_types: tuple[str, ...] | None = None


def update_card(
    card: ClientCard,
    changes: CardChanges,
    org: Organisation,
    caller_centres: frozenset[str],
    actor: str,
    now: datetime,
    *,
    prefix: str = "changes.",
) -> tuple[ClientCard, tuple[str, ...]]:
    """The card with the changes, and the names of the details that really changed
    (empty: nothing to save). Field names in errors carry ``prefix``."""
    errors: list[FieldError] = []
    c = changes
    given = c.given_name.strip() if c.given_name is not None else card.given_name
    family = c.family_name.strip() if c.family_name is not None else card.family_name
    for name, value in (("given_name", c.given_name), ("family_name", c.family_name)):
        if value is not None:
            problem = values.person_name_error(value.strip())
            if problem:
                errors.append(FieldError(prefix + name, problem))
    born = c.date_of_birth if c.date_of_birth is not None else card.date_of_birth
    if c.date_of_birth is not None:
        problem = values.birth_date_error(c.date_of_birth, now.date())
        if problem:
            errors.append(FieldError(prefix + "date_of_birth", problem))
    contacts = card.contacts
    phone, email = card.phone, card.email
    if c.contacts is not None:
        contacts = tuple(
            ContactPoint(p.kind, p.value.strip(), " ".join(p.label.split())) for p in c.contacts
        )
        errors += contact_errors(contacts, prefix + "contacts")
        # The first phone and e-mail are the primary ones, the ones search uses.
        phone = next((p.value for p in contacts if p.kind is ContactKind.PHONE), "")
        email = next((p.value for p in contacts if p.kind is ContactKind.EMAIL), "")
    address = card.address
    if c.address is not None:
        address = " ".join(c.address.split())
        problem = values.address_error(address)
        if problem:
            errors.append(FieldError(prefix + "address", problem))
    centres = card.centre_ids
    region = card.region_id
    if c.centre_ids is not None:
        centres = tuple(dict.fromkeys(ci.strip() for ci in c.centre_ids))
        field = prefix + "centre_ids"
        if not centres:
            errors.append(FieldError(field, "a card belongs to at least one centre"))
        unknown = [ci for ci in centres if org.centre(ci) is None]
        if unknown:
            errors.append(FieldError(field, f"unknown centre(s): {', '.join(unknown)}"))
        moved = (set(centres) ^ set(card.centre_ids)) - caller_centres
        if moved and not unknown:
            errors.append(
                FieldError(
                    field,
                    "you can only add or remove centres you serve: " + ", ".join(sorted(moved)),
                )
            )
        if centres and not unknown:
            first = org.centre(centres[0])
            assert first is not None
            region = first.region
    client_type = card.client_type
    if c.client_type is not None:
        client_type = c.client_type.strip()
        problem = client_type_error(org, client_type)
        if problem:
            errors.append(FieldError(prefix + "client_type", problem))
    problems = card.problem_types
    if c.problem_types is not None:
        problems = tuple(p.strip() for p in c.problem_types)
        field = prefix + "problem_types"
        unknown = [p for p in problems if p not in org.problem_types]
        if unknown:
            errors.append(
                FieldError(
                    field,
                    f"unknown problem type(s) {', '.join(unknown)}; "
                    f"must be among: {', '.join(org.problem_types)}",
                )
            )
        if len(set(problems)) != len(problems):
            errors.append(FieldError(field, "names a problem type twice"))
    raise_if_any(errors)
    if c.centre_ids is not None:
        stranded = [
            w.worker_id
            for w in card.responsible_workers
            if not _worker_serves(org, w.worker_id, centres)
        ]
        if stranded:
            raise FailedPrecondition(
                f"responsible worker(s) {', '.join(stranded)} serve none of these centres; "
                "unassign them first",
                field=prefix + "centre_ids",
            )
    updated = replace(
        card,
        given_name=given,
        family_name=family,
        date_of_birth=born,
        identity_key=identity_key(card.organisation, given, family, born),
        contacts=contacts,
        phone=phone,
        email=email,
        address=address,
        centre_ids=centres,
        region_id=region,
        client_type=client_type,
        problem_types=problems,
    )
    changed = tuple(
        name
        for name, before, after in (
            ("given_name", card.given_name, updated.given_name),
            ("family_name", card.family_name, updated.family_name),
            ("date_of_birth", card.date_of_birth, updated.date_of_birth),
            ("contacts", (card.contacts, card.phone, card.email),
             (updated.contacts, updated.phone, updated.email)),
            ("address", card.address, updated.address),
            ("centre_ids", (card.centre_ids, card.region_id),
             (updated.centre_ids, updated.region_id)),
            ("client_type", card.client_type, updated.client_type),
            ("problem_types", card.problem_types, updated.problem_types),
        )
        if before != after
    )  # fmt: skip
    if not changed:
        return card, ()
    # Names the details, never their values: the history is read by many.
    return replace(
        updated, history=_line(card, now, f"card details changed: {', '.join(changed)}", actor)
    ), changed


# ------------------------------------------------------------------ responsible workers


def assign_worker(
    card: ClientCard, worker_id: str, org: Organisation, actor: str, now: datetime
) -> tuple[ClientCard, bool]:
    """The card with the worker responsible for the client; False when they already were.
    The worker must exist and serve one of the card's centres."""
    if not worker_id.strip():
        raise InvalidArgument([FieldError("worker_id", "is required")])
    if worker_id not in org.workers:
        raise InvalidArgument(
            [FieldError("worker_id", f"no worker {worker_id} in the organisation")]
        )
    if any(w.worker_id == worker_id for w in card.responsible_workers):
        return card, False
    if not _worker_serves(org, worker_id, card.centre_ids):
        raise FailedPrecondition(
            f"worker {worker_id} serves none of the card's centres ({', '.join(card.centre_ids)})",
            field="worker_id",
        )
    if len(card.responsible_workers) >= MAX_RESPONSIBLE:
        raise FailedPrecondition(
            f"a card has at most {MAX_RESPONSIBLE} responsible workers", field="worker_id"
        )
    return (
        replace(
            card,
            responsible_workers=(
                *card.responsible_workers,
                ResponsibleWorker(worker_id, now, actor),
            ),
            history=_line(card, now, f"worker {worker_id} made responsible for the client", actor),
        ),
        True,
    )


def unassign_worker(
    card: ClientCard, worker_id: str, reason: str, actor: str, now: datetime
) -> ClientCard:
    """The card without that responsible worker (who must be one)."""
    if not worker_id.strip():
        raise InvalidArgument([FieldError("worker_id", "is required")])
    if len(reason) > 500:
        raise InvalidArgument([FieldError("reason", "at most 500 characters")])
    if not any(w.worker_id == worker_id for w in card.responsible_workers):
        raise FailedPrecondition(
            f"worker {worker_id} is not responsible for this client", field="worker_id"
        )
    why = f"; reason: {reason.strip()}" if reason.strip() else ""
    return replace(
        card,
        responsible_workers=tuple(w for w in card.responsible_workers if w.worker_id != worker_id),
        history=_line(card, now, f"worker {worker_id} no longer responsible{why}", actor),
    )


# ------------------------------------------------------------------ consents


def consent_state(
    records: Iterable[ConsentRecord],
) -> dict[tuple[ConsentPurpose, str], ConsentRecord]:
    """Each consent (purpose, and partner when shared) with its latest record: the
    consent holds when that record is GIVEN."""
    state: dict[tuple[ConsentPurpose, str], ConsentRecord] = {}
    for record in records:
        state[record.key] = record
    return state


def _consent_errors(
    purpose: ConsentPurpose | None,
    partner: str,
    on: date | None,
    date_field: str,
    document_ref: str,
    today: date,
) -> list[FieldError]:
    errors = []
    if purpose is None:
        errors.append(FieldError("purpose", "is required"))
    elif purpose is ConsentPurpose.SHARING_WITH_PARTNER and not partner.strip():
        errors.append(FieldError("partner", "name the partner organisation the data goes to"))
    elif purpose is not ConsentPurpose.SHARING_WITH_PARTNER and partner.strip():
        errors.append(FieldError("partner", "only for sharing with a partner organisation"))
    if len(partner) > MAX_PARTNER:
        errors.append(FieldError("partner", f"at most {MAX_PARTNER} characters"))
    if on is None:
        errors.append(FieldError(date_field, "is required (YYYY-MM-DD)"))
    elif on > today:
        errors.append(FieldError(date_field, f"is in the future (today is {today.isoformat()})"))
    if len(document_ref) > MAX_DOCUMENT_REF:
        errors.append(FieldError("document_ref", f"at most {MAX_DOCUMENT_REF} characters"))
    return errors


def _consent_words(record: ConsentRecord) -> str:
    what = record.purpose.value.replace("_", " ")
    if record.partner:
        what += f" ({record.partner})"
    return what


def _append_consent(
    card: ClientCard,
    record: ConsentRecord,
    date_field: str,
    now: datetime,
) -> ClientCard:
    latest = consent_state(card.consent_records).get(record.key)
    if latest is not None and record.on < latest.on:
        raise FailedPrecondition(
            f"the consent was last {latest.action.value} on {latest.on.isoformat()}; "
            "a later record cannot be dated before it",
            field=date_field,
        )
    if record.action is ConsentAction.WITHDRAWN and (
        latest is None or latest.action is not ConsentAction.GIVEN
    ):
        raise FailedPrecondition(
            f"there is no consent to {_consent_words(record)} to withdraw"
            + (" (it was already withdrawn)" if latest is not None else " (it was never given)"),
            field="purpose",
        )
    document = f"; document {record.document_ref}" if record.document_ref else ""
    return replace(
        card,
        consent_records=(*card.consent_records, record),
        history=_line(
            card,
            now,
            f"consent to {_consent_words(record)} {record.action.value} on "
            f"{record.on.isoformat()}{document}",
            record.recorded_by,
        ),
    )


def record_consent(
    card: ClientCard,
    *,
    consent_id: str,
    purpose: ConsentPurpose | None,
    partner: str,
    given_on: date | None,
    document_ref: str,
    by: str,
    now: datetime,
) -> tuple[ClientCard, ConsentRecord]:
    """A consent given (again: a renewal is a new record too)."""
    errors = _consent_errors(purpose, partner, given_on, "given_on", document_ref, now.date())
    raise_if_any(errors)
    assert purpose is not None and given_on is not None
    record = ConsentRecord(
        consent_id=consent_id,
        purpose=purpose,
        partner=" ".join(partner.split()),
        action=ConsentAction.GIVEN,
        on=given_on,
        recorded_by=by,
        recorded_at=now,
        document_ref=document_ref.strip(),
    )
    return _append_consent(card, record, "given_on", now), record


def withdraw_consent(
    card: ClientCard,
    *,
    consent_id: str,
    purpose: ConsentPurpose | None,
    partner: str,
    withdrawn_on: date | None,
    document_ref: str,
    note: str,
    by: str,
    now: datetime,
) -> tuple[ClientCard, ConsentRecord]:
    """A consent withdrawn; the earlier records stay."""
    errors = _consent_errors(
        purpose, partner, withdrawn_on, "withdrawn_on", document_ref, now.date()
    )
    if len(note) > MAX_SUMMARY:
        errors.append(FieldError("reason", f"at most {MAX_SUMMARY} characters"))
    raise_if_any(errors)
    assert purpose is not None and withdrawn_on is not None
    record = ConsentRecord(
        consent_id=consent_id,
        purpose=purpose,
        partner=" ".join(partner.split()),
        action=ConsentAction.WITHDRAWN,
        on=withdrawn_on,
        recorded_by=by,
        recorded_at=now,
        document_ref=document_ref.strip(),
        note=note.strip(),
    )
    return _append_consent(card, record, "withdrawn_on", now), record


# ------------------------------------------------------------------ notes


def add_note(
    card: ClientCard,
    *,
    note_id: str,
    text: str,
    corrects_note_id: str,
    author: str,
    now: datetime,
) -> tuple[ClientCard, Note]:
    """A new note at the end; a correction names the note it corrects (which stays)."""
    errors = values.text_errors({"text": text}, free_text=("text",))
    if not text.strip():
        errors.append(FieldError("text", "is required"))
    if len(text) > MAX_NOTE:
        errors.append(FieldError("text", f"at most {MAX_NOTE} characters"))
    if corrects_note_id and not any(n.note_id == corrects_note_id for n in card.notes):
        errors.append(FieldError("corrects_note_id", f"no note {corrects_note_id} on this card"))
    raise_if_any(errors)
    if len(card.notes) >= MAX_NOTES:
        raise FailedPrecondition(
            f"a card keeps at most {MAX_NOTES} notes; summarise the older ones", field="text"
        )
    note = Note(note_id, author, now, text.strip(), corrects_note_id)
    what = (
        f"note {note_id} added, correcting note {corrects_note_id}"
        if corrects_note_id
        else f"note {note_id} added"
    )
    return replace(card, notes=(*card.notes, note), history=_line(card, now, what, author)), note


def corrected_by(notes: Iterable[Note]) -> dict[str, tuple[str, ...]]:
    """For each note, the later notes correcting it."""
    out: dict[str, tuple[str, ...]] = {}
    for note in notes:
        if note.corrects_note_id:
            out[note.corrects_note_id] = (*out.get(note.corrects_note_id, ()), note.note_id)
    return out


# ------------------------------------------------------------------ contacts


def record_contact(
    card: ClientCard,
    *,
    contact_id: str,
    on: date | None,
    channel: ContactChannel | None,
    worker_id: str,
    summary: str,
    org: Organisation,
    by: str,
    now: datetime,
) -> tuple[ClientCard, ContactRecord]:
    """A contact with the client; it moves the last-contact date the inactivity rule
    counts from (never back: an older contact only joins the list)."""
    errors = []
    if on is None:
        errors.append(FieldError("contacted_on", "is required (YYYY-MM-DD)"))
    elif on > now.date():
        errors.append(
            FieldError("contacted_on", f"is in the future (today is {now.date().isoformat()})")
        )
    if channel is None:
        errors.append(FieldError("channel", "is required"))
    if not worker_id:
        errors.append(FieldError("worker_id", "is required"))
    elif worker_id not in org.workers:
        errors.append(FieldError("worker_id", f"no worker {worker_id} in the organisation"))
    if not summary.strip():
        errors.append(FieldError("summary", "is required"))
    if len(summary) > MAX_SUMMARY:
        errors.append(FieldError("summary", f"at most {MAX_SUMMARY} characters"))
    raise_if_any(errors)
    assert on is not None and channel is not None
    record = ContactRecord(contact_id, on, channel, worker_id, summary.strip(), now, by)
    last = max(d for d in (card.last_contact_on, on) if d is not None)
    return (
        replace(
            card,
            contact_records=(*card.contact_records, record),
            last_contact_on=last,
            history=_line(
                card,
                now,
                f"contact {contact_id} on {on.isoformat()} ({channel.value}, by {worker_id})",
                by,
            ),
        ),
        record,
    )
