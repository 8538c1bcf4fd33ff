"""Specification of the one routing algorithm: who is told about a new referral, and
why. Intake's dry run and notify's inbox both answer with it (pure, no server)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.routing import Case, Decision, Recipient, Rule, matches, route
from casework_dev.testing.organisations import (
    RULES,
    create_case,
    create_organisation,
    create_rule,
    without_duty_worker,
)

ORG = create_organisation()
NOBODY_ON_DUTY_SOUTH = without_duty_worker(ORG, "ctr-south-city")


def workers(decision: Decision) -> list[str]:
    return [r.worker_id for r in decision.recipients]


def duty_worker_of(centre_id: str) -> Recipient:
    centre = ORG.centres[centre_id]
    return Recipient(centre.duty_worker, f"no routing rule matched; duty worker of {centre_id}")


# ------------------------------------------------------------------------ examples


def test_the_highest_priority_matching_rule_wins() -> None:
    rules = [
        create_rule(id="low", priority=5, workers=("w-petr",)),
        create_rule(id="high", priority=20, workers=("w-anna",)),
        create_rule(id="middle", priority=10, workers=("w-duty-north",)),
    ]

    assert route(rules, ORG, create_case()) == Decision(
        (Recipient("w-anna", "routing rule high (priority 20)"),), ("high", "low", "middle")
    )


def test_a_higher_priority_rule_that_does_not_match_is_ignored() -> None:
    rules = [
        create_rule(id="south", priority=50, centres=("ctr-south-city",), workers=("w-ilze",)),
        create_rule(id="north", priority=1, regions=("reg-north",), workers=("w-petr",)),
    ]

    assert workers(route(rules, ORG, create_case())) == ["w-petr"]


def test_rules_of_equal_priority_all_apply_each_worker_once() -> None:
    rules = [
        create_rule(
            id="b-housing", priority=10, problem_types=("housing",), workers=("w-petr", "w-anna")
        ),
        create_rule(id="a-seniors", priority=10, client_types=("senior",), workers=("w-anna",)),
        create_rule(id="c-lower", priority=9, workers=("w-manager-north",)),
    ]

    assert route(rules, ORG, create_case()).recipients == (
        Recipient("w-anna", "routing rule a-seniors (priority 10)"),
        Recipient("w-petr", "routing rule b-housing (priority 10)"),
    )


def test_a_rule_with_empty_lists_matches_any_case() -> None:
    rules = [create_rule(id="catch-all", workers=("w-manager-north",))]

    for case in (
        create_case(),
        create_case(centre_id="ctr-south-city"),
        create_case(client_type="youth", problem_type="addiction"),
    ):
        assert workers(route(rules, ORG, case)) == ["w-manager-north"]


@pytest.mark.parametrize(
    ("condition", "case_overrides"),
    [
        ({"regions": ("reg-south",)}, {}),
        ({"centres": ("ctr-north-village",)}, {}),
        ({"client_types": ("youth",)}, {}),
        ({"problem_types": ("debt",)}, {}),
        ({"regions": ("reg-north",), "problem_types": ("debt",)}, {}),
        ({"problem_types": ("housing",)}, {"problem_type": "health"}),
    ],
)
def test_a_rule_matches_only_when_every_non_empty_list_holds_the_case(
    condition: dict[str, Any], case_overrides: dict[str, Any]
) -> None:
    rules = [create_rule(id="narrow", priority=99, **condition)]

    assert route(rules, ORG, create_case(**case_overrides)) == Decision(
        (duty_worker_of("ctr-north-town"),), ()
    )


def test_the_region_of_a_case_is_its_centres() -> None:
    south = create_rule(regions=("reg-south",))

    assert matches(south, ORG, create_case(centre_id="ctr-south-city"))
    assert not matches(south, ORG, create_case(centre_id="ctr-north-village"))


def test_with_no_matching_rule_the_centres_duty_worker_is_responsible() -> None:
    decision = route([], ORG, create_case(centre_id="ctr-south-city"))

    assert decision == Decision((duty_worker_of("ctr-south-city"),), ())


def test_an_unknown_centre_with_no_matching_rule_has_no_recipient() -> None:
    assert route(RULES, ORG, create_case(centre_id="ctr-nowhere")) == Decision((), ())


def test_a_centre_with_nobody_on_duty_and_no_matching_rule_has_no_recipient() -> None:
    decision = route([], NOBODY_ON_DUTY_SOUTH, create_case(centre_id="ctr-south-city"))

    assert decision == Decision((), ())


def test_a_winning_rule_without_workers_still_leaves_someone_responsible() -> None:
    # Built past intake's validation, as a rule set read from elsewhere could be.
    empty = Rule("nobody", 50)

    decision = route([*RULES, empty], ORG, create_case())

    assert decision.recipients == (duty_worker_of("ctr-north-town"),)
    assert "nobody" in decision.matching_rule_ids


@pytest.mark.parametrize(
    ("case_overrides", "expected"),
    [
        ({}, ["w-anna"]),
        ({"client_type": "family_with_children", "problem_type": "debt"}, ["w-anna"]),
        ({"client_type": "family_with_children", "problem_type": "health"}, ["w-petr"]),
        (
            {"centre_id": "ctr-south-city", "problem_type": "domestic_violence"},
            ["w-ilze", "w-manager-south"],
        ),
        ({"centre_id": "ctr-north-village", "problem_type": "health"}, ["w-duty-north"]),
    ],
)
def test_the_example_rules_route_as_documented(
    case_overrides: dict[str, Any], expected: list[str]
) -> None:
    assert workers(route(RULES, ORG, create_case(**case_overrides))) == expected


def test_the_decision_says_who_and_why_and_which_rules_matched() -> None:
    decision = route(RULES, ORG, create_case(client_type="family_with_children"))

    assert decision.recipients == (
        Recipient("w-anna", "routing rule north-town-housing-and-debt (priority 20)"),
    )
    # The lower rule matched too; a dry run shows it lost rather than hiding it.
    assert decision.matching_rule_ids == ("north-families", "north-town-housing-and-debt")


# ---------------------------------------------------------------------- properties

_rules = st.builds(
    Rule,
    id=st.text("abcdefgh", min_size=1, max_size=3),
    priority=st.integers(0, 3),
    regions=st.lists(st.sampled_from(sorted(ORG.regions)), max_size=1, unique=True).map(tuple),
    centres=st.lists(st.sampled_from(sorted(ORG.centres)), max_size=2, unique=True).map(tuple),
    client_types=st.lists(st.sampled_from(ORG.client_types), max_size=2, unique=True).map(tuple),
    problem_types=st.lists(st.sampled_from(ORG.problem_types), max_size=2, unique=True).map(tuple),
    # Empty now and then: rule sets that were never validated must still route.
    workers=st.lists(st.sampled_from(sorted(ORG.workers)), max_size=2, unique=True).map(tuple),
)
_rule_sets = st.lists(_rules, max_size=6, unique_by=lambda r: r.id)
_cases = st.builds(
    Case,
    centre_id=st.sampled_from(sorted(ORG.centres)),
    client_type=st.sampled_from(ORG.client_types),
    problem_type=st.sampled_from(ORG.problem_types),
)


def _deciding(rules: list[Rule], case: Case) -> list[Rule]:
    """The matching rules of the highest matching priority, spelled out the slow way."""
    matching = [r for r in rules if matches(r, ORG, case)]
    top = max((r.priority for r in matching), default=None)
    return [r for r in matching if r.priority == top]


@given(_rule_sets, _cases)
def test_every_referral_reaches_someone_when_its_centre_has_a_duty_worker(
    rules: list[Rule], case: Case
) -> None:
    assert route(rules, ORG, case).recipients


@given(_rule_sets, _cases)
def test_a_higher_priority_matching_rule_excludes_every_lower_one(
    rules: list[Rule], case: Case
) -> None:
    decision = route(rules, ORG, case)
    deciding = {r.id for r in _deciding(rules, case)}
    by_id = {r.id: r for r in rules}

    by_rule = [r for r in decision.recipients if r.reason.startswith("routing rule ")]
    for recipient in by_rule:
        rule_id = recipient.reason.split()[2]
        assert rule_id in deciding
        assert recipient.worker_id in by_id[rule_id].workers
    only_lower = {
        w for r in rules if matches(r, ORG, case) and r.id not in deciding for w in r.workers
    } - {w for r in rules if r.id in deciding for w in r.workers}
    assert not only_lower & {r.worker_id for r in by_rule}


@given(_rule_sets, _cases)
def test_rules_of_equal_priority_all_apply_and_each_worker_is_told_once(
    rules: list[Rule], case: Case
) -> None:
    decision = route(rules, ORG, case)
    named = {w for r in _deciding(rules, case) for w in r.workers}

    assert len(workers(decision)) == len(set(workers(decision)))
    if named:
        assert set(workers(decision)) == named
    else:
        # Nothing named anyone: the duty worker, and only them.
        assert decision.recipients == (duty_worker_of(case.centre_id),)


@given(_rule_sets, _cases)
def test_every_matching_rule_is_recorded_and_no_other(rules: list[Rule], case: Case) -> None:
    assert route(rules, ORG, case).matching_rule_ids == tuple(
        sorted(r.id for r in rules if matches(r, ORG, case))
    )


@given(_rule_sets, _cases, st.randoms(use_true_random=False))
def test_the_decision_does_not_depend_on_the_order_of_the_rules(
    rules: list[Rule], case: Case, random: Any
) -> None:
    shuffled = list(rules)
    random.shuffle(shuffled)

    assert route(shuffled, ORG, case) == route(rules, ORG, case)


@given(_rule_sets, _cases)
def test_without_a_duty_worker_a_referral_no_rule_names_anyone_for_reaches_nobody(
    rules: list[Rule], case: Case
) -> None:
    decision = route(rules, NOBODY_ON_DUTY_SOUTH, case)
    named = any(
        r.workers
        for r in rules
        if matches(r, NOBODY_ON_DUTY_SOUTH, case)
        and r.priority == max(m.priority for m in rules if matches(m, NOBODY_ON_DUTY_SOUTH, case))
    )

    assert bool(decision.recipients) == (named or case.centre_id != "ctr-south-city")
