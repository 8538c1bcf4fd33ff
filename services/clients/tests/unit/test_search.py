# ruff: noqa: RUF001, RUF003  (Cyrillic names are the point of these tests)
"""Search before register: match keys, transliteration, typos and ranking (pure)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from casework_clients.domain.search import (
    CONFIDENT_SCORE,
    CandidateFacts,
    SearchQuery,
    card_lookup_keys,
    damerau_levenshtein,
    deletion_keys,
    dob_variants,
    is_confident,
    match_key,
    name_keys,
    query_lookup_keys,
    rank,
    score,
    transliterate,
)

BORN = date(1961, 4, 12)


def create_card_facts(**overrides: Any) -> CandidateFacts:
    fields: dict[str, Any] = {
        "ref": "cl-1",
        "given_name": "Jana",
        "family_name": "Nováková",
        "date_of_birth": BORN,
        "phone": "+421 900 123 456",
        "email": "jana@example.test",
    }
    fields.update(overrides)
    return CandidateFacts(**fields)


@pytest.mark.parametrize(
    "spellings",
    [
        ("Novák", "Novak", "NOVAK", "novák"),
        ("Шевченко", "Shevchenko", "Ševčenko", "ŠEVČENKO"),
        ("Хмельницкий", "Khmelnitsky", "Chmelnickij"),
        ("Цой", "Tsoy", "Coj"),
        ("Елена", "Yelena", "Jelena"),
        ("Наталья", "Natalya", "Natalja", "Natalija"),
        ("Юлія", "Yuliya", "Julija"),
        ("Григорій", "Hryhoriy", "Hryhorij"),
    ],
)
def test_every_common_spelling_of_a_name_has_the_same_match_key(spellings: tuple[str]) -> None:
    assert len({match_key(s) for s in spellings}) == 1, [match_key(s) for s in spellings]


def test_transliteration_offers_the_simple_and_the_czech_spelling() -> None:
    assert transliterate("Шевченко") == "Shevchenko"
    assert transliterate("Шевченко", czech=True) == "Ševčenko"
    assert transliterate("Григорій Шевченко") == "Hryhoriy Shevchenko"  # Ukrainian г = h


_latin = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzáčďéěíňóřšťúůýž"), min_size=1)
_cyrillic = st.text(st.sampled_from("абвгдежзийклмнопрстуфхцчшщъыьэюяіїєґ"), min_size=1)


@given(_latin | _cyrillic)
def test_case_and_diacritics_never_change_the_match_key(word: str) -> None:
    plain = "".join(c for c in word if c.isascii())
    assert match_key(word.upper()) == match_key(word.lower())
    if plain == word:
        assert match_key(word) == match_key(word.capitalize())


NAMES = (
    "Шевченко", "Хмельницкий", "Цой", "Елена", "Наталья", "Юлія", "Григорій", "Тарас",
    "Щербаков", "Жуков", "Чайковский", "Ковальчук", "Їжакевич", "Євгенія", "Ґудзь",
    "Соловьёв", "Подъячев", "Мельник", "Бондаренко", "Олександр", "Ярослава", "Хрущёв",
    "Шульц", "Кириленко", "Зайцев", "Дмитрий", "Анастасия", "Эдуард", "Васильевич",
)  # fmt: skip


@given(st.sampled_from(NAMES), st.booleans())
def test_both_transliterations_of_a_cyrillic_name_meet_the_original(word: str, upper: bool) -> None:
    word = word.upper() if upper else word
    key = match_key(word)
    assert match_key(transliterate(word)) == key
    assert match_key(transliterate(word, czech=True)) == key


@given(_latin | _cyrillic, _latin | _cyrillic)
def test_search_is_symmetric_in_case_and_diacritics(given_name: str, family: str) -> None:
    card = create_card_facts(given_name=given_name, family_name=family)
    shouted = SearchQuery(given_name.upper(), family.upper(), BORN)
    quiet = SearchQuery(given_name.lower(), family.lower(), BORN)
    assert score(shouted, card) == score(quiet, card)


def _plain(word: str) -> bool:
    return all(a != b for a, b in itertools.pairwise(word))


# Letters the spelling rules leave alone, and no doubled letters (they are folded).
@given(st.text("abdefglmnoprtuv", min_size=4, max_size=12).filter(_plain), st.data())
def test_one_typo_always_shares_a_stored_deletion_key(word: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(word) - 1))
    kind = data.draw(st.sampled_from(["delete", "substitute", "insert", "swap"]))
    if kind == "delete":
        typo = word[:i] + word[i + 1 :]
    elif kind == "substitute":
        typo = word[:i] + "k" + word[i + 1 :]
    elif kind == "insert":
        typo = word[:i] + "k" + word[i:]
    else:
        j = min(i + 1, len(word) - 1)
        typo = word[:i] + word[j] + word[i] + word[j + 1 :] if j > i else word
    assume(_plain(typo))
    stored = set(deletion_keys(name_keys(word)))
    asked = set(deletion_keys(name_keys(typo)))
    assert stored & asked


def test_damerau_levenshtein_counts_a_swap_as_one_edit() -> None:
    assert damerau_levenshtein("novak", "novak") == 0
    assert damerau_levenshtein("novak", "nvoak") == 1
    assert damerau_levenshtein("novak", "novaks") == 1
    assert damerau_levenshtein("novak", "dvorak") == 3


def test_date_of_birth_variants_are_the_swap_and_one_day_either_side() -> None:
    assert dob_variants(date(1961, 4, 12)) == (
        date(1961, 4, 12),
        date(1961, 12, 4),
        date(1961, 4, 11),
        date(1961, 4, 13),
    )
    assert date(1961, 4, 13) not in dob_variants(date(1961, 4, 30))[1:2]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (SearchQuery("Jana", "Novakova", BORN), "family name equal"),
        (SearchQuery("Jana", "Novkova", BORN), "family name one letter different"),
        (SearchQuery("Nováková", "Jana", BORN), "given and family name swapped"),
        (SearchQuery("Jana", "Nováková", date(1961, 12, 4)), "day and month swapped"),
        (SearchQuery("Jana", "Nováková", date(1961, 4, 13)), "date of birth one day off"),
        (SearchQuery("", "Nováková", None, "00421900123456"), "phone equal"),
    ],
)
def test_a_match_says_why(query: SearchQuery, reason: str) -> None:
    match = score(query, create_card_facts())
    assert any(reason in r for r in match.reasons), match.reasons
    assert match.score >= 40


@given(st.dates(min_value=date(1900, 1, 2), max_value=date(2100, 12, 30)))
def test_the_days_beside_a_date_of_birth_are_one_range_of_its_born_keys(born: date) -> None:
    keys = query_lookup_keys(SearchQuery("", "", born))
    assert keys.born_days is not None
    first, last = keys.born_days

    def key(delta: int) -> str:
        return "b:" + (born + timedelta(days=delta)).isoformat()

    assert sorted(k for k in keys.born if first <= k <= last) == [key(-1), key(0), key(1)]
    assert not first <= key(-2) <= last and not first <= key(2) <= last
    # The day and month swapped, when a date, stay a key of their own outside the range.
    apart = set(keys.born) - {key(-1), key(0), key(1)}
    assert len(apart) <= 1 and not any(first <= k <= last for k in apart)


def test_a_query_without_a_date_of_birth_has_no_range_of_days() -> None:
    assert query_lookup_keys(SearchQuery("Jana", "Nováková", None)).born_days is None


def _lookups(query: SearchQuery) -> set[str]:
    keys = query_lookup_keys(query)
    return {*keys.born, *keys.contact, *keys.names}


@pytest.mark.parametrize(
    "query",
    [
        SearchQuery("Jana", "Novakova", None),
        SearchQuery("Jana", "Novkova", None),
        SearchQuery("Nováková", "Jana", None),
        SearchQuery("", "", date(1961, 12, 4)),
        SearchQuery("", "", date(1961, 4, 11)),
        SearchQuery("", "", None, "00421900123456"),
        SearchQuery("", "", None, "", " JANA@example.test"),
    ],
)
def test_a_card_is_found_under_a_key_of_every_query_that_matches_it(query: SearchQuery) -> None:
    card = create_card_facts()
    stored = card_lookup_keys(
        card.given_name, card.family_name, card.date_of_birth, card.phone, card.email
    )
    assert _lookups(query) & set(stored)


def test_a_full_name_is_looked_up_first_whichever_way_round_and_spelled() -> None:
    stored = card_lookup_keys("Тарас", "Шевченко", None, "", "")
    for query in (SearchQuery("Taras", "Sevcenko"), SearchQuery("Shevchenko", "TARAS")):
        assert query_lookup_keys(query).names[0] in stored
    # A namesake of the given name only is not a full-name match.
    assert query_lookup_keys(SearchQuery("Taras", "Bondarenko")).names[0] not in stored


def test_only_same_names_and_date_of_birth_are_confident() -> None:
    card = create_card_facts(given_name="Тарас", family_name="Шевченко")
    assert is_confident(score(SearchQuery("Taras", "Ševčenko", BORN), card))
    assert is_confident(score(SearchQuery("TARAS", "Shevchenko", BORN), card))
    for unsure in (
        SearchQuery("Taras", "Shevchenko", date(1961, 4, 13)),
        SearchQuery("Shevchenko", "Taras", BORN),
        SearchQuery("Taras", "Shevchenka", BORN),
        SearchQuery("", "Shevchenko", BORN),
    ):
        match = score(unsure, card)
        assert not is_confident(match), (unsure, match)
    assert score(SearchQuery("Taras", "Shevchenko", BORN), card).score >= CONFIDENT_SCORE


def test_ranking_puts_the_closest_card_first_and_drops_the_rest() -> None:
    cards = [
        create_card_facts(ref="far", given_name="Petr", family_name="Dvořák", date_of_birth=None),
        create_card_facts(ref="typo", family_name="Novakowa"),
        create_card_facts(ref="same"),
    ]
    ranked = rank(SearchQuery("Jana", "Nováková", BORN), cards, 40)
    assert [m.ref for m in ranked] == ["same", "typo"]
    assert ranked[0].score == 100


def test_an_empty_query_is_empty() -> None:
    assert SearchQuery().empty
    assert SearchQuery("  ", "-").empty
    assert not SearchQuery(date_of_birth=BORN).empty
