"""Atomic claims of due work (reminders, e-mails, webhook deliveries) so that several
events processes share it and each item is worked on by one at a time.

A claim is a lease: `holder` and `lease_until` set by one update whose filter repeats
the "due and unclaimed" condition, so of two replicas updating the same document only
one matches it. A replica that dies mid-way leaves a lease that runs out; the item is
then claimed again (work is idempotent by derived ids, so the redo lands once).

Never a `$set` of a moment: the development database server stores a `$set` datetime
as a string (measured), after which no range query finds it. The lease is a number
(seconds since the epoch), and an outcome is written by replacing the whole document
(guarded by the holder), which keeps its moments as moments. And the moment an item
is due is kept as a number too (`*_ts`, seconds since the epoch): the development
server compares stored datetimes to the whole second only (measured: 10:00:00.8 is
"before" 10:00:00.1), which would fire a reminder up to a second early."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

# Stored instead of "no lease", so one range condition finds the unclaimed.
NEVER = 0.0


def claim_due(
    collection: Collection[Any],
    *,
    state: str,
    due_field: str,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[dict[str, Any]]:
    moment = now.timestamp()
    due = {"state": state, due_field: {"$lte": moment}, "lease_until": {"$lt": moment}}
    ids = [doc["_id"] for doc in collection.find(due, {"_id": 1}).sort(due_field, 1).limit(limit)]
    if not ids:
        return []
    holder = uuid.uuid4().hex
    collection.update_many(
        {"_id": {"$in": ids}, **due},
        {"$set": {"holder": holder, "lease_until": (now + lease).timestamp()}},
    )
    return list(collection.find({"_id": {"$in": ids}, "holder": holder}))


def release(collection: Collection[Any], doc_id: str, holder: str, changes: dict[str, Any]) -> bool:
    """Write the outcome of a claimed item and drop the lease, if still its holder."""
    return replace_where(
        collection,
        {"_id": doc_id, "holder": holder},
        {**changes, "lease_until": NEVER, "holder": ""},
    )


def replace_where(
    collection: Collection[Any], guard: dict[str, Any], changes: dict[str, Any]
) -> bool:
    """Change fields of the document `guard` finds by replacing it whole (see above);
    False when the guard no longer matches."""
    raw = collection.find_one(guard)
    if raw is None:
        return False
    result = collection.replace_one(guard, {**raw, **changes})
    return bool(result.matched_count)


def insert_new(collection: Collection[Any], raw: dict[str, Any]) -> bool:
    """Insert a document whose id derives from its cause; False when that id is there
    already (the first writer wins, so a redelivered cause changes nothing)."""
    try:
        collection.insert_one(raw)
    except DuplicateKeyError:
        return False
    return True
