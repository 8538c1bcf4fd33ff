"""Specification of page tokens: opaque to callers, an offset to the service."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import InvalidArgument
from casework_common.paging import DEFAULT_PAGE, MAX_PAGE, next_token, page_window


def invalid_fields(page_size: int, page_token: str) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        page_window(page_size, page_token)
    return {e.field: e.description for e in raised.value.errors}


def token_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_the_first_page_starts_at_zero_with_the_size_asked() -> None:
    assert page_window(10, "") == (0, 10)
    assert page_window(MAX_PAGE, "") == (0, MAX_PAGE)


def test_a_page_size_of_zero_means_the_default() -> None:
    assert page_window(0, "") == (0, DEFAULT_PAGE)


def test_a_full_page_answers_the_token_of_the_next_page() -> None:
    token = next_token(0, 10, 10)

    assert token != ""
    assert page_window(10, token) == (10, 10)
    assert page_window(10, next_token(10, 10, 10)) == (20, 10)


def test_a_short_page_is_the_last_one() -> None:
    assert next_token(20, 10, 9) == ""
    assert next_token(0, 10, 0) == ""


@given(offset=st.integers(min_value=0, max_value=10**9), limit=st.integers(1, MAX_PAGE))
def test_next_token_round_trips_to_the_following_offset(offset: int, limit: int) -> None:
    assert page_window(limit, next_token(offset, limit, limit)) == (offset + limit, limit)


@pytest.mark.parametrize("page_size", [-1, MAX_PAGE + 1, 10_000])
def test_a_page_size_out_of_range_is_invalid(page_size: int) -> None:
    assert invalid_fields(page_size, "") == {"page_size": f"between 0 and {MAX_PAGE}"}


@pytest.mark.parametrize(
    "page_token", ["!!!", "not-a-token", token_of("ten"), token_of("-10"), "w6k="]
)
def test_a_token_this_service_did_not_issue_is_invalid(page_token: str) -> None:
    assert invalid_fields(10, page_token) == {"page_token": "is not a token this service issued"}


def test_a_bad_size_and_a_bad_token_are_both_reported() -> None:
    assert set(invalid_fields(-5, "!!!")) == {"page_size", "page_token"}


@given(st.text(max_size=40))
def test_any_token_gives_a_window_or_invalid_argument(page_token: str) -> None:
    try:
        offset, limit = page_window(10, page_token)
    except InvalidArgument as exc:
        assert [e.field for e in exc.errors] == ["page_token"]
    else:
        assert offset >= 0
        assert limit == 10


@pytest.mark.parametrize(
    "offset", [str(2**63), str(2**64 + 1), str(2**53 + 1), "9" * 5_000, "1_000", " 7", "٣"]
)
def test_a_token_of_an_offset_no_store_can_skip_is_invalid(offset: str) -> None:
    assert invalid_fields(10, token_of(offset)) == {
        "page_token": "is not a token this service issued"
    }


def test_a_megabyte_token_is_invalid_without_being_decoded() -> None:
    assert set(invalid_fields(10, "MTA=" * 250_000)) == {"page_token"}
