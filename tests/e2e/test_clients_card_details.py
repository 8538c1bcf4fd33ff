"""clients' card details through its real processes: contacts, address, type and
problems; responsible workers; consents; notes; recorded contacts and the inactivity
timer; families after a merge; every bad input refused with its field and nothing
changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import grpc
import pymongo
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from casework.clients.v1 import clients_pb2 as pb
from casework.clients.v1 import clients_pb2_grpc
from casework_common.rpc_errors import field_violations
from casework_dev.clients_testing import create_silent_card, register
from casework_dev.devstack import Suite
from casework_dev.testing.fixtures import create_token
from casework_dev.testing.helpers import auth, eventually, stub, without_outbox

pytestmark = pytest.mark.e2e

ORG = "org-demo"
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))
ILZE = auth(create_token(subject="w-ilze", centres=["ctr-south-city"]))
TODAY = date.today()


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Suite:
    # The inactivity rule runs every second in this suite (an hour by default).
    started: Suite = suite_factory(("clients",), env={"CASEWORK_INACTIVITY_SWEEP_SECONDS": "1"})
    return started


@pytest.fixture(scope="module")
def clients(suite: Suite) -> Any:
    return stub(suite, "clients", clients_pb2_grpc.ClientsServiceStub)


@pytest.fixture(scope="module")
def db(suite: Suite) -> Iterator[Any]:
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(suite.env["MONGO_URI"])
    yield client[f"{suite.env['MONGO_DB_PREFIX']}_clients"]
    client.close()


def get(clients: Any, client_id: str) -> pb.Client:
    return clients.GetClient(pb.GetClientRequest(client_id=client_id), metadata=ANNA).client


# ------------------------------------------------------------------ the card's details


def test_every_detail_is_kept_shown_and_hidden_from_other_centres(clients: Any, db: Any) -> None:
    card = register(clients)
    updated = clients.UpdateClient(
        pb.UpdateClientRequest(
            client_id=card.client_id,
            changes=pb.ClientChanges(
                contacts=[
                    pb.ContactPoint(kind=pb.CONTACT_KIND_PHONE, value="+421 911 000 222",
                                    label="mobile"),
                    pb.ContactPoint(kind=pb.CONTACT_KIND_PHONE, value="+421 2 5555 6666",
                                    label="daughter"),
                    pb.ContactPoint(kind=pb.CONTACT_KIND_EMAIL, value="jana@example.test",
                                    label="home"),
                ],
                address="Lake road 7, North Town",
                client_type="person_with_disability",
                problem_types=["housing", "health"],
            ),
            update_mask=FieldMask(paths=["contacts", "address", "client_type", "problem_types"]),
        ),
        metadata=ANNA,
    ).client  # fmt: skip
    assert [p.label for p in updated.contacts] == ["mobile", "daughter", "home"]
    assert updated.phone == "+421 911 000 222" and updated.client_type == "person_with_disability"
    clients.AssignResponsibleWorker(
        pb.AssignResponsibleWorkerRequest(client_id=card.client_id, worker_id="w-petr"),
        metadata=ANNA,
    )
    clients.RecordConsent(
        pb.RecordConsentRequest(
            client_id=card.client_id, purpose=pb.CONSENT_PURPOSE_SHARING_WITH_PARTNER,
            partner="City Hospital", given_on=TODAY.isoformat(), document_ref="GDPR-2025-17",
        ),
        metadata=ANNA,
    )  # fmt: skip
    clients.RecordConsent(
        pb.RecordConsentRequest(
            client_id=card.client_id, purpose=pb.CONSENT_PURPOSE_FEEDBACK_CALLS,
            given_on=TODAY.isoformat(),
        ),
        metadata=ANNA,
    )  # fmt: skip
    clients.WithdrawConsent(
        pb.WithdrawConsentRequest(
            client_id=card.client_id, purpose=pb.CONSENT_PURPOSE_FEEDBACK_CALLS,
            withdrawn_on=TODAY.isoformat(), reason="does not want calls",
        ),
        metadata=ANNA,
    )  # fmt: skip
    first = clients.AddNote(
        pb.AddNoteRequest(client_id=card.client_id, text="Lives with her sister."),
        metadata=ANNA,
    )
    clients.AddNote(
        pb.AddNoteRequest(client_id=card.client_id, text="With her daughter, not her sister.",
                          corrects_note_id=first.note_id),
        metadata=ANNA,
    )  # fmt: skip
    shown = get(clients, card.client_id)
    assert [w.worker_id for w in shown.responsible_workers] == ["w-petr"]
    consents = {(c.purpose, c.partner): c.given for c in shown.consents}
    assert consents == {
        (pb.CONSENT_PURPOSE_SHARING_WITH_PARTNER, "City Hospital"): True,
        (pb.CONSENT_PURPOSE_FEEDBACK_CALLS, ""): False,
    }
    assert [r.action for r in shown.consent_records][-2:] == [
        pb.CONSENT_ACTION_GIVEN,
        pb.CONSENT_ACTION_WITHDRAWN,
    ]
    assert shown.consent_records[0].recorded_by == "w-anna"
    assert list(shown.notes[0].corrected_by_note_ids) == [shown.notes[1].note_id]
    assert shown.notes[1].corrects_note_id == first.note_id
    assert len(shown.history) == len(card.history) + 7
    audited = [a["action"] for a in db.audit_trail.find({"client_id": card.client_id})]
    for action in ("update", "assign-worker", "consent-record", "consent-withdraw", "note"):
        assert action in audited
    with pytest.raises(grpc.RpcError) as hidden:
        clients.AddNote(pb.AddNoteRequest(client_id=card.client_id, text="hi"), metadata=ILZE)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND


# ------------------------------------------------------------------ bad input


def _update(client_id: str, mask: list[str], **changes: Any) -> pb.UpdateClientRequest:
    return pb.UpdateClientRequest(
        client_id=client_id, changes=pb.ClientChanges(**changes), update_mask=FieldMask(paths=mask)
    )


PHONE = pb.CONTACT_KIND_PHONE
EMAIL = pb.CONTACT_KIND_EMAIL


@pytest.mark.parametrize(
    ("call", "code", "field"),
    [
        (lambda c, i: c.UpdateClient(_update(i, []), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "update_mask"),
        (lambda c, i: c.UpdateClient(_update(i, ["status"]), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "update_mask"),
        (lambda c, i: c.UpdateClient(_update(i, ["given_name"], given_name=" "), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "changes.given_name"),
        (lambda c, i: c.UpdateClient(_update(i, ["contacts"], contacts=[
            pb.ContactPoint(kind=EMAIL, value="jana.example.test")]), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "changes.contacts[0].value"),
        (lambda c, i: c.UpdateClient(_update(i, ["contacts"], contacts=[
            pb.ContactPoint(kind=PHONE, value="ring me")]), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "changes.contacts[0].value"),
        (lambda c, i: c.UpdateClient(_update(i, ["centre_ids"], centre_ids=["ctr-south-city"]),
                                     metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "changes.centre_ids"),
        (lambda c, i: c.UpdateClient(_update(i, ["client_type"], client_type="pilot"),
                                     metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "changes.client_type"),
        (lambda c, i: c.UpdateClient(_update(i, ["address"], address="x"), metadata=ILZE),
         grpc.StatusCode.NOT_FOUND, None),
        (lambda c, i: c.AssignResponsibleWorker(pb.AssignResponsibleWorkerRequest(
            client_id=i, worker_id="w-ghost"), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "worker_id"),
        (lambda c, i: c.AssignResponsibleWorker(pb.AssignResponsibleWorkerRequest(
            client_id=i, worker_id="w-ilze"), metadata=ANNA),
         grpc.StatusCode.FAILED_PRECONDITION, None),
        (lambda c, i: c.UnassignResponsibleWorker(pb.UnassignResponsibleWorkerRequest(
            client_id=i, worker_id="w-petr"), metadata=ANNA),
         grpc.StatusCode.FAILED_PRECONDITION, None),
        (lambda c, i: c.RecordConsent(pb.RecordConsentRequest(
            client_id=i, given_on=TODAY.isoformat()), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "purpose"),
        (lambda c, i: c.RecordConsent(pb.RecordConsentRequest(
            client_id=i, purpose=pb.CONSENT_PURPOSE_SHARING_WITH_PARTNER,
            given_on=TODAY.isoformat()), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "partner"),
        (lambda c, i: c.RecordConsent(pb.RecordConsentRequest(
            client_id=i, purpose=pb.CONSENT_PURPOSE_DATA_PROCESSING,
            given_on=(TODAY + timedelta(days=1)).isoformat()), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "given_on"),
        (lambda c, i: c.WithdrawConsent(pb.WithdrawConsentRequest(
            client_id=i, purpose=pb.CONSENT_PURPOSE_FEEDBACK_CALLS,
            withdrawn_on=TODAY.isoformat()), metadata=ANNA),
         grpc.StatusCode.FAILED_PRECONDITION, None),
        (lambda c, i: c.AddNote(pb.AddNoteRequest(client_id=i, text="  "), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "text"),
        (lambda c, i: c.AddNote(pb.AddNoteRequest(client_id=i, text="fix",
                                                  corrects_note_id="n-x"), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "corrects_note_id"),
        (lambda c, i: c.RecordContact(pb.RecordContactRequest(
            client_id=i, channel=pb.CONTACT_CHANNEL_PHONE, summary="call",
            contacted_on=(TODAY + timedelta(days=1)).isoformat()), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "contacted_on"),
        (lambda c, i: c.RecordContact(pb.RecordContactRequest(
            client_id=i, summary="call"), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "channel"),
        (lambda c, i: c.RecordContact(pb.RecordContactRequest(
            client_id=i, channel=pb.CONTACT_CHANNEL_PHONE), metadata=ANNA),
         grpc.StatusCode.INVALID_ARGUMENT, "summary"),
    ],
    ids=[
        "no-mask", "unknown-path", "empty-name", "bad-email", "bad-phone", "centre-not-served",
        "unknown-type", "other-centre", "unknown-worker", "foreign-worker", "not-responsible",
        "no-purpose", "no-partner", "future-consent", "withdraw-never-given", "empty-note",
        "correct-missing-note", "future-contact", "no-channel", "no-summary",
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error_and_changes_nothing(
    clients: Any, db: Any, call: Any, code: grpc.StatusCode, field: str | None
) -> None:
    card = register(clients)
    before = db.clients.find_one({"_id": card.client_id})
    with pytest.raises(grpc.RpcError) as refused:
        call(clients, card.client_id)
    assert refused.value.code() == code, refused.value.details()
    if field:
        assert field in field_violations(refused.value), refused.value.details()
    after = db.clients.find_one({"_id": card.client_id})
    assert without_outbox(after) == without_outbox(before)


# ------------------------------------------------------------------ contacts and the timer


def test_a_recorded_contact_keeps_the_inactivity_timer_away(
    suite: Suite, clients: Any, db: Any
) -> None:
    # 59 days of silence: the 60-day rule would close it tomorrow, not today.
    in_touch, silent = create_silent_card(suite, days_ago=59), create_silent_card(suite)
    before = db.clients.find_one({"_id": in_touch})["last_activity_on"]
    clients.RecordContact(
        pb.RecordContactRequest(
            client_id=in_touch, contacted_on=(TODAY - timedelta(days=3)).isoformat(),
            channel=pb.CONTACT_CHANNEL_HOME_VISIT, summary="Visited; rent arrears discussed.",
        ),
        metadata=ANNA,
    )  # fmt: skip
    # The timer runs every second: the silent card is closed as "did not come" ...
    closed = eventually(
        lambda: (c := get(clients, silent)).status == pb.CLIENT_STATUS_REJECTED and c, timeout=20
    )
    assert closed.status_history[-1].reason == "did_not_come"
    # ... while the one in touch stays open and now counts from the recorded contact.
    kept = get(clients, in_touch)
    assert kept.status == pb.CLIENT_STATUS_APPLICANT and len(kept.status_history) == 1
    assert before == (TODAY - timedelta(days=59)).isoformat()
    assert kept.last_contact_on == (TODAY - timedelta(days=3)).isoformat()
    assert kept.contact_records[0].worker_id == "w-anna"
    assert kept.contact_records[0].channel == pb.CONTACT_CHANNEL_HOME_VISIT
    stored = db.clients.find_one({"_id": in_touch})
    assert stored["last_activity_on"] == (TODAY - timedelta(days=3)).isoformat()


# ------------------------------------------------------------------ merge and families


def test_after_a_merge_the_family_holds_the_surviving_card_once(clients: Any, db: Any) -> None:
    mum = register(clients)
    kid = register(clients, given_name="Peter", date_of_birth="2010-05-05")
    kid_again = register(clients, given_name="Petr", family_name=kid.family_name,
                         date_of_birth="2010-05-05")  # fmt: skip
    family = clients.CreateFamily(
        pb.CreateFamilyRequest(
            name="Household", centre_id="ctr-north-town",
            members=[
                pb.FamilyMember(client_id=mum.client_id, role="head"),
                pb.FamilyMember(client_id=kid.client_id, role="child",
                                parent_client_ids=[mum.client_id]),
                pb.FamilyMember(client_id=kid_again.client_id, role="child",
                                parent_client_ids=[mum.client_id]),
            ],
        ),
        metadata=ANNA,
    ).family  # fmt: skip
    clients.MergeClients(
        pb.MergeClientsRequest(survivor_client_id=kid.client_id,
                               absorbed_client_id=kid_again.client_id, reason="typed twice"),
        metadata=ANNA,
    )  # fmt: skip
    after = clients.GetFamily(pb.GetFamilyRequest(family_id=family.family_id), metadata=ANNA)
    members = [m.client_id for m in after.family.members]
    assert members == [mum.client_id, kid.client_id]
    assert "merged into member card" in after.family.history[-1].what
    assert (
        db.audit_trail.count_documents({"client_id": kid_again.client_id, "action": "family-merge"})
        == 1
    )
