"""The public mini-survey endpoints' rate counters, shared by every process and replica."""

from __future__ import annotations

import mongoengine as me
from pymongo import ReturnDocument


class PublicRateDocument(me.Document):
    meta = {"collection": "public_rate", "indexes": [{"fields": ["window"]}]}

    id = me.StringField(primary_key=True)  # "<address>|<minute window>"
    window = me.IntField(required=True)
    count = me.IntField(default=0)


def count_request(address: str, window: int) -> int:
    """This address's requests in the window, this one included (one atomic increment)."""
    raw = PublicRateDocument._get_collection().find_one_and_update(
        {"_id": f"{address}|{window}"},
        {"$inc": {"count": 1}, "$set": {"window": window}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return int(raw["count"])


def forget_windows_before(window: int) -> None:
    PublicRateDocument.objects(window__lt=window).delete()
