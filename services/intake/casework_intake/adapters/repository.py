"""Intake's aggregates in the intake database (mongoengine): referrals, consultations,
routing rule sets, form versions and answers, and the web form's rate counters.

Also outreach activities and projects (tasks and their comments inside the project).

Repositories built from a caller's token filter by organisation and the caller's
centres; the events process uses unscoped ones (centres None) for its timers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import mongoengine as me
from pymongo import ReturnDocument

from casework_common.envelope import EventEnvelope
from casework_common.errors import Conflict, NotFound
from casework_common.routing import rule_to_dict
from casework_common.storage import AggregateDocument, DuplicateAggregate, save_aggregate
from casework_intake.domain.consultations import Consultation
from casework_intake.domain.outreach import ActivityType, Outcome, Outreach, OutreachStatus
from casework_intake.domain.projects import (
    Comment,
    Project,
    Task,
    TaskStatus,
    next_overdue_check,
)
from casework_intake.domain.referrals import Channel, Referral
from casework_intake.domain.routing_rules import RuleSet, rule_from_dict


class ReferralDocument(AggregateDocument):
    meta = {
        "collection": "referrals",
        "indexes": [
            {"fields": ["organisation", "idempotency_key"], "unique": True},
            {"fields": ["organisation", "centre_id", "-submitted_at"]},
            {"fields": ["first_response_due_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    reference_number = me.StringField(required=True)
    idempotency_key = me.StringField(required=True)
    fingerprint = me.StringField(required=True)
    given_name = me.StringField(required=True)
    family_name = me.StringField(required=True)
    date_of_birth = me.StringField(required=True)
    phone = me.StringField(default="")
    email = me.StringField(default="")
    address = me.StringField(default="")
    region_id = me.StringField(required=True)
    centre_id = me.StringField(required=True)
    client_type = me.StringField(required=True)
    problem_type = me.StringField(required=True)
    channel = me.StringField(required=True)
    free_text = me.StringField(default="")
    submitted_by = me.StringField(required=True)
    submitted_at = me.DateTimeField(required=True)
    first_response_due_at = me.DateTimeField()
    acknowledged_at = me.DateTimeField()
    acknowledged_by = me.StringField(default="")
    first_contact_at = me.DateTimeField()
    first_contact_by = me.StringField(default="")
    first_contact_channel = me.StringField(default="")
    first_contact_note = me.StringField(default="")
    escalated_at = me.DateTimeField()


class Counter(me.Document):
    meta = {"collection": "counters"}
    id = me.StringField(primary_key=True)
    seq = me.IntField(default=0)


def _to_domain(doc: ReferralDocument) -> Referral:
    return Referral(
        referral_id=doc.id,
        reference_number=doc.reference_number,
        organisation=doc.organisation,
        idempotency_key=doc.idempotency_key,
        fingerprint=doc.fingerprint,
        given_name=doc.given_name,
        family_name=doc.family_name,
        date_of_birth=date.fromisoformat(doc.date_of_birth),
        phone=doc.phone,
        email=doc.email,
        address=doc.address,
        region_id=doc.region_id,
        centre_id=doc.centre_id,
        client_type=doc.client_type,
        problem_type=doc.problem_type,
        channel=Channel(doc.channel),
        free_text=doc.free_text,
        submitted_by=doc.submitted_by,
        submitted_at=doc.submitted_at,
        first_response_due_at=doc.first_response_due_at,
        acknowledged_at=doc.acknowledged_at,
        acknowledged_by=doc.acknowledged_by or "",
        first_contact_at=doc.first_contact_at,
        first_contact_by=doc.first_contact_by or "",
        first_contact_channel=(
            Channel(doc.first_contact_channel) if doc.first_contact_channel else None
        ),
        first_contact_note=doc.first_contact_note or "",
        escalated_at=doc.escalated_at,
    )


def _write_referral(doc: ReferralDocument, referral: Referral) -> None:
    """Copy a referral's values onto its document (id and version stay)."""
    doc.organisation = referral.organisation
    doc.reference_number = referral.reference_number
    doc.idempotency_key = referral.idempotency_key
    doc.fingerprint = referral.fingerprint
    doc.given_name = referral.given_name
    doc.family_name = referral.family_name
    doc.date_of_birth = referral.date_of_birth.isoformat()
    doc.phone = referral.phone
    doc.email = referral.email
    doc.address = referral.address
    doc.region_id = referral.region_id
    doc.centre_id = referral.centre_id
    doc.client_type = referral.client_type
    doc.problem_type = referral.problem_type
    doc.channel = referral.channel.value
    doc.free_text = referral.free_text
    doc.submitted_by = referral.submitted_by
    doc.submitted_at = referral.submitted_at
    doc.first_response_due_at = referral.first_response_due_at
    doc.acknowledged_at = referral.acknowledged_at
    doc.acknowledged_by = referral.acknowledged_by
    doc.first_contact_at = referral.first_contact_at
    doc.first_contact_by = referral.first_contact_by
    doc.first_contact_channel = (
        referral.first_contact_channel.value if referral.first_contact_channel else ""
    )
    doc.first_contact_note = referral.first_contact_note
    doc.escalated_at = referral.escalated_at


Change = Callable[[Referral], tuple[Referral, list[EventEnvelope]]]


class ReferralRepository:
    """Referrals of one organisation; reads are limited to the centres given."""

    def __init__(self, organisation: str, centres: frozenset[str] | None) -> None:
        self._organisation = organisation
        self._centres = centres

    def _scoped(self) -> me.QuerySet:
        query = ReferralDocument.objects(organisation=self._organisation)
        if self._centres is not None:
            query = query.filter(centre_id__in=list(self._centres))
        return query

    def by_idempotency_key(self, key: str) -> Referral | None:
        # Unscoped on purpose: the key belongs to the caller, whatever centre it named.
        doc = ReferralDocument.objects(organisation=self._organisation, idempotency_key=key).first()
        return _to_domain(doc) if doc else None

    def get(self, referral_id: str) -> Referral:
        doc = self._scoped().filter(id=referral_id).first()
        if doc is None:
            raise NotFound(f"referral {referral_id} not found")
        return _to_domain(doc)

    def add(self, referral: Referral, event: EventEnvelope) -> None:
        doc = ReferralDocument(id=referral.referral_id)
        _write_referral(doc, referral)
        save_aggregate(doc, [event])

    def update(self, referral_id: str, change: Change) -> Referral:
        """Apply `change` to a referral of the caller's centres and store the result
        with its events in one write; a concurrent change answers Conflict."""
        doc = self._scoped().filter(id=referral_id).first()
        if doc is None:
            raise NotFound(f"referral {referral_id} not found")
        changed, events = change(_to_domain(doc))
        if events:
            _write_referral(doc, changed)
            save_aggregate(doc, events)
        return changed

    def next_sequence(self, year: int) -> int:
        raw = Counter._get_collection().find_one_and_update(
            {"_id": f"{self._organisation}:referral:{year}"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(raw["seq"])


# ------------------------------------------------------------------ consultations


class ConsultationDocument(AggregateDocument):
    meta = {
        "collection": "consultations",
        "indexes": [
            {"fields": ["organisation", "idempotency_key"], "unique": True},
            {"fields": ["organisation", "centre_id", "-recorded_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    idempotency_key = me.StringField(required=True)
    fingerprint = me.StringField(required=True)
    given_name = me.StringField(default="")
    family_name = me.StringField(default="")
    date_of_birth = me.StringField(default="")
    phone = me.StringField(default="")
    email = me.StringField(default="")
    topic = me.StringField(required=True)
    duration_minutes = me.IntField(required=True)
    worker_id = me.StringField(required=True)
    channel = me.StringField(required=True)
    centre_id = me.StringField(required=True)
    notes = me.StringField(default="")
    recorded_by = me.StringField(required=True)
    recorded_at = me.DateTimeField(required=True)


def _consultation(doc: ConsultationDocument) -> Consultation:
    return Consultation(
        consultation_id=doc.id,
        organisation=doc.organisation,
        idempotency_key=doc.idempotency_key,
        fingerprint=doc.fingerprint,
        given_name=doc.given_name,
        family_name=doc.family_name,
        date_of_birth=date.fromisoformat(doc.date_of_birth) if doc.date_of_birth else None,
        phone=doc.phone,
        email=doc.email,
        topic=doc.topic,
        duration_minutes=doc.duration_minutes,
        worker_id=doc.worker_id,
        channel=Channel(doc.channel),
        centre_id=doc.centre_id,
        notes=doc.notes,
        recorded_by=doc.recorded_by,
        recorded_at=doc.recorded_at,
    )


class ConsultationRepository:
    """Consultations of one organisation; reads are limited to the centres given."""

    def __init__(self, organisation: str, centres: frozenset[str] | None) -> None:
        self._organisation = organisation
        self._centres = centres

    def _scoped(self) -> me.QuerySet:
        query = ConsultationDocument.objects(organisation=self._organisation)
        if self._centres is not None:
            query = query.filter(centre_id__in=list(self._centres))
        return query

    def by_idempotency_key(self, key: str) -> Consultation | None:
        doc = ConsultationDocument.objects(
            organisation=self._organisation, idempotency_key=key
        ).first()
        return _consultation(doc) if doc else None

    def add(self, c: Consultation, event: EventEnvelope) -> None:
        doc = ConsultationDocument(
            id=c.consultation_id,
            organisation=c.organisation,
            idempotency_key=c.idempotency_key,
            fingerprint=c.fingerprint,
            given_name=c.given_name,
            family_name=c.family_name,
            date_of_birth=c.date_of_birth.isoformat() if c.date_of_birth else "",
            phone=c.phone,
            email=c.email,
            topic=c.topic,
            duration_minutes=c.duration_minutes,
            worker_id=c.worker_id,
            channel=c.channel.value,
            centre_id=c.centre_id,
            notes=c.notes,
            recorded_by=c.recorded_by,
            recorded_at=c.recorded_at,
        )
        save_aggregate(doc, [event])

    def page(self, *, centre_id: str, offset: int, limit: int) -> list[Consultation]:
        query = self._scoped()
        if centre_id:
            query = query.filter(centre_id=centre_id)
        docs = query.order_by("-recorded_at", "id").skip(offset).limit(limit)
        return [_consultation(doc) for doc in docs]


# ------------------------------------------------------------------ routing rules


class RoutingRuleSetDocument(AggregateDocument):
    meta = {
        "collection": "routing_rule_sets",
        "indexes": [{"fields": ["organisation", "-rule_set_version"], "unique": True}],
    }

    id = me.StringField(primary_key=True)  # "<organisation>:<version>"
    rule_set_version = me.IntField(required=True)
    rules = me.ListField(me.DictField())
    fallback = me.StringField(required=True)
    saved_by = me.StringField(required=True)
    saved_at = me.DateTimeField(required=True)
    published_at = me.DateTimeField()
    published_by = me.StringField(default="")
    # The version again once published, else 0: queried instead of published_at, since
    # the development server matches a missing field with {"$ne": null}.
    published_version = me.IntField(default=0)


def _rule_set(doc: RoutingRuleSetDocument) -> RuleSet:
    return RuleSet(
        organisation=doc.organisation,
        version=doc.rule_set_version,
        rules=tuple(rule_from_dict(dict(r)) for r in doc.rules),
        saved_by=doc.saved_by,
        saved_at=doc.saved_at,
        published_at=doc.published_at,
        published_by=doc.published_by or "",
        fallback=doc.fallback,
    )


class RoutingRulesRepository:
    """The versioned routing rule sets of one organisation (organisation-wide)."""

    def __init__(self, organisation: str) -> None:
        self._organisation = organisation

    def next_version(self) -> int:
        raw = Counter._get_collection().find_one_and_update(
            {"_id": f"{self._organisation}:routing_rules"},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(raw["seq"])

    def add(self, rule_set: RuleSet) -> None:
        doc = RoutingRuleSetDocument(
            id=f"{rule_set.organisation}:{rule_set.version}",
            organisation=rule_set.organisation,
            rule_set_version=rule_set.version,
            rules=[rule_to_dict(r) for r in rule_set.rules],
            fallback=rule_set.fallback,
            saved_by=rule_set.saved_by,
            saved_at=rule_set.saved_at,
        )
        try:
            save_aggregate(doc)
        except DuplicateAggregate:
            raise Conflict(f"routing rules version {rule_set.version} exists already") from None

    def _doc(self, version: int) -> RoutingRuleSetDocument:
        doc = RoutingRuleSetDocument.objects(
            organisation=self._organisation, rule_set_version=version
        ).first()
        if doc is None:
            raise NotFound(f"routing rules version {version} not found")
        return doc

    def get(self, version: int) -> RuleSet:
        return _rule_set(self._doc(version))

    def published(self) -> RuleSet | None:
        doc = (
            RoutingRuleSetDocument.objects(organisation=self._organisation, published_version__gt=0)
            .order_by("-rule_set_version")
            .first()
        )
        return _rule_set(doc) if doc else None

    def page(self, *, offset: int, limit: int) -> list[RuleSet]:
        docs = (
            RoutingRuleSetDocument.objects(organisation=self._organisation)
            .order_by("-rule_set_version")
            .skip(offset)
            .limit(limit)
        )
        return [_rule_set(doc) for doc in docs]

    def mark_published(self, rule_set: RuleSet, event: EventEnvelope) -> None:
        doc = self._doc(rule_set.version)
        doc.published_at = rule_set.published_at
        doc.published_by = rule_set.published_by
        doc.published_version = rule_set.version
        save_aggregate(doc, [event])


# ---------------------------------------------------------------------- forms


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


class FormsRepository:
    """An organisation's form versions, and answers scoped to the caller's centres."""

    def __init__(self, organisation: str, centres: frozenset[str] | None) -> None:
        self._organisation = organisation
        self._centres = centres

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
        query = FormAnswersDocument.objects(
            organisation=self._organisation, referral_id=referral_id
        )
        if self._centres is not None:
            query = query.filter(centre_id__in=list(self._centres))
        return list(query.order_by("submitted_at", "id"))


# ------------------------------------------------------------ web form rate limit


class RateCounterDocument(me.Document):
    meta = {"collection": "web_form_rate", "indexes": [{"fields": ["window"]}]}

    id = me.StringField(primary_key=True)  # "<address>|<minute window>"
    window = me.IntField(required=True)
    count = me.IntField(default=0)


def count_submission(address: str, window: int) -> int:
    """This address's submissions in the window, this one included: one atomic
    increment shared by every process and replica."""
    raw = RateCounterDocument._get_collection().find_one_and_update(
        {"_id": f"{address}|{window}"},
        {"$inc": {"count": 1}, "$set": {"window": window}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return int(raw["count"])


def forget_windows_before(window: int) -> None:
    RateCounterDocument.objects(window__lt=window).delete()


def referral_centre(organisation: str, referral_id: str) -> str | None:
    """The centre of a referral, unscoped: a self-fill link names its referral."""
    doc = (
        ReferralDocument.objects(organisation=organisation, id=referral_id)
        .only("centre_id")
        .first()
    )
    return str(doc.centre_id) if doc else None


def organisation_of_referral(referral_id: str) -> str | None:
    """The organisation of a referral, unscoped: a self-fill link names only its
    referral, and is checked against its signature before this is asked."""
    doc = ReferralDocument.objects(id=referral_id).only("organisation").first()
    return str(doc.organisation) if doc else None


def overdue_referrals(now: datetime, limit: int = 100) -> list[Referral]:
    """Referrals of every organisation past their first-response deadline that nobody
    acknowledged and that were not escalated yet (the timer's query)."""
    docs = ReferralDocument.objects(
        first_response_due_at__lte=now, acknowledged_at=None, escalated_at=None
    ).limit(limit)
    return [_to_domain(doc) for doc in docs]


# ----------------------------------------------------------------------- outreach


class OutreachDocument(AggregateDocument):
    meta = {
        "collection": "outreach_activities",
        "indexes": [
            # A key is used once per organisation; documents stored before keys existed
            # have none and are left out of the index.
            {
                "fields": ["organisation", "idempotency_key"],
                "unique": True,
                "partialFilterExpression": {"idempotency_key": {"$type": "string"}},
            },
            {"fields": ["organisation", "centre_id", "planned_at"]},
            {"fields": ["status", "remind_at"]},
            {"fields": ["status", "planned_at"]},
        ],
    }

    id = me.StringField(primary_key=True)
    worker_id = me.StringField(required=True)
    centre_id = me.StringField(required=True)
    activity_type = me.StringField(required=True)
    planned_at = me.DateTimeField(required=True)
    place = me.StringField(default="")
    description = me.StringField(default="")
    planned_by = me.StringField(required=True)
    created_at = me.DateTimeField(required=True)
    remind_at = me.DateTimeField(required=True)
    status = me.StringField(required=True)
    reminded_at = me.DateTimeField()
    outcome_requested_at = me.DateTimeField()
    outcome = me.StringField(default="")
    people_reached = me.IntField(default=0)
    contacts_made = me.IntField(default=0)
    outcome_recorded_at = me.DateTimeField()
    outcome_recorded_by = me.StringField(default="")
    cancelled_at = me.DateTimeField()
    cancelled_by = me.StringField(default="")
    # Unset (not stored) on activities planned before keys were required.
    idempotency_key = me.StringField()
    fingerprint = me.StringField(default="")


def _outreach(doc: OutreachDocument) -> Outreach:
    return Outreach(
        outreach_id=doc.id,
        organisation=doc.organisation,
        worker_id=doc.worker_id,
        centre_id=doc.centre_id,
        activity_type=ActivityType(doc.activity_type),
        planned_at=doc.planned_at,
        place=doc.place or "",
        description=doc.description or "",
        planned_by=doc.planned_by,
        created_at=doc.created_at,
        remind_at=doc.remind_at,
        status=OutreachStatus(doc.status),
        reminded_at=doc.reminded_at,
        outcome_requested_at=doc.outcome_requested_at,
        outcome=(
            Outcome(doc.outcome, doc.people_reached or 0, doc.contacts_made or 0)
            if doc.outcome_recorded_at is not None
            else None
        ),
        outcome_recorded_at=doc.outcome_recorded_at,
        outcome_recorded_by=doc.outcome_recorded_by or "",
        cancelled_at=doc.cancelled_at,
        cancelled_by=doc.cancelled_by or "",
        idempotency_key=doc.idempotency_key or "",
        fingerprint=doc.fingerprint or "",
    )


def _write_outreach(doc: OutreachDocument, o: Outreach) -> None:
    doc.organisation = o.organisation
    doc.worker_id = o.worker_id
    doc.centre_id = o.centre_id
    doc.activity_type = o.activity_type.value
    doc.planned_at = o.planned_at
    doc.place = o.place
    doc.description = o.description
    doc.planned_by = o.planned_by
    doc.created_at = o.created_at
    doc.remind_at = o.remind_at
    doc.status = o.status.value
    doc.reminded_at = o.reminded_at
    doc.outcome_requested_at = o.outcome_requested_at
    doc.outcome = o.outcome.text if o.outcome else ""
    doc.people_reached = o.outcome.people_reached if o.outcome else 0
    doc.contacts_made = o.outcome.contacts_made if o.outcome else 0
    doc.outcome_recorded_at = o.outcome_recorded_at
    doc.outcome_recorded_by = o.outcome_recorded_by
    doc.cancelled_at = o.cancelled_at
    doc.cancelled_by = o.cancelled_by
    doc.idempotency_key = o.idempotency_key or None
    doc.fingerprint = o.fingerprint


OutreachChange = Callable[[Outreach], tuple[Outreach, list[EventEnvelope]]]


class OutreachRepository:
    """Outreach activities of one organisation; reads are limited to the centres given."""

    def __init__(self, organisation: str, centres: frozenset[str] | None) -> None:
        self._organisation = organisation
        self._centres = centres

    def _scoped(self) -> me.QuerySet:
        query = OutreachDocument.objects(organisation=self._organisation)
        if self._centres is not None:
            query = query.filter(centre_id__in=list(self._centres))
        return query

    def by_idempotency_key(self, key: str) -> Outreach | None:
        # Unscoped on purpose: the key belongs to the caller, whatever centre it named.
        doc = OutreachDocument.objects(organisation=self._organisation, idempotency_key=key).first()
        return _outreach(doc) if doc else None

    def get(self, outreach_id: str) -> Outreach:
        doc = self._scoped().filter(id=outreach_id).first()
        if doc is None:
            raise NotFound(f"outreach {outreach_id} not found")
        return _outreach(doc)

    def add(self, outreach: Outreach, event: EventEnvelope) -> None:
        doc = OutreachDocument(id=outreach.outreach_id)
        _write_outreach(doc, outreach)
        save_aggregate(doc, [event])

    def update(self, outreach_id: str, change: OutreachChange) -> Outreach:
        """Apply `change` and store the result with its events in one version-guarded
        write; a concurrent change answers Conflict."""
        doc = self._scoped().filter(id=outreach_id).first()
        if doc is None:
            raise NotFound(f"outreach {outreach_id} not found")
        changed, events = change(_outreach(doc))
        if events:
            _write_outreach(doc, changed)
            save_aggregate(doc, events)
        return changed

    def page(
        self, *, centre_id: str, worker_id: str, status: str, offset: int, limit: int
    ) -> list[Outreach]:
        query = self._scoped()
        if centre_id:
            query = query.filter(centre_id=centre_id)
        if worker_id:
            query = query.filter(worker_id=worker_id)
        if status:
            query = query.filter(status=status)
        docs = query.order_by("planned_at", "id").skip(offset).limit(limit)
        return [_outreach(doc) for doc in docs]


def outreach_needing_reminder(now: datetime, limit: int = 100) -> list[Outreach]:
    """Planned activities of every organisation inside their reminder lead time, before
    they start, whose worker was not reminded yet (the timer's query)."""
    docs = OutreachDocument.objects(
        status=OutreachStatus.PLANNED.value,
        remind_at__lte=now,
        planned_at__gt=now,
        reminded_at=None,
    ).limit(limit)
    return [_outreach(doc) for doc in docs]


def outreach_needing_outcome(now: datetime, limit: int = 100) -> list[Outreach]:
    """Planned activities of every organisation whose time has passed with no outcome
    recorded and no request for it sent yet (the timer's query)."""
    docs = OutreachDocument.objects(
        status=OutreachStatus.PLANNED.value, planned_at__lte=now, outcome_requested_at=None
    ).limit(limit)
    return [_outreach(doc) for doc in docs]


# ----------------------------------------------------------------------- projects


class ProjectDocument(AggregateDocument):
    """A project with its tasks and their comments, replaced whole on every change
    (never positional updates such as tasks.0.status)."""

    meta = {
        "collection": "projects",
        "indexes": [
            # A key is used once per organisation; documents stored before keys existed
            # have none and are left out of the index.
            {
                "fields": ["organisation", "idempotency_key"],
                "unique": True,
                "partialFilterExpression": {"idempotency_key": {"$type": "string"}},
            },
            {"fields": ["organisation", "centre_id", "-created_at"]},
            {"fields": ["next_overdue_check"]},
        ],
    }

    id = me.StringField(primary_key=True)
    centre_id = me.StringField(required=True)
    name = me.StringField(required=True)
    description = me.StringField(default="")
    members = me.ListField(me.StringField())
    created_by = me.StringField(required=True)
    created_at = me.DateTimeField(required=True)
    tasks = me.ListField(me.DictField())
    # Unset (not stored) on projects created before keys were required. The keys of
    # AddTask and CommentOnTask are kept on the tasks and comments themselves.
    idempotency_key = me.StringField()
    fingerprint = me.StringField(default="")
    # When the earliest open task not yet reported becomes overdue (none: unset).
    next_overdue_check = me.DateTimeField()


def _task_to_dict(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "title": task.title,
        "assignee_id": task.assignee_id,
        "due_at": task.due_at,
        "created_by": task.created_by,
        "created_at": task.created_at,
        "status": task.status.value,
        "completed_at": task.completed_at,
        "completed_by": task.completed_by,
        "overdue_notified_at": task.overdue_notified_at,
        "comments": [
            {
                "comment_id": c.comment_id,
                "author_id": c.author_id,
                "text": c.text,
                "created_at": c.created_at,
                "idempotency_key": c.idempotency_key,
                "fingerprint": c.fingerprint,
            }
            for c in task.comments
        ],
        "idempotency_key": task.idempotency_key,
        "fingerprint": task.fingerprint,
    }


def _task(raw: dict[str, Any]) -> Task:
    return Task(
        task_id=raw["task_id"],
        title=raw["title"],
        assignee_id=raw["assignee_id"],
        due_at=_aware(raw["due_at"]),
        created_by=raw["created_by"],
        created_at=_aware(raw["created_at"]),
        status=TaskStatus(raw["status"]),
        completed_at=_aware(raw.get("completed_at")),
        completed_by=raw.get("completed_by") or "",
        overdue_notified_at=_aware(raw.get("overdue_notified_at")),
        comments=tuple(
            Comment(
                comment_id=c["comment_id"],
                author_id=c["author_id"],
                text=c["text"],
                created_at=_aware(c["created_at"]),
                idempotency_key=c.get("idempotency_key") or "",
                fingerprint=c.get("fingerprint") or "",
            )
            for c in raw.get("comments") or []
        ),
        idempotency_key=raw.get("idempotency_key") or "",
        fingerprint=raw.get("fingerprint") or "",
    )


def _aware(value: Any) -> Any:
    """Datetimes nested in a dict come back as the driver gives them; make them UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _project(doc: ProjectDocument) -> Project:
    return Project(
        project_id=doc.id,
        organisation=doc.organisation,
        centre_id=doc.centre_id,
        name=doc.name,
        description=doc.description or "",
        members=tuple(doc.members),
        created_by=doc.created_by,
        created_at=doc.created_at,
        tasks=tuple(_task(dict(raw)) for raw in doc.tasks),
        idempotency_key=doc.idempotency_key or "",
        fingerprint=doc.fingerprint or "",
    )


def _write_project(doc: ProjectDocument, p: Project) -> None:
    doc.organisation = p.organisation
    doc.centre_id = p.centre_id
    doc.name = p.name
    doc.description = p.description
    doc.members = list(p.members)
    doc.created_by = p.created_by
    doc.created_at = p.created_at
    doc.tasks = [_task_to_dict(t) for t in p.tasks]
    doc.idempotency_key = p.idempotency_key or None
    doc.fingerprint = p.fingerprint
    doc.next_overdue_check = next_overdue_check(p)


ProjectChange = Callable[[Project], tuple[Project, list[EventEnvelope]]]


class ProjectRepository:
    """Projects of one organisation; reads are limited to the centres given."""

    def __init__(self, organisation: str, centres: frozenset[str] | None) -> None:
        self._organisation = organisation
        self._centres = centres

    def _scoped(self) -> me.QuerySet:
        query = ProjectDocument.objects(organisation=self._organisation)
        if self._centres is not None:
            query = query.filter(centre_id__in=list(self._centres))
        return query

    def by_idempotency_key(self, key: str) -> Project | None:
        # Unscoped on purpose: the key belongs to the caller, whatever centre it named.
        doc = ProjectDocument.objects(organisation=self._organisation, idempotency_key=key).first()
        return _project(doc) if doc else None

    def get(self, project_id: str) -> Project:
        doc = self._scoped().filter(id=project_id).first()
        if doc is None:
            raise NotFound(f"project {project_id} not found")
        return _project(doc)

    def add(self, project: Project, event: EventEnvelope) -> None:
        doc = ProjectDocument(id=project.project_id)
        _write_project(doc, project)
        save_aggregate(doc, [event])

    def update(self, project_id: str, change: ProjectChange) -> Project:
        """Apply `change` to the whole project and replace it with its events in one
        version-guarded write; a concurrent change answers Conflict."""
        doc = self._scoped().filter(id=project_id).first()
        if doc is None:
            raise NotFound(f"project {project_id} not found")
        changed, events = change(_project(doc))
        if events:
            _write_project(doc, changed)
            save_aggregate(doc, events)
        return changed

    def page(self, *, centre_id: str, offset: int, limit: int) -> list[Project]:
        query = self._scoped()
        if centre_id:
            query = query.filter(centre_id=centre_id)
        docs = query.order_by("-created_at", "id").skip(offset).limit(limit)
        return [_project(doc) for doc in docs]


def projects_with_overdue_tasks(now: datetime, limit: int = 100) -> list[Project]:
    """Projects of every organisation with an open task past its due time whose
    assignee was not told yet (the timer's query)."""
    docs = ProjectDocument.objects(next_overdue_check__lte=now).limit(limit)
    return [_project(doc) for doc in docs]
