"""A small organisation built in code, for unit tests that must not depend on what the
development file (config/organisation.dev.json) happens to hold today.

Two regions, three centres: North Town and North Village share a duty worker and a
manager, South City has its own. Three routing rules, one per thing routing can do:
a narrow high-priority rule (north-town-housing-and-debt), a broad lower one that it
beats where both match (north-families), and a rule naming two workers
(south-violence). Everything else falls back to the centre's duty worker.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from casework_common.organisation import Centre, Organisation, Worker
from casework_common.routing import Case, Rule

CLIENT_TYPES = ("senior", "family_with_children", "youth", "person_with_disability", "homeless")
PROBLEM_TYPES = (
    "housing",
    "debt",
    "health",
    "employment",
    "domestic_violence",
    "addiction",
    "information",
)
NORTH = ("ctr-north-town", "ctr-north-village")


def create_centre(**overrides: Any) -> Centre:
    fields: dict[str, Any] = {
        "id": "ctr-north-town",
        "region": "reg-north",
        "name": "North Town centre",
        "duty_worker": "w-duty-north",
        "manager": "w-manager-north",
    }
    fields.update(overrides)
    return Centre(**fields)


def create_worker(**overrides: Any) -> Worker:
    fields: dict[str, Any] = {
        "id": "w-anna",
        "name": "Anna Horváthová",
        "centres": ("ctr-north-town",),
        "roles": ("case_worker",),
        "email": "anna@example.test",
    }
    fields.update(overrides)
    return Worker(**fields)


def create_rule(**overrides: Any) -> Rule:
    """A catch-all rule of priority 0 naming Anna, unless told otherwise."""
    fields: dict[str, Any] = {"id": "rule", "priority": 0, "workers": ("w-anna",)}
    fields.update(overrides)
    return Rule(**fields)


def create_case(**overrides: Any) -> Case:
    """A senior referred to North Town about housing."""
    fields: dict[str, Any] = {
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
    }
    fields.update(overrides)
    return Case(**fields)


def _workers() -> dict[str, Worker]:
    workers = [
        create_worker(),
        create_worker(id="w-petr", name="Petr Dvořák", centres=NORTH),
        create_worker(id="w-ilze", name="Ilze Bērziņa", centres=("ctr-south-city",)),
        create_worker(
            id="w-duty-north", name="North duty worker", centres=NORTH, roles=("front_line",)
        ),
        create_worker(
            id="w-duty-south",
            name="South duty worker",
            centres=("ctr-south-city",),
            roles=("front_line",),
        ),
        create_worker(
            id="w-manager-north", name="North manager", centres=NORTH, roles=("manager",)
        ),
        create_worker(
            id="w-manager-south",
            name="South manager",
            centres=("ctr-south-city",),
            roles=("manager",),
        ),
    ]
    return {w.id: w for w in workers}


RULES = (
    create_rule(
        id="north-town-housing-and-debt",
        priority=20,
        centres=("ctr-north-town",),
        problem_types=("housing", "debt"),
        workers=("w-anna",),
    ),
    create_rule(
        id="north-families",
        priority=10,
        regions=("reg-north",),
        client_types=("family_with_children",),
        workers=("w-petr",),
    ),
    create_rule(
        id="south-violence",
        priority=30,
        centres=("ctr-south-city",),
        problem_types=("domestic_violence",),
        workers=("w-ilze", "w-manager-south"),
    ),
)


def create_organisation(**overrides: Any) -> Organisation:
    """The organisation described above; any field may be replaced, e.g.
    `create_organisation(routing_rules=())` for one that routes by its duty workers only."""
    centres = [
        create_centre(),
        create_centre(id="ctr-north-village", name="North Village centre"),
        create_centre(
            id="ctr-south-city",
            region="reg-south",
            name="South City centre",
            duty_worker="w-duty-south",
            manager="w-manager-south",
        ),
    ]
    organisation = Organisation(
        id="org-demo",
        name="A regional network of social-service centres",
        regions={"reg-north": "North region", "reg-south": "South region"},
        centres={c.id: c for c in centres},
        workers=_workers(),
        client_types=CLIENT_TYPES,
        problem_types=PROBLEM_TYPES,
        routing_rules=RULES,
    )
    return replace(organisation, **overrides)


def without_duty_worker(organisation: Organisation, centre_id: str) -> Organisation:
    """The organisation with one centre that has nobody on duty (a configuration the
    file refuses, but that a rule set must still be checked against)."""
    centre = replace(organisation.centres[centre_id], duty_worker="")
    return replace(organisation, centres={**organisation.centres, centre_id: centre})
