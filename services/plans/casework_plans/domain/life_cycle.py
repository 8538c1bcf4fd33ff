"""A plan's life: drafted, edited as a draft, signed by both into effect (a signed
version never changes), reviewed into a new version, goals' progress, closed with an
evaluation. A review, or a version taking effect with the client, answers the reviews
feedback asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from casework_common.errors import FailedPrecondition, FieldError, raise_if_any
from casework_common.values import length_error
from casework_plans.domain.plans import (
    CLOSED_CLIENT_STATUSES,
    MAX_NAME,
    Closure,
    Content,
    GoalProgress,
    Plan,
    Progress,
    Signature,
    Signer,
    Version,
    VersionStatus,
    field_text_errors,
    signing_errors,
    validate_content,
)


def draft(
    *,
    plan_id: str,
    organisation: str,
    client_id: str,
    family_id: str,
    centre_ids: Sequence[str],
    worker_id: str,
    content: Content,
    by: str,
    now: datetime,
    idempotency_key: str = "",
    fingerprint: str = "",
) -> Plan:
    raise_if_any(validate_content(content, today=now.date()))
    return Plan(
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        plan_id=plan_id,
        organisation=organisation,
        client_id=client_id,
        family_id=family_id,
        centre_ids=tuple(centre_ids),
        worker_id=worker_id,
        versions=(Version(1, VersionStatus.DRAFT, content, by, now),),
    )


def _require_draft(plan: Plan, version: int) -> Version:
    current = plan.current
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    if version != current.number or current.status is not VersionStatus.DRAFT:
        raise FailedPrecondition(
            f"version {version} of plan {plan.plan_id} is not the draft; a signed version "
            "never changes, a review makes a new one",
            field="version",
        )
    return current


def edit_draft(plan: Plan, version: int, content: Content, *, now: datetime) -> Plan:
    """Replace the draft's content; the signatures gathered so far no longer hold."""
    current = _require_draft(plan, version)
    raise_if_any(validate_content(content, today=now.date()))
    edited = replace(current, content=content, signatures=())
    return replace(plan, versions=(*plan.versions[:-1], edited))


def sign(
    plan: Plan,
    version: int,
    signer: Signer,
    name: str,
    *,
    client_status: str | None,
    by: str,
    now: datetime,
) -> tuple[Plan, bool]:
    """Record one signature; answers the plan and whether the version took effect (both
    signatures present). A version that takes effect supersedes the previous one.

    `client_status` is the client's status as plans last heard it (None: not heard)."""
    current = _require_draft(plan, version)
    errors = field_text_errors("name", name, required=True)
    if length_error(name, MAX_NAME):
        errors.append(FieldError("name", f"at most {MAX_NAME} characters"))
    raise_if_any(errors)
    raise_if_any(signing_errors(current.content))
    raise_if_any(validate_content(current.content, today=now.date()))
    if client_status in CLOSED_CLIENT_STATUSES:
        raise FailedPrecondition(
            f"the client's status is {client_status}: no plan takes effect", field="client_id"
        )
    if any(s.signer is signer for s in current.signatures):
        raise FailedPrecondition(f"the {signer.value} has signed already", field="signer")
    signatures = (*current.signatures, Signature(signer, name.strip(), by, now))
    complete = {s.signer for s in signatures} == set(Signer)
    signed = replace(
        current,
        signatures=signatures,
        status=VersionStatus.IN_EFFECT if complete else VersionStatus.DRAFT,
        in_effect_from=now if complete else None,
    )
    versions = list(plan.versions[:-1])
    if complete:
        versions = [
            replace(v, status=VersionStatus.SUPERSEDED, ended_at=now)
            if v.status is VersionStatus.IN_EFFECT
            else v
            for v in versions
        ]
    signed_plan = replace(plan, versions=(*versions, signed), checked_on=None)
    if complete:
        signed_plan = answer_review_requests(signed_plan, version=version, by=by, now=now)
    return signed_plan, complete


def start_review(
    plan: Plan, *, outcome: str, content: Content | None, by: str, now: datetime
) -> Plan:
    """A review with the client: its outcome is kept on the version in effect (a note
    beside the signed content, not a change of it) and a new draft starts from that
    content, or from `content` when the review already reshaped it."""
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    effective = plan.in_effect
    if effective is None:
        raise FailedPrecondition("only a plan in effect is reviewed", field="plan_id")
    if plan.current.status is VersionStatus.DRAFT:
        raise FailedPrecondition(
            f"version {plan.current.number} is already the review's draft", field="plan_id"
        )
    raise_if_any(field_text_errors("outcome", outcome, required=True))
    new_content = content if content is not None else effective.content
    raise_if_any(validate_content(new_content, today=now.date()))
    reviewed = replace(effective, review_outcome=outcome)
    versions = tuple(reviewed if v.number == effective.number else v for v in plan.versions)
    new = Version(plan.current.number + 1, VersionStatus.DRAFT, new_content, by, now)
    reviewed_plan = replace(plan, versions=(*versions, new))
    return answer_review_requests(reviewed_plan, version=new.number, by=by, now=now)


def answer_review_requests(plan: Plan, *, version: int, by: str, now: datetime) -> Plan:
    """Every pending review request answered by `version` (the review's draft, or the
    version that took effect); kept on the plan, never removed."""
    if not plan.pending_review_requests:
        return plan
    answered = tuple(
        replace(r, answered_at=now, answered_by=by, answered_in_version=version) if r.pending else r
        for r in plan.review_requests
    )
    return replace(plan, review_requests=answered)


def record_progress(
    plan: Plan, goal_id: str, progress: Progress, note: str, *, by: str, now: datetime
) -> Plan:
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed", field="plan_id")
    effective = plan.in_effect
    if effective is None:
        raise FailedPrecondition("progress is recorded on a plan in effect", field="plan_id")
    if goal_id not in {g.goal_id for g in effective.content.goals}:
        raise_if_any([FieldError("goal_id", "is not a goal of the plan in effect")])
    errors = field_text_errors("note", note, required=progress is Progress.DROPPED)
    if errors and progress is Progress.DROPPED and not note.strip():
        errors = [FieldError("note", "a dropped goal needs its reason")]
    raise_if_any(errors)
    entry = GoalProgress(goal_id, progress, note.strip(), by, now)
    return replace(plan, progress=(*plan.progress, entry))


def close(plan: Plan, evaluation: str, *, by: str, now: datetime) -> Plan:
    """Close the plan with an evaluation of each goal of the version in effect."""
    if plan.closure is not None:
        raise FailedPrecondition(f"plan {plan.plan_id} is closed already", field="plan_id")
    raise_if_any(field_text_errors("evaluation", evaluation, required=True))
    effective = plan.in_effect
    goals = effective.content.goals if effective else ()
    outcome: dict[Progress, list[str]] = {p: [] for p in Progress}
    for goal in goals:
        latest = plan.progress_of(goal.goal_id)
        outcome[latest.progress if latest else Progress.OPEN].append(goal.goal_id)
    closure = Closure(
        closed_by=by,
        closed_at=now,
        evaluation=evaluation.strip(),
        reached=tuple(outcome[Progress.REACHED]),
        dropped=tuple(outcome[Progress.DROPPED]),
        not_reached=tuple(outcome[Progress.OPEN] + outcome[Progress.IN_PROGRESS]),
    )
    versions = tuple(
        replace(v, status=VersionStatus.CLOSED, ended_at=now)
        if v.status in (VersionStatus.IN_EFFECT, VersionStatus.DRAFT)
        else v
        for v in plan.versions
    )
    return replace(plan, versions=versions, closure=closure)
