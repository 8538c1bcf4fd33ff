"""Specification of notify's side of intake's events: routing with the rules intake
published (the file's until then) and telling the manager about an overdue referral."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from casework_common.routing import Case, Rule, route
from casework_dev.testing.organisations import create_organisation
from casework_notify.domain.intake_news import OverdueReferral, tell_manager_of_overdue
from casework_notify.domain.routing import UnreadableRules, rules_from_payload, rules_in_force

ORG = create_organisation()
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def create_payload(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "version": 2,
        "rules": [
            {
                "id": "south-youth",
                "priority": 40,
                "regions": [],
                "centres": ["ctr-south-city"],
                "client_types": ["youth"],
                "problem_types": [],
                "workers": ["w-ilze"],
            }
        ],
        "fallback": "centre_duty_worker",
    }
    fields.update(overrides)
    return fields


def workers(rules: tuple[Rule, ...], case: Case) -> list[str]:
    return [r.worker_id for r in route(rules, ORG, case).recipients]


def test_published_rules_replace_the_files_rules_and_keep_the_fallback() -> None:
    rules = rules_in_force(ORG, rules_from_payload("org-demo", create_payload()))
    assert workers(rules, Case("ctr-south-city", "youth", "health")) == ["w-ilze"]
    # The file's north-town rule is not part of the published set: the duty worker.
    assert workers(rules, Case("ctr-north-town", "senior", "housing")) == ["w-duty-north"]


def test_without_a_published_version_the_files_rules_apply() -> None:
    rules = rules_in_force(ORG, None)
    assert workers(rules, Case("ctr-north-town", "senior", "housing")) == ["w-anna"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"version": 0},
        {"version": "2"},
        {"fallback": "nobody"},
        {"rules": "all"},
        {"rules": [{"id": "x", "priority": 1, "workers": []}]},
        {"rules": [{"id": "", "priority": 1, "workers": ["w-anna"]}]},
        {"rules": [{"id": "x", "priority": "high", "workers": ["w-anna"]}]},
        {"rules": [{"id": "x", "priority": 1, "workers": ["w-anna"], "centres": "ctr"}]},
    ],
)
def test_an_unreadable_published_rule_set_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(UnreadableRules):
        rules_from_payload("org-demo", create_payload(**overrides))


def test_the_manager_is_told_which_referral_waits_and_since_when() -> None:
    overdue = OverdueReferral(
        event_id="evt-9",
        organisation="org-demo",
        referral_id="ref-9",
        reference_number="R-2025-000009",
        centre_id="ctr-north-town",
        manager_id="w-manager-north",
        client_type="senior",
        problem_type="housing",
        due_at=T0,
    )
    note = tell_manager_of_overdue(overdue, "w-manager-north", T0)
    assert (note.notification_id, note.kind, note.worker_id) == (
        "evt-9:w-manager-north",
        "first_contact_overdue",
        "w-manager-north",
    )
    assert "R-2025-000009" in note.title and T0.isoformat() in note.body
    assert (note.subject_kind, note.subject_id) == ("referral", "ref-9")
