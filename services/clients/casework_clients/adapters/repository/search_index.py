"""The lookup rows search before register finds cards by (see domain.search)."""

from __future__ import annotations

import mongoengine as me

from casework_clients.domain import search
from casework_clients.domain.cards import (
    ClientCard,
)
from casework_common.storage import insert_many_new


class SearchKeyDocument(me.Document):
    """One lookup key of one card (see domain.search.card_lookup_keys), a flat row per
    key, the organisation written into the key: a search finds cards by one equality on
    one field indexed alone, which the development wire server answers from its index
    (it scans for `$in`, for a date-like string, and for a field it only knows from a
    compound index: seconds over 100,000 cards). Kept a superset of the card's keys:
    new keys are written before the card, stale ones removed after it. Rows written
    since the first save stopped reading them have the id "<lookup>|<client id>" (a
    string; older ones an ObjectId), so no key of a card is stored twice."""

    meta = {
        "collection": "search_index",
        "indexes": [{"fields": ["lookup"]}, {"fields": ["client_id"]}],
    }

    organisation = me.StringField(required=True)
    lookup = me.StringField(required=True)
    client_id = me.StringField(required=True)


def lookup_of(organisation: str, key: str) -> str:
    # The kind comes first: a value that starts like a date would be compared as one.
    return f"{key}@{organisation}"


def search_rows(card: ClientCard) -> list[dict[str, str]]:
    keys = search.card_lookup_keys(
        card.given_name, card.family_name, card.date_of_birth, card.phone, card.email
    )
    rows = []
    for k in keys:
        lookup = lookup_of(card.organisation, k)
        # The id is the key and the card: a row written again (a first save repeated
        # after it was cut short, two writers of one card) is refused, not doubled.
        rows.append(
            {
                "_id": f"{lookup}|{card.client_id}",
                "organisation": card.organisation,
                "lookup": lookup,
                "client_id": card.client_id,
            }
        )
    return rows


def insert_search_rows(rows: list[dict[str, str]]) -> None:
    """Insert lookup rows in one command; those stored already stay as they are."""
    insert_many_new(SearchKeyDocument._get_collection(), rows)


def add_search_rows(card: ClientCard) -> set[str]:
    """Add the card's missing lookup rows; answers the stale ones (to remove once the
    card is written)."""
    index = SearchKeyDocument._get_collection()
    have = {r["lookup"] for r in index.find({"client_id": card.client_id}, {"lookup": 1})}
    rows = search_rows(card)
    insert_search_rows([r for r in rows if r["lookup"] not in have])
    return have - {r["lookup"] for r in rows}


def remove_search_rows(client_id: str, stale: set[str]) -> None:
    if stale:
        SearchKeyDocument._get_collection().delete_many(
            {"client_id": client_id, "lookup": {"$in": sorted(stale)}}
        )
