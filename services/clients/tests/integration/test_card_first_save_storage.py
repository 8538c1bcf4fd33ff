"""A card's first save and its later saves against a real database (the `mongo_db`
fixture: the development wire server, or whatever MONGO_URI names): the search keys and
statistics facts every save keeps beside the card."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pymongo import monitoring

from casework_clients.adapters.repository import ClientDocument, ClientRepository
from casework_clients.adapters.repository.search_index import SearchKeyDocument, lookup_of
from casework_clients.adapters.repository.stat_facts import StatusFactDocument
from casework_clients.domain import search
from casework_clients.domain.cards import ClientCard, NewPerson, new_card
from casework_clients.domain.status import StatusSettings
from casework_dev.testing.fixtures import reconnect

ORG = "org-demo"
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
BORN = date(1958, 4, 17)


def fresh(client_id: str = "cl-first", family: str = "Kovalenko", **person: Any) -> ClientCard:
    facts = NewPerson(ORG, "Olena", family, BORN, "+421 905 111 222", "olena@example.org", "",
                      "reg-north", "ctr-north-town", "senior", "", **person)  # fmt: skip
    return new_card(facts, client_id=client_id, settings=StatusSettings(), actor="w-anna", now=NOW)


def keys_of(card: ClientCard) -> set[str]:
    return {
        lookup_of(ORG, k)
        for k in search.card_lookup_keys(
            card.given_name, card.family_name, card.date_of_birth, card.phone, card.email
        )
    }


def rows_of(client_id: str) -> Counter[str]:
    """How many lookup rows name the card, per key."""
    return Counter(r.lookup for r in SearchKeyDocument.objects(client_id=client_id))


def counted(client_id: str) -> int:
    """The card's statuses as statistics count them (one per card)."""
    report = ClientRepository(ORG, None).status_report(
        NOW.date(), NOW.date(), centre_id=None, region_id=None
    )
    assert StatusFactDocument.objects(owner_id=client_id).count() > 0
    return sum(report.statuses.values())


class Commands(monitoring.CommandListener):
    """The commands the driver sent, by name and collection."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent[(event.command_name, str(event.command.get(event.command_name)))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture()
def commands(mongo_db: str, mongo_uri: str) -> Iterator[Commands]:
    """The test's database, connected again with a listener of its commands."""
    listener = Commands()
    reconnect(db=mongo_db, host=mongo_uri, event_listeners=[listener])
    yield listener


def test_a_card_stored_by_its_first_save_is_found_under_each_key_and_counted(
    commands: Commands,
) -> None:
    card = fresh()
    saved = ClientRepository(ORG, None).save(card, [])

    assert saved.version == 1
    assert rows_of(card.client_id) == Counter(keys_of(card))  # each key once
    repo = ClientRepository(ORG, {"ctr-north-town"})
    query = search.SearchQuery("Olena", "Kovalenková", BORN)
    assert card.client_id in [f.ref for f in repo.candidate_facts(query)]
    assert [f.ref for f in repo.born_on(BORN)] == [card.client_id]
    assert counted(card.client_id) == 1


def test_a_first_save_writes_keys_card_and_facts_and_reads_or_deletes_nothing(
    commands: Commands,
) -> None:
    for stored in (ClientDocument, SearchKeyDocument, StatusFactDocument):
        stored._get_collection()  # its indexes, made once per connection
    commands.sent.clear()
    ClientRepository(ORG, None).save(fresh(), [])

    # Nothing is stored under a card's id before its first save: three inserts.
    assert commands.sent == Counter(
        {("insert", "search_index"): 1, ("insert", "clients"): 1, ("insert", "status_facts"): 1}
    )


def test_a_first_save_cut_short_before_the_card_and_repeated_adds_no_key_twice(
    commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rejected proposal's new card has an id derived from the proposal: a rejection
    # repeated after a crash between the keys and the card saves the same card again.
    card = fresh("cl-derived")

    def crash(self: ClientRepository, doc: Any, events: Any) -> None:
        raise ConnectionError("the process died before the card was written")

    with monkeypatch.context() as patched:
        patched.setattr(ClientRepository, "_save", crash)
        with pytest.raises(ConnectionError):
            ClientRepository(ORG, None).save(card, [])
    assert ClientRepository(ORG, None).find(card.client_id) is None
    ClientRepository(ORG, None).save(card, [])

    assert rows_of(card.client_id) == Counter(keys_of(card))
    assert counted(card.client_id) == 1


def test_a_second_save_removes_stale_keys_and_replaces_the_facts(commands: Commands) -> None:
    repo = ClientRepository(ORG, None)
    first = repo.save(fresh(), [])
    renamed = repo.save(replace(first, family_name="Marková", phone=""), [])

    assert renamed.version == 2
    assert rows_of(first.client_id) == Counter(keys_of(renamed))
    assert not keys_of(first) - keys_of(renamed) & set(rows_of(first.client_id))
    assert counted(first.client_id) == 1  # its facts replaced, not added to
