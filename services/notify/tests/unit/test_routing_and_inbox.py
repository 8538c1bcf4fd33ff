"""Specification of who is told about a new client (routing rules) and of the
notifications in a worker's inbox (pure domain, no server)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from casework_common.organisation import InvalidOrganisation, Organisation, RoutingRuleSpec, parse
from casework_notify.domain.inbox import (
    ClientArrived,
    Notification,
    mark_read,
    notification_id,
    notify_responsible,
)
from casework_notify.domain.routing import Case, Recipient, route

ORGANISATION_FILE = Path(__file__).resolve().parents[4] / "config" / "organisation.dev.json"
DEV_DATA: dict[str, Any] = json.loads(ORGANISATION_FILE.read_text(encoding="utf-8"))
DEV = parse(DEV_DATA)
T0 = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)


def create_organisation(*rules: dict[str, Any]) -> Organisation:
    """The development network (regions, centres, workers) with only the rules given."""
    return parse({**DEV_DATA, "routing_rules": list(rules)})


def create_rule(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": "rule", "priority": 0, "workers": ["w-anna"]}
    fields.update(overrides)
    return fields


def create_case(**overrides: Any) -> Case:
    """A senior referred to North Town about housing."""
    fields: dict[str, Any] = {
        "region_id": "reg-north",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
    }
    fields.update(overrides)
    return Case(**fields)


def create_arrival(**overrides: Any) -> ClientArrived:
    fields: dict[str, Any] = {
        "event_id": "evt-1",
        "organisation": "org-demo",
        "client_id": "cl-1",
        "referral_id": "ref-1",
        "display_name": "Jana Nováková",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "returning": False,
    }
    fields.update(overrides)
    return ClientArrived(**fields)


def create_notification(**overrides: Any) -> Notification:
    (notification,) = notify_responsible(
        create_arrival(), [Recipient("w-anna", "routing rule r (priority 1)")], T0
    )
    return replace(notification, **overrides)


def workers(recipients: list[Recipient]) -> list[str]:
    return [r.worker_id for r in recipients]


# ------------------------------------------------------------------------ routing


def test_the_highest_priority_matching_rule_wins() -> None:
    org = create_organisation(
        create_rule(id="low", priority=5, workers=["w-petr"]),
        create_rule(id="high", priority=20, workers=["w-anna"]),
        create_rule(id="middle", priority=10, workers=["w-duty-north"]),
    )

    assert route(org, create_case()) == [Recipient("w-anna", "routing rule high (priority 20)")]


def test_a_higher_priority_rule_that_does_not_match_is_ignored() -> None:
    org = create_organisation(
        create_rule(id="south", priority=50, centres=["ctr-south-city"], workers=["w-ilze"]),
        create_rule(id="north", priority=1, regions=["reg-north"], workers=["w-petr"]),
    )

    assert workers(route(org, create_case())) == ["w-petr"]


def test_rules_of_equal_priority_all_apply_each_worker_once() -> None:
    org = create_organisation(
        create_rule(
            id="b-housing", priority=10, problem_types=["housing"], workers=["w-petr", "w-anna"]
        ),
        create_rule(id="a-seniors", priority=10, client_types=["senior"], workers=["w-anna"]),
        create_rule(id="c-lower", priority=9, workers=["w-manager-north"]),
    )

    assert route(org, create_case()) == [
        Recipient("w-anna", "routing rule a-seniors (priority 10)"),
        Recipient("w-petr", "routing rule b-housing (priority 10)"),
    ]


def test_a_rule_with_empty_lists_matches_any_case() -> None:
    org = create_organisation(create_rule(id="catch-all", workers=["w-manager-north"]))

    for case in (
        create_case(),
        create_case(region_id="reg-south", centre_id="ctr-south-city"),
        create_case(client_type="youth", problem_type="addiction"),
    ):
        assert workers(route(org, case)) == ["w-manager-north"]


@pytest.mark.parametrize(
    ("condition", "case_overrides"),
    [
        ({"regions": ["reg-south"]}, {}),
        ({"centres": ["ctr-north-village"]}, {}),
        ({"client_types": ["youth"]}, {}),
        ({"problem_types": ["debt"]}, {}),
        ({"regions": ["reg-north"], "problem_types": ["debt"]}, {}),
        ({"problem_types": ["housing"]}, {"problem_type": "health"}),
    ],
)
def test_a_rule_matches_only_when_every_non_empty_list_holds_the_case(
    condition: dict[str, Any], case_overrides: dict[str, Any]
) -> None:
    org = create_organisation(
        create_rule(id="narrow", priority=99, workers=["w-anna"], **condition)
    )

    assert route(org, create_case(**case_overrides)) == [
        Recipient("w-duty-north", "no routing rule matched; duty worker of ctr-north-town")
    ]


def test_with_no_matching_rule_the_centres_duty_worker_is_responsible() -> None:
    recipients = route(
        create_organisation(),
        create_case(region_id="reg-south", centre_id="ctr-south-city"),
    )

    assert recipients == [
        Recipient("w-duty-south", "no routing rule matched; duty worker of ctr-south-city")
    ]


def test_an_unknown_centre_with_no_matching_rule_has_no_recipient() -> None:
    assert route(DEV, create_case(region_id="", centre_id="ctr-nowhere")) == []


@pytest.mark.parametrize(
    ("case_overrides", "expected"),
    [
        ({}, ["w-anna"]),
        ({"client_type": "family_with_children", "problem_type": "debt"}, ["w-anna"]),
        ({"client_type": "family_with_children", "problem_type": "health"}, ["w-petr"]),
        (
            {
                "region_id": "reg-south",
                "centre_id": "ctr-south-city",
                "problem_type": "domestic_violence",
            },
            ["w-ilze", "w-manager-south"],
        ),
        ({"centre_id": "ctr-north-village", "problem_type": "health"}, ["w-duty-north"]),
    ],
)
def test_the_development_rules_route_as_documented(
    case_overrides: dict[str, Any], expected: list[str]
) -> None:
    assert workers(route(DEV, create_case(**case_overrides))) == expected


def test_the_organisation_file_refuses_a_rule_without_workers() -> None:
    with pytest.raises(InvalidOrganisation, match="rule nobody: workers must name at least one"):
        create_organisation(create_rule(id="nobody", priority=50, workers=[]))


def test_a_winning_rule_without_workers_still_leaves_someone_responsible() -> None:
    # Built past the validation, as a rule set read from elsewhere could be.
    empty = RoutingRuleSpec("nobody", 50, (), (), (), (), ())
    org = replace(DEV, routing_rules=(*DEV.routing_rules, empty))

    recipients = route(org, create_case())

    assert [r.worker_id for r in recipients] == [DEV.centres[create_case().centre_id].duty_worker]
    assert "duty worker" in recipients[0].reason


# ------------------------------------------------------------------------ inbox


def test_notification_id_is_derived_from_event_and_worker() -> None:
    assert notification_id("evt-1", "w-anna") == "evt-1:w-anna"
    assert notification_id("evt-1", "w-anna") != notification_id("evt-1", "w-petr")
    assert notification_id("evt-1", "w-anna") != notification_id("evt-2", "w-anna")


def test_each_recipient_gets_a_new_client_notification() -> None:
    recipients = [
        Recipient("w-anna", "routing rule a (priority 10)"),
        Recipient("w-petr", "routing rule a (priority 10)"),
    ]

    notifications = notify_responsible(create_arrival(), recipients, T0)

    assert notifications == [
        Notification(
            notification_id=f"evt-1:{worker}",
            organisation="org-demo",
            worker_id=worker,
            kind="new_client",
            title="New client: Jana Nováková",
            body="Jana Nováková was referred to ctr-north-town (senior, housing). "
            "Please make first contact.",
            client_id="cl-1",
            referral_id="ref-1",
            centre_id="ctr-north-town",
            routing_reason="routing rule a (priority 10)",
            created_at=T0,
            read_at=None,
            subject_kind="client",
            subject_id="cl-1",
        )
        for worker in ("w-anna", "w-petr")
    ]


def test_a_returning_client_is_announced_as_returning() -> None:
    (notification,) = notify_responsible(
        create_arrival(returning=True), [Recipient("w-anna", "r")], T0
    )

    assert notification.kind == "returning_client"
    assert notification.title == "Returning client: Jana Nováková"
    assert (notification.subject_kind, notification.subject_id) == ("client", "cl-1")


def test_a_redelivered_event_lands_on_the_same_notification_ids() -> None:
    recipients = [Recipient("w-anna", "r"), Recipient("w-petr", "r")]

    first = notify_responsible(create_arrival(), recipients, T0)
    again = notify_responsible(create_arrival(), recipients, T0 + timedelta(minutes=5))
    other = notify_responsible(create_arrival(event_id="evt-2"), recipients, T0)

    assert [n.notification_id for n in again] == [n.notification_id for n in first]
    assert {n.notification_id for n in other}.isdisjoint(n.notification_id for n in first)


def test_no_recipient_means_no_notification() -> None:
    assert notify_responsible(create_arrival(), [], T0) == []


def test_mark_read_records_when_it_was_read() -> None:
    read = mark_read(create_notification(), T0 + timedelta(hours=1))

    assert read.read_at == T0 + timedelta(hours=1)
    assert read == replace(create_notification(), read_at=T0 + timedelta(hours=1))


def test_mark_read_keeps_the_first_read_time() -> None:
    first = mark_read(create_notification(), T0 + timedelta(hours=1))

    again = mark_read(first, T0 + timedelta(hours=5))

    assert again.read_at == T0 + timedelta(hours=1)
    assert again == first
