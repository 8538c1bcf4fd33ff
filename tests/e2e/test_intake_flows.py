"""intake's issue 5 through real processes (intake, clients, notify): one-time
consultations, first response and its escalation, routing rules published to notify,
eligibility forms with self-fill links, and the public web form.

Like every suite, it runs on a RabbitMQ vhost of its own (suite_factory): another
module's notify consuming from the same queue names would otherwise take these events.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import kombu
import pymongo
import pytest

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.rpc_errors import field_violations
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually, stub

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FIRST_RESPONSE_SECONDS = 4.0
WEB_FORM_LIMIT = 3

PARTNER = auth(create_partner_token())
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
MANAGER_NORTH = auth(
    create_token(
        subject="w-manager-north",
        centres=["ctr-north-town", "ctr-north-village"],
        roles=["manager"],
    )
)


@pytest.fixture(scope="module")
def suite(suite_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    organisation = json.loads((ROOT / "config" / "organisation.dev.json").read_text())
    organisation["first_response_hours"] = FIRST_RESPONSE_SECONDS / 3600
    org_file = tmp_path_factory.mktemp("org") / "organisation.json"
    org_file.write_text(json.dumps(organisation))
    yield suite_factory(
        ("intake", "clients", "notify"),
        env={
            "CASEWORK_ORGANISATION_FILE": str(org_file),
            "INTAKE_FIRST_RESPONSE_CHECK_INTERVAL": "0.3",
            "INTAKE_WEB_FORM_PER_MINUTE": str(WEB_FORM_LIMIT),
            "INTAKE_WEB_FORM_IP_HEADER": "X-Client-Address",
            # The tests stand in for the proxy: they connect from loopback.
            "INTAKE_TRUSTED_PROXIES": "127.0.0.1",
        },
    )


@pytest.fixture(scope="module")
def intake(suite: Suite) -> Any:
    return stub(suite, "intake", intake_pb2_grpc.IntakeServiceStub)


@pytest.fixture(scope="module")
def notify(suite: Suite) -> Any:
    return stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)


@pytest.fixture(scope="module")
def db(suite: Suite) -> Iterator[Any]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    yield client[f"{suite.env['MONGO_DB_PREFIX']}_intake"]
    client.close()


class Captured:
    """Every intake event published on the module's vhost, read from a queue of ours."""

    def __init__(self, uri: str) -> None:
        self._connection = kombu.Connection(uri)
        exchange = kombu.Exchange("casework.events", type="topic", passive=True)
        self._queue = self._connection.SimpleQueue(
            kombu.Queue(
                f"test-capture-{secrets.token_hex(4)}",
                exchange=exchange,
                routing_key="intake.#",
                exclusive=True,
                auto_delete=True,
            )
        )
        self.events: list[dict[str, Any]] = []

    def drain(self) -> None:
        while True:
            try:
                message = self._queue.get(timeout=0.05)
            except self._queue.Empty:
                return
            self.events.append(json.loads(message.body))
            message.ack()

    def of(self, event_type: str, **payload: Any) -> list[dict[str, Any]]:
        self.drain()
        return [
            e
            for e in self.events
            if e["type"] == event_type and all(e["payload"].get(k) == v for k, v in payload.items())
        ]

    def close(self) -> None:
        self._queue.close()
        self._connection.release()


@pytest.fixture(scope="module")
def captured(suite: Suite) -> Iterator[Captured]:
    capture = Captured(suite.env["AMQP_URI"])
    yield capture
    capture.close()


def create_referral(**overrides: Any) -> intake_pb2.SubmitReferralRequest:
    fields: dict[str, Any] = {
        "idempotency_key": f"key-{secrets.token_hex(8)}",
        "family_name": f"Nováková-{secrets.token_hex(3)}",
        "centre_id": "ctr-north-town",
        "client_type": "senior",
        "problem_type": "housing",
    }
    fields.update(overrides)
    return intake_pb2.SubmitReferralRequest(
        idempotency_key=fields["idempotency_key"],
        person=intake_pb2.Person(
            given_name="Jana", family_name=fields["family_name"], date_of_birth="1961-04-12"
        ),
        contact=intake_pb2.Contact(phone="+421 900 123 456"),
        centre_id=fields["centre_id"],
        client_type=fields["client_type"],
        problem_type=fields["problem_type"],
        channel=intake_pb2.CHANNEL_PHONE,
    )


def create_consultation(**overrides: Any) -> intake_pb2.RecordConsultationRequest:
    """Anna answers a question about housing benefit on the phone, anonymously."""
    fields: dict[str, Any] = {
        "idempotency_key": f"cons-{secrets.token_hex(8)}",
        "person": intake_pb2.Person(),
        "contact": intake_pb2.Contact(),
        "topic": "housing benefit",
        "duration_minutes": 15,
        "channel": intake_pb2.CHANNEL_PHONE,
        "centre_id": "ctr-north-town",
    }
    fields.update(overrides)
    return intake_pb2.RecordConsultationRequest(**fields)


def inbox(notify: Any, who: Any) -> list[Any]:
    reply = notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200), metadata=who)
    return list(reply.notifications)


def refused(call: Any, request: Any, metadata: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata)
    return caught.value


# ----------------------------------------------------------------- consultations


def test_a_consultation_is_stored_and_announced_with_exactly_the_agreed_payload(
    intake: Any, captured: Captured, db: Any
) -> None:
    anonymous = intake.RecordConsultation(create_consultation(), metadata=ANNA).consultation
    named = intake.RecordConsultation(
        create_consultation(
            person=intake_pb2.Person(
                given_name="Petra", family_name="Malá", date_of_birth="1990-02-03"
            ),
            contact=intake_pb2.Contact(email="petra@example.org"),
            channel=intake_pb2.CHANNEL_GROUP_EVENT,
        ),
        metadata=ANNA,
    ).consultation
    first = eventually(
        lambda: captured.of(
            "intake.consultation.recorded", consultation_id=anonymous.consultation_id
        )
    )[0]
    assert first["payload"] == {
        "consultation_id": anonymous.consultation_id,
        "person": {"given_name": "", "family_name": "", "date_of_birth": ""},
        "contact": {"phone": "", "email": ""},
        "topic": "housing benefit",
        "duration_minutes": 15,
        "worker_id": "w-anna",
        "channel": "phone",
        "centre_id": "ctr-north-town",
        "recorded_at": first["payload"]["recorded_at"],
    }
    second = eventually(
        lambda: captured.of("intake.consultation.recorded", consultation_id=named.consultation_id)
    )[0]["payload"]
    assert second["person"] == {
        "given_name": "Petra",
        "family_name": "Malá",
        "date_of_birth": "1990-02-03",
    }
    assert second["channel"] == "group_event"
    assert db.consultations.count_documents({"_id": named.consultation_id}) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"topic": ""}, "topic"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"channel": intake_pb2.CHANNEL_UNSPECIFIED}, "channel"),
        ({"person": intake_pb2.Person(given_name="Petra")}, "person.family_name"),
        (
            {"person": intake_pb2.Person(given_name="P", family_name="M", date_of_birth="3.2.90")},
            "person.date_of_birth",
        ),
        ({"contact": intake_pb2.Contact(email="nope")}, "contact.email"),
        ({"worker_id": "w-ilze"}, "worker_id"),
        ({"idempotency_key": "short"}, "idempotency_key"),
    ],
)
def test_a_bad_consultation_names_the_field_and_stores_nothing(
    intake: Any, db: Any, overrides: dict[str, Any], field: str
) -> None:
    request = create_consultation(**overrides)
    error = refused(intake.RecordConsultation, request, ANNA)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)
    assert db.consultations.count_documents({"idempotency_key": request.idempotency_key}) == 0


def test_a_consultation_for_a_centre_the_worker_does_not_serve_is_refused(
    intake: Any, db: Any
) -> None:
    request = create_consultation(centre_id="ctr-south-city", worker_id="w-ilze")
    assert refused(intake.RecordConsultation, request, ANNA).code() == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert db.consultations.count_documents({"idempotency_key": request.idempotency_key}) == 0


# ---------------------------------------------------------------- first response


def test_an_unacknowledged_referral_escalates_to_the_centre_manager_once(
    intake: Any, notify: Any, captured: Captured, db: Any
) -> None:
    ignored = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    taken = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    acked = intake.AcknowledgeReferral(
        intake_pb2.AcknowledgeReferralRequest(referral_id=taken.referral_id), metadata=ANNA
    ).referral
    assert acked.acknowledged_by == "w-anna" and acked.HasField("acknowledged_at")

    note = eventually(
        lambda: next(
            (n for n in inbox(notify, MANAGER_NORTH) if n.referral_id == ignored.referral_id),
            None,
        ),
        timeout=FIRST_RESPONSE_SECONDS + 15,
    )
    assert note.kind == "first_contact_overdue"
    assert ignored.reference_number in note.title
    # Later timer runs leave both alone: still one escalation, one event, one
    # notification, and none for the referral Anna took on in time. A referral submitted
    # now is overdue only FIRST_RESPONSE_SECONDS from now, many timer runs later; once its
    # escalation has reached our queue and the manager's inbox, so has whatever the runs
    # before it published.
    later = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    eventually(
        lambda: captured.of("intake.referral.first_contact_overdue", referral_id=later.referral_id),
        timeout=FIRST_RESPONSE_SECONDS + 15,
    )
    eventually(lambda: later.referral_id in [n.referral_id for n in inbox(notify, MANAGER_NORTH)])
    assert (
        len(captured.of("intake.referral.first_contact_overdue", referral_id=ignored.referral_id))
        == 1
    )
    assert captured.of("intake.referral.first_contact_overdue", referral_id=taken.referral_id) == []
    assert [n.referral_id for n in inbox(notify, MANAGER_NORTH)].count(ignored.referral_id) == 1
    assert db.referrals.find_one({"_id": taken.referral_id}).get("escalated_at") is None


def test_the_first_contact_is_recorded_with_its_channel_and_kept(intake: Any) -> None:
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    request = intake_pb2.RecordFirstContactRequest(
        referral_id=referral.referral_id, channel=intake_pb2.CHANNEL_OUTREACH, note="met at home"
    )
    first = intake.RecordFirstContact(request, metadata=ANNA).referral
    again = intake.RecordFirstContact(
        intake_pb2.RecordFirstContactRequest(
            referral_id=referral.referral_id, channel=intake_pb2.CHANNEL_PHONE
        ),
        metadata=ANNA,
    ).referral
    assert first.first_contact_channel == intake_pb2.CHANNEL_OUTREACH
    assert first.acknowledged_by == "w-anna"
    assert again.first_contact_at == first.first_contact_at
    assert again.first_contact_channel == intake_pb2.CHANNEL_OUTREACH
    hidden = refused(
        intake.AcknowledgeReferral,
        intake_pb2.AcknowledgeReferralRequest(referral_id=referral.referral_id),
        ILZE,
    )
    assert hidden.code() == grpc.StatusCode.NOT_FOUND


# ------------------------------------------------------------------ routing rules

FILE_RULES = [
    intake_pb2.RoutingRule(
        id="north-town-housing-and-debt",
        priority=20,
        centres=["ctr-north-town"],
        problem_types=["housing", "debt"],
        workers=["w-anna"],
    ),
    intake_pb2.RoutingRule(
        id="north-families",
        priority=10,
        regions=["reg-north"],
        client_types=["family_with_children"],
        workers=["w-petr"],
    ),
]
SOUTH_YOUTH = intake_pb2.RoutingRule(
    id="south-youth",
    priority=40,
    centres=["ctr-south-city"],
    client_types=["youth"],
    workers=["w-ilze"],
)


@pytest.mark.parametrize(
    ("rules", "field", "words"),
    [
        (
            [
                *FILE_RULES,
                intake_pb2.RoutingRule(
                    id="shadowed",
                    priority=5,
                    centres=["ctr-north-town"],
                    problem_types=["debt"],
                    workers=["w-petr"],
                ),
            ],
            "rules[2]",
            "unreachable",
        ),
        (
            [intake_pb2.RoutingRule(id="ghost", priority=1, workers=["w-nobody"])],
            "rules[0].workers",
            "does not exist",
        ),
        (
            [intake_pb2.RoutingRule(id="nobody", priority=1, centres=["ctr-south-city"])],
            "rules[0].workers",
            "at least one",
        ),
    ],
    ids=["unreachable", "missing-worker", "no-workers"],
)
def test_a_bad_rule_set_is_refused_and_no_version_is_stored(
    intake: Any, db: Any, rules: list[Any], field: str, words: str
) -> None:
    before = db.routing_rule_sets.count_documents({})
    error = refused(
        intake.SaveRoutingRules, intake_pb2.SaveRoutingRulesRequest(rules=rules), MANAGER_NORTH
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in field_violations(error)[field]
    assert db.routing_rule_sets.count_documents({}) == before


def test_only_a_manager_may_save_rules(intake: Any) -> None:
    error = refused(
        intake.SaveRoutingRules, intake_pb2.SaveRoutingRulesRequest(rules=FILE_RULES), ANNA
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_saved_rules_can_be_dry_run_then_published_and_notify_routes_with_them(
    intake: Any, notify: Any
) -> None:
    saved = intake.SaveRoutingRules(
        intake_pb2.SaveRoutingRulesRequest(rules=[*FILE_RULES, SOUTH_YOUTH]),
        metadata=MANAGER_NORTH,
    ).rule_set
    case = {"centre_id": "ctr-south-city", "client_type": "youth", "problem_type": "employment"}
    now = intake.DryRunRouting(intake_pb2.DryRunRoutingRequest(**case), metadata=ANNA)
    assert [r.worker_id for r in now.recipients] == ["w-duty-south"]
    trial = intake.DryRunRouting(
        intake_pb2.DryRunRoutingRequest(version=saved.version, **case), metadata=ANNA
    )
    assert [(r.worker_id, r.reason) for r in trial.recipients] == [
        ("w-ilze", "routing rule south-youth (priority 40)")
    ]

    published = intake.PublishRoutingRules(
        intake_pb2.PublishRoutingRulesRequest(version=saved.version), metadata=MANAGER_NORTH
    ).rule_set
    assert published.published_by == "w-manager-north"

    def routed() -> Any:
        # Until notify has the new version, a referral may still go to the duty worker.
        referral = intake.SubmitReferral(create_referral(**case), metadata=PARTNER).referral
        return eventually(
            lambda: next(
                (n for n in inbox(notify, ILZE) if n.referral_id == referral.referral_id), None
            ),
            timeout=3,
        )

    note = eventually(lambda: _quietly(routed), timeout=20, interval=0.3)
    assert "south-youth" in note.routing_reason
    listed = intake.ListRoutingRuleSets(intake_pb2.ListRoutingRuleSetsRequest(), metadata=ANNA)
    assert listed.published_version == saved.version
    older = refused(
        intake.PublishRoutingRules,
        intake_pb2.PublishRoutingRulesRequest(version=saved.version - 1 or 999),
        MANAGER_NORTH,
    )
    assert older.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)


def _quietly(probe: Any) -> Any:
    try:
        return probe()
    except AssertionError:
        return None


# -------------------------------------------------------------------------- forms

HOUSING_FORM = {
    "title": "Housing intake",
    "steps": [
        {
            "id": "about",
            "title": "About you",
            "questions": [
                {
                    "id": "date_of_birth",
                    "label": "Date of birth",
                    "type": "date",
                    "required": True,
                    "self_fill": True,
                },
                {
                    "id": "household",
                    "label": "People in the household",
                    "type": "number",
                    "required": True,
                    "minimum": 1,
                    "self_fill": True,
                },
                {"id": "has_home", "label": "Has a home", "type": "yes_no", "required": True},
            ],
        }
    ],
    "programmes": [
        {
            "id": "shelter",
            "name": "Emergency shelter",
            "rule": {
                "all_of": [
                    {"equals": {"question": "has_home", "value": False}},
                    {"age_at_least": {"question": "date_of_birth", "years": 18}},
                ]
            },
        }
    ],
}


def http(
    suite: Suite, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{suite.public_port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def housing_form(intake: Any) -> Any:
    return intake.PublishForm(
        intake_pb2.PublishFormRequest(
            form_id=f"housing_{secrets.token_hex(3)}", definition_json=json.dumps(HOUSING_FORM)
        ),
        metadata=MANAGER_NORTH,
    ).form


def test_a_form_with_a_broken_condition_is_refused_naming_the_field(intake: Any, db: Any) -> None:
    broken = json.loads(json.dumps(HOUSING_FORM))
    broken["programmes"][0]["rule"] = {"equals": {"question": "income", "value": 1}}
    form_id = f"broken_{secrets.token_hex(3)}"
    error = refused(
        intake.PublishForm,
        intake_pb2.PublishFormRequest(form_id=form_id, definition_json=json.dumps(broken)),
        MANAGER_NORTH,
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "programmes[0].rule.question_id" in field_violations(error)
    assert db.form_versions.count_documents({"form_id": form_id}) == 0


def test_answers_are_kept_with_their_form_version_and_give_verdicts_with_reasons(
    intake: Any, housing_form: Any, db: Any
) -> None:
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    request = intake_pb2.SubmitFormAnswersRequest(
        referral_id=referral.referral_id,
        form_id=housing_form.form_id,
        form_version=housing_form.version,
    )
    request.answers.update({"date_of_birth": "1961-04-12", "household": 2, "has_home": False})
    stored = intake.SubmitFormAnswers(request, metadata=ANNA).form_answers
    assert stored.form_version == housing_form.version
    (verdict,) = stored.verdicts
    assert verdict.eligible and verdict.programme_id == "shelter"
    assert "'Has a home' no" in verdict.reason

    wrong = intake_pb2.SubmitFormAnswersRequest(
        referral_id=referral.referral_id,
        form_id=housing_form.form_id,
        form_version=housing_form.version,
    )
    wrong.answers.update({"date_of_birth": "yesterday", "household": "two", "has_home": "no"})
    error = refused(intake.SubmitFormAnswers, wrong, ANNA)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"answers.date_of_birth", "answers.household", "answers.has_home"} <= set(
        field_violations(error)
    )
    gone = intake_pb2.SubmitFormAnswersRequest(
        referral_id=referral.referral_id, form_id=housing_form.form_id, form_version=99
    )
    gone.answers.update({"has_home": True})
    error = refused(intake.SubmitFormAnswers, gone, ANNA)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "form_version" in field_violations(error)
    assert db.form_answers.count_documents({"referral_id": referral.referral_id}) == 1


def test_a_self_fill_link_shows_only_its_questions_and_is_used_once(
    suite: Suite, intake: Any, housing_form: Any, db: Any
) -> None:
    referral = intake.SubmitReferral(create_referral(), metadata=PARTNER).referral
    link = intake.IssueSelfFillLink(
        intake_pb2.IssueSelfFillLinkRequest(
            referral_id=referral.referral_id,
            form_id=housing_form.form_id,
            question_ids=["date_of_birth"],
        ),
        metadata=ANNA,
    )
    status, page = http(suite, "GET", link.path)
    assert status == 200
    assert [q["id"] for q in page["questions"]] == ["date_of_birth"]
    assert referral.person.family_name not in json.dumps(page)

    status, reply = http(suite, "POST", link.path, {"answers": {"date_of_birth": 12}})
    assert status == 400 and reply["errors"][0]["field"] == "answers.date_of_birth"
    status, reply = http(
        suite, "POST", link.path, {"answers": {"date_of_birth": "1961-04-12", "household": 3}}
    )
    assert status == 400
    assert "answers.household" in [e["field"] for e in reply["errors"]]
    assert db.form_answers.count_documents({"referral_id": referral.referral_id}) == 0

    headers = {"X-Client-Address": f"10.1.{secrets.randbelow(250)}.{secrets.randbelow(250)}"}
    status, _ = http(
        suite, "POST", link.path, {"answers": {"date_of_birth": "1961-04-12"}}, headers
    )
    assert status == 201
    status, reply = http(
        suite, "POST", link.path, {"answers": {"date_of_birth": "1961-04-12"}}, headers
    )
    assert status == 409
    assert db.form_answers.count_documents({"referral_id": referral.referral_id}) == 1
    listed = intake.ListFormAnswers(
        intake_pb2.ListFormAnswersRequest(referral_id=referral.referral_id), metadata=ANNA
    ).form_answers
    assert [a.submitted_by for a in listed] == ["self-fill"]

    payload, signature = link.token.split(".")
    tampered = f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    status, reply = http(suite, "GET", f"/public/v1/self-fill/{tampered}")
    assert status == 404 and "not a valid link" in reply["error"]


# ------------------------------------------------------------------ public web form


def web_form(**overrides: Any) -> dict[str, Any]:
    fields = {
        "given_name": "Marta",
        "family_name": f"Webová-{secrets.token_hex(3)}",
        "date_of_birth": "1985-07-01",
        "phone": "+421 900 555 111",
        "centre_id": "ctr-north-town",
        "client_type": "family_with_children",
        "problem_type": "debt",
        "free_text": "We cannot pay the rent this month.",
    }
    fields.update(overrides)
    return fields


def address() -> dict[str, str]:
    return {"X-Client-Address": f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"}


def test_the_public_web_form_answers_a_reference_number_and_the_referral_is_routed(
    suite: Suite, db: Any
) -> None:
    form = web_form()
    status, reply = http(
        suite, "POST", "/public/v1/organisations/org-demo/referrals", form, address()
    )
    assert status == 201
    stored = db.referrals.find_one({"reference_number": reply["reference_number"]})
    assert stored["channel"] == "web_form" and stored["family_name"] == form["family_name"]
    assert set(reply) == {"reference_number"}


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (web_form(website="http://spam.example"), "website"),
        (web_form(date_of_birth="1.7.1985"), "date_of_birth"),
        (web_form(phone="", email=""), "phone"),
        (web_form(centre_id=""), "centre_id"),
        (web_form(password="x"), "password"),
    ],
    ids=["honeypot", "date", "no-contact", "no-centre", "unknown-field"],
)
def test_bad_web_form_input_answers_400_naming_the_field_and_stores_nothing(
    suite: Suite, db: Any, form: dict[str, Any], field: str
) -> None:
    status, reply = http(
        suite, "POST", "/public/v1/organisations/org-demo/referrals", form, address()
    )
    assert status == 400
    assert field in [e["field"] for e in reply["errors"]]
    assert db.referrals.count_documents({"family_name": form["family_name"]}) == 0


def test_one_address_flooding_the_web_form_is_turned_away_and_others_are_not(
    suite: Suite, db: Any
) -> None:
    if time.time() % 60 > 55:  # keep the flood inside one minute window
        time.sleep(61 - time.time() % 60)
    flood = address()
    family_name = f"Flood-{secrets.token_hex(3)}"
    answers = [
        http(
            suite,
            "POST",
            "/public/v1/organisations/org-demo/referrals",
            web_form(family_name=family_name),
            flood,
        )
        for _ in range(WEB_FORM_LIMIT + 2)
    ]
    assert [status for status, _ in answers] == [201] * WEB_FORM_LIMIT + [429, 429]
    assert db.referrals.count_documents({"family_name": family_name}) == WEB_FORM_LIMIT
    status, _ = http(
        suite, "POST", "/public/v1/organisations/org-demo/referrals", web_form(), address()
    )
    assert status == 201
