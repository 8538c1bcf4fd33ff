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

The vocabulary, tables and history live in ``status_model``, the family status and the
counting in ``status_counts``; this module holds the rules' checks and commands and
answers every name of the engine.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from casework_clients.domain.status_counts import (
    FamilyStatusVerdict,
    StatusCounts,
    check_period,
    count_family_statuses,
    count_statuses,
    family_status,
    flows,
)
from casework_clients.domain.status_model import (
    ALLOWED_TRANSITIONS,
    CLOSED_STATUSES,
    DEFAULT_REJECTION_REASONS,
    DEFAULT_TERMINATION_REASONS,
    DID_NOT_COME,
    FAMILY_STATUS_PRECEDENCE,
    REOPEN_STATUSES,
    STARTING_STATUSES,
    STATUS_LABELS,
    SYSTEM_ACTOR,
    ActorRequired,
    ClientStatus,
    EntrySource,
    FamilyStatusNotShared,
    ForbiddenTransition,
    FutureDate,
    InvalidHistory,
    InvalidPeriod,
    InvalidSettings,
    OutOfOrderDate,
    ReasonNotAllowed,
    ReasonRequired,
    StatusChange,
    StatusEntry,
    StatusHistory,
    StatusMode,
    StatusNotEnabled,
    StatusRuleViolation,
    StatusSettings,
    UnknownReason,
    UnknownStatus,
)

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


def _automatic(
    history: StatusHistory,
    status: ClientStatus,
    on: date,
    now: datetime,
    reason: str | None,
    explanation: str,
) -> StatusChange:
    """The history with an automatic entry in the current episode."""
    current = history.current_entry
    assert current is not None
    entry = StatusEntry(
        status=status,
        effective_on=on,
        recorded_at=now,
        source=EntrySource.AUTOMATIC,
        actor=SYSTEM_ACTOR,
        reason=reason,
        explanation=explanation,
        sequence=history._next_sequence(),
        episode=current.episode,
    )
    return StatusChange(history._appended(entry), entry)


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
    return _automatic(
        history,
        target,
        on,
        now,
        None,
        f"Became {STATUS_LABELS[target]} automatically on {on.isoformat()} because a "
        f"valid contract was signed{deferred}; previously "
        f"{STATUS_LABELS[current.status]} (recorded {_stamp(now)}).",
    )


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
    return _automatic(
        history,
        target,
        due,
        now,
        DID_NOT_COME,
        f"Set to {STATUS_LABELS[target]} automatically on {due.isoformat()}, "
        f"reason: {DID_NOT_COME}: no contact for {days} days since "
        f"{since.isoformat()} while {STATUS_LABELS[current.status]} "
        f"(recorded {_stamp(now)}).",
    )


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
