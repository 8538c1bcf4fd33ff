"""How many cards a search ranks, and what it answers of them, against a real database
(the `mongo_db` fixture)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from casework_clients import services
from casework_clients.adapters.repository import NAME_BUDGET, ClientRepository
from casework_clients.domain import search
from casework_clients.domain.cards import ClientCard
from casework_clients.domain.commands import Search
from casework_clients.domain.identity import identity_key
from casework_common.auth import Principal
from casework_dev.testing.fakes import FakeUnitOfWork

pytestmark = pytest.mark.usefixtures("mongo_db")

ORG = "org-demo"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
NORTH, SOUTH = "ctr-north-town", "ctr-south-city"
ANNA = Principal(
    ORG, "w-anna", "worker", frozenset({NORTH}), frozenset({"case_worker"}), frozenset()
)


def namesake(i: int, centre: str = NORTH, family: str = "Nováková") -> ClientCard:
    """A card of a Jana of that family name, each born on another day."""
    born = date(1950 if centre == NORTH else 1970, 1, 1) + timedelta(days=i)
    card = ClientCard(
        client_id=f"c-{centre}-{i:03d}",
        organisation=ORG,
        identity_key=identity_key(ORG, "Jana", family, born),
        given_name="Jana",
        family_name=family,
        date_of_birth=born,
        phone="",
        email="",
        address="",
        region_id="reg-north" if centre == NORTH else "reg-south",
        centre_ids=(centre,),
        client_type="senior",
        problem_types=("housing",),
        status="",
        referral_ids=(),
        registered_at=NOW,
    )
    return ClientRepository(ORG, None).save(card, [])


def test_a_common_name_ranks_a_budget_of_namesakes_and_fewer_beside_a_date_of_birth() -> None:
    for i in range(NAME_BUDGET + 10):
        namesake(i)
    cards = ClientRepository(ORG, None)
    by_name = search.SearchQuery("Jana", "Nováková")
    # By name alone: the answers asked for and half as many again, at least the budget.
    assert len(cards.candidate_facts(by_name, answers=10)) == NAME_BUDGET
    assert len(cards.candidate_facts(by_name, answers=24)) == 36
    # Beside a date of birth nobody has, the namesakes fill only the answers asked for.
    born_then = search.SearchQuery("Jana", "Nováková", date(1930, 5, 5))
    assert len(cards.candidate_facts(born_then, answers=20)) == 20
    # The card born that day comes first, whatever the namesakes.
    exactly = search.SearchQuery("Jana", "Novakova", date(1950, 1, 1) + timedelta(days=33))
    best = search.rank(exactly, cards.candidate_facts(exactly, answers=5), 40)[0]
    assert (best.ref, best.score) == (f"c-{NORTH}-033", 100)


def test_answers_come_from_the_cards_ranked_and_never_from_another_centre() -> None:
    for i in range(6):
        namesake(i, NORTH)
        namesake(i, SOUTH)
    namesake(99, NORTH, family="Horváthová")

    answered = services.search_clients(
        Search(search.SearchQuery("Jana", "Novakova"), min_score=40, limit=20),
        FakeUnitOfWork(ANNA, now=NOW),
        ClientRepository(ORG, ANNA.centres),
    )
    assert sorted(c.card.client_id for c in answered) == [f"c-{NORTH}-{i:03d}" for i in range(6)]
    assert all(c.card.notes == () and c.card.history == () for c in answered)

    cards = ClientRepository(ORG, ANNA.centres)
    cards.candidate_facts(search.SearchQuery("Jana", "Novakova"))
    # A card the search did not rank is read; one of another centre is never answered.
    shown = cards.summaries([f"c-{NORTH}-099", f"c-{SOUTH}-001", f"c-{NORTH}-002"])
    assert sorted(c.client_id for c in shown) == [f"c-{NORTH}-002", f"c-{NORTH}-099"]
    assert ClientRepository(ORG, ANNA.centres).summaries([f"c-{SOUTH}-001"]) == []


def test_a_worker_finds_their_own_namesakes_however_many_other_centres_hold() -> None:
    # Stored first, so the name's lookup rows list them first: more than a budget.
    for i in range(NAME_BUDGET + 15):
        namesake(i, SOUTH)
    for i in range(5):
        namesake(i, NORTH)

    answered = services.search_clients(
        Search(search.SearchQuery("Jana", "Nováková"), min_score=40, limit=20),
        FakeUnitOfWork(ANNA, now=NOW),
        ClientRepository(ORG, ANNA.centres),
    )
    assert sorted(c.card.client_id for c in answered) == [f"c-{NORTH}-{i:03d}" for i in range(5)]
    # The organisation-wide budget is unchanged for a caller who sees every centre.
    assert (
        len(ClientRepository(ORG, None).candidate_facts(search.SearchQuery("Jana", "Nováková")))
        == NAME_BUDGET
    )
