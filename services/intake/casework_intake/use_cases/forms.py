"""Forms: versions published per organisation, answers given on them by workers, and
self-fill links through which a person answers some questions without a token."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from casework_common import errors as common
from casework_common.errors import InvalidArgument, NotFound, raise_if_any
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork
from casework_intake.adapters.forms import FormsRepository, self_fill_answers_id
from casework_intake.adapters.referrals import ReferralRepository, referral_centre
from casework_intake.domain import form_codec, forms, selffill
from casework_intake.use_cases._common import require_worker, to_common

SELF_FILL_DEFAULT_HOURS = 72
SELF_FILL_MAX_HOURS = int(selffill.MAX_VALIDITY.total_seconds() // 3600)
SELF_FILL_SUBMITTER = "self-fill"
_FORM_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class PublishForm:
    form_id: str
    definition: object


@dataclass(frozen=True)
class SubmitFormAnswers:
    referral_id: str
    form_id: str
    version: int
    answers: Mapping[str, object]


@dataclass(frozen=True)
class IssueSelfFillLink:
    referral_id: str
    form_id: str
    version: int
    question_ids: tuple[str, ...] = ()
    valid_hours: int = 0


def _catalogue(repository: FormsRepository, organisation: str, form_id: str) -> forms.FormCatalogue:
    definitions = []
    for stored in repository.versions(form_id):
        definitions.append(
            form_codec.definition_from_dict(
                stored["definition"],
                form_id=form_id,
                organisation=organisation,
                version=stored["version"],
            )
        )
    return forms.FormCatalogue(definitions)


def _form_violation(exc: forms.FormRuleViolation) -> InvalidArgument:
    return InvalidArgument(to_common(exc.errors))


def publish_form(
    command: PublishForm, uow: UnitOfWork, repository: FormsRepository
) -> forms.FormDefinition:
    form_id, definition, principal, now = (
        command.form_id,
        command.definition,
        uow.principal,
        uow.now,
    )
    if not _FORM_ID.fullmatch(form_id):
        raise InvalidArgument(
            [common.FieldError("form_id", "a letter, then letters, digits, '_' or '-'")]
        )
    try:
        draft = form_codec.definition_from_dict(
            definition, form_id=form_id, organisation=principal.organisation
        )
        published = _catalogue(repository, principal.organisation, form_id).publish(draft)
    except forms.FormRuleViolation as exc:
        raise _form_violation(exc) from None
    repository.add_version(
        form_id,
        published.version,
        form_codec.definition_to_dict(published),
        principal.subject,
        now,
    )
    return published


def get_form(
    form_id: str, version: int, uow: UnitOfWork, repository: FormsRepository
) -> tuple[forms.FormDefinition, dict[str, Any]]:
    catalogue = _catalogue(repository, uow.principal.organisation, form_id)
    try:
        defn = catalogue.get(form_id, version) if version else catalogue.latest(form_id)
    except forms.UnknownFormVersion as exc:
        raise NotFound(exc.errors[0].description) from None
    meta = next(v for v in repository.versions(form_id) if v["version"] == defn.version)
    return defn, meta


def _form_version(
    repository: FormsRepository, organisation: str, form_id: str, version: int
) -> forms.FormDefinition:
    catalogue = _catalogue(repository, organisation, form_id)
    try:
        return catalogue.get(form_id, version) if version else catalogue.latest(form_id)
    except forms.UnknownFormVersion as exc:
        raise _form_violation(exc) from None


def submit_form_answers(
    command: SubmitFormAnswers,
    uow: UnitOfWork,
    referral_repository: ReferralRepository,
    repository: FormsRepository,
) -> dict[str, Any]:
    """Check the answers against the version they were given on, store them with it
    and the verdicts; answers the stored record."""
    require_worker(uow)
    principal, now = uow.principal, uow.now
    referral_id, form_id, version = command.referral_id, command.form_id, command.version
    answers = command.answers
    referral = referral_repository.get(referral_id)  # NotFound outside the caller's centres
    if version < 1:
        raise InvalidArgument(
            [common.FieldError("form_version", "the version the answers were given on")]
        )
    defn = _form_version(repository, principal.organisation, form_id, version)
    plain = form_codec.plain_answers(answers)
    try:
        forms.record_answers(defn, plain, now)
        verdicts = forms.evaluate_eligibility(defn, plain, now.date())
    except forms.FormRuleViolation as exc:
        raise _form_violation(exc) from None
    record: dict[str, Any] = {
        "id": uow.new_id(),
        "centre_id": referral.centre_id,
        "referral_id": referral.referral_id,
        "form_id": defn.form_id,
        "form_version": defn.version,
        "answers": plain,
        "verdicts": [
            {
                "programme_id": v.programme_id,
                "eligible": v.eligible,
                "reason": v.reason,
                "deciding_question_ids": list(v.deciding_question_ids),
            }
            for v in verdicts
        ],
        "submitted_by": principal.subject,
        "submitted_at": now,
    }
    repository.add_answers(record)
    return record


def issue_self_fill_link(
    command: IssueSelfFillLink,
    uow: UnitOfWork,
    referral_repository: ReferralRepository,
    repository: FormsRepository,
    *,
    secret: bytes,
) -> tuple[str, datetime, forms.FormDefinition, tuple[str, ...]]:
    require_worker(uow)
    principal, now = uow.principal, uow.now
    referral_id, form_id, version = command.referral_id, command.form_id, command.version
    question_ids, valid_hours = list(command.question_ids), command.valid_hours
    referral = referral_repository.get(referral_id)
    defn = _form_version(repository, principal.organisation, form_id, version)
    offered = forms.self_fill_question_ids(defn)
    errors = []
    if not offered:
        errors.append(common.FieldError("form_id", "the form has no self-fill questions"))
    chosen = tuple(question_ids) or offered
    for qid in question_ids:
        if qid not in offered:
            errors.append(common.FieldError("question_ids", f"{qid!r} is not a self-fill question"))
    hours = valid_hours or SELF_FILL_DEFAULT_HOURS
    if not 1 <= hours <= SELF_FILL_MAX_HOURS:
        errors.append(common.FieldError("valid_hours", f"between 1 and {SELF_FILL_MAX_HOURS}"))
    raise_if_any(errors)
    expires_at = now + timedelta(hours=hours)
    token = selffill.issue_link(
        secret,
        referral.referral_id,
        defn.form_id,
        defn.version,
        chosen,
        expires_at,
        issued_at=now,
    )
    # The token keeps the expiry to the whole second, rounded down.
    expires_at = expires_at.replace(microsecond=0)
    return token, expires_at, defn, tuple(sorted(set(chosen)))


# -------------------------------------------------------- self-fill (no token)


@dataclasses.dataclass(frozen=True)
class SelfFillForm:
    grant: selffill.SelfFillGrant
    definition: forms.FormDefinition
    """The form version with only the granted questions marked self-fill."""


class SelfFillRefused(Exception):
    """A link that cannot be used; `status` is the HTTP status to answer, `reason` what
    the person reads, `code` what the log records (never anything about the person)."""

    def __init__(self, status: int, reason: str, code: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code


_NOT_A_LINK = "this is not a valid link"
_USED = "this link was already used; the answers were sent"


def open_self_fill(
    token: str,
    uow: UnitOfWork,
    organisations: Mapping[str, Organisation],
    repository_of: Callable[[str], FormsRepository],
    organisation_of_referral: Callable[[str], str | None],
    *,
    secret: bytes,
) -> tuple[str, SelfFillForm]:
    """Verify a link and load the form part it grants; answers (organisation, form)."""
    now = uow.now
    try:
        grant = selffill.verify_link(secret, token, now)
    except selffill.LinkExpired:
        raise SelfFillRefused(
            410, "this link has expired; ask your worker for a new one", "expired"
        ) from None
    except selffill.LinkValidTooLong:
        raise SelfFillRefused(404, _NOT_A_LINK, "valid_too_long") from None
    except selffill.SelfFillLinkRefused:
        raise SelfFillRefused(404, _NOT_A_LINK, "tampered") from None
    organisation = organisation_of_referral(grant.referral_id)
    if organisation is None or organisation not in organisations:
        raise SelfFillRefused(404, _NOT_A_LINK, "unknown_referral")
    repository = repository_of(organisation)
    if repository.answers_exist(self_fill_answers_id(grant.link_id)):
        raise SelfFillRefused(409, _USED, "used")
    try:
        defn = _catalogue(repository, organisation, grant.form_id).get(grant.form_id, grant.version)
    except forms.UnknownFormVersion:
        raise SelfFillRefused(
            410, "this form is no longer in use; ask your worker", "form_withdrawn"
        ) from None
    granted = set(grant.question_ids)
    restricted = dataclasses.replace(
        defn,
        steps=tuple(
            dataclasses.replace(
                step,
                questions=tuple(
                    dataclasses.replace(q, self_fill=q.self_fill and q.id in granted)
                    for q in step.questions
                ),
            )
            for step in defn.steps
        ),
    )
    return organisation, SelfFillForm(grant, restricted)


def self_fill_questions(form: SelfFillForm) -> list[dict[str, Any]]:
    """What the person sees: the granted questions and nothing else."""
    return [form_codec.question_to_dict(q) for q in form.definition.questions() if q.self_fill]


def submit_self_fill(
    organisation: str,
    form: SelfFillForm,
    answers: object,
    uow: UnitOfWork,
    repository: FormsRepository,
) -> dict[str, Any]:
    """Check the person's answers the same way a worker's are checked and store them
    once: the link's id is the stored record's id, so a second submission finds it."""
    if not isinstance(answers, Mapping):
        raise InvalidArgument([common.FieldError("answers", "must map question ids to answers")])
    now = uow.now
    plain = form_codec.plain_answers(answers)
    problems = form.grant.answers_outside(plain) + forms.validate_answers(
        form.definition, plain, now.date(), only_self_fill=True
    )
    if problems:
        # One complaint per field: both checks refuse a question outside the link.
        first = {e.field: e for e in reversed(problems)}
        raise InvalidArgument(to_common(reversed(list(first.values()))))
    centre = referral_centre(organisation, form.grant.referral_id) or ""
    record = {
        "id": self_fill_answers_id(form.grant.link_id),
        "centre_id": centre,
        "referral_id": form.grant.referral_id,
        "form_id": form.grant.form_id,
        "form_version": form.grant.version,
        "answers": plain,
        "verdicts": [],
        "submitted_by": SELF_FILL_SUBMITTER,
        "submitted_at": now,
    }
    if not repository.add_answers(record):
        raise SelfFillRefused(409, _USED, "used")
    return record
