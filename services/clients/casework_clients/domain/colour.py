"""Overview colour of a client or family, derived from status, contract and plan.

The colour is never stored or edited: it is recomputed from the data that causes it, so
fixing the data is the only way to change it, and every verdict carries the sentence a
worker sees when hovering over the name.

:data:`COLOUR_RULES` is the published, ordered rule table. :func:`derive_colour` walks
the very same rule objects in that order and the first one that matches decides, so the
table and the behaviour cannot drift apart. The rules are exhaustive: the last rule for
each status catches whatever the earlier ones let through.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from casework_clients.domain.status import CLOSED_STATUSES, STATUS_LABELS, ClientStatus

__all__ = [
    "COLOUR_RULES",
    "FAMILY_COLOUR_PRECEDENCE",
    "REVIEW_DUE_SOON_DAYS",
    "Colour",
    "ColourRule",
    "ColourVerdict",
    "ContractState",
    "PlanState",
    "derive_colour",
    "derive_family_colour",
]


class Colour(enum.Enum):
    WHITE = "white"  # no status recorded: the card is incomplete
    BLUE = "blue"  # approached or applicant: before admission
    GREEN = "green"  # service user, contract and plan in order
    AMBER = "amber"  # needs attention soon
    RED = "red"  # contradiction in the data or something overdue
    GREY = "grey"  # episode closed (rejected or terminated)


#: A plan review this close (in days, inclusive) turns a service user amber.
REVIEW_DUE_SOON_DAYS = 14


@dataclass(frozen=True)
class ContractState:
    """The client's contract as far as colour cares.

    ``valid_until`` None means open-ended. A contract counts as valid on a day when it
    is signed and that day is not after ``valid_until``; signed but past that date is
    expired; unsigned is none.
    """

    signed: bool = False
    valid_until: date | None = None

    def is_valid_on(self, day: date) -> bool:
        return self.signed and (self.valid_until is None or day <= self.valid_until)

    def describe(self, day: date) -> str:
        if not self.signed:
            return "no contract has been signed"
        if self.valid_until is None:
            return "the contract is valid with no end date"
        if self.is_valid_on(day):
            return f"the contract is valid until {self.valid_until.isoformat()}"
        return f"the contract expired on {self.valid_until.isoformat()}"


@dataclass(frozen=True)
class PlanState:
    """The client's individual service plan as far as colour cares.

    ``next_review_on`` is ignored while ``active`` is False: an inactive plan counts as
    no plan at all.
    """

    active: bool = False
    next_review_on: date | None = None


@dataclass(frozen=True)
class ColourVerdict:
    colour: Colour
    explanation: str
    #: ``rule_id`` of the :class:`ColourRule` that decided (or ``family`` for families).
    rule_id: str


class ColourRule(NamedTuple):
    """One published row of :data:`COLOUR_RULES`."""

    colour: Colour
    description: str
    rule_id: str


@dataclass(frozen=True)
class _Facts:
    status: ClientStatus | None
    contract: ContractState
    plan: PlanState
    today: date

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status] if self.status is not None else "no status"

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def user(self) -> bool:
        return self.status is ClientStatus.SERVICE_USER

    @property
    def prospect(self) -> bool:
        return self.status in (ClientStatus.APPROACHED, ClientStatus.APPLICANT)

    @property
    def contract_valid(self) -> bool:
        return self.contract.is_valid_on(self.today)

    @property
    def days_to_review(self) -> int | None:
        # Subtracting dates cannot overflow the way adding a window to today can.
        if not self.plan.active or self.plan.next_review_on is None:
            return None
        return (self.plan.next_review_on - self.today).days

    @property
    def review_on(self) -> str:
        review = self.plan.next_review_on
        return review.isoformat() if review is not None else "no date"


@dataclass(frozen=True)
class _Rule:
    rule_id: str
    colour: Colour
    description: str
    applies: Callable[[_Facts], bool]
    explain: Callable[[_Facts], str]


def _review_overdue(facts: _Facts) -> bool:
    days = facts.days_to_review
    return days is not None and days < 0


def _review_soon(facts: _Facts) -> bool:
    days = facts.days_to_review
    return days is not None and 0 <= days <= REVIEW_DUE_SOON_DAYS


_RULES: tuple[_Rule, ...] = (
    _Rule(
        "no_status",
        Colour.WHITE,
        "No status has been recorded for the client yet.",
        lambda f: f.status is None,
        lambda f: (
            "White: no status has been recorded yet, so the client has no place "
            "in the service lifecycle."
        ),
    ),
    _Rule(
        "closed_with_valid_contract",
        Colour.RED,
        "Rejected or terminated, but a contract is still valid: status and contract "
        "contradict each other.",
        lambda f: f.closed and f.contract_valid,
        lambda f: (
            f"Red: the client is {f.label} but {f.contract.describe(f.today)}; "
            "end the contract or correct the status."
        ),
    ),
    _Rule(
        "closed",
        Colour.GREY,
        "Rejected or terminated: the episode is closed.",
        lambda f: f.closed,
        lambda f: f"Grey: the client is {f.label}, so the episode is closed.",
    ),
    _Rule(
        "user_without_valid_contract",
        Colour.RED,
        "Service user without a valid contract (none signed, or it has expired).",
        lambda f: f.user and not f.contract_valid,
        lambda f: f"Red: the client is a service user but {f.contract.describe(f.today)}.",
    ),
    _Rule(
        "user_plan_review_overdue",
        Colour.RED,
        "Service user whose individual plan review date has passed.",
        lambda f: f.user and _review_overdue(f),
        lambda f: (
            f"Red: the client is a service user and the plan review was due on "
            f"{f.review_on}, which has passed."
        ),
    ),
    _Rule(
        "user_without_plan",
        Colour.AMBER,
        "Service user with a valid contract but no active individual plan.",
        lambda f: f.user and not f.plan.active,
        lambda f: (
            "Amber: the client is a service user with a valid contract but no "
            "active individual plan yet."
        ),
    ),
    _Rule(
        "user_plan_without_review_date",
        Colour.AMBER,
        "Service user whose active plan has no next review date.",
        lambda f: f.user and f.plan.next_review_on is None,
        lambda f: (
            "Amber: the client is a service user but the active plan has no next review date set."
        ),
    ),
    _Rule(
        "user_plan_review_due_soon",
        Colour.AMBER,
        f"Service user whose plan review is due within {REVIEW_DUE_SOON_DAYS} days.",
        lambda f: f.user and _review_soon(f),
        lambda f: (
            f"Amber: the client is a service user and the plan review is due on "
            f"{f.review_on}, within {REVIEW_DUE_SOON_DAYS} days."
        ),
    ),
    _Rule(
        "user_in_order",
        Colour.GREEN,
        "Service user with a valid contract and an active plan reviewed on schedule.",
        lambda f: f.user,
        lambda f: (
            f"Green: the client is a service user, {f.contract.describe(f.today)} "
            f"and the plan's next review is on {f.review_on}."
        ),
    ),
    _Rule(
        "prospect_with_valid_contract",
        Colour.AMBER,
        "Approached or applicant, yet a valid contract exists: the status has probably "
        "not been moved to service user.",
        lambda f: f.prospect and f.contract_valid,
        lambda f: (
            f"Amber: the client is still {f.label} but "
            f"{f.contract.describe(f.today)}; check whether they should be a service user."
        ),
    ),
    _Rule(
        "prospect",
        Colour.BLUE,
        "Approached or applicant: not admitted to the service yet.",
        lambda f: f.prospect,
        lambda f: f"Blue: the client is {f.label} and has not been admitted to the service yet.",
    ),
)

#: The published colour table, in the order :func:`derive_colour` applies it.
COLOUR_RULES: tuple[ColourRule, ...] = tuple(
    ColourRule(rule.colour, rule.description, rule.rule_id) for rule in _RULES
)


def derive_colour(
    status: ClientStatus | None,
    contract: ContractState,
    plan: PlanState,
    today: date,
) -> ColourVerdict:
    """Colour of one client: the first matching row of :data:`COLOUR_RULES`."""
    facts = _Facts(status, contract, plan, today)
    for rule in _RULES:
        if rule.applies(facts):
            return ColourVerdict(rule.colour, rule.explain(facts), rule.rule_id)
    # Unreachable while every status has a catch-all row; the tests prove totality.
    raise AssertionError(f"no colour rule matched status {status!r}")


#: Family colour: the first colour in this order that any member has. Problems of one
#: member must show on the family; otherwise the most engaged member decides, and a
#: family is grey only when every member's episode is closed.
FAMILY_COLOUR_PRECEDENCE: tuple[Colour, ...] = (
    Colour.RED,
    Colour.AMBER,
    Colour.GREEN,
    Colour.BLUE,
    Colour.WHITE,
    Colour.GREY,
)


def derive_family_colour(
    member_verdicts: Mapping[str, ColourVerdict] | Iterable[ColourVerdict],
) -> ColourVerdict:
    """Colour of a family from its members' verdicts.

    Pass a mapping of member name to verdict to have names in the explanation;
    a plain iterable is labelled "member 1", "member 2", ...
    """
    if isinstance(member_verdicts, Mapping):
        named = list(member_verdicts.items())
    else:
        named = [(f"member {i}", v) for i, v in enumerate(member_verdicts, start=1)]
    for colour in FAMILY_COLOUR_PRECEDENCE:
        deciding = [(name, verdict) for name, verdict in named if verdict.colour is colour]
        if not deciding:
            continue
        name, verdict = deciding[0]
        others = len(deciding) - 1
        also = f" (and {others} more member(s) with the same colour)" if others else ""
        return ColourVerdict(
            colour,
            f"{colour.value.capitalize()} for the family because of {name}{also}: "
            f"{verdict.explanation}",
            "family",
        )
    return ColourVerdict(
        Colour.WHITE, "White: the family has no members with a colour yet.", "family"
    )
