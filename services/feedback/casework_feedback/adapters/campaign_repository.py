"""Quality-review campaigns in feedback's database: the provider's clients split among
reviewers, each assignment with its answers, the template stored whole."""

from __future__ import annotations

import mongoengine as me

from casework_common.repository import (
    AggregateRepository,
    Stored,
    StoredFields,
    as_utc,
    enum_value,
    optional_enum_value,
)
from casework_common.storage import AggregateDocument
from casework_feedback.adapters.repository import survey_from_dict, survey_to_dict
from casework_feedback.domain import campaigns


class CampaignDocument(AggregateDocument):
    meta = {"collection": "campaigns"}

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    provider_id = me.StringField(required=True)
    template = me.DictField(required=True)
    assignments = me.ListField(me.DictField())
    status = me.StringField(required=True)
    decision = me.StringField(default="")
    decision_note = me.StringField(default="")


ASSIGNMENTS = Stored(
    lambda assignments: [
        {
            "client_id": a.client_id,
            "area": a.area,
            "reviewer_id": a.reviewer_id,
            "answers": None
            if a.answers is None
            else [{"question_id": k, "value": v} for k, v in a.answers.items()],
            "answered_at": a.answered_at,
            "unreachable": a.unreachable,
            "collected_by": a.collected_by.value if a.collected_by else "",
        }
        for a in assignments
    ],
    lambda raw: tuple(
        campaigns.Assignment(
            client_id=a["client_id"],
            area=a["area"],
            reviewer_id=a["reviewer_id"],
            answers=None
            if a.get("answers") is None
            else {x["question_id"]: x["value"] for x in a["answers"]},
            answered_at=as_utc(a.get("answered_at")),
            unreachable=bool(a.get("unreachable")),
            collected_by=campaigns.CollectedBy(a["collected_by"])
            if a.get("collected_by")
            else None,
        )
        for a in raw
    ),
)
CAMPAIGN_FIELDS = StoredFields(
    campaigns.Campaign,
    "campaign_id",
    template=Stored(survey_to_dict, survey_from_dict),
    assignments=ASSIGNMENTS,
    status=enum_value(campaigns.CampaignStatus),
    decision=optional_enum_value(campaigns.Decision),
)


class CampaignRepository(AggregateRepository[CampaignDocument, campaigns.Campaign]):
    document = CampaignDocument
    fields = CAMPAIGN_FIELDS
    what = "campaign"
