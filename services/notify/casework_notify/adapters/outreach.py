"""Later survey offers in the notify database: written by the events process, which
cannot read clients' cards (grpcio never runs beside eventlet), and settled by the api
process, which reads the card with notify's service token. Claimed with a lease, so
several api processes share them (see adapters.claims)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import mongoengine as me

from casework_notify.adapters.claims import NEVER, claim_due, insert_new, release
from casework_notify.domain.outreach import Outcome, SurveyOffer


class SurveyOfferDocument(me.Document):
    meta = {
        "collection": "survey_offers",
        "indexes": [{"fields": ["state", "next_attempt_ts"]}],
    }

    id = me.StringField(primary_key=True)
    organisation = me.StringField(required=True)
    visit_id = me.StringField(required=True)
    centre_id = me.StringField(default="")
    client_id = me.StringField(required=True)
    link = me.StringField(required=True)
    expires_at = me.DateTimeField(required=True)
    issued_at = me.DateTimeField(required=True)
    state = me.StringField(required=True)  # the offer's outcome
    reason = me.StringField(default="")
    attempts = me.IntField(default=0)
    next_attempt_ts = me.FloatField(required=True)  # a number (see adapters.claims)
    holder = me.StringField(default="")
    lease_until = me.FloatField(default=NEVER)


def _collection() -> Any:
    return SurveyOfferDocument._get_collection()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_domain(raw: dict[str, Any]) -> SurveyOffer:
    return SurveyOffer(
        organisation=raw["organisation"],
        visit_id=raw["visit_id"],
        centre_id=raw.get("centre_id", ""),
        client_id=raw["client_id"],
        link=raw["link"],
        expires_at=_utc(raw["expires_at"]),
        issued_at=_utc(raw["issued_at"]),
        outcome=Outcome(raw["state"]),
        reason=raw.get("reason", ""),
        attempts=int(raw.get("attempts") or 0),
    )


class SurveyOfferRepository:
    def add(self, offer: SurveyOffer, now: datetime) -> bool:
        """Keep a new offer; one already there (the same visit) stays as it is."""
        doc = SurveyOfferDocument(
            id=offer.offer_id,
            organisation=offer.organisation,
            visit_id=offer.visit_id,
            centre_id=offer.centre_id,
            client_id=offer.client_id,
            link=offer.link,
            expires_at=offer.expires_at,
            issued_at=offer.issued_at,
            state=offer.outcome.value,
            next_attempt_ts=now.timestamp(),
        )
        doc.validate()
        return insert_new(_collection(), dict(doc.to_mongo()))

    def get(self, organisation: str, visit_id: str) -> SurveyOffer | None:
        raw = _collection().find_one({"_id": f"later-survey:{organisation}:{visit_id}"})
        return to_domain(raw) if raw else None

    def claim_due(
        self, now: datetime, lease: timedelta, limit: int
    ) -> list[tuple[SurveyOffer, str]]:
        claimed = claim_due(
            _collection(),
            state=Outcome.AWAITING_CARD.value,
            due_field="next_attempt_ts",
            now=now,
            lease=lease,
            limit=limit,
        )
        return [(to_domain(raw), raw["holder"]) for raw in claimed]

    def settle(self, offer: SurveyOffer, holder: str, next_attempt_at: datetime) -> bool:
        """Record the offer's outcome (or its next try) and drop the lease."""
        return release(
            _collection(),
            offer.offer_id,
            holder,
            {
                "state": offer.outcome.value,
                "reason": offer.reason,
                "attempts": offer.attempts,
                "next_attempt_ts": next_attempt_at.timestamp(),
            },
        )
