"""Specification of intake's routing rule sets: validation (unknown values, missing
workers, unreachable rules, gaps) and the dry run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.organisation import parse
from casework_intake.domain.routing_rules import (
    Case,
    Rule,
    dry_run,
    from_organisation_file,
    published_event_payload,
    validate,
)
from casework_intake.domain.routing_rules import RuleSet as _RuleSet

DEV_DATA: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[4] / "config" / "organisation.dev.json").read_text()
)
DEV = parse(DEV_DATA)


def create_rule(**overrides: Any) -> Rule:
    fields: dict[str, Any] = {"id": "rule", "priority": 0, "workers": ("w-anna",)}
    fields.update(overrides)
    return Rule(**fields)


def create_case(**overrides: Any) -> Case:
    fields: dict[str, Any] = {
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
    }
    fields.update(overrides)
    return Case(**fields)


def fields_of(rules: list[Rule]) -> dict[str, str]:
    return {e.field: e.description for e in validate(rules, DEV)}


def test_the_organisation_files_rules_are_a_valid_rule_set() -> None:
    assert validate(list(from_organisation_file(DEV)), DEV) == []


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
    assert validate([broad, narrow], DEV) == []


def test_rules_of_equal_priority_never_shadow_each_other_they_both_apply() -> None:
    one = create_rule(id="a", priority=5)
    two = create_rule(id="b", priority=5, workers=("w-petr",))
    assert validate([one, two], DEV) == []
    assert [r.worker_id for r in dry_run([one, two], DEV, create_case()).recipients] == [
        "w-anna",
        "w-petr",
    ]


def test_a_rule_whose_centres_lie_outside_its_regions_can_never_match() -> None:
    rule = create_rule(regions=("reg-south",), centres=("ctr-north-town",))
    assert "never match" in fields_of([rule])["rules[0]"]


def test_a_centre_without_a_duty_worker_and_without_a_rule_for_everything_is_a_gap() -> None:
    centres = [{**c, "duty_worker": c["duty_worker"]} for c in DEV_DATA["centres"]]
    org = parse({**DEV_DATA, "centres": centres})
    no_duty = replace(
        org,
        centres={
            **org.centres,
            "ctr-south-city": replace(org.centres["ctr-south-city"], duty_worker=""),
        },
    )
    errors = validate([create_rule(centres=("ctr-north-town",))], no_duty)
    assert [e.field for e in errors] == ["rules"]
    assert "ctr-south-city" in errors[0].description
    covering = create_rule(id="south-all", centres=("ctr-south-city",), workers=("w-ilze",))
    assert validate([covering], no_duty) == []


def test_the_dry_run_says_who_and_why_and_which_rules_matched() -> None:
    rules = list(from_organisation_file(DEV))
    result = dry_run(rules, DEV, create_case(client_type="family_with_children"))
    assert [(r.worker_id, r.reason) for r in result.recipients] == [
        ("w-anna", "routing rule north-town-housing-and-debt (priority 20)")
    ]
    assert result.matching_rule_ids == ("north-families", "north-town-housing-and-debt")


def test_with_no_matching_rule_the_dry_run_names_the_centres_duty_worker() -> None:
    result = dry_run([], DEV, create_case(centre_id="ctr-south-city"))
    assert [r.worker_id for r in result.recipients] == ["w-duty-south"]
    assert "duty worker" in result.recipients[0].reason


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


_subsets = st.lists(st.sampled_from(sorted(DEV.centres)), max_size=2, unique=True)
_rules = st.builds(
    Rule,
    id=st.text("abcdefgh", min_size=1, max_size=3),
    priority=st.integers(0, 3),
    regions=st.lists(st.sampled_from(sorted(DEV.regions)), max_size=1, unique=True).map(tuple),
    centres=_subsets.map(tuple),
    client_types=st.lists(st.sampled_from(DEV.client_types), max_size=2, unique=True).map(tuple),
    problem_types=st.lists(st.sampled_from(DEV.problem_types), max_size=2, unique=True).map(tuple),
    workers=st.lists(st.sampled_from(sorted(DEV.workers)), min_size=1, max_size=2, unique=True).map(
        tuple
    ),
)
_cases = st.builds(
    Case,
    centre_id=st.sampled_from(sorted(DEV.centres)),
    client_type=st.sampled_from(DEV.client_types),
    problem_type=st.sampled_from(DEV.problem_types),
)


@given(st.lists(_rules, max_size=5, unique_by=lambda r: r.id), _cases)
def test_every_referral_reaches_someone_and_an_unreachable_rule_never_decides(
    rules: list[Rule], case: Case
) -> None:
    result = dry_run(rules, DEV, case)
    assert result.recipients, "nobody responsible"
    flagged = {
        rules[int(e.field[len("rules[") : -1])].id
        for e in validate(rules, DEV)
        if e.field.startswith("rules[") and e.field.endswith("]")
    }
    deciding = {r.reason.split()[2] for r in result.recipients if r.reason.startswith("routing")}
    assert not (deciding & flagged)


@given(st.lists(_rules, max_size=5, unique_by=lambda r: r.id), _cases)
def test_intakes_dry_run_answers_what_notify_will_route(rules: list[Rule], case: Case) -> None:
    from casework_common.organisation import RoutingRuleSpec
    from casework_notify.domain import routing as notify_routing

    org = replace(
        DEV,
        routing_rules=tuple(
            RoutingRuleSpec(
                r.id, r.priority, r.regions, r.centres, r.client_types, r.problem_types, r.workers
            )
            for r in rules
        ),
    )
    region = DEV.centres[case.centre_id].region
    notified = notify_routing.route(
        org, notify_routing.Case(region, case.centre_id, case.client_type, case.problem_type)
    )
    assert [(r.worker_id, r.reason) for r in notified] == [
        (r.worker_id, r.reason) for r in dry_run(rules, DEV, case).recipients
    ]
