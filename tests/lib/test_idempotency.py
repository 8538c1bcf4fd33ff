"""Idempotent creation, written once for every service: the first result of a key,
its refusal with other content or from another caller, and the race two retries run."""

from __future__ import annotations

import pytest

from casework_common import idempotency
from casework_common.errors import AlreadyExists


class Raced(Exception):
    pass


def test_a_new_key_creates() -> None:
    assert idempotency.create_once(
        "key-0001", find=lambda key: None, replay=lambda r: r, create=lambda: "made", race=Raced
    ) == ("made", False)


def test_a_known_key_answers_the_first_result_checked_by_replay() -> None:
    replayed: list[str] = []

    def replay(first: str) -> str:
        replayed.append(first)
        return first

    result = idempotency.create_once(
        "key-0001",
        find=lambda key: "first",
        replay=replay,
        create=lambda: pytest.fail("nothing is created for a known key"),
        race=Raced,
    )
    assert result == ("first", True) and replayed == ["first"]


def test_the_loser_of_a_race_answers_the_winners_result() -> None:
    stored: dict[str, str] = {}

    def create() -> str:
        stored["key-0001"] = "winner"  # the other call wrote first
        raise Raced()

    result = idempotency.create_once(
        "key-0001", find=stored.get, replay=lambda r: r, create=create, race=Raced
    )
    assert result == ("winner", True)


def test_other_content_is_refused_naming_the_field_and_not_the_first_record() -> None:
    with pytest.raises(AlreadyExists) as refused:
        idempotency.check("digest-a", "key-0001", "digest-b", "a project")
    assert refused.value.field == "idempotency_key"
    assert "key-0001" in str(refused.value)


def test_another_callers_key_is_refused_even_with_the_same_content() -> None:
    with pytest.raises(AlreadyExists) as refused:
        idempotency.check(
            "digest", "key-0001", "digest", "a referral",
            stored_caller="partner-a", caller="partner-b", shown="referral R-1",
        )  # fmt: skip
    assert "R-1" not in str(refused.value)


def test_the_same_content_from_the_same_caller_passes() -> None:
    idempotency.check("digest", "key-0001", "digest", stored_caller="a", caller="a")


def test_a_fingerprint_ignores_the_order_of_the_content() -> None:
    assert idempotency.fingerprint({"a": 1, "b": "x"}) == idempotency.fingerprint(
        {"b": "x", "a": 1}
    )
    assert idempotency.fingerprint({"a": 1}) != idempotency.fingerprint({"a": 2})
