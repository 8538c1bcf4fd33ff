"""The client's card, and how a referral finds or creates one.

A card exists once per person per organisation. A referral either creates the card
(status Applicant) or is attached to the card of the same person; attaching the same
referral twice changes nothing, which is what makes redelivered events harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum

from casework_clients.domain import enrolments as enrolment_rules
from casework_clients.domain.colour import ContractState
from casework_clients.domain.enrolments import Enrolment, EnrolmentChange
from casework_clients.domain.identity import identity_key, other_card_key
from casework_clients.domain.records import (
    ConsentRecord,
    ContactKind,
    ContactPoint,
    ContactRecord,
    Note,
    ResponsibleWorker,
)
from casework_clients.domain.status import (
    SYSTEM_ACTOR,
    StatusChange,
    StatusEntry,
    StatusHistory,
    StatusSettings,
    record_first_contact,
)

#: How a person first comes (seed 000): intake's channels, and the centre's own desk.
CHANNELS: tuple[str, ...] = (
    "desk",
    "phone",
    "email",
    "web_form",
    "partner_referral",
    "client_referral",
    "group_event",
    "outreach",
)


def channel_error(channel: str) -> str | None:
    if channel and channel not in CHANNELS:
        return f"unknown channel {channel!r}; one of: {', '.join(CHANNELS)}"
    return None


class Outcome(Enum):
    REGISTERED = "registered"
    MATCHED = "matched"
    UNCHANGED = "unchanged"
    #: The referral matched a card: a proposal waits for the card's own workers.
    PROPOSED = "proposed"


@dataclass(frozen=True)
class ReferralFacts:
    """What clients needs of intake's referral.submitted event."""

    referral_id: str
    organisation: str
    given_name: str
    family_name: str
    date_of_birth: date | None
    phone: str
    email: str
    address: str
    region_id: str
    centre_id: str
    client_type: str
    problem_type: str
    channel: str
    submitted_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    what: str
    by: str


@dataclass(frozen=True)
class Contract:
    """A signed contract as the card knows it (documents owns the document itself)."""

    contract_id: str
    signed_on: date
    valid_until: date | None
    recorded_at: datetime


@dataclass(frozen=True)
class AbsorbedStatus:
    """The status history of a card merged into this one: kept whole, apart from the
    survivor's own (two timelines of one person cannot be interleaved into one valid
    history), shown with the card and still counted in statistics."""

    client_id: str
    entries: tuple[StatusEntry, ...]


@dataclass(frozen=True)
class ClientCard:
    client_id: str
    organisation: str
    identity_key: str
    given_name: str
    family_name: str
    #: None for a person without papers who does not know or cannot prove it (004).
    date_of_birth: date | None
    phone: str
    email: str
    address: str
    region_id: str
    centre_ids: tuple[str, ...]
    client_type: str
    problem_types: tuple[str, ...]
    status: str
    referral_ids: tuple[str, ...]
    registered_at: datetime
    history: tuple[HistoryEntry, ...] = field(default=())
    version: int = 0
    #: Append-only status entries (see domain.status); ``status`` mirrors the current one.
    status_entries: tuple[StatusEntry, ...] = ()
    contracts: tuple[Contract, ...] = ()
    #: The latest day someone was in contact with the client (referral, consultation,
    #: status decision, contract): the inactivity rule counts from it.
    last_contact_on: date | None = None
    archived: bool = False
    #: Set on a card merged into another: the card only redirects from then on.
    merged_into: str = ""
    merged_from: tuple[str, ...] = ()
    consultation_ids: tuple[str, ...] = ()
    #: Labelled phones and e-mails. ``phone`` / ``email`` stay the primary ones (the
    #: first of each kind here once a worker has edited the contacts): search uses them.
    contacts: tuple[ContactPoint, ...] = ()
    responsible_workers: tuple[ResponsibleWorker, ...] = ()
    #: Append-only: a consent's state is its latest record.
    consent_records: tuple[ConsentRecord, ...] = ()
    #: Append-only free notes.
    notes: tuple[Note, ...] = ()
    #: Append-only recorded contacts with the client.
    contact_records: tuple[ContactRecord, ...] = ()
    #: Set on a card registered (or renamed) by a worker for a person whose card lives
    #: in a centre that worker does not serve: a possible duplicate awaiting that
    #: centre's manager. Never shown to the card's own centre (it would reveal the
    #: other card).
    duplicate_of: str = ""
    #: The project or programme the client is enrolled in: its status settings govern
    #: the card's status ("" follows the organisation's default settings).
    project_id: str = ""
    #: How the person first came (desk, phone, e-mail, web form, partner, outreach...).
    channel: str = ""
    #: Status histories of the cards merged into this one, oldest merge first.
    absorbed_status: tuple[AbsorbedStatus, ...] = ()
    #: The one-time consultations joined to the card, with their content.
    consultations: tuple[AttachedConsultation, ...] = ()
    #: Every enrolment in a project or programme (see domain.enrolments); ``project_id``
    #: mirrors the lead enrolment's project.
    enrolments: tuple[Enrolment, ...] = ()

    @property
    def enrolment_record(self) -> tuple[Enrolment, ...]:
        """The enrolments, a card registered into a project before enrolments were
        kept showing that project as one enrolment from its registration."""
        first = self.history[0].by if self.history else ""
        return enrolment_rules.as_recorded(
            self.enrolments, self.project_id, self.registered_at, first
        )

    @property
    def status_history(self) -> StatusHistory:
        return StatusHistory(self.status_entries)

    @property
    def episode(self) -> int:
        return self.status_history.episode

    @property
    def contract_state(self) -> ContractState:
        """The latest signed contract (by signing date) as colour reads it."""
        if not self.contracts:
            return ContractState()
        latest = max(self.contracts, key=lambda c: (c.signed_on, c.recorded_at))
        return ContractState(signed=True, valid_until=latest.valid_until)

    @property
    def missing_details(self) -> tuple[str, ...]:
        """What a person without papers could not give (seed 004): the card is marked
        with it, and found by the other details."""
        missing = []
        if self.date_of_birth is None:
            missing.append("date_of_birth")
        if not self.address.strip():
            missing.append("address")
        return tuple(missing)

    @property
    def contract_awaits_status(self) -> bool:
        """A signed contract while the client is still approached or applicant: in
        automatic mode it may yet make them a service user (a day a worker decided
        defers it, see ``status.apply_contract_signed``)."""
        return bool(self.contracts) and self.status in ("approached", "applicant")

    @property
    def latest_contract(self) -> Contract | None:
        if not self.contracts:
            return None
        return max(self.contracts, key=lambda c: (c.signed_on, c.recorded_at))

    @property
    def last_activity_on(self) -> date | None:
        """The later of the last contact and the last status entry."""
        days = [d for d in (self.last_contact_on, self.status_history.last_effective_on) if d]
        return max(days) if days else None


def card_identity(
    organisation: str, given_name: str, family_name: str, born: date | None, client_id: str
) -> str:
    """The identity key a new card is stored under: names alone (no date of birth) are
    no identity, so such a card stands apart under its own key (see identity)."""
    key = identity_key(organisation, given_name, family_name, born)
    return key if born is not None else other_card_key(key, client_id)


def _merged(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return values if not value or value in values else (*values, value)


def _fresh_card(
    client_id: str,
    person: ReferralFacts | NewPerson,
    now: datetime,
    *,
    problem_types: tuple[str, ...],
    status: str,
    referral_ids: tuple[str, ...],
    history: tuple[HistoryEntry, ...],
    last_contact_on: date,
    channel: str,
    project_id: str = "",
) -> ClientCard:
    """A new card of the person as a referral or a worker's registration describes
    them, registered ``now``."""
    return ClientCard(
        client_id=client_id,
        organisation=person.organisation,
        identity_key=card_identity(
            person.organisation,
            person.given_name,
            person.family_name,
            person.date_of_birth,
            client_id,
        ),
        given_name=person.given_name,
        family_name=person.family_name,
        date_of_birth=person.date_of_birth,
        phone=person.phone,
        email=person.email,
        address=person.address,
        region_id=person.region_id,
        centre_ids=(person.centre_id,),
        client_type=person.client_type,
        problem_types=problem_types,
        status=status,
        referral_ids=referral_ids,
        registered_at=now,
        history=history,
        last_contact_on=last_contact_on,
        project_id=project_id,
        channel=channel,
    )


def register_from_referral(
    existing: ClientCard | None,
    facts: ReferralFacts,
    *,
    new_client_id: str,
    initial_status: str,
    now: datetime,
    settings: StatusSettings | None = None,
    match_reasons: tuple[str, ...] = (),
) -> tuple[ClientCard, Outcome]:
    """The card a referral creates (``existing`` None), or, for a card a worker has
    confirmed the referral belongs to, the card with the referral joined (nothing of
    the referral's contact details taken: see ``join_referral``).

    With ``settings`` a new card opens its first status episode by the project's
    rules (the referral's partner is the actor); ``match_reasons`` explain, in the
    card's history, a match that was not an exact identity.
    """
    if existing is None:
        card = _fresh_card(
            new_client_id,
            facts,
            now,
            problem_types=(facts.problem_type,),
            status=initial_status,
            referral_ids=(facts.referral_id,),
            history=(
                HistoryEntry(
                    now,
                    f"card created from referral {facts.referral_id} ({facts.channel})",
                    "system",
                ),
            ),
            last_contact_on=facts.submitted_at.date(),
            channel=facts.channel,
        )
        if settings is not None:
            change = record_first_contact(
                StatusHistory(), settings, now.date(), SYSTEM_ACTOR_FOR_REFERRAL, now
            )
            card = with_status_change(card, change, now, SYSTEM_ACTOR)
        return card, Outcome.REGISTERED
    if facts.referral_id in existing.referral_ids:
        return existing, Outcome.UNCHANGED
    return join_referral(existing, facts, now=now, match_reasons=match_reasons), Outcome.MATCHED


def join_referral(
    existing: ClientCard,
    facts: ReferralFacts,
    *,
    now: datetime,
    match_reasons: tuple[str, ...] = (),
    merge: tuple[str, ...] = (),
    share: bool = False,
    by: str = "system",
) -> ClientCard:
    """The card with a referral a worker of the card's centre confirmed is this client's.

    The referral never changes the card's contact details or centres by itself: only
    the details named in ``merge`` (phone, email, address: those the worker trusts)
    are taken, a phone or e-mail beside the card's own, and the referring centre is
    added only when ``share`` says the worker chose to share the card with it."""
    how = f" (matched: {', '.join(match_reasons)})" if match_reasons else ""
    returning = (
        "; the client's episode is closed: a worker decides whether to open a new one"
        if existing.status in ("rejected", "terminated")
        else ""
    )
    merged = ""
    if merge:
        merged = f"; details taken from the referral: {', '.join(merge)}"
    shared = f"; card shared with {facts.centre_id}" if share else ""
    card = replace(
        existing,
        problem_types=_merged(existing.problem_types, facts.problem_type),
        centre_ids=_merged(existing.centre_ids, facts.centre_id) if share else existing.centre_ids,
        referral_ids=(*existing.referral_ids, facts.referral_id),
        history=(
            *existing.history,
            HistoryEntry(
                now,
                f"referral {facts.referral_id} ({facts.channel}) joined to the card"
                f"{how}{returning}{merged}{shared}",
                by,
            ),
        ),
        last_contact_on=later_day(existing.last_contact_on, facts.submitted_at.date()),
    )
    return _with_referral_details(card, facts, merge)


def _with_referral_details(
    card: ClientCard, facts: ReferralFacts, merge: tuple[str, ...]
) -> ClientCard:
    """The trusted referral details added: a phone or e-mail joins the card's contacts
    (primary only where the card had none), an address replaces the card's."""
    contacts = card.contacts
    phone, email, address = card.phone, card.email, card.address
    known = {(c.kind, c.value.casefold()) for c in contacts} | {
        (ContactKind.PHONE, card.phone.casefold()),
        (ContactKind.EMAIL, card.email.casefold()),
    }
    for name, kind, value in (
        ("phone", ContactKind.PHONE, facts.phone),
        ("email", ContactKind.EMAIL, facts.email),
    ):
        if name not in merge or not value or (kind, value.casefold()) in known:
            continue
        if not contacts:
            # Keep the card's primary ones listed first, as the worker knew them.
            contacts = tuple(
                ContactPoint(k, v, "primary")
                for k, v in ((ContactKind.PHONE, card.phone), (ContactKind.EMAIL, card.email))
                if v
            )
        contacts = (*contacts, ContactPoint(kind, value, "from referral"))
        if kind is ContactKind.PHONE and not phone:
            phone = value
        if kind is ContactKind.EMAIL and not email:
            email = value
    if "address" in merge and facts.address:
        address = facts.address
    return replace(card, contacts=contacts, phone=phone, email=email, address=address)


# A partner's referral opens the first episode; in manual mode the status engine needs a
# named actor, so the automation records it as the intake channel.
SYSTEM_ACTOR_FOR_REFERRAL = "intake-referral"


def later_day(a: date | None, b: date | None) -> date | None:
    days = [d for d in (a, b) if d is not None]
    return max(days) if days else None


def with_status_change(
    card: ClientCard, change: StatusChange, now: datetime, by: str
) -> ClientCard:
    """The card after a status command: entries, mirrored status and a history line."""
    entry = change.entry
    if entry is None:
        return card
    return replace(
        card,
        status_entries=change.history.entries,
        status=change.history.current.value if change.history.current else card.status,
        history=(*card.history, HistoryEntry(now, entry.explanation, by)),
    )


def event_payload(card: ClientCard, facts: ReferralFacts) -> dict[str, object]:
    """Payload of clients.client.registered.v1 / clients.client.matched.v1."""
    return {
        "client_id": card.client_id,
        "referral_id": facts.referral_id,
        "display_name": f"{card.given_name} {card.family_name}",
        "region_id": facts.region_id,
        "centre_id": facts.centre_id,
        "client_type": facts.client_type,
        "problem_type": facts.problem_type,
        "status": card.status,
    }


# ------------------------------------------------------------------ registration by a worker


@dataclass(frozen=True)
class NewPerson:
    """What a worker's registration says about a person."""

    organisation: str
    given_name: str
    family_name: str
    date_of_birth: date | None
    phone: str
    email: str
    address: str
    region_id: str
    centre_id: str
    client_type: str
    problem_type: str
    project_id: str = ""
    channel: str = ""
    #: The status the worker picked at the first contact ("": the project's start).
    first_status: str = ""


def new_card(
    person: NewPerson,
    *,
    client_id: str,
    settings: StatusSettings,
    actor: str,
    now: datetime,
) -> ClientCard:
    """A card registered by a worker, its first episode opened by the project's rules."""
    card = _fresh_card(
        client_id,
        person,
        now,
        problem_types=(person.problem_type,) if person.problem_type else (),
        status="",
        referral_ids=(),
        history=(
            HistoryEntry(now, "card registered after a search found no existing card", actor),
        ),
        last_contact_on=now.date(),
        project_id=person.project_id,
        channel=person.channel,
    )
    if person.project_id:
        # Seed 000: the project chosen with the client is the card's first enrolment.
        card = replace(
            card, enrolments=(Enrolment(person.project_id, now.date(), actor, now, lead=True),)
        )
    change = record_first_contact(
        StatusHistory(), settings, now.date(), actor, now, person.first_status or None
    )
    return with_status_change(card, change, now, actor)


def with_enrolments(
    card: ClientCard, change: EnrolmentChange, now: datetime, by: str
) -> ClientCard:
    """The card after an enrolment command: its enrolments, the lead's project (whose
    settings govern the status from now on) and a history line."""
    if change.changed is None:
        return card
    return replace(
        card,
        enrolments=change.enrolments,
        project_id=change.lead_project_id,
        history=(*card.history, HistoryEntry(now, change.explanation, by)),
    )


# ------------------------------------------------------------------ contracts


def record_contract(card: ClientCard, contract: Contract, by: str) -> tuple[ClientCard, bool]:
    """The card with the signed contract added; False when that contract is known."""
    if any(c.contract_id == contract.contract_id for c in card.contracts):
        return card, False
    until = contract.valid_until.isoformat() if contract.valid_until else "no end date"
    return (
        replace(
            card,
            contracts=(*card.contracts, contract),
            last_contact_on=later_day(card.last_contact_on, contract.signed_on),
            history=(
                *card.history,
                HistoryEntry(
                    contract.recorded_at,
                    f"contract {contract.contract_id} signed on "
                    f"{contract.signed_on.isoformat()}, valid until {until}",
                    by,
                ),
            ),
        ),
        True,
    )


def note_history(card: ClientCard, at: datetime, what: str, by: str) -> ClientCard:
    return replace(card, history=(*card.history, HistoryEntry(at, what, by)))


# ------------------------------------------------------------------ episodes


def archive(card: ClientCard, actor: str, now: datetime) -> ClientCard:
    """Archive a card whose episode is closed (rejected or terminated)."""
    if card.archived:
        return card
    return replace(
        card,
        archived=True,
        history=(*card.history, HistoryEntry(now, "card archived (episode closed)", actor)),
    )


# ------------------------------------------------------------------ consultations


@dataclass(frozen=True)
class Consultation:
    """A one-time consultation recorded by intake (intake.consultation.recorded.v1)."""

    consultation_id: str
    organisation: str
    given_name: str
    family_name: str
    date_of_birth: date | None
    phone: str
    email: str
    topic: str
    duration_minutes: int
    worker_id: str
    channel: str
    centre_id: str
    recorded_at: datetime

    @property
    def anonymous(self) -> bool:
        return not (self.given_name.strip() or self.family_name.strip())


@dataclass(frozen=True)
class AttachedConsultation:
    """A consultation joined to a card: what it was, and who joined it how."""

    consultation: Consultation
    attached_at: datetime
    attached_by: str
    how: str
