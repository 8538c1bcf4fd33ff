"""Status engine for clients and families.

Pure domain code: no I/O, no clock, no framework. Callers pass ``now`` and ``today`` in so
that every decision can be replayed and tested.

A client's status is never stored as a single mutable field. It is the outcome of an
append-only :class:`StatusHistory`; every command returns a *new* history together with
the entry it added (or ``None`` when the rules say nothing should change). Keeping the
full history is what lets statistics count flows between states and lets a worker see
why a client is where they are.

The tables below (:data:`STARTING_STATUSES`, :data:`ALLOWED_TRANSITIONS`,
:data:`REOPEN_STATUSES`, :data:`FAMILY_STATUS_PRECEDENCE`) are the single source of the
rules; the functions read them instead of repeating the rules in ``if`` chains, so the
published tables cannot drift from the behaviour.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import NamedTuple

__all__ = [
    "ALLOWED_TRANSITIONS",
    "CLOSED_STATUSES",
    "DEFAULT_REJECTION_REASONS",
    "DEFAULT_TERMINATION_REASONS",
    "DID_NOT_COME",
    "FAMILY_STATUS_PRECEDENCE",
    "REOPEN_STATUSES",
    "STARTING_STATUSES",
    "STATUS_LABELS",
    "SYSTEM_ACTOR",
    "ActorRequired",
    "ClientStatus",
    "EntrySource",
    "FamilyStatusNotShared",
    "FamilyStatusVerdict",
    "ForbiddenTransition",
    "FutureDate",
    "InvalidHistory",
    "InvalidPeriod",
    "InvalidSettings",
    "OutOfOrderDate",
    "ReasonNotAllowed",
    "ReasonRequired",
    "StatusChange",
    "StatusCounts",
    "StatusEntry",
    "StatusHistory",
    "StatusMode",
    "StatusNotEnabled",
    "StatusRuleViolation",
    "StatusSettings",
    "UnknownReason",
    "UnknownStatus",
    "apply_contract_signed",
    "apply_inactivity",
    "check_period",
    "check_transition",
    "count_family_statuses",
    "count_statuses",
    "family_status",
    "flows",
    "parse_status",
    "record_first_contact",
    "record_manual_status",
    "reopen_episode",
]


# --------------------------------------------------------------------------- enums


class ClientStatus(enum.Enum):
    APPROACHED = "approached"
    APPLICANT = "applicant"
    SERVICE_USER = "service_user"
    REJECTED = "rejected"
    TERMINATED = "terminated"


class StatusMode(enum.Enum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"


class EntrySource(enum.Enum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"


STATUS_LABELS: Mapping[ClientStatus, str] = MappingProxyType(
    {
        ClientStatus.APPROACHED: "approached",
        ClientStatus.APPLICANT: "applicant",
        ClientStatus.SERVICE_USER: "service user",
        ClientStatus.REJECTED: "rejected",
        ClientStatus.TERMINATED: "terminated",
    }
)

SYSTEM_ACTOR = "system"
DID_NOT_COME = "did_not_come"

# ``did_not_come`` leads both lists because the inactivity rule writes it and settings
# validation insists on it being present whenever that rule is switched on.
DEFAULT_REJECTION_REASONS: tuple[str, ...] = (
    DID_NOT_COME,
    "outside_target_group",
    "no_capacity",
    "declined_by_client",
    "referred_elsewhere",
    "other",
)
DEFAULT_TERMINATION_REASONS: tuple[str, ...] = (
    DID_NOT_COME,
    "goals_achieved",
    "client_request",
    "moved_away",
    "excluded",
    "referred_elsewhere",
    "died",
    "other",
)


# --------------------------------------------------------------------------- rule tables

#: Statuses that close an episode; they need a reason and are left only by reopening.
CLOSED_STATUSES: frozenset[ClientStatus] = frozenset(
    {ClientStatus.REJECTED, ClientStatus.TERMINATED}
)

#: The first status of a brand-new history (APPROACHED only when the project uses it).
STARTING_STATUSES: frozenset[ClientStatus] = frozenset(
    {ClientStatus.APPROACHED, ClientStatus.APPLICANT}
)

#: Ordinary transitions: current status -> statuses a new entry may set.
#: A client only moves forward through the lifecycle. APPROACHED is never re-entered
#: once someone has shown interest or been served, TERMINATED presupposes a service
#: that was actually provided, and REJECTED is for people never admitted. The closed
#: statuses have no way out here on purpose: a returning client gets a new episode via
#: :func:`reopen_episode`, so the earlier episode and its reason stay intact for statistics.
ALLOWED_TRANSITIONS: Mapping[ClientStatus, frozenset[ClientStatus]] = MappingProxyType(
    {
        ClientStatus.APPROACHED: frozenset(
            {ClientStatus.APPLICANT, ClientStatus.SERVICE_USER, ClientStatus.REJECTED}
        ),
        ClientStatus.APPLICANT: frozenset({ClientStatus.SERVICE_USER, ClientStatus.REJECTED}),
        ClientStatus.SERVICE_USER: frozenset({ClientStatus.TERMINATED}),
        ClientStatus.REJECTED: frozenset(),
        ClientStatus.TERMINATED: frozenset(),
    }
)

#: The statuses a new episode may start with (subject to ``use_approached``).
REOPEN_STATUSES: frozenset[ClientStatus] = STARTING_STATUSES

#: Shared family status: the first status in this order held by any member wins. A
#: household is as engaged as its most engaged member, and it only counts as closed
#: once every member is closed; a closed family in which anyone was terminated (that
#: is, had been served) counts as TERMINATED rather than REJECTED.
FAMILY_STATUS_PRECEDENCE: tuple[ClientStatus, ...] = (
    ClientStatus.SERVICE_USER,
    ClientStatus.APPLICANT,
    ClientStatus.APPROACHED,
    ClientStatus.TERMINATED,
    ClientStatus.REJECTED,
)


# --------------------------------------------------------------------------- errors


# The name is part of the published domain API, hence no "Error" suffix.
class StatusRuleViolation(Exception):
    """A command broke a status rule. ``field`` names the input to point the user at."""

    default_field = "status"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field if field is not None else self.default_field


class UnknownStatus(StatusRuleViolation):
    default_field = "status"


class StatusNotEnabled(StatusRuleViolation):
    default_field = "status"


class UnknownReason(StatusRuleViolation):
    default_field = "reason"


class ReasonRequired(StatusRuleViolation):
    default_field = "reason"


class ReasonNotAllowed(StatusRuleViolation):
    default_field = "reason"


class ForbiddenTransition(StatusRuleViolation):
    default_field = "status"

    def __init__(
        self,
        message: str,
        *,
        from_status: ClientStatus | None,
        to_status: ClientStatus,
        field: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.from_status = from_status
        self.to_status = to_status


class FutureDate(StatusRuleViolation):
    default_field = "on"


class OutOfOrderDate(StatusRuleViolation):
    default_field = "on"


class ActorRequired(StatusRuleViolation):
    default_field = "actor"


class InvalidSettings(StatusRuleViolation):
    default_field = "settings"


class InvalidHistory(StatusRuleViolation):
    default_field = "entries"


class InvalidPeriod(StatusRuleViolation):
    default_field = "period_end"


class FamilyStatusNotShared(StatusRuleViolation):
    default_field = "shared_with_family"


# --------------------------------------------------------------------------- settings


def _check_reason_list(name: str, reasons: object) -> tuple[str, ...]:
    if isinstance(reasons, str) or not isinstance(reasons, Iterable):
        raise InvalidSettings(f"{name} must be a list of reason codes", field=name)
    normalised = tuple(reasons)
    if not normalised:
        raise InvalidSettings(f"{name} must name at least one reason", field=name)
    for reason in normalised:
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidSettings(f"{name} contains an empty reason", field=name)
    if len(set(normalised)) != len(normalised):
        raise InvalidSettings(f"{name} lists a reason twice", field=name)
    return normalised


@dataclass(frozen=True)
class StatusSettings:
    """Status options chosen by one organisation or project.

    ``inactivity_days`` only has an effect in automatic mode: the rule is part of the
    automation, and a manually run project decides closures itself. It is still accepted
    in manual mode so that switching modes back and forth does not lose the number.
    """

    mode: StatusMode = StatusMode.AUTOMATIC
    use_approached: bool = False
    inactivity_days: int | None = None
    shared_with_family: bool = False
    rejection_reasons: tuple[str, ...] = DEFAULT_REJECTION_REASONS
    termination_reasons: tuple[str, ...] = DEFAULT_TERMINATION_REASONS

    def __post_init__(self) -> None:
        if not isinstance(self.mode, StatusMode):
            raise InvalidSettings("mode must be manual or automatic", field="mode")
        for flag in ("use_approached", "shared_with_family"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidSettings(f"{flag} must be true or false", field=flag)
        days = self.inactivity_days
        # bool is an int subclass; True days would be a silent configuration slip.
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
            raise InvalidSettings(
                "inactivity_days must be a whole number of days, at least 1, "
                "or empty to switch the rule off",
                field="inactivity_days",
            )
        # Config loaders hand over lists; freeze them so the settings stay hashable.
        for name in ("rejection_reasons", "termination_reasons"):
            object.__setattr__(self, name, _check_reason_list(name, getattr(self, name)))
        if days is not None:
            for name in ("rejection_reasons", "termination_reasons"):
                if DID_NOT_COME not in getattr(self, name):
                    raise InvalidSettings(
                        f"the inactivity rule writes the reason {DID_NOT_COME!r}, "
                        f"so {name} must contain it",
                        field=name,
                    )

    @property
    def starting_status(self) -> ClientStatus:
        return ClientStatus.APPROACHED if self.use_approached else ClientStatus.APPLICANT

    def reasons_for(self, status: ClientStatus) -> tuple[str, ...]:
        if status is ClientStatus.REJECTED:
            return self.rejection_reasons
        if status is ClientStatus.TERMINATED:
            return self.termination_reasons
        return ()


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class StatusEntry:
    """One immutable line of a status history.

    ``sequence`` is the recording order within the history. ``episode`` counts
    returns of the same person. ``supersedes`` lists the sequences of same-day automatic
    entries that this manual entry overrode; they stay in the history for audit but no
    longer take part in the timeline or statistics.
    """

    status: ClientStatus
    effective_on: date
    recorded_at: datetime
    source: EntrySource
    actor: str
    reason: str | None
    explanation: str
    sequence: int
    episode: int = 1
    supersedes: tuple[int, ...] = ()

    @property
    def order_key(self) -> tuple[date, int, int]:
        # Manual ranks above automatic on the same day whatever the recording order,
        # because automation cannot know about exclusions and other human decisions.
        return (
            self.effective_on,
            1 if self.source is EntrySource.MANUAL else 0,
            self.sequence,
        )


@dataclass(frozen=True)
class StatusHistory:
    """Append-only, immutable list of status entries of one client (or family)."""

    entries: tuple[StatusEntry, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.entries, key=lambda entry: entry.sequence))
        sequences = [entry.sequence for entry in ordered]
        if len(set(sequences)) != len(sequences):
            raise InvalidHistory("two status entries share the same sequence number")
        object.__setattr__(self, "entries", ordered)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def timeline(self) -> tuple[StatusEntry, ...]:
        """Entries that still count, in effective order (see :attr:`StatusEntry.order_key`)."""
        overridden = {seq for entry in self.entries for seq in entry.supersedes}
        live = (entry for entry in self.entries if entry.sequence not in overridden)
        return tuple(sorted(live, key=lambda entry: entry.order_key))

    @property
    def current_entry(self) -> StatusEntry | None:
        timeline = self.timeline
        return timeline[-1] if timeline else None

    @property
    def current(self) -> ClientStatus | None:
        entry = self.current_entry
        return entry.status if entry is not None else None

    @property
    def episode(self) -> int:
        entry = self.current_entry
        return entry.episode if entry is not None else 0

    @property
    def last_effective_on(self) -> date | None:
        return max((entry.effective_on for entry in self.entries), default=None)

    def entry_on(self, day: date) -> StatusEntry | None:
        """The entry deciding the status at the end of ``day``."""
        decided = [entry for entry in self.timeline if entry.effective_on <= day]
        return decided[-1] if decided else None

    def status_on(self, day: date) -> ClientStatus | None:
        entry = self.entry_on(day)
        return entry.status if entry is not None else None

    def _appended(self, entry: StatusEntry) -> StatusHistory:
        return StatusHistory((*self.entries, entry))

    def _next_sequence(self) -> int:
        return max((entry.sequence for entry in self.entries), default=0) + 1


class StatusChange(NamedTuple):
    """Result of a command: the new history and the entry added (``None`` = no change)."""

    history: StatusHistory
    entry: StatusEntry | None

    @property
    def changed(self) -> bool:
        return self.entry is not None


# --------------------------------------------------------------------------- checks


def parse_status(value: ClientStatus | str) -> ClientStatus:
    if isinstance(value, ClientStatus):
        return value
    try:
        return ClientStatus(value.strip().lower())
    except (AttributeError, ValueError):
        known = ", ".join(status.value for status in ClientStatus)
        raise UnknownStatus(f"unknown status {value!r}; expected one of: {known}") from None


def check_transition(
    from_status: ClientStatus | None, to_status: ClientStatus, settings: StatusSettings
) -> None:
    """Raise unless an ordinary entry may move ``from_status`` to ``to_status``."""
    if to_status is ClientStatus.APPROACHED and not settings.use_approached:
        raise StatusNotEnabled(
            "the approached status is switched off for this project; use applicant"
        )
    if from_status is None:
        if to_status not in STARTING_STATUSES:
            raise ForbiddenTransition(
                f"a client with no status yet cannot start as {STATUS_LABELS[to_status]}; "
                "record the first contact first",
                from_status=None,
                to_status=to_status,
            )
        return
    if from_status in CLOSED_STATUSES:
        raise ForbiddenTransition(
            f"the client is {STATUS_LABELS[from_status]}; a returning client needs "
            "a new episode (reopen) instead of a new status",
            from_status=from_status,
            to_status=to_status,
        )
    if to_status not in ALLOWED_TRANSITIONS[from_status]:
        raise ForbiddenTransition(
            f"cannot change status from {STATUS_LABELS[from_status]} to {STATUS_LABELS[to_status]}",
            from_status=from_status,
            to_status=to_status,
        )


def _check_reason(status: ClientStatus, reason: str | None, settings: StatusSettings) -> str | None:
    # Transports send "" for an absent optional string; treat it as absent.
    if reason is not None and not reason.strip():
        reason = None
    if status not in CLOSED_STATUSES:
        if reason is not None:
            raise ReasonNotAllowed(
                f"a reason is only recorded with rejected or terminated, "
                f"not with {STATUS_LABELS[status]}"
            )
        return None
    allowed = settings.reasons_for(status)
    if reason is None:
        raise ReasonRequired(
            f"{STATUS_LABELS[status]} needs a reason; choose one of: {', '.join(allowed)}"
        )
    if reason not in allowed:
        raise UnknownReason(
            f"{reason!r} is not a configured reason for {STATUS_LABELS[status]}; "
            f"choose one of: {', '.join(allowed)}"
        )
    return reason


def _check_not_future(on: date, today: date) -> None:
    if on > today:
        raise FutureDate(
            f"the date {on.isoformat()} is in the future (today is {today.isoformat()})"
        )


def _check_date(history: StatusHistory, on: date, today: date) -> None:
    _check_not_future(on, today)
    latest = history.last_effective_on
    # Back-dating behind an existing entry would rewrite what statistics already
    # reported and could slip a forbidden transition into the middle of the timeline.
    if latest is not None and on < latest:
        raise OutOfOrderDate(
            f"the date {on.isoformat()} is before the latest status entry "
            f"({latest.isoformat()}); entries can only be added from that day on"
        )


def _check_actor(actor: str, *, allow_system: bool = False) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise ActorRequired("a status entry needs the worker who made it")
    if actor.strip() == SYSTEM_ACTOR and not allow_system:
        raise ActorRequired(f"{SYSTEM_ACTOR!r} is reserved for automatic entries; name the worker")
    return actor.strip()


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="minutes")


# --------------------------------------------------------------------------- commands


def record_first_contact(
    history: StatusHistory,
    settings: StatusSettings,
    on: date,
    actor: str,
    now: datetime,
    status: ClientStatus | str | None = None,
) -> StatusChange:
    """Open a client's first episode at the project's starting status, or at the one
    the worker picked at the first contact (``status``: approached, where the project
    uses it, or applicant).

    In automatic mode a status chosen by the rule is AUTOMATIC (the actor is still kept
    as the person who logged the contact); in manual mode, or when the worker picked
    the status, the entry is the worker's decision, so it is MANUAL.
    """
    try:
        picked = parse_status(status) if status else None
    except UnknownStatus as exc:
        raise UnknownStatus(exc.message, field="first_status") from None
    automatic = settings.mode is StatusMode.AUTOMATIC and picked is None
    # Partners' referrals open profiles without a worker, which automation may record.
    actor = _check_actor(actor, allow_system=automatic)
    if picked is not None:
        if picked not in STARTING_STATUSES:
            raise StatusRuleViolation(
                f"a first contact starts as approached or applicant, not {STATUS_LABELS[picked]}",
                field="first_status",
            )
        if picked is ClientStatus.APPROACHED and not settings.use_approached:
            raise StatusNotEnabled(
                "the approached status is switched off for this project; use applicant",
                field="first_status",
            )
    status = picked or settings.starting_status
    if history.entries:
        raise ForbiddenTransition(
            "the client already has a status history; for a returning client "
            "open a new episode instead",
            from_status=history.current,
            to_status=status,
        )
    _check_date(history, on, now.date())
    why = (
        f"{actor} chose it at the first contact"
        if picked is not None
        else "the project records the approached stage"
        if settings.use_approached
        else "the project starts clients directly as applicants"
    )
    entry = StatusEntry(
        status=status,
        effective_on=on,
        recorded_at=now,
        source=EntrySource.AUTOMATIC if automatic else EntrySource.MANUAL,
        actor=actor,
        reason=None,
        explanation=(
            f"Started as {STATUS_LABELS[status]} on {on.isoformat()} at the first contact "
            f"logged by {actor}, because {why} (recorded {_stamp(now)})."
        ),
        sequence=history._next_sequence(),
        episode=1,
    )
    return StatusChange(history._appended(entry), entry)


def _same_day_automatic_tail(
    timeline: tuple[StatusEntry, ...], on: date
) -> tuple[StatusEntry, ...]:
    tail: list[StatusEntry] = []
    for entry in reversed(timeline):
        if entry.effective_on != on or entry.source is not EntrySource.AUTOMATIC:
            break
        tail.append(entry)
    return tuple(reversed(tail))


def record_manual_status(
    history: StatusHistory,
    settings: StatusSettings,
    status: ClientStatus | str,
    reason: str | None,
    on: date,
    actor: str,
    now: datetime,
) -> StatusChange:
    """Record a worker's status decision (allowed in both modes).

    The entry is first checked against the current status. If that is refused and the
    current status comes from automatic entries of the same day, the worker's entry
    overrides them: it is checked against the status from before them, may also simply
    restore that status, and records them in ``supersedes``. This is how a worker turns
    an automatic "did not come" into an exclusion, or cancels it, on the same day.
    """
    target = parse_status(status)
    actor = _check_actor(actor)
    _check_date(history, on, now.date())
    timeline = history.timeline
    current = timeline[-1] if timeline else None
    superseded: tuple[StatusEntry, ...] = ()
    try:
        check_transition(current.status if current else None, target, settings)
    except ForbiddenTransition:
        tail = _same_day_automatic_tail(timeline, on)
        if not tail:
            raise
        before = timeline[: len(timeline) - len(tail)]
        previous = before[-1].status if before else None
        if target is not previous:
            try:
                check_transition(previous, target, settings)
            except StatusRuleViolation:
                raise ForbiddenTransition(
                    f"cannot record {STATUS_LABELS[target]}: neither the current status "
                    "nor the status before that day's automatic entries allows it",
                    from_status=current.status if current else None,
                    to_status=target,
                ) from None
        superseded = tail
    checked_reason = _check_reason(target, reason, settings)
    explanation = f"Set to {STATUS_LABELS[target]} by {actor} with effect from {on.isoformat()}"
    if checked_reason is not None:
        explanation += f", reason: {checked_reason}"
    if superseded:
        replaced = ", ".join(STATUS_LABELS[entry.status] for entry in superseded)
        explanation += f"; this manual entry overrides the automatic {replaced} of the same day"
    explanation += f" (recorded {_stamp(now)})."
    entry = StatusEntry(
        status=target,
        effective_on=on,
        recorded_at=now,
        source=EntrySource.MANUAL,
        actor=actor,
        reason=checked_reason,
        explanation=explanation,
        sequence=history._next_sequence(),
        episode=current.episode if current else 1,
        supersedes=tuple(entry.sequence for entry in superseded),
    )
    return StatusChange(history._appended(entry), entry)


def _has_manual_entry_on(history: StatusHistory, day: date) -> bool:
    return any(
        entry.effective_on == day and entry.source is EntrySource.MANUAL
        for entry in history.timeline
    )


def _first_day_without_manual_entry(history: StatusHistory, start: date) -> date:
    manual_days = {
        entry.effective_on for entry in history.timeline if entry.source is EntrySource.MANUAL
    }
    day = max(start, history.last_effective_on or start)
    while day in manual_days:
        day += timedelta(days=1)
    return day


def apply_contract_signed(
    history: StatusHistory,
    settings: StatusSettings,
    on: date,
    now: datetime,
) -> StatusChange:
    """Automatic mode: a valid contract on admission makes the client a service user.

    Returns no change in manual mode and when the client already is a service user.
    When a worker recorded a status for the signing day, their entry decides that day
    (seed 001), but the contract is not lost: unless the worker closed the episode, it
    takes effect on the first later day without a worker's entry, once that day has
    come (until then this returns no change, and running it again later applies it:
    see ``contract_waits``).
    """
    if settings.mode is StatusMode.MANUAL:
        return StatusChange(history, None)
    _check_not_future(on, now.date())
    current = history.current_entry
    target = ClientStatus.SERVICE_USER
    if current is None:
        # A contract for someone never recorded points at missing data; guessing a
        # history would hide it, so a person has to look.
        raise ForbiddenTransition(
            "the client has no status yet; record the first contact before the contract",
            from_status=None,
            to_status=target,
        )
    # Settled before the date order is checked, so that a repeated contract message
    # that arrives after later entries is a harmless no-op rather than an error.
    if current.status is target:
        return StatusChange(history, None)
    signed_on = on
    deferred = ""
    if _has_manual_entry_on(history, on) or (
        history.last_effective_on is not None and history.last_effective_on > on
    ):
        if current.status in CLOSED_STATUSES:
            # The worker's decision (an exclusion, a rejection) stands.
            return StatusChange(history, None)
        on = _first_day_without_manual_entry(history, on + timedelta(days=1))
        if on > now.date():
            return StatusChange(history, None)
        deferred = (
            f" (signed on {signed_on.isoformat()}, a day a worker's own status entry "
            "decided, so it takes effect from the first day after)"
        )
    _check_date(history, on, now.date())
    check_transition(current.status, target, settings)
    entry = StatusEntry(
        status=target,
        effective_on=on,
        recorded_at=now,
        source=EntrySource.AUTOMATIC,
        actor=SYSTEM_ACTOR,
        reason=None,
        explanation=(
            f"Became {STATUS_LABELS[target]} automatically on {on.isoformat()} because a "
            f"valid contract was signed{deferred}; previously "
            f"{STATUS_LABELS[current.status]} (recorded {_stamp(now)})."
        ),
        sequence=history._next_sequence(),
        episode=current.episode,
    )
    return StatusChange(history._appended(entry), entry)


def apply_inactivity(
    history: StatusHistory,
    settings: StatusSettings,
    last_contact_on: date | None,
    today: date,
    now: datetime,
) -> StatusChange:
    """Automatic mode: close an episode after ``inactivity_days`` without contact.

    Someone who never became a service user is REJECTED, a service user is TERMINATED,
    both with reason ``did_not_come``. The entry is dated on the day the limit was
    reached, not the day the check happened to run, so a late run reports the same
    history as a punctual one. Idempotent: once the episode is closed nothing happens.
    """
    days = settings.inactivity_days
    if settings.mode is StatusMode.MANUAL or days is None:
        return StatusChange(history, None)
    if last_contact_on is not None and last_contact_on > today:
        raise FutureDate(
            f"the last contact {last_contact_on.isoformat()} is after today ({today.isoformat()})",
            field="last_contact_on",
        )
    current = history.current_entry
    latest = history.last_effective_on
    if current is None or latest is None or current.status in CLOSED_STATUSES:
        return StatusChange(history, None)
    # Count from the latest status entry too: a freshly reopened or admitted client
    # must not be closed because of silence that belongs to the time before.
    since = latest if last_contact_on is None else max(last_contact_on, latest)
    if (today - since).days < days:
        return StatusChange(history, None)
    due = since + timedelta(days=days)
    target = (
        ClientStatus.TERMINATED
        if current.status is ClientStatus.SERVICE_USER
        else ClientStatus.REJECTED
    )
    check_transition(current.status, target, settings)
    entry = StatusEntry(
        status=target,
        effective_on=due,
        recorded_at=now,
        source=EntrySource.AUTOMATIC,
        actor=SYSTEM_ACTOR,
        reason=DID_NOT_COME,
        explanation=(
            f"Set to {STATUS_LABELS[target]} automatically on {due.isoformat()}, "
            f"reason: {DID_NOT_COME}: no contact for {days} days since "
            f"{since.isoformat()} while {STATUS_LABELS[current.status]} "
            f"(recorded {_stamp(now)})."
        ),
        sequence=history._next_sequence(),
        episode=current.episode,
    )
    return StatusChange(history._appended(entry), entry)


def reopen_episode(
    history: StatusHistory,
    settings: StatusSettings,
    on: date,
    actor: str,
    now: datetime,
    status: ClientStatus | str | None = None,
) -> StatusChange:
    """Start a new episode for a returning ("old-new") client.

    Only a REJECTED or TERMINATED client can return. The earlier episode stays in the
    history untouched; the new one starts at the project's starting status unless the
    worker picks another one from :data:`REOPEN_STATUSES`.
    """
    target = settings.starting_status if status is None else parse_status(status)
    actor = _check_actor(actor)
    current = history.current_entry
    if current is None or current.status not in CLOSED_STATUSES:
        raise ForbiddenTransition(
            "only a rejected or terminated client can start a new episode",
            from_status=current.status if current else None,
            to_status=target,
        )
    if target is ClientStatus.APPROACHED and not settings.use_approached:
        raise StatusNotEnabled(
            "the approached status is switched off for this project; use applicant"
        )
    if target not in REOPEN_STATUSES:
        raise ForbiddenTransition(
            f"a new episode cannot start as {STATUS_LABELS[target]}",
            from_status=current.status,
            to_status=target,
        )
    _check_date(history, on, now.date())
    episode = current.episode + 1
    entry = StatusEntry(
        status=target,
        effective_on=on,
        recorded_at=now,
        source=EntrySource.MANUAL,
        actor=actor,
        reason=None,
        explanation=(
            f"Episode {episode} opened by {actor} with effect from {on.isoformat()} for a "
            f"returning client (previously {STATUS_LABELS[current.status]}"
            f"{', reason: ' + current.reason if current.reason else ''}); starts again "
            f"as {STATUS_LABELS[target]} (recorded {_stamp(now)})."
        ),
        sequence=history._next_sequence(),
        episode=episode,
    )
    return StatusChange(history._appended(entry), entry)


# --------------------------------------------------------------------------- family


@dataclass(frozen=True)
class FamilyStatusVerdict:
    status: ClientStatus | None
    explanation: str


def family_status(
    member_histories: Iterable[StatusHistory],
    settings: StatusSettings,
    on: date | None = None,
) -> FamilyStatusVerdict:
    """Status of a household whose status is shared with its members.

    The first status of :data:`FAMILY_STATUS_PRECEDENCE` held by any member (at the
    end of ``on``, or now when ``on`` is None) is the family's status. Families whose
    status is not shared keep a history of their own, so asking here is an error.
    """
    if not settings.shared_with_family:
        raise FamilyStatusNotShared("this project keeps family status separately from its members")
    statuses = [
        history.current if on is None else history.status_on(on) for history in member_histories
    ]
    held = Counter(status for status in statuses if status is not None)
    for status in FAMILY_STATUS_PRECEDENCE:
        count = held[status]
        if not count:
            continue
        label = STATUS_LABELS[status]
        if status in CLOSED_STATUSES:
            why = f"no member has an open episode and {count} member(s) {label}"
        else:
            why = f"{count} of {len(statuses)} member(s) {label}, the most engaged status held"
        return FamilyStatusVerdict(status, f"The family is {label} because {why}.")
    return FamilyStatusVerdict(None, "No family member has a status yet.")


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class StatusCounts:
    period_start: date
    period_end: date
    #: How many histories are in each status at the end of the period (all keys present).
    statuses: Counter[ClientStatus]
    #: Rejections / terminations that took effect within the period, by reason.
    rejection_reasons: Counter[str]
    termination_reasons: Counter[str]


def check_period(start: date, end: date) -> None:
    _check_period(start, end)


def _check_period(start: date, end: date) -> None:
    if end < start:
        raise InvalidPeriod(
            f"the period ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        )


def count_statuses(
    histories: Iterable[StatusHistory], period_start: date, period_end: date
) -> StatusCounts:
    """Counts per status at the end of the period and per closing reason within it."""
    _check_period(period_start, period_end)
    statuses: Counter[ClientStatus] = Counter({status: 0 for status in ClientStatus})
    rejections: Counter[str] = Counter()
    terminations: Counter[str] = Counter()
    for history in histories:
        at_end = history.status_on(period_end)
        if at_end is not None:
            statuses[at_end] += 1
        for entry in history.timeline:
            if not period_start <= entry.effective_on <= period_end:
                continue
            if entry.reason is None:
                continue
            if entry.status is ClientStatus.REJECTED:
                rejections[entry.reason] += 1
            elif entry.status is ClientStatus.TERMINATED:
                terminations[entry.reason] += 1
    return StatusCounts(period_start, period_end, statuses, rejections, terminations)


def count_family_statuses(
    families: Iterable[Iterable[StatusHistory]], settings: StatusSettings, on: date
) -> Counter[ClientStatus]:
    """Families per shared status at the end of ``on`` (see :func:`family_status`)."""
    counts: Counter[ClientStatus] = Counter({status: 0 for status in ClientStatus})
    for members in families:
        verdict = family_status(members, settings, on)
        if verdict.status is not None:
            counts[verdict.status] += 1
    return counts


def flows(
    histories: Iterable[StatusHistory], start: date, end: date
) -> Counter[tuple[ClientStatus | None, ClientStatus]]:
    """Transitions that took effect within the period, as (from, to) pairs.

    ``from`` is None for a history's very first status, so new clients show up as
    flows into their starting status. Same-status steps (a manual entry confirming the
    status an automatic one had set) are not movements and are left out.
    """
    _check_period(start, end)
    counted: Counter[tuple[ClientStatus | None, ClientStatus]] = Counter()
    for history in histories:
        previous: ClientStatus | None = None
        for entry in history.timeline:
            if entry.status is not previous and start <= entry.effective_on <= end:
                counted[(previous, entry.status)] += 1
            previous = entry.status
    return counted
