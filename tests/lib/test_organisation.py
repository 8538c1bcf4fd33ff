"""Specification of the organisation file: it loads, and a broken reference stops the
process at start-up with a message naming what is wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from casework_common.config import REPO_ROOT
from casework_common.organisation import (
    Centre,
    InvalidOrganisation,
    Worker,
    load,
    parse,
)
from casework_common.routing import Rule

DEV_FILE = REPO_ROOT / "config" / "organisation.dev.json"
DEV_DATA: dict[str, Any] = json.loads(DEV_FILE.read_text(encoding="utf-8"))


def create_data(**overrides: Any) -> dict[str, Any]:
    """A deep copy of the development organisation with top-level keys replaced."""
    data = copy.deepcopy(DEV_DATA)
    data.update(overrides)
    return data


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(InvalidOrganisation) as raised:
        parse(data)
    return str(raised.value)


# ------------------------------------------------------------------------ loading


def test_the_development_file_loads() -> None:
    organisations = load(DEV_FILE)

    assert list(organisations) == ["org-demo"]
    org = organisations["org-demo"]
    assert org.regions == {"reg-north": "North region", "reg-south": "South region"}
    assert set(org.centres) == {"ctr-north-town", "ctr-north-village", "ctr-south-city"}
    assert org.centre("ctr-south-city") == Centre(
        "ctr-south-city", "reg-south", "South City centre", "w-duty-south", "w-manager-south"
    )
    assert org.centre("ctr-nowhere") is None
    assert org.workers["w-petr"] == Worker(
        "w-petr",
        "Petr Dvořák",
        ("ctr-north-town", "ctr-north-village"),
        ("case_worker",),
        "petr@demo.casework.test",
    )
    assert "homeless" in org.client_types
    assert "domestic_violence" in org.problem_types
    assert org.routing_rules[2] == Rule(
        id="south-violence",
        priority=30,
        regions=(),
        centres=("ctr-south-city",),
        client_types=(),
        problem_types=("domestic_violence",),
        workers=("w-ilze", "w-manager-south"),
    )


def test_a_file_may_hold_several_organisations(tmp_path: Path) -> None:
    other = create_data(id="org-other", name="Other network")
    path = tmp_path / "organisations.json"
    path.write_text(json.dumps({"organisations": [create_data(), other]}), encoding="utf-8")

    organisations = load(path)

    assert sorted(organisations) == ["org-demo", "org-other"]
    assert organisations["org-other"].name == "Other network"


def test_the_name_defaults_to_the_id_and_rules_to_none() -> None:
    data = create_data(routing_rules=[])
    del data["name"]

    org = parse(data)

    assert org.name == "org-demo"
    assert org.routing_rules == ()


@pytest.mark.parametrize("content", ["{not json", ""])
def test_an_unreadable_file_is_refused_naming_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(InvalidOrganisation, match=r"cannot read .*broken\.json"):
        load(path)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidOrganisation, match=r"cannot read .*absent\.json"):
        load(tmp_path / "absent.json")


# ------------------------------------------------------------------------ refusals


def test_a_rule_naming_a_missing_worker_is_refused_naming_rule_and_worker() -> None:
    rules = copy.deepcopy(DEV_DATA["routing_rules"])
    rules[0]["workers"] = ["w-anna", "w-ghost"]

    assert refused(create_data(routing_rules=rules)) == (
        "rule north-town-housing-and-debt: worker w-ghost does not exist"
    )


def test_a_centre_in_an_unknown_region_is_refused_naming_centre_and_region() -> None:
    centres = copy.deepcopy(DEV_DATA["centres"])
    centres[2]["region"] = "reg-east"

    assert refused(create_data(centres=centres)) == "centre ctr-south-city: unknown region reg-east"


def test_a_rule_with_an_unknown_problem_type_is_refused_naming_rule_and_type() -> None:
    rules = copy.deepcopy(DEV_DATA["routing_rules"])
    rules[2]["problem_types"] = ["domestic_violence", "boredom"]

    assert refused(create_data(routing_rules=rules)) == (
        "rule south-violence: unknown problem_type boredom"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("regions", ["reg-east"], "rule r: unknown region reg-east"),
        ("centres", ["ctr-nowhere"], "rule r: unknown centre ctr-nowhere"),
        ("client_types", ["alien"], "rule r: unknown client_type alien"),
    ],
)
def test_a_rule_with_any_unknown_reference_is_refused(
    field: str, value: list[str], message: str
) -> None:
    rule = {"id": "r", "workers": ["w-anna"], field: value}

    assert refused(create_data(routing_rules=[rule])) == message


def test_a_centre_whose_duty_worker_or_manager_is_not_a_worker_is_refused() -> None:
    centres = copy.deepcopy(DEV_DATA["centres"])
    centres[0]["duty_worker"] = "w-nobody"
    centres[0]["manager"] = "w-boss"

    message = refused(create_data(centres=centres))

    assert "centre ctr-north-town: duty_worker w-nobody is not a worker" in message
    assert "centre ctr-north-town: manager w-boss is not a worker" in message


def test_a_worker_of_an_unknown_centre_is_refused() -> None:
    workers = copy.deepcopy(DEV_DATA["workers"])
    workers[0]["centres"] = ["ctr-atlantis"]

    assert refused(create_data(workers=workers)) == "worker w-anna: unknown centre ctr-atlantis"


def test_every_problem_is_named_at_once() -> None:
    centres = copy.deepcopy(DEV_DATA["centres"])
    centres[1]["region"] = "reg-west"
    rule = {"id": "r", "workers": ["w-ghost"], "problem_types": ["boredom"]}

    message = refused(create_data(centres=centres, routing_rules=[rule]))

    assert message.split("; ") == [
        "centre ctr-north-village: unknown region reg-west",
        "rule r: worker w-ghost does not exist",
        "rule r: unknown problem_type boredom",
    ]


@pytest.mark.parametrize("key", ["id", "regions", "centres", "workers", "client_types"])
def test_a_missing_section_is_refused_naming_it(key: str) -> None:
    data = create_data()
    del data[key]

    assert refused(data) == f"missing key '{key}'"


@pytest.mark.parametrize("value", ["housing", ["housing", ""], ["housing", 7]])
def test_a_type_list_that_is_not_a_list_of_names_is_refused(value: Any) -> None:
    assert refused(create_data(problem_types=value)) == (
        "problem_types must be a list of non-empty strings"
    )


def test_a_rule_whose_priority_is_not_a_number_is_refused_naming_the_rule() -> None:
    rule = {"id": "r", "priority": "high", "workers": ["w-anna"]}

    assert "rule r" in refused(create_data(routing_rules=[rule]))


def test_a_rule_without_workers_is_refused_naming_the_rule() -> None:
    rule = {"id": "nobody", "priority": 50, "workers": []}
    assert refused(create_data(routing_rules=[rule])) == (
        "rule nobody: workers must name at least one worker"
    )


def test_the_escalation_wait_is_unset_unless_the_file_gives_one() -> None:
    assert parse(create_data()).escalate_after_seconds is None
    assert parse(create_data(escalate_after_seconds=600)).escalate_after_seconds == 600.0


@pytest.mark.parametrize("value", [0, -5, "600", True, 31 * 86400])
def test_an_escalation_wait_that_is_not_seconds_is_refused_naming_it(value: Any) -> None:
    assert "escalate_after_seconds" in refused(create_data(escalate_after_seconds=value))
