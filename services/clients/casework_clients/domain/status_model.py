"""The status engine's vocabulary: statuses, modes, entry sources, the rule tables,
the errors the rules raise, the settings of a project, and the append-only history.

The tables (:data:`STARTING_STATUSES`, :data:`ALLOWED_TRANSITIONS`,
:data:`REOPEN_STATUSES`, :data:`FAMILY_STATUS_PRECEDENCE`) are the single source of the
rules; ``status`` reads them instead of repeating the rules in ``if`` chains, so the
published tables cannot drift from the behaviour.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import NamedTuple

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
