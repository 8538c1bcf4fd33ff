# ruff: noqa: RUF001, RUF003  (Cyrillic letters are this module's data)
"""Search before register: who might this person already be?

Pure domain code. Names are reduced to one ASCII *match key* per word, the same for
every way the name is commonly written:

- diacritics and case are dropped (Nováková = Novakova = NOVAKOVA);
- Cyrillic (Russian and Ukrainian letters) is transliterated, and the Latin spellings
  of the same sounds are folded together, so that the simple / ISO-9-like spelling
  (Shevchenko), the Czech/Slovak spelling with háčeks (Ševčenko) and the original
  (Шевченко) give the same key: ``shevchenko``.

The keys are computed when a card is written and stored on it, together with every
key with one letter left out (a *deletion neighbourhood*). A search looks for cards
sharing one of those with the query (typos: one wrong, missing, extra or swapped
letter) or with a variant of the date of birth, using plain equality / ``$in``; no
regular expressions or collation are needed from the database. Ranking is done here,
in Python, over that candidate set.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from casework_clients.domain.identity import normalise_name

__all__ = [
    "CONFIDENT_SCORE",
    "CYRILLIC_TO_CZECH",
    "CYRILLIC_TO_SIMPLE",
    "DEFAULT_MIN_SCORE",
    "REGISTRATION_THRESHOLD",
    "CandidateFacts",
    "Match",
    "QueryLookups",
    "SearchQuery",
    "card_lookup_keys",
    "coarse_key",
    "damerau_levenshtein",
    "deletion_keys",
    "dob_variants",
    "is_confident",
    "match_key",
    "name_keys",
    "phone_key",
    "query_lookup_keys",
    "rank",
    "score",
    "transliterate",
]

#: Shown to the caller by SearchClients unless it asks for another floor.
DEFAULT_MIN_SCORE = 40
#: RegisterClient answers candidates at or above this score instead of creating a card.
REGISTRATION_THRESHOLD = 60
#: A match this strong (same date of birth, same names modulo spelling and
#: transliteration) lets a referral or consultation join the card without a person.
CONFIDENT_SCORE = 95

# Points of each part of the score (at most 100 in all).
FAMILY_POINTS = 40
GIVEN_POINTS = 25
DOB_EXACT = 35
DOB_SWAPPED = 25
DOB_ONE_DAY = 20
CONTACT_POINTS = 10
SWAP_PENALTY = 5

# ------------------------------------------------------------------ transliteration

# Russian and Ukrainian letters, two conventions. Ukrainian г is h (Russian g); the
# tables are applied per word, and a word using any of і ї є ґ is read as Ukrainian.
_COMMON_SIMPLE = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g", "'": "", "ʼ": "",
}  # fmt: skip
_COMMON_CZECH = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "jo", "ж": "ž",
    "з": "z", "и": "i", "й": "j", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "ch", "ц": "c",
    "ч": "č", "ш": "š", "щ": "šč", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "ju",
    "я": "ja", "і": "i", "ї": "ji", "є": "je", "ґ": "g", "'": "", "ʼ": "",
}  # fmt: skip
_UKRAINIAN_SIMPLE = {"г": "h", "и": "y"}
_UKRAINIAN_CZECH = {"г": "h", "и": "y"}
_UKRAINIAN_LETTERS = frozenset("іїєґ")

CYRILLIC_TO_SIMPLE: dict[str, str] = dict(_COMMON_SIMPLE)
CYRILLIC_TO_CZECH: dict[str, str] = dict(_COMMON_CZECH)


def _word_table(word: str, czech: bool) -> dict[str, str]:
    base = _COMMON_CZECH if czech else _COMMON_SIMPLE
    if _UKRAINIAN_LETTERS & set(word.lower()):
        return {**base, **(_UKRAINIAN_CZECH if czech else _UKRAINIAN_SIMPLE)}
    return base


def transliterate(text: str, *, czech: bool = False) -> str:
    """Latin spelling of Cyrillic text (other letters pass unchanged).

    ``czech=False`` gives the simple / ISO-9-like spelling (Шевченко -> Shevchenko),
    ``czech=True`` the Czech/Slovak one with háčeks (Шевченко -> Ševčenko).
    """
    out: list[str] = []
    for word in re.split(r"(\s+|-)", text):
        table = _word_table(word, czech)
        letters: list[str] = []
        for ch in word:
            low = ch.lower()
            if low in table:
                latin = table[low]
                letters.append(latin[:1].upper() + latin[1:] if ch != low and latin else latin)
            else:
                letters.append(ch)
        out.append("".join(letters))
    return "".join(out)


# Letters whose háček or stroke stands for a digraph in the simple spelling; expanded
# before diacritics are dropped so that Ševčenko and Shevchenko meet.
_EXPAND = str.maketrans({"š": "sh", "č": "ch", "ž": "zh", "Š": "sh", "Č": "ch", "Ž": "zh"})

# Latin spellings of one sound folded to one, applied in this order.
_CANONICAL: tuple[tuple[str, str], ...] = (
    ("kh", "ch"),  # х: Khmelnitsky / Chmelnickij
    ("shch", "shch"),
    ("sch", "shch"),
    ("cz", "ch"),
    ("sz", "sh"),
    ("tch", "ch"),
    ("ts", "c"),  # ц: Tsoy / Coj
    ("tz", "c"),
    ("ck", "k"),
    ("ph", "f"),
    ("th", "t"),
    ("w", "v"),
    ("q", "k"),
    ("x", "ks"),
    ("y", "i"),  # й ы и: Yuri / Jurij
    ("j", "i"),
)
_WORD_START_GLIDE = re.compile(r"^i(?=[aeou])")  # Yelena / Jelena / Елена


# Names repeat (a region's common names): each word is worked out once.
@functools.lru_cache(maxsize=65536)
def match_key(word: str) -> str:
    """The ASCII match key of one word of a name ('' when nothing is left)."""
    latin = transliterate(word, czech=False).translate(_EXPAND)
    folded = normalise_name(latin)
    letters = "".join(ch for ch in folded if ch.isalnum() and ch.isascii())
    for spelling, canonical in _CANONICAL:
        letters = letters.replace(spelling, canonical)
    letters = _WORD_START_GLIDE.sub("", letters)
    # Doubled letters are dropped (Natalija / Natalia, Ivanov / Ivannov).
    return re.sub(r"(.)\1+", r"\1", letters)


@functools.lru_cache(maxsize=65536)
def name_keys(*names: str) -> tuple[str, ...]:
    """Match keys of every word of the given names, in order, without repeats."""
    keys: list[str] = []
    for name in names:
        for word in re.split(r"[\s\-]+", name or ""):
            key = match_key(word)
            if key and key not in keys:
                keys.append(key)
    return tuple(keys)


@functools.lru_cache(maxsize=65536)
def coarse_key(key: str) -> str:
    """A match key without the h of sh / ch / zh: a name typed with its háčeks simply
    left out (SEVCENKO for Ševčenko) meets the properly spelled one."""
    return re.sub(r"(?<=[scz])h", "", key)


def deletion_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """Each key and its coarse form, and for those of four letters or more each one
    with one letter left out: two words one edit apart always share one of these."""
    out: set[str] = set()
    for key in keys:
        for form in {key, coarse_key(key)}:
            out.add(form)
            if len(form) >= 4:
                out.update(form[:i] + form[i + 1 :] for i in range(len(form)))
    return tuple(sorted(out))


def phone_key(phone: str) -> str:
    """The last nine digits of a phone number ('' when fewer than six digits)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-9:] if len(digits) >= 6 else ""


def dob_variants(born: date) -> tuple[date, ...]:
    """The date itself, day and month swapped (when that is a date), one day off."""
    variants = [born]
    if born.day <= 12 and born.day != born.month:
        with contextlib.suppress(ValueError):
            variants.append(born.replace(month=born.day, day=born.month))
    for delta in (-1, 1):
        with contextlib.suppress(OverflowError):
            variants.append(born + timedelta(days=delta))
    return tuple(variants)


# ------------------------------------------------------------------ lookup keys

# Kinds of lookup key: a card is found under each of its keys by one equality.
BORN_KIND = "b:"
CONTACT_KIND = "c:"
PAIR_KIND = "p:"
NAME_KIND = "n:"


def _pair_keys(given: Iterable[str], family: Iterable[str]) -> list[str]:
    """One key per (given word, family word), order-free and without háčeks: the
    namesakes of a full name (swapped or not) are one indexed lookup apart, instead of
    the thousands of cards that share a common given or family name."""
    pairs = {
        PAIR_KIND + "|".join(sorted((coarse_key(g), coarse_key(f)))) for g in given for f in family
    }
    return sorted(pairs)


def card_lookup_keys(
    given_name: str, family_name: str, born: date | None, phone: str, email: str
) -> tuple[str, ...]:
    """Every key a card is found under: its date of birth, phone and e-mail, each pair
    of its given and family words, and the deletion neighbourhood of every word."""
    given, family = name_keys(given_name), name_keys(family_name)
    keys = [BORN_KIND + born.isoformat()] if born else []
    if phone_key(phone):
        keys.append(CONTACT_KIND + phone_key(phone))
    if email.strip():
        keys.append(CONTACT_KIND + email.strip().lower())
    keys += _pair_keys(given, family)
    keys += [NAME_KIND + k for k in deletion_keys((*given, *family))]
    return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class QueryLookups:
    """The keys a search looks up, by what they stand for: ``born`` and ``contact``
    find few cards each; ``names`` are in order of preference (the full name first,
    then each word as written, then its typos), so that a common name fills the
    candidate budget with the closest cards."""

    born: tuple[str, ...]
    contact: tuple[str, ...]
    names: tuple[str, ...]
    #: The first and last of the ``born`` keys of the date of birth and the days beside
    #: it: every key from one to the other is one of them, so they are one range.
    born_days: tuple[str, str] | None = None


def query_lookup_keys(query: SearchQuery) -> QueryLookups:
    given, family = query.given_keys, query.family_keys
    words = (*given, *family)
    names = [
        *_pair_keys(given, family),
        *(NAME_KIND + k for k in words),
        *(NAME_KIND + coarse_key(k) for k in words),
        *(NAME_KIND + k for k in deletion_keys(words)),
    ]
    contact = []
    if phone_key(query.phone):
        contact.append(CONTACT_KIND + phone_key(query.phone))
    if query.email.strip():
        contact.append(CONTACT_KIND + query.email.strip().lower())
    born = query.date_of_birth
    if born is None:
        return QueryLookups(born=(), contact=tuple(contact), names=tuple(dict.fromkeys(names)))
    keyed = {d: BORN_KIND + d.isoformat() for d in dob_variants(born)}
    # ISO dates sort as the days they name.
    days = [key for d, key in keyed.items() if abs((d - born).days) <= 1]
    return QueryLookups(
        born=tuple(keyed.values()),
        contact=tuple(contact),
        names=tuple(dict.fromkeys(names)),
        born_days=(min(days), max(days)),
    )


@functools.lru_cache(maxsize=65536)
def damerau_levenshtein(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) between two strings
    (optimal string alignment distance)."""
    if a == b:
        return 0
    rows = len(a) + 1
    cols = len(b) + 1
    d = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        d[i][0] = i
    for j in range(cols):
        d[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


# ------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class SearchQuery:
    given_name: str = ""
    family_name: str = ""
    date_of_birth: date | None = None
    phone: str = ""
    email: str = ""

    @property
    def given_keys(self) -> tuple[str, ...]:
        return name_keys(self.given_name)

    @property
    def family_keys(self) -> tuple[str, ...]:
        return name_keys(self.family_name)

    @property
    def empty(self) -> bool:
        return not (
            self.given_keys
            or self.family_keys
            or self.date_of_birth
            or phone_key(self.phone)
            or self.email.strip()
        )


@dataclass(frozen=True)
class CandidateFacts:
    """What scoring needs of a stored card (or of an unattached consultation)."""

    ref: str
    given_name: str
    family_name: str
    date_of_birth: date | None
    phone: str = ""
    email: str = ""
    #: The card's stored identity (domain.identity.identity_key), "" for a consultation.
    identity_key: str = ""


@dataclass(frozen=True)
class Match:
    ref: str
    score: int
    reasons: tuple[str, ...] = field(default=())
    #: Same date of birth and the same names (modulo spelling), in the right order.
    exact_names_and_dob: bool = False
    #: The same names in the right order and the same phone or e-mail.
    exact_names_and_contact: bool = False


def _token_similarity(query: str, card_keys: Sequence[str]) -> tuple[float, str]:
    best = (0.0, "")
    for key in card_keys:
        if key == query:
            return 1.0, "equal"
        if coarse_key(key) == coarse_key(query):
            candidate = (0.9, "equal but for háčeks")
            if candidate[0] > best[0]:
                best = candidate
            continue
        distance = damerau_levenshtein(query, key)
        longest = max(len(query), len(key))
        if distance == 1 and longest >= 4:
            candidate = (0.8, "one letter different")
        elif distance == 2 and longest >= 7:
            candidate = (0.6, "two letters different")
        elif len(query) >= 3 and key.startswith(query):
            candidate = (0.7, "beginning matches")
        else:
            continue
        if candidate[0] > best[0]:
            best = candidate
    return best


def _names_similarity(query: Sequence[str], card: Sequence[str]) -> tuple[float, str]:
    """Average similarity of the query's words to the card's, and the weakest reason."""
    if not query or not card:
        return 0.0, ""
    parts = [_token_similarity(word, card) for word in query]
    total = sum(value for value, _ in parts) / len(parts)
    if all(why == "equal" for _, why in parts):
        return total, "equal"
    if total == 0:
        return 0.0, ""
    worst = min(parts, key=lambda part: part[0])
    return total, worst[1] or "partly equal"


def _dob_points(query: date | None, card: date | None) -> tuple[int, str]:
    if query is None or card is None:
        return 0, ""
    if query == card:
        return DOB_EXACT, "date of birth equal"
    if card == _swapped(query):
        return DOB_SWAPPED, "date of birth with day and month swapped"
    if abs((query - card).days) == 1:
        return DOB_ONE_DAY, "date of birth one day off"
    return 0, ""


def _swapped(day: date) -> date | None:
    try:
        return day.replace(month=day.day, day=day.month)
    except ValueError:
        return None


def score(query: SearchQuery, card: CandidateFacts) -> Match:
    """How likely the card is the person the query describes (0-100), and why."""
    q_given, q_family = query.given_keys, query.family_keys
    c_given, c_family = name_keys(card.given_name), name_keys(card.family_name)

    def names(given: Sequence[str], family: Sequence[str]) -> tuple[float, list[str], bool]:
        fam, fam_why = _names_similarity(q_family, family)
        giv, giv_why = _names_similarity(q_given, given)
        points = FAMILY_POINTS * fam + GIVEN_POINTS * giv
        reasons = []
        if fam_why:
            reasons.append(f"family name {fam_why}")
        if giv_why:
            reasons.append(f"given name {giv_why}")
        exact = bool(q_family and q_given) and fam_why == "equal" and giv_why == "equal"
        return points, reasons, exact

    straight, reasons, exact = names(c_given, c_family)
    crossed, crossed_reasons, _ = names(c_family, c_given)
    crossed -= SWAP_PENALTY
    if crossed > straight:
        straight = crossed
        exact = False
        reasons = ["given and family name swapped", *crossed_reasons]
    dob, dob_why = _dob_points(query.date_of_birth, card.date_of_birth)
    if dob_why:
        reasons.append(dob_why)
    contact = 0
    if phone_key(query.phone) and phone_key(query.phone) == phone_key(card.phone):
        contact += CONTACT_POINTS
        reasons.append("phone equal")
    if query.email.strip() and query.email.strip().lower() == card.email.strip().lower():
        contact += CONTACT_POINTS
        reasons.append("e-mail equal")
    total = min(100, round(straight + dob + contact))
    return Match(
        ref=card.ref,
        score=max(0, total),
        reasons=tuple(reasons),
        exact_names_and_dob=exact and dob == DOB_EXACT,
        exact_names_and_contact=exact and contact > 0,
    )


def is_confident_without_papers(match: Match) -> bool:
    """A person without papers has no date of birth to match: the same names and the
    same phone or e-mail are what identify them (seed 004)."""
    return match.exact_names_and_contact


def is_confident(match: Match) -> bool:
    """Strong enough to join a referral or consultation to the card without a person."""
    return match.exact_names_and_dob and match.score >= CONFIDENT_SCORE


def rank(query: SearchQuery, cards: Iterable[CandidateFacts], min_score: int) -> list[Match]:
    """Matches at or above ``min_score``, best first (ties by reference, stable)."""
    matches = [score(query, card) for card in cards]
    kept = [m for m in matches if m.score >= min_score]
    return sorted(kept, key=lambda m: (-m.score, m.ref))
