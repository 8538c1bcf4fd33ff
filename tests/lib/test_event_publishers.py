"""Who may publish which events, and what a dead-letter reason may say: pure rules."""

from __future__ import annotations

import pytest

from casework_common.errors import FieldError, InvalidArgument
from casework_common.messaging import publisher_refusal, refusal_reason, service_of_user

PREFIX = "casework-"


def refusal(
    user_id: str | None,
    event_type: str = "documents.contract.signed",
    delivered_key: str | None = None,
    delivered_exchange: str = "casework.events",
) -> str | None:
    routing_key = f"{event_type}.v1"
    return publisher_refusal(
        event_type=event_type,
        routing_key=routing_key,
        user_id=user_id,
        delivered_exchange=delivered_exchange,
        delivered_key=routing_key if delivered_key is None else delivered_key,
        events_exchange="casework.events",
        prefix=PREFIX,
    )


def test_a_broker_user_speaks_for_the_service_its_name_ends_in_after_the_prefix() -> None:
    assert service_of_user("casework-documents", PREFIX) == "documents"
    assert service_of_user("casework-test-1a2b-intake", "casework-test-1a2b-") == "intake"


@pytest.mark.parametrize(
    "user_id", [None, "", "guest", "casework-replay", "casework-", "other-documents", "documents"]
)
def test_a_user_that_is_no_service_under_the_prefix_speaks_for_none(user_id: str | None) -> None:
    assert service_of_user(user_id, PREFIX) is None


def test_an_event_from_the_user_of_its_own_service_is_believed() -> None:
    assert refusal("casework-documents") is None


def test_an_event_of_documents_from_intakes_user_is_refused_naming_the_user() -> None:
    reason = refusal("casework-intake")
    assert reason is not None and reason.startswith("publisher-not-owner")
    assert "casework-intake" in reason


@pytest.mark.parametrize("user_id", [None, "", "guest", "casework-replay"])
def test_an_event_without_a_service_user_is_refused(user_id: str | None) -> None:
    assert refusal(user_id) is not None


def test_an_event_whose_body_claims_another_service_than_its_routing_key_is_refused() -> None:
    # intake may publish intake.* keys; the body inside says documents.
    assert refusal("casework-documents", delivered_key="intake.referral.submitted.v1") is not None


def test_a_replayed_event_delivered_to_its_queue_directly_is_judged_by_its_user_alone() -> None:
    direct = {"delivered_key": "clients.apply-contract", "delivered_exchange": ""}
    assert refusal("casework-documents", **direct) is None
    assert refusal("casework-intake", **direct) is not None


def test_a_refusal_reason_names_the_invalid_fields_never_their_values() -> None:
    exc = InvalidArgument(
        [
            FieldError("person.email", "'jan.novak@example.org' is not an e-mail"),
            FieldError("person.given_name", "Jan is too long"),
        ]
    )
    assert refusal_reason(exc) == "invalid-argument: person.email, person.given_name"


def test_a_refusal_reason_drops_quoted_values_e_mail_addresses_and_phone_numbers() -> None:
    # As a handler's PoisonEvent would say it, quoting what it could not read.
    exc = ValueError(
        'contract.signed payload unreadable: ValueError("Invalid isoformat string: '
        "'Jan Novák'\") for jan.novak@example.org, phone +420 601 234 567"
    )
    reason = refusal_reason(exc)
    assert reason.startswith("refused: contract.signed payload unreadable: ValueError(")
    for personal in ("Novák", "jan.novak", "601", "234 567"):
        assert personal not in reason
