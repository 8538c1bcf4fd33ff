"""Who a person is, for matching a referral to an existing card.

Names are compared without diacritics and case (Nováková = Novakova = NOVAKOVA) and
with inner whitespace collapsed, so the same person typed by two workers keeps one card.
"""

from __future__ import annotations

import unicodedata
from datetime import date

# Letters NFKD does not decompose into a base letter plus a combining mark.
_FOLD = str.maketrans(
    {
        "ł": "l",
        "Ł": "l",
        "ø": "o",
        "Ø": "o",
        "đ": "d",
        "Đ": "d",
        "ß": "ss",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "\u0131": "i",  # dotless i (Turkish)
    }
)


def normalise_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.translate(_FOLD))
    # Folded again: a letter such as ǽ only shows its æ once decomposed.
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_FOLD)
    return " ".join(stripped.casefold().split())


#: Stands for the date of birth in the identity of a person without papers (seed 004:
#: homeless or undocumented people often do not know or cannot prove it).
NO_DATE_OF_BIRTH = "no-date-of-birth"


def identity_key(organisation: str, given_name: str, family_name: str, born: date | None) -> str:
    """Exact identity: the same normalised names and date of birth in one organisation.
    Without a date of birth names alone are no identity: such a card is stored under
    ``other_card_key`` of this key, and found by its other data (see domain.search)."""
    return "|".join(
        (
            organisation,
            normalise_name(family_name),
            normalise_name(given_name),
            born.isoformat() if born else NO_DATE_OF_BIRTH,
        )
    )


def other_card_key(key: str, client_id: str) -> str:
    """The stored key of a second card of one identity (a possible duplicate awaiting
    another centre, or a namesake a worker said is someone else). The unique index
    keeps one card per identity that referrals and registrations find; the others
    stay apart under their own key."""
    return f"{key}#{client_id}"


def person_key(stored_key: str) -> str:
    """The identity a stored key stands for (``other_card_key`` undone)."""
    return stored_key.split("#", 1)[0]
