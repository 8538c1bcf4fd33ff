"""Messages <-> domain values for feedback's servicer."""

from __future__ import annotations

from casework.feedback.v1 import feedback_pb2
from casework_common.errors import FieldError, InvalidArgument
from casework_common.messages import same_fields, timestamp
from casework_feedback.adapters.audit import AuditEntry
from casework_feedback.domain import campaigns, complaints, followup, linter, reports
from casework_feedback.domain.surveys import (
    Aspect,
    Audience,
    DefinitionStatus,
    Question,
    QuestionKind,
    SurveyDefinition,
)


def to_definition(message: feedback_pb2.SurveyDefinition) -> SurveyDefinition:
    errors: list[FieldError] = []
    audiences = {a.value: a for a in Audience}
    kinds = {k.value: k for k in QuestionKind}
    aspects = {a.value: a for a in Aspect}
    if message.audience not in audiences:
        errors.append(FieldError("definition.audience", f"must be one of {', '.join(audiences)}"))
    questions = []
    for i, q in enumerate(message.questions):
        where = f"definition.questions[{i}]"
        if q.kind not in kinds:
            errors.append(FieldError(f"{where}.kind", f"must be one of {', '.join(kinds)}"))
            continue
        if q.aspect and q.aspect not in aspects:
            errors.append(
                FieldError(f"{where}.aspect", f"must be empty or one of {', '.join(aspects)}")
            )
            continue
        scale = (q.scale_min, q.scale_max) if (q.scale_min or q.scale_max) else (1, 5)
        questions.append(
            Question(
                question_id=q.question_id,
                kind=kinds[q.kind],
                text=q.text,
                aspect=aspects[q.aspect] if q.aspect else None,
                options=tuple(q.options),
                scale_min=scale[0],
                scale_max=scale[1],
                required=q.required,
            )
        )
    if errors:
        raise InvalidArgument(errors)
    return SurveyDefinition(
        survey_id=message.survey_id,
        version=0,
        centre_id=message.centre_id,
        title=message.title,
        audience=audiences[message.audience],
        language=message.language or "en",
        questions=tuple(questions),
        status=DefinitionStatus.DRAFT,
        department_id=message.department_id,
    )


def definition_message(s: SurveyDefinition) -> feedback_pb2.SurveyDefinition:
    return feedback_pb2.SurveyDefinition(
        **same_fields(s, "survey_id version centre_id title language department_id"),
        audience=s.audience.value,
        status=s.status.value,
        questions=[
            feedback_pb2.Question(
                **same_fields(q, "question_id text scale_min scale_max required"),
                kind=q.kind.value,
                aspect=q.aspect.value if q.aspect else "",
                options=list(q.options),
            )
            for q in s.questions
        ],
    )


def warning_messages(warnings: list[linter.LintWarning]) -> list[feedback_pb2.LintWarning]:
    return [
        feedback_pb2.LintWarning(code=w.code.value, question_id=w.question_id, message=w.message)
        for w in warnings
    ]


def to_answers(answers: list[feedback_pb2.Answer], field: str = "answers") -> dict[str, object]:
    out: dict[str, object] = {}
    errors: list[FieldError] = []
    for i, a in enumerate(answers):
        which = a.WhichOneof("value")
        if not a.question_id:
            errors.append(FieldError(f"{field}[{i}].question_id", "is required"))
            continue
        if a.question_id in out:
            errors.append(FieldError(f"{field}[{i}].question_id", "is answered twice"))
            continue
        if which is None:
            errors.append(FieldError(f"{field}[{i}]", "carries no answer"))
            continue
        value: object = getattr(a, which)
        if which == "choices":
            value = list(a.choices.values)
        out[a.question_id] = value
    if errors:
        raise InvalidArgument(errors)
    return out


def call_message(c: followup.FollowUpCall) -> feedback_pb2.FollowUpCall:
    return feedback_pb2.FollowUpCall(
        **same_fields(c, "call_id centre_id client_id occasion_id assignee_id cancelled_because"),
        kind=c.kind.value,
        due_at=timestamp(c.due_at),
        status=c.status.value,
    )


def complaint_message(c: complaints.Complaint) -> feedback_pb2.Complaint:
    return feedback_pb2.Complaint(
        **same_fields(c, "complaint_id centre_id subject_ref client_id answered reply_to"),
        kind=c.kind.value,
        channel=c.channel.value,
        subject=c.subject.value,
        received_at=timestamp(c.received_at),
        answer_due=timestamp(c.answer_due),
        entries=[
            feedback_pb2.ComplaintEntry(
                **same_fields(e, "entry_id text by corrects"),
                kind=e.kind.value,
                at=timestamp(e.at),
            )
            for e in c.entries
        ],
    )


def campaign_message(c: campaigns.Campaign) -> feedback_pb2.Campaign:
    done, total = c.progress()
    return feedback_pb2.Campaign(
        **same_fields(c, "campaign_id centre_id provider_id decision_note"),
        survey_id=c.template.survey_id,
        version=c.template.version,
        assignments=[
            feedback_pb2.CampaignAssignment(
                **same_fields(a, "client_id area reviewer_id done unreachable"),
                collected_by=a.collected_by.value if a.collected_by else "",
            )
            for a in c.assignments
        ],
        done=done,
        total=total,
        status=c.status.value,
        decision=c.decision.value if c.decision else "",
        collected_by=c.collected(),
        summaries=[
            feedback_pb2.QuestionSummary(
                question_id=s.question_id,
                answered=s.answered,
                mean_score=-1.0 if s.mean_score is None else s.mean_score,
                counts=dict(s.counts),
                by_area=dict(s.by_area),
                by_collected_by=dict(s.by_collected_by),
            )
            for s in campaigns.compare(c)
        ],
    )


def row_message(r: reports.ReportRow) -> feedback_pb2.ReportRow:
    return feedback_pb2.ReportRow(
        **same_fields(r, "group period suppressed"),
        responses=r.responses or 0,
        mean_score=r.mean_score or 0.0,
        negative_share=r.negative_share or 0.0,
        change=r.change or 0.0,
        has_change=r.change is not None,
    )


def theme_message(t: reports.Theme) -> feedback_pb2.Theme:
    return feedback_pb2.Theme(
        **same_fields(t, "centre_id aspect negative_responses responses"),
    )


def audit_entry_message(entry: AuditEntry) -> feedback_pb2.AuditEntry:
    return feedback_pb2.AuditEntry(
        **same_fields(entry, "subject action client_id centre_id trace_id"),
        record_id=entry.record,
        at=timestamp(entry.at),
    )
