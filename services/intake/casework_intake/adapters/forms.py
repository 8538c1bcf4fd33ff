"""Form versions and the answers given on them (by workers and through self-fill links)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import mongoengine as me

from casework_common.errors import Conflict
from casework_common.repository import ScopedRepository


class FormVersionDocument(me.Document):
    """One published version of a form; never changed once written."""

    meta = {
        "collection": "form_versions",
        "indexes": [{"fields": ["organisation", "form_id", "form_version"]}],
    }

    id = me.StringField(primary_key=True)  # "<organisation>:<form id>:<version>"
    organisation = me.StringField(required=True)
    form_id = me.StringField(required=True)
    form_version = me.IntField(required=True)
    definition = me.DictField(required=True)
    published_by = me.StringField(required=True)
    published_at = me.DateTimeField(required=True)


class FormAnswersDocument(me.Document):
    """Answers as given, with the form version they were given on. Answers given
    through a self-fill link are stored under "self-fill:<link id>": that id is the
    record that the link was used, written in the same single insert."""

    meta = {
        "collection": "form_answers",
        "indexes": [{"fields": ["organisation", "referral_id", "submitted_at"]}],
    }

    id = me.StringField(primary_key=True)
    organisation = me.StringField(required=True)
    centre_id = me.StringField(required=True)
    referral_id = me.StringField(required=True)
    form_id = me.StringField(required=True)
    form_version = me.IntField(required=True)
    answers = me.DictField()
    verdicts = me.ListField(me.DictField())
    submitted_by = me.StringField(required=True)
    submitted_at = me.DateTimeField(required=True)


def self_fill_answers_id(link_id: str) -> str:
    return f"self-fill:{link_id}"


class FormsRepository(ScopedRepository[FormAnswersDocument]):
    """An organisation's form versions (organisation-wide), and answers scoped to the
    caller's centres."""

    document = FormAnswersDocument
    what = "form answers"

    def versions(self, form_id: str) -> list[dict[str, Any]]:
        docs = FormVersionDocument.objects(organisation=self._organisation, form_id=form_id)
        return [
            {
                "version": d.form_version,
                "definition": dict(d.definition),
                "published_by": d.published_by,
                "published_at": d.published_at,
            }
            for d in docs
        ]

    def add_version(
        self, form_id: str, version: int, definition: dict[str, Any], by: str, at: datetime
    ) -> None:
        try:
            FormVersionDocument(
                id=f"{self._organisation}:{form_id}:{version}",
                organisation=self._organisation,
                form_id=form_id,
                form_version=version,
                definition=definition,
                published_by=by,
                published_at=at,
            ).save(force_insert=True)
        except me.NotUniqueError:
            raise Conflict(f"version {version} of form {form_id} was published meanwhile") from None

    def add_answers(self, record: dict[str, Any]) -> bool:
        """Insert; False when the id is taken (a self-fill link already used)."""
        try:
            FormAnswersDocument(organisation=self._organisation, **record).save(force_insert=True)
        except me.NotUniqueError:
            return False
        return True

    def answers_exist(self, answers_id: str) -> bool:
        return FormAnswersDocument.objects(id=answers_id).first() is not None

    def answers_of(self, referral_id: str) -> list[FormAnswersDocument]:
        query = self._scoped().filter(referral_id=referral_id)
        return list(query.order_by("submitted_at", "id"))
