"""intake's repositories and use cases against the database MONGO_URI names (the
development wire server by default): the timer's query, escalation once, the shared
rate counter, rule set versions, form versions and self-fill links used once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from casework_common.auth import Principal
from casework_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from casework_common.organisation import parse
from casework_common.routing import Case, Rule
from casework_common.unit_of_work import SystemActor, UnitOfWork
from casework_intake import services
from casework_intake.adapters import repository as repo
from casework_intake.adapters.referrals import NumberBlocks
from casework_intake.adapters.repository import (
    FormAnswersDocument,
    FormsRepository,
    ReferralDocument,
    ReferralRepository,
    RoutingRuleSetDocument,
    RoutingRulesRepository,
)
from casework_intake.domain.referrals import Channel, SubmitReferral
from casework_intake.domain.selffill import issue_link

DEV = parse(
    json.loads(
        (Path(__file__).resolve().parents[4] / "config" / "organisation.dev.json").read_text()
    )
)
T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
SECRET = b"0123456789abcdef0123456789abcdef-test"
PARTNER = Principal(
    "org-demo", "partner-x", "partner", frozenset(DEV.centres), frozenset(), frozenset()
)
ANNA = Principal(
    "org-demo",
    "w-anna",
    "worker",
    frozenset({"ctr-north-town"}),
    frozenset({"case_worker"}),
    frozenset(),
)
MANAGER = Principal(
    "org-demo",
    "w-manager-north",
    "worker",
    frozenset({"ctr-north-town", "ctr-north-village"}),
    frozenset({"manager"}),
    frozenset(),
)

pytestmark = pytest.mark.usefixtures("mongo_db")


def create_command(**overrides: Any) -> SubmitReferral:
    fields: dict[str, Any] = {
        "idempotency_key": f"key-{datetime.now().timestamp()}",
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": "1961-04-12",
        "phone": "+421 900 123 456",
        "email": "",
        "address": "",
        "region_id": "",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
        "channel": Channel.PHONE,
        "free_text": "",
    }
    fields.update(overrides)
    return SubmitReferral(**fields)


TIMERS = SystemActor("intake")


def unit(caller: Principal | SystemActor = TIMERS, at: datetime = T0) -> UnitOfWork:
    return UnitOfWork(caller, now=at)


def submit(key: str, hours: float = 1.0, at: datetime = T0) -> str:
    referral, _ = services.submit_referral(
        create_command(idempotency_key=key),
        unit(PARTNER, at),
        DEV,
        ReferralRepository("org-demo", None),
        first_response_hours=hours,
    )
    return referral.referral_id


def test_the_timer_finds_only_unacknowledged_unescalated_referrals_past_their_deadline() -> None:
    late = submit("key-late-0001")
    acked = submit("key-acked-0001")
    submit("key-early-0001", hours=5)
    services.acknowledge_referral(
        services.AcknowledgeReferral(acked),
        unit(ANNA),
        ReferralRepository("org-demo", ANNA.centres),
    )
    found = repo.overdue_referrals(T0 + timedelta(hours=2))
    assert [r.referral_id for r in found] == [late]


def test_an_overdue_referral_is_escalated_and_announced_once_even_when_asked_twice() -> None:
    late = submit("key-late-0002")
    now = T0 + timedelta(hours=2)
    first = services.escalate_overdue(
        unit(at=now),
        {"org-demo": DEV},
        lambda org: ReferralRepository(org, None),
        repo.overdue_referrals(now),
    )
    # A second timer (another replica) that read the same list before the first wrote.
    stale = [r for r in [ReferralRepository("org-demo", None).get(late)]]
    stale = [r.__class__(**{**r.__dict__, "escalated_at": None}) for r in stale]
    second = services.escalate_overdue(
        unit(at=now),
        {"org-demo": DEV},
        lambda org: ReferralRepository(org, None),
        stale,
    )
    assert (first, second) == (1, 0)
    raw = ReferralDocument._get_collection().find_one({"_id": late})
    overdue = [e for e in raw["outbox"] if e["type"] == "intake.referral.first_contact_overdue"]
    assert len(overdue) == 1
    assert overdue[0]["payload"]["manager_id"] == "w-manager-north"
    assert repo.overdue_referrals(now + timedelta(hours=1)) == []


def test_a_retried_referral_answers_the_first_and_other_content_is_refused() -> None:
    first, replayed = services.submit_referral(
        create_command(idempotency_key="key-retry-0001"),
        unit(PARTNER),
        DEV,
        ReferralRepository("org-demo", None),
    )
    again, replayed_again = services.submit_referral(
        create_command(idempotency_key="key-retry-0001"),
        unit(PARTNER),
        DEV,
        ReferralRepository("org-demo", None),
    )
    with pytest.raises(AlreadyExists) as refused:
        services.submit_referral(
            create_command(idempotency_key="key-retry-0001", free_text="Other content."),
            unit(PARTNER),
            DEV,
            ReferralRepository("org-demo", None),
        )

    assert (replayed, replayed_again) == (False, True)
    assert again == first
    assert refused.value.field == "idempotency_key"
    stored = list(ReferralDocument._get_collection().find({"idempotency_key": "key-retry-0001"}))
    assert [doc["_id"] for doc in stored] == [first.referral_id]
    assert [e["type"] for e in stored[0]["outbox"]] == ["intake.referral.submitted"]


def test_reference_number_blocks_are_unique_across_processes_and_count_up_in_each() -> None:
    # Two processes' blocks: each takes its own from the one counter.
    one, other = NumberBlocks(size=3), NumberBlocks(size=3)
    counter = "org-demo:referral:2031"

    taken = [one.next(counter), other.next(counter), one.next(counter)]
    taken += [one.next(counter), one.next(counter), other.next(counter)]

    assert taken == [1, 4, 2, 3, 7, 5]
    assert len(set(taken)) == len(taken)


def test_referrals_of_one_process_are_numbered_one_after_the_other() -> None:
    numbers = [
        ReferralRepository("org-demo", None).get(submit(f"key-number-{i:04d}")).reference_number
        for i in range(3)
    ]
    sequences = [int(number.rsplit("-", 1)[1]) for number in numbers]
    assert sequences == list(range(sequences[0], sequences[0] + 3))
    assert all(number.startswith(f"R-{T0.year}-") for number in numbers)


def test_the_rate_counter_is_shared_and_counts_each_window_apart() -> None:
    assert [repo.count_submission("198.51.100.7", 100) for _ in range(3)] == [1, 2, 3]
    assert repo.count_submission("198.51.100.7", 101) == 1
    assert repo.count_submission("198.51.100.8", 100) == 1
    repo.forget_windows_before(101)
    assert repo.count_submission("198.51.100.7", 100) == 1


def test_rule_sets_are_versioned_and_only_a_published_one_is_in_effect() -> None:
    repository = RoutingRulesRepository("org-demo")
    rules = [Rule("south-youth", 40, (), ("ctr-south-city",), ("youth",), (), ("w-ilze",))]
    first = services.save_routing_rules(
        services.SaveRoutingRules(tuple(rules)), unit(MANAGER), DEV, repository
    )
    second = services.save_routing_rules(
        services.SaveRoutingRules(tuple(rules)), unit(MANAGER), DEV, repository
    )
    assert (first.version, second.version) == (1, 2)
    assert repository.published() is None
    case = Case("ctr-south-city", "youth", "health")
    version, result = services.dry_run_routing(services.DryRunRouting(0, case), DEV, repository)
    assert (version, [r.worker_id for r in result.recipients]) == (0, ["w-duty-south"])

    services.publish_routing_rules(services.PublishRoutingRules(2), unit(MANAGER), DEV, repository)
    assert repository.published().version == 2  # type: ignore[union-attr]
    with pytest.raises(FailedPrecondition):
        services.publish_routing_rules(
            services.PublishRoutingRules(1), unit(MANAGER), DEV, repository
        )
    raw = RoutingRuleSetDocument._get_collection().find_one({"_id": "org-demo:2"})
    assert [e["type"] for e in raw["outbox"]] == ["intake.routing_rules.published"]
    assert raw["outbox"][0]["payload"]["version"] == 2
    with pytest.raises(NotFound):
        services.publish_routing_rules(
            services.PublishRoutingRules(7), unit(MANAGER), DEV, repository
        )


def test_a_refused_rule_set_stores_no_version() -> None:
    repository = RoutingRulesRepository("org-demo")
    with pytest.raises(InvalidArgument):
        services.save_routing_rules(
            services.SaveRoutingRules((Rule("ghost", 1, workers=("w-nobody",)),)),
            unit(MANAGER),
            DEV,
            repository,
        )
    assert RoutingRuleSetDocument.objects.count() == 0


FORM = {
    "title": "Quick check",
    "steps": [
        {
            "id": "s",
            "title": "S",
            "questions": [
                {
                    "id": "born",
                    "label": "Born",
                    "type": "date",
                    "required": True,
                    "self_fill": True,
                },
                {"id": "kids", "label": "Children", "type": "number", "self_fill": True},
                {"id": "home", "label": "Has a home", "type": "yes_no", "required": True},
            ],
        }
    ],
    "programmes": [
        {"id": "p", "name": "Shelter", "rule": {"equals": {"question": "home", "value": False}}}
    ],
}


def published_form() -> tuple[str, int]:
    defn = services.publish_form(
        services.PublishForm("quick", FORM), unit(MANAGER), FormsRepository("org-demo", None)
    )
    return defn.form_id, defn.version


def test_form_versions_count_up_and_answers_stay_with_their_version() -> None:
    form_id, v1 = published_form()
    _, v2 = published_form()
    assert (v1, v2) == (1, 2)
    referral = submit("key-form-0001")
    record = services.submit_form_answers(
        services.SubmitFormAnswers(referral, form_id, v1, {"born": "1990-01-01", "home": False}),
        unit(ANNA),
        ReferralRepository("org-demo", ANNA.centres),
        FormsRepository("org-demo", ANNA.centres),
    )
    assert record["form_version"] == 1 and record["verdicts"][0]["eligible"] is True
    stored = FormAnswersDocument.objects.get(id=record["id"])
    assert (stored.form_version, dict(stored.answers)) == (1, {"born": "1990-01-01", "home": False})


@pytest.mark.parametrize(
    ("version", "answers", "field"),
    [
        (1, {"born": "soon", "home": False}, "answers.born"),
        (1, {"born": "1990-01-01", "home": "no"}, "answers.home"),
        (1, {"born": "1990-01-01"}, "answers.home"),
        (1, {"born": "1990-01-01", "home": False, "pets": 2}, "answers.pets"),
        (5, {"home": False}, "form_version"),
    ],
)
def test_bad_answers_are_refused_by_field_and_nothing_is_stored(
    version: int, answers: dict[str, Any], field: str
) -> None:
    form_id, _ = published_form()
    referral = submit("key-form-0002")
    with pytest.raises(InvalidArgument) as refused:
        services.submit_form_answers(
            services.SubmitFormAnswers(referral, form_id, version, answers),
            unit(ANNA),
            ReferralRepository("org-demo", ANNA.centres),
            FormsRepository("org-demo", ANNA.centres),
        )
    assert field in [e.field for e in refused.value.errors]
    assert FormAnswersDocument.objects.count() == 0


def test_answers_for_a_referral_outside_the_workers_centres_are_not_found() -> None:
    form_id, version = published_form()
    referral, _ = services.submit_referral(
        create_command(idempotency_key="key-south-0001", centre_id="ctr-south-city"),
        unit(PARTNER),
        DEV,
        ReferralRepository("org-demo", None),
    )
    with pytest.raises(NotFound):
        services.submit_form_answers(
            services.SubmitFormAnswers(referral.referral_id, form_id, version, {"home": True}),
            unit(ANNA),
            ReferralRepository("org-demo", ANNA.centres),
            FormsRepository("org-demo", ANNA.centres),
        )


def open_link(token: str, now: datetime) -> tuple[str, services.SelfFillForm]:
    return services.open_self_fill(
        token,
        unit(at=now),
        {"org-demo": DEV},
        lambda org: FormsRepository(org, None),
        repo.organisation_of_referral,
        secret=SECRET,
    )


def test_a_self_fill_link_is_verified_checked_like_a_worker_and_used_once() -> None:
    form_id, version = published_form()
    referral = submit("key-self-0001")
    token = issue_link(
        SECRET, referral, form_id, version, ["born"], T0 + timedelta(hours=1), issued_at=T0
    )
    organisation, form = open_link(token, T0)
    assert [q["id"] for q in services.self_fill_questions(form)] == ["born"]
    repository = FormsRepository(organisation, None)
    with pytest.raises(InvalidArgument) as refused:
        services.submit_self_fill(
            organisation, form, {"born": "1990-01-01", "kids": 2}, unit(), repository
        )
    assert [e.field for e in refused.value.errors] == ["answers.kids"]
    with pytest.raises(InvalidArgument):
        services.submit_self_fill(organisation, form, {"born": 1990}, unit(), repository)
    assert FormAnswersDocument.objects.count() == 0

    services.submit_self_fill(organisation, form, {"born": "1990-01-01"}, unit(), repository)
    with pytest.raises(services.SelfFillRefused) as used:
        open_link(token, T0)
    assert used.value.status == 409
    with pytest.raises(services.SelfFillRefused) as again:
        services.submit_self_fill(organisation, form, {"born": "1990-01-01"}, unit(), repository)
    assert again.value.status == 409
    assert FormAnswersDocument.objects.count() == 1


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda token: token, 410),  # opened after its expiry
        (lambda token: token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"), 404),
        (lambda token: "not-a-link", 404),
    ],
    ids=["expired", "tampered", "garbage"],
)
def test_an_expired_or_tampered_link_is_refused_and_stores_nothing(
    mutate: Any, status: int
) -> None:
    form_id, version = published_form()
    referral = submit("key-self-0002")
    token = issue_link(
        SECRET, referral, form_id, version, ["born"], T0 + timedelta(hours=1), issued_at=T0
    )
    with pytest.raises(services.SelfFillRefused) as refused:
        open_link(mutate(token), T0 + timedelta(hours=2) if status == 410 else T0)
    assert refused.value.status == status
    assert FormAnswersDocument.objects.count() == 0


def test_a_link_to_a_form_version_that_no_longer_exists_is_refused() -> None:
    form_id, _ = published_form()
    referral = submit("key-self-0003")
    token = issue_link(
        SECRET, referral, form_id, 9, ["born"], T0 + timedelta(hours=1), issued_at=T0
    )
    with pytest.raises(services.SelfFillRefused) as refused:
        open_link(token, T0)
    assert refused.value.status == 410
