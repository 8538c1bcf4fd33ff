"""Lists filtered by a derived value (colour) read as they go and page by position."""

from __future__ import annotations

from casework_clients.use_cases.reading import filtered_page

ITEMS = list(range(1000))


def fetch(at: int, count: int) -> list[int]:
    return ITEMS[at : at + count]


def test_pages_of_kept_items_follow_each_other_without_gaps_or_repeats() -> None:
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page, offset = filtered_page(fetch, lambda n: n % 7 == 0, offset, 25)
        seen += page
    assert seen == [n for n in ITEMS if n % 7 == 0]


def test_a_call_reads_at_most_its_scan_limit_and_says_where_to_go_on() -> None:
    page, following = filtered_page(fetch, lambda n: n > 900, 0, 10, scan_limit=300)
    assert page == []
    assert following == 300
    page, following = filtered_page(fetch, lambda n: n > 900, 900, 10, scan_limit=300)
    assert page == list(range(901, 911))
    assert following == 911


def test_the_last_page_has_no_next_position() -> None:
    page, following = filtered_page(fetch, lambda n: n >= 995, 990, 50)
    assert page == [995, 996, 997, 998, 999]
    assert following is None
