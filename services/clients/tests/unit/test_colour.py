"""Specifications of the derived overview colour (pure domain, no server)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_clients.domain.colour import (
    COLOUR_RULES,
    FAMILY_COLOUR_PRECEDENCE,
    REVIEW_DUE_SOON_DAYS,
    Colour,
    ColourVerdict,
    ContractState,
    PlanState,
    derive_colour,
    derive_family_colour,
)
from casework_clients.domain.status import ClientStatus

TODAY = date(2024, 6, 15)
LATER = TODAY + timedelta(days=90)
EARLIER = TODAY - timedelta(days=3)

A = ClientStatus.APPROACHED
P = ClientStatus.APPLICANT
U = ClientStatus.SERVICE_USER
R = ClientStatus.REJECTED
T = ClientStatus.TERMINATED


# --------------------------------------------------------------------------- factories


def create_contract(**overrides: Any) -> ContractState:
    values: dict[str, Any] = {"signed": True, "valid_until": LATER}
    values.update(overrides)
    return ContractState(**values)


def create_plan(**overrides: Any) -> PlanState:
    values: dict[str, Any] = {"active": True, "next_review_on": LATER}
    values.update(overrides)
    return PlanState(**values)


@dataclass(frozen=True)
class Example:
    """A client situation and the words its explanation must contain."""

    status: ClientStatus | None
    contract: ContractState = field(default_factory=create_contract)
    plan: PlanState = field(default_factory=create_plan)
    mentions: tuple[str, ...] = ()

    def verdict(self) -> ColourVerdict:
        return derive_colour(self.status, self.contract, self.plan, TODAY)


#: One example per row of COLOUR_RULES (keyed by rule id).
EXAMPLES: dict[str, Example] = {
    "no_status": Example(None, mentions=("no status",)),
    "closed_with_valid_contract": Example(
        T, mentions=("terminated", "contract is valid", LATER.isoformat())
    ),
    "closed": Example(R, contract=ContractState(), mentions=("rejected", "closed")),
    "user_without_valid_contract": Example(
        U,
        contract=create_contract(valid_until=EARLIER),
        mentions=("service user", "expired", EARLIER.isoformat()),
    ),
    "user_plan_review_overdue": Example(
        U,
        plan=create_plan(next_review_on=EARLIER),
        mentions=("review", "passed", EARLIER.isoformat()),
    ),
    "user_without_plan": Example(
        U, plan=PlanState(), mentions=("service user", "no active individual plan")
    ),
    "user_plan_without_review_date": Example(
        U, plan=create_plan(next_review_on=None), mentions=("no next review date",)
    ),
    "user_plan_review_due_soon": Example(
        U,
        plan=create_plan(next_review_on=TODAY + timedelta(days=REVIEW_DUE_SOON_DAYS)),
        mentions=("review is due", f"{REVIEW_DUE_SOON_DAYS} days"),
    ),
    "user_in_order": Example(
        U, contract=create_contract(valid_until=None), mentions=("service user", "no end date")
    ),
    "prospect_with_valid_contract": Example(
        P, mentions=("applicant", "contract is valid", "service user")
    ),
    "prospect": Example(A, contract=ContractState(), mentions=("approached", "not been admitted")),
}

RULE_IDS = [rule.rule_id for rule in COLOUR_RULES]
COLOUR_OF_RULE = {rule.rule_id: rule.colour for rule in COLOUR_RULES}


def create_verdict(colour: Colour, explanation: str = "") -> ColourVerdict:
    return ColourVerdict(colour, explanation or f"{colour.value} because of a test", "test")


# --------------------------------------------------------------------------- table


def test_the_colour_table_is_publishable() -> None:
    assert len(set(RULE_IDS)) == len(RULE_IDS)
    for rule in COLOUR_RULES:
        colour, description, _ = rule
        assert isinstance(colour, Colour)
        assert description.strip().endswith(".")
    assert {rule.colour for rule in COLOUR_RULES} == set(Colour)


def test_every_rule_in_the_table_has_an_example() -> None:
    assert list(EXAMPLES) == RULE_IDS


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_each_rule_is_reachable_and_explains_itself(rule_id: str) -> None:
    verdict = EXAMPLES[rule_id].verdict()
    assert verdict.rule_id == rule_id
    assert verdict.colour is COLOUR_OF_RULE[rule_id]
    assert verdict.explanation.strip()
    for word in EXAMPLES[rule_id].mentions:
        assert word in verdict.explanation


def test_the_first_matching_rule_wins() -> None:
    # Terminated with a valid contract also matches "closed"; the earlier row decides.
    assert EXAMPLES["closed_with_valid_contract"].verdict().colour is Colour.RED
    both = derive_colour(U, ContractState(), create_plan(next_review_on=EARLIER), TODAY)
    assert both.rule_id == "user_without_valid_contract"
    assert RULE_IDS.index("user_without_valid_contract") < RULE_IDS.index(
        "user_plan_review_overdue"
    )


def test_a_contract_ending_today_is_still_valid() -> None:
    verdict = derive_colour(U, create_contract(valid_until=TODAY), create_plan(), TODAY)
    assert verdict.rule_id == "user_in_order"


def test_a_service_user_who_never_signed_is_red_and_told_so() -> None:
    verdict = derive_colour(U, ContractState(), create_plan(), TODAY)
    assert verdict.colour is Colour.RED
    assert "no contract has been signed" in verdict.explanation


def test_an_inactive_plan_counts_as_no_plan() -> None:
    verdict = derive_colour(
        U, create_contract(), PlanState(active=False, next_review_on=EARLIER), TODAY
    )
    assert verdict.rule_id == "user_without_plan"


def test_a_review_just_outside_the_window_is_green() -> None:
    plan = create_plan(next_review_on=TODAY + timedelta(days=REVIEW_DUE_SOON_DAYS + 1))
    assert derive_colour(U, create_contract(), plan, TODAY).colour is Colour.GREEN


statuses = st.none() | st.sampled_from(ClientStatus)
contracts = st.builds(ContractState, signed=st.booleans(), valid_until=st.none() | st.dates())
plans = st.builds(PlanState, active=st.booleans(), next_review_on=st.none() | st.dates())


@given(status=statuses, contract=contracts, plan=plans, today=st.dates())
def test_derive_colour_is_total(
    status: ClientStatus | None, contract: ContractState, plan: PlanState, today: date
) -> None:
    verdict = derive_colour(status, contract, plan, today)
    assert verdict.colour is COLOUR_OF_RULE[verdict.rule_id]
    assert verdict.explanation.strip()


@given(status=statuses, contract=contracts, plan=plans, today=st.dates())
def test_a_closed_episode_is_grey_unless_a_contract_contradicts_it(
    status: ClientStatus | None, contract: ContractState, plan: PlanState, today: date
) -> None:
    verdict = derive_colour(status, contract, plan, today)
    if status in (R, T):
        expected = Colour.RED if contract.is_valid_on(today) else Colour.GREY
        assert verdict.colour is expected
    else:
        assert verdict.colour is not Colour.GREY


# --------------------------------------------------------------------------- family


def test_a_family_takes_the_most_urgent_member_colour() -> None:
    verdict = derive_family_colour(
        {
            "Jana": EXAMPLES["user_in_order"].verdict(),
            "Petr": EXAMPLES["user_without_plan"].verdict(),
            "Ema": EXAMPLES["closed"].verdict(),
        }
    )
    assert verdict.colour is Colour.AMBER
    assert "Petr" in verdict.explanation
    assert "no active individual plan" in verdict.explanation


def test_a_family_is_grey_only_when_every_member_is_closed() -> None:
    closed = EXAMPLES["closed"].verdict()
    assert derive_family_colour([closed, closed]).colour is Colour.GREY
    mixed = derive_family_colour([closed, EXAMPLES["prospect"].verdict()])
    assert mixed.colour is Colour.BLUE
    assert "member 2" in mixed.explanation


def test_a_family_mentions_how_many_members_share_the_deciding_colour() -> None:
    red = EXAMPLES["user_plan_review_overdue"].verdict()
    verdict = derive_family_colour([red, red, EXAMPLES["prospect"].verdict()])
    assert verdict.colour is Colour.RED
    assert "1 more member" in verdict.explanation


def test_an_empty_family_is_white() -> None:
    verdict = derive_family_colour([])
    assert verdict.colour is Colour.WHITE
    assert verdict.explanation.strip()


def test_the_family_precedence_covers_every_colour() -> None:
    assert sorted(FAMILY_COLOUR_PRECEDENCE, key=lambda c: c.value) == sorted(
        Colour, key=lambda c: c.value
    )


@given(st.lists(st.sampled_from(Colour), max_size=6))
def test_a_family_colour_is_always_one_of_its_members(colours: list[Colour]) -> None:
    verdict = derive_family_colour([create_verdict(colour) for colour in colours])
    if colours:
        assert verdict.colour in colours
        assert verdict.colour is min(colours, key=FAMILY_COLOUR_PRECEDENCE.index)
    else:
        assert verdict.colour is Colour.WHITE
    assert verdict.explanation.strip()
