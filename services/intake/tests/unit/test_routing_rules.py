"""Specification of intake's routing rule sets: validation (unknown values, missing
workers, unreachable rules, gaps) and what the dry run shows under a rule set. Who a
referral reaches is the shared algorithm's (tests/lib/test_routing.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.routing import Case, Rule, route
from casework_dev.testing.organisations import (
    create_case,
    create_organisation,
    create_rule,
    without_duty_worker,
)
from casework_intake.domain.routing_rules import RuleSet as _RuleSet
from casework_intake.domain.routing_rules import published_event_payload, validate

ORG = create_organisation()


def fields_of(rules: list[Rule]) -> dict[str, str]:
    return {e.field: e.description for e in validate(rules, ORG)}


def test_the_organisations_rules_are_a_valid_rule_set() -> None:
    assert validate(list(ORG.routing_rules), ORG) == []


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"workers": ("w-nobody",)}, "rules[0].workers", "does not exist"),
        ({"workers": ()}, "rules[0].workers", "at least one"),
        ({"regions": ("reg-west",)}, "rules[0].regions", "unknown region"),
        ({"centres": ("ctr-atlantis",)}, "rules[0].centres", "unknown centre"),
        ({"client_types": ("dragon",)}, "rules[0].client_types", "unknown client_type"),
        ({"problem_types": ("boredom",)}, "rules[0].problem_types", "unknown problem_type"),
        ({"id": ""}, "rules[0].id", "letters"),
        ({"problem_types": ("debt", "debt")}, "rules[0].problem_types", "twice"),
    ],
)
def test_a_rule_naming_what_does_not_exist_is_refused(
    overrides: dict[str, Any], field: str, words: str
) -> None:
    assert words in fields_of([create_rule(**overrides)])[field]


def test_two_rules_with_one_id_are_refused() -> None:
    assert "used twice" in fields_of([create_rule(), create_rule(priority=3)])["rules[1].id"]


def test_a_rule_shadowed_by_a_higher_priority_superset_is_unreachable() -> None:
    broad = create_rule(id="north", priority=10, regions=("reg-north",))
    narrow = create_rule(
        id="town-debt",
        priority=5,
        centres=("ctr-north-town",),
        problem_types=("debt",),
        workers=("w-petr",),
    )
    problem = fields_of([broad, narrow])["rules[1]"]
    assert "unreachable" in problem and "north" in problem


def test_a_narrower_rule_of_higher_priority_shadows_nothing() -> None:
    broad = create_rule(id="north", priority=5, regions=("reg-north",))
    narrow = create_rule(
        id="town-debt",
        priority=10,
        centres=("ctr-north-town",),
        problem_types=("debt",),
        workers=("w-petr",),
    )
    assert validate([broad, narrow], ORG) == []


def test_rules_of_equal_priority_never_shadow_each_other_they_both_apply() -> None:
    one = create_rule(id="a", priority=5)
    two = create_rule(id="b", priority=5, workers=("w-petr",))
    assert validate([one, two], ORG) == []
    assert [r.worker_id for r in route([one, two], ORG, create_case()).recipients] == [
        "w-anna",
        "w-petr",
    ]


def test_a_rule_whose_centres_lie_outside_its_regions_can_never_match() -> None:
    rule = create_rule(regions=("reg-south",), centres=("ctr-north-town",))
    assert "never match" in fields_of([rule])["rules[0]"]


def test_a_centre_without_a_duty_worker_and_without_a_rule_for_everything_is_a_gap() -> None:
    no_duty = without_duty_worker(ORG, "ctr-south-city")
    errors = validate([create_rule(centres=("ctr-north-town",))], no_duty)
    assert [e.field for e in errors] == ["rules"]
    assert "ctr-south-city" in errors[0].description
    covering = create_rule(id="south-all", centres=("ctr-south-city",), workers=("w-ilze",))
    assert validate([covering], no_duty) == []


def test_the_published_payload_is_the_agreed_shape() -> None:
    rule_set = _RuleSet("org-demo", 3, (create_rule(centres=("ctr-north-town",)),), "w", None)  # type: ignore[arg-type]
    assert published_event_payload(rule_set) == {
        "version": 3,
        "rules": [
            {
                "id": "rule",
                "priority": 0,
                "regions": [],
                "centres": ["ctr-north-town"],
                "client_types": [],
                "problem_types": [],
                "workers": ["w-anna"],
            }
        ],
        "fallback": "centre_duty_worker",
    }


_subsets = st.lists(st.sampled_from(sorted(ORG.centres)), max_size=2, unique=True)
_rules = st.builds(
    Rule,
    id=st.text("abcdefgh", min_size=1, max_size=3),
    priority=st.integers(0, 3),
    regions=st.lists(st.sampled_from(sorted(ORG.regions)), max_size=1, unique=True).map(tuple),
    centres=_subsets.map(tuple),
    client_types=st.lists(st.sampled_from(ORG.client_types), max_size=2, unique=True).map(tuple),
    problem_types=st.lists(st.sampled_from(ORG.problem_types), max_size=2, unique=True).map(tuple),
    workers=st.lists(st.sampled_from(sorted(ORG.workers)), min_size=1, max_size=2, unique=True).map(
        tuple
    ),
)
_cases = st.builds(
    Case,
    centre_id=st.sampled_from(sorted(ORG.centres)),
    client_type=st.sampled_from(ORG.client_types),
    problem_type=st.sampled_from(ORG.problem_types),
)


@given(st.lists(_rules, max_size=5, unique_by=lambda r: r.id), _cases)
def test_every_referral_reaches_someone_and_an_unreachable_rule_never_decides(
    rules: list[Rule], case: Case
) -> None:
    result = route(rules, ORG, case)
    assert result.recipients, "nobody responsible"
    flagged = {
        rules[int(e.field[len("rules[") : -1])].id
        for e in validate(rules, ORG)
        if e.field.startswith("rules[") and e.field.endswith("]")
    }
    deciding = {r.reason.split()[2] for r in result.recipients if r.reason.startswith("routing")}
    assert not (deciding & flagged)
