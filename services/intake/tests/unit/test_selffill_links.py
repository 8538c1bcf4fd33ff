"""Specification of self-fill links: what a link grants, and every way one is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_intake.domain.forms import FieldError, FormRuleViolation
from casework_intake.domain.selffill import (
    MAX_VALIDITY,
    LinkAlreadyUsed,
    LinkExpired,
    LinkTampered,
    LinkValidTooLong,
    SelfFillGrant,
    SelfFillLinkRefused,
    issue_link,
    verify_link,
)

SECRET = b"0123456789abcdef0123456789abcdef"
OTHER_SECRET = b"fedcba9876543210fedcba9876543210"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=7)

_link_numbers = itertools.count(1)


def create_link(**overrides: Any) -> str:
    fields: dict[str, Any] = {
        "secret": SECRET,
        "referral_id": "ref-2025-0042",
        "form_id": "housing_intake",
        "version": 3,
        "question_ids": ["date_of_birth", "has_home"],
        "expires_at": EXPIRES,
        "issued_at": NOW,
        "link_id": f"link-{next(_link_numbers)}",
    }
    fields.update(overrides)
    return issue_link(**fields)


def payload_of(token: str) -> dict[str, Any]:
    body = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def with_payload(token: str, payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{body}.{token.split('.')[1]}"


# ---------------------------------------------------------------------- issuing


def test_a_fresh_link_grants_what_it_was_issued_for() -> None:
    token = create_link(link_id="link-a")

    grant = verify_link(SECRET, token, NOW)

    assert grant == SelfFillGrant(
        link_id="link-a",
        referral_id="ref-2025-0042",
        form_id="housing_intake",
        version=3,
        question_ids=("date_of_birth", "has_home"),
        expires_at=EXPIRES,
    )


def test_a_link_is_url_safe() -> None:
    token = create_link()
    assert set(token) <= set(string.ascii_letters + string.digits + "-_.")


def test_a_link_carries_only_ids_and_expiry() -> None:
    payload = payload_of(create_link(link_id="link-b"))
    assert payload == {
        "v": 2,
        "lid": "link-b",
        "ref": "ref-2025-0042",
        "form": "housing_intake",
        "ver": 3,
        "q": ["date_of_birth", "has_home"],
        "iat": int(NOW.timestamp()),
        "exp": int(EXPIRES.timestamp()),
    }


def test_the_same_link_always_gets_the_same_token() -> None:
    first = create_link(link_id="same", question_ids=["has_home", "date_of_birth", "has_home"])
    second = create_link(link_id="same", question_ids=["date_of_birth", "has_home"])
    assert first == second


def test_each_link_gets_its_own_random_id() -> None:
    tokens = {create_link(link_id=None) for _ in range(20)}
    ids = {verify_link(SECRET, token, NOW).link_id for token in tokens}
    assert len(ids) == 20


def test_a_single_question_id_is_not_split_into_characters() -> None:
    grant = verify_link(SECRET, create_link(question_ids="has_home"), NOW)
    assert grant.question_ids == ("has_home",)


def test_a_link_needs_ids_a_version_and_at_least_one_question() -> None:
    with pytest.raises(FormRuleViolation) as refused:
        create_link(referral_id="", version=0, question_ids=[])
    assert {e.field for e in refused.value.errors} == {
        "referral_id",
        "version",
        "question_ids",
    }


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        create_link(secret=b"too short")
    with pytest.raises(ValueError, match="32 bytes"):
        verify_link(b"too short", create_link(), NOW)


def test_times_without_a_time_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        create_link(expires_at=datetime(2025, 6, 8, 12, 0))
    with pytest.raises(ValueError, match="time zone"):
        verify_link(SECRET, create_link(), datetime(2025, 6, 1, 12, 0))


def test_an_expiry_is_kept_to_the_second_rounded_down() -> None:
    grant = verify_link(SECRET, create_link(expires_at=EXPIRES + timedelta(microseconds=999)), NOW)
    assert grant.expires_at == EXPIRES


# --------------------------------------------------------------------- refusing


def test_a_link_is_accepted_until_it_expires() -> None:
    token = create_link()
    assert verify_link(SECRET, token, EXPIRES - timedelta(seconds=1)).form_id == "housing_intake"


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1), timedelta(days=400)])
def test_an_expired_link_is_refused(late: timedelta) -> None:
    token = create_link(link_id="link-old")

    with pytest.raises(LinkExpired) as refused:
        verify_link(SECRET, token, EXPIRES + late)

    assert refused.value.link_id == "link-old"
    assert refused.value.expired_at == EXPIRES


def test_expiry_compares_instants_not_wall_clocks() -> None:
    summer_prague = timezone(timedelta(hours=2))
    token = create_link()
    # 13:30 in Prague is 11:30 UTC: still before the 12:00 UTC expiry.
    assert verify_link(SECRET, token, datetime(2025, 6, 8, 13, 30, tzinfo=summer_prague))
    with pytest.raises(LinkExpired):
        verify_link(SECRET, token, datetime(2025, 6, 8, 14, 0, tzinfo=summer_prague))


def test_a_tampered_link_is_refused() -> None:
    token = create_link()
    payload = payload_of(token)
    payload["q"] = [*payload["q"], "income"]

    with pytest.raises(LinkTampered):
        verify_link(SECRET, with_payload(token, payload), NOW)


def test_a_link_with_a_pushed_back_expiry_is_refused() -> None:
    token = create_link()
    payload = payload_of(token)
    payload["exp"] += 86_400 * 365
    with pytest.raises(LinkTampered):
        verify_link(SECRET, with_payload(token, payload), NOW)


def test_a_link_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(LinkTampered):
        verify_link(SECRET, create_link(secret=OTHER_SECRET), NOW)


def test_tampering_is_reported_before_expiry_or_use() -> None:
    token = create_link(secret=OTHER_SECRET, link_id="link-x")
    with pytest.raises(LinkTampered):
        verify_link(SECRET, token, EXPIRES + timedelta(days=1), used={"link-x"})


def test_a_token_spelled_differently_but_decoding_the_same_is_refused() -> None:
    # The last base64 character of a 32-byte tag has two spare bits; flipping one
    # changes the text but not the decoded bytes.
    token = create_link()
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    respelled = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    tag, other = (t.split(".")[1] for t in (token, respelled))
    assert base64.urlsafe_b64decode(tag + "=") == base64.urlsafe_b64decode(other + "=")

    with pytest.raises(LinkTampered):
        verify_link(SECRET, respelled, NOW)


def test_a_used_link_is_refused() -> None:
    token = create_link(link_id="link-used")

    with pytest.raises(LinkAlreadyUsed) as refused:
        verify_link(SECRET, token, NOW, used={"link-used", "link-other"})

    assert refused.value.link_id == "link-used"


def test_the_used_record_may_be_a_function() -> None:
    asked: list[str] = []

    def used(link_id: str) -> bool:
        asked.append(link_id)
        return link_id == "link-used"

    with pytest.raises(LinkAlreadyUsed):
        verify_link(SECRET, create_link(link_id="link-used"), NOW, used=used)
    assert verify_link(SECRET, create_link(link_id="link-new"), NOW, used=used)
    assert asked == ["link-used", "link-new"]


def test_every_refusal_shares_one_base() -> None:
    assert issubclass(LinkTampered, SelfFillLinkRefused)
    assert issubclass(LinkExpired, SelfFillLinkRefused)
    assert issubclass(LinkAlreadyUsed, SelfFillLinkRefused)


@pytest.mark.parametrize(
    "token", ["", ".", "abc", "a.b.c", "a b.c", "=.=", "x" * 5000, "ab==.cd"], ids=repr
)
def test_something_that_is_not_a_link_is_refused_as_tampered(token: str) -> None:
    with pytest.raises(LinkTampered):
        verify_link(SECRET, token, NOW)


# ----------------------------------------------------------------------- grants


def test_a_grant_reports_answers_outside_it() -> None:
    grant = verify_link(SECRET, create_link(question_ids=["has_home"]), NOW)

    assert grant.permits("has_home")
    assert not grant.permits("region")
    assert grant.answers_outside({"has_home": True, "region": "north"}) == [
        FieldError("answers.region", "was not sent to the client with this link")
    ]


# ------------------------------------------------------------------- properties

_TOKEN = create_link(link_id="link-property")
_TOKEN_CHARACTERS = string.ascii_letters + string.digits + "-_.="


@given(
    position=st.integers(0, len(_TOKEN) - 1),
    replacement=st.one_of(st.sampled_from(_TOKEN_CHARACTERS), st.characters()),
)
def test_any_single_flipped_character_of_a_token_is_refused(
    position: int, replacement: str
) -> None:
    flipped = _TOKEN[:position] + replacement + _TOKEN[position + 1 :]
    if flipped == _TOKEN:
        return
    with pytest.raises(LinkTampered):
        verify_link(SECRET, flipped, NOW)


@given(token=st.one_of(st.text(), st.from_regex(r"[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_-]{0,50}")))
def test_arbitrary_text_is_refused_as_tampered_and_nothing_else(token: str) -> None:
    with pytest.raises(LinkTampered):
        verify_link(SECRET, token, NOW)


_ids = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=30)


@given(
    referral_id=st.text(min_size=1, max_size=40),
    version=st.integers(1, 10_000),
    question_ids=st.lists(_ids, min_size=1, max_size=8, unique=True),
    valid_for=st.timedeltas(timedelta(seconds=1), MAX_VALIDITY),
)
def test_every_issued_link_verifies_to_what_it_was_issued_for(
    referral_id: str, version: int, question_ids: list[str], valid_for: timedelta
) -> None:
    expires_at = (NOW + valid_for).replace(microsecond=0)
    token = create_link(
        referral_id=referral_id,
        version=version,
        question_ids=question_ids,
        expires_at=expires_at,
    )

    grant = verify_link(SECRET, token, NOW)

    assert grant.referral_id == referral_id
    assert grant.version == version
    assert grant.question_ids == tuple(sorted(question_ids))
    assert grant.expires_at == expires_at


# ------------------------------------------------------- validity cap at verification


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    """What a holder of the key could sign: the token format, written out."""
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    tag = hmac.new(secret, b"casework.intake.self-fill-link\x00" + raw, hashlib.sha256).digest()
    return ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in (raw, tag))


def create_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "v": 2,
        "lid": "link-signed",
        "ref": "ref-2025-0042",
        "form": "housing_intake",
        "ver": 3,
        "q": ["has_home"],
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + MAX_VALIDITY).timestamp()),
    }
    payload.update(overrides)
    return payload


def test_a_link_may_be_issued_for_at_most_the_maximum_validity() -> None:
    with pytest.raises(FormRuleViolation) as refused:
        create_link(expires_at=NOW + MAX_VALIDITY + timedelta(seconds=1))
    assert [e.field for e in refused.value.errors] == ["expires_at"]
    with pytest.raises(FormRuleViolation):
        create_link(expires_at=NOW)


def test_a_link_valid_for_exactly_the_maximum_is_accepted() -> None:
    assert verify_link(SECRET, sign(SECRET, create_payload()), NOW).link_id == "link-signed"


def test_a_signed_link_valid_longer_than_the_maximum_after_its_issue_is_refused() -> None:
    token = sign(SECRET, create_payload(exp=int((NOW + MAX_VALIDITY).timestamp()) + 1))
    # Refused on its first day and on its last: the cap is from issue, not from now.
    for moment in (NOW, NOW + MAX_VALIDITY):
        with pytest.raises(LinkValidTooLong):
            verify_link(SECRET, token, moment)


def test_a_link_issued_before_the_maximum_was_shortened_is_refused() -> None:
    token = create_link(expires_at=NOW + timedelta(days=20))
    with pytest.raises(LinkValidTooLong):
        verify_link(SECRET, token, NOW + timedelta(days=1), max_validity=timedelta(days=7))


def test_a_link_of_the_format_without_an_issue_time_is_capped_from_now() -> None:
    legacy = create_payload(v=1, exp=int((NOW + timedelta(days=3)).timestamp()))
    del legacy["iat"]
    assert verify_link(SECRET, sign(SECRET, legacy), NOW).expires_at == NOW + timedelta(days=3)
    legacy["exp"] = int((NOW + timedelta(days=365)).timestamp())
    with pytest.raises(LinkValidTooLong):
        verify_link(SECRET, sign(SECRET, legacy), NOW)


@pytest.mark.parametrize(
    "changes",
    [{"v": True}, {"v": 1}, {"iat": "0"}, {"v": 3}],
    ids=["boolean-format", "old-format-with-issue-time", "text-issue-time", "unknown-format"],
)
def test_a_signed_payload_of_an_unknown_shape_is_refused_as_tampered(
    changes: dict[str, Any],
) -> None:
    with pytest.raises(LinkTampered):
        verify_link(SECRET, sign(SECRET, create_payload(**changes)), NOW)
