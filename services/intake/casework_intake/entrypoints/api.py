"""gRPC entry point of intake: translates messages to commands and back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework_common.errors import FieldError, InvalidArgument
from casework_common.grpc_runtime import current_principal
from casework_common.paging import next_token, page_window
from casework_common.telemetry import current_trace_carrier
from casework_intake import services
from casework_intake.bootstrap import Intake, bootstrap
from casework_intake.domain import form_codec
from casework_intake.domain.consultations import Consultation, RecordConsultation
from casework_intake.domain.forms import FormDefinition
from casework_intake.domain.referrals import Channel, Referral, SubmitReferral
from casework_intake.domain.routing_rules import Case, Rule, RuleSet

SELF_FILL_PATH = "/public/v1/self-fill/"

_CHANNELS = {
    intake_pb2.CHANNEL_PHONE: Channel.PHONE,
    intake_pb2.CHANNEL_EMAIL: Channel.EMAIL,
    intake_pb2.CHANNEL_WEB_FORM: Channel.WEB_FORM,
    intake_pb2.CHANNEL_PARTNER_REFERRAL: Channel.PARTNER_REFERRAL,
    intake_pb2.CHANNEL_CLIENT_REFERRAL: Channel.CLIENT_REFERRAL,
    intake_pb2.CHANNEL_GROUP_EVENT: Channel.GROUP_EVENT,
    intake_pb2.CHANNEL_OUTREACH: Channel.OUTREACH,
}
_CHANNEL_CODES = {channel: code for code, channel in _CHANNELS.items()}


def _timestamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(data))
    return message


def to_command(request: intake_pb2.SubmitReferralRequest) -> SubmitReferral:
    return SubmitReferral(
        idempotency_key=request.idempotency_key,
        given_name=request.person.given_name,
        family_name=request.person.family_name,
        date_of_birth=request.person.date_of_birth,
        phone=request.contact.phone,
        email=request.contact.email,
        address=request.contact.address,
        region_id=request.region_id,
        centre_id=request.centre_id,
        client_type=request.client_type,
        problem_type=request.problem_type,
        channel=_CHANNELS.get(request.channel),
        free_text=request.free_text,
    )


def to_message(referral: Referral) -> intake_pb2.Referral:
    message = intake_pb2.Referral(
        referral_id=referral.referral_id,
        reference_number=referral.reference_number,
        person=intake_pb2.Person(
            given_name=referral.given_name,
            family_name=referral.family_name,
            date_of_birth=referral.date_of_birth.isoformat(),
        ),
        contact=intake_pb2.Contact(
            phone=referral.phone, email=referral.email, address=referral.address
        ),
        region_id=referral.region_id,
        centre_id=referral.centre_id,
        client_type=referral.client_type,
        problem_type=referral.problem_type,
        channel=_CHANNEL_CODES[referral.channel],
        free_text=referral.free_text,
        idempotency_key=referral.idempotency_key,
        submitted_by=referral.submitted_by,
        submitted_at=_timestamp(referral.submitted_at),
        first_response_due_at=_timestamp(referral.first_response_due_at),
        acknowledged_at=_timestamp(referral.acknowledged_at),
        acknowledged_by=referral.acknowledged_by,
        first_contact_at=_timestamp(referral.first_contact_at),
        first_contact_by=referral.first_contact_by,
        escalated_at=_timestamp(referral.escalated_at),
    )
    if referral.first_contact_channel is not None:
        message.first_contact_channel = _CHANNEL_CODES[referral.first_contact_channel]
    return message


def to_consultation_command(request: intake_pb2.RecordConsultationRequest) -> RecordConsultation:
    return RecordConsultation(
        idempotency_key=request.idempotency_key,
        given_name=request.person.given_name,
        family_name=request.person.family_name,
        date_of_birth=request.person.date_of_birth,
        phone=request.contact.phone,
        email=request.contact.email,
        topic=request.topic,
        duration_minutes=request.duration_minutes,
        worker_id=request.worker_id,
        channel=_CHANNELS.get(request.channel),
        centre_id=request.centre_id,
        notes=request.notes,
    )


def consultation_message(c: Consultation) -> intake_pb2.Consultation:
    return intake_pb2.Consultation(
        consultation_id=c.consultation_id,
        person=intake_pb2.Person(
            given_name=c.given_name,
            family_name=c.family_name,
            date_of_birth=c.date_of_birth.isoformat() if c.date_of_birth else "",
        ),
        contact=intake_pb2.Contact(phone=c.phone, email=c.email),
        topic=c.topic,
        duration_minutes=c.duration_minutes,
        worker_id=c.worker_id,
        channel=_CHANNEL_CODES[c.channel],
        centre_id=c.centre_id,
        notes=c.notes,
        recorded_at=_timestamp(c.recorded_at),
        idempotency_key=c.idempotency_key,
    )


def to_rule(message: intake_pb2.RoutingRule) -> Rule:
    return Rule(
        id=message.id,
        priority=message.priority,
        regions=tuple(message.regions),
        centres=tuple(message.centres),
        client_types=tuple(message.client_types),
        problem_types=tuple(message.problem_types),
        workers=tuple(message.workers),
    )


def rule_set_message(rule_set: RuleSet) -> intake_pb2.RoutingRuleSet:
    return intake_pb2.RoutingRuleSet(
        version=rule_set.version,
        rules=[
            intake_pb2.RoutingRule(
                id=r.id,
                priority=r.priority,
                regions=r.regions,
                centres=r.centres,
                client_types=r.client_types,
                problem_types=r.problem_types,
                workers=r.workers,
            )
            for r in rule_set.rules
        ],
        fallback=rule_set.fallback,
        saved_by=rule_set.saved_by,
        saved_at=_timestamp(rule_set.saved_at),
        published_at=_timestamp(rule_set.published_at),
        published_by=rule_set.published_by,
    )


def form_message(defn: FormDefinition, by: str, at: datetime) -> intake_pb2.FormVersion:
    return intake_pb2.FormVersion(
        form_id=defn.form_id,
        version=defn.version,
        title=defn.title,
        definition_json=json.dumps(form_codec.definition_to_dict(defn), ensure_ascii=False),
        published_by=by,
        published_at=_timestamp(at),
    )


def answers_message(record: Mapping[str, Any]) -> intake_pb2.FormAnswers:
    return intake_pb2.FormAnswers(
        answers_id=record["id"],
        referral_id=record["referral_id"],
        form_id=record["form_id"],
        form_version=record["form_version"],
        answers=_struct(record["answers"]),
        verdicts=[
            intake_pb2.EligibilityVerdict(
                programme_id=v["programme_id"],
                eligible=bool(v["eligible"]),
                reason=v["reason"],
                deciding_question_ids=list(v["deciding_question_ids"]),
            )
            for v in record["verdicts"]
        ],
        submitted_by=record["submitted_by"],
        submitted_at=_timestamp(record["submitted_at"]),
    )


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, intake: Intake) -> None:
        self._intake = intake

    # ------------------------------------------------------------ referrals

    def SubmitReferral(
        self, request: intake_pb2.SubmitReferralRequest, context: grpc.ServicerContext
    ) -> intake_pb2.SubmitReferralResponse:
        principal = current_principal()
        referral, replayed = services.submit_referral(
            to_command(request),
            principal,
            self._intake.organisation_of(principal),
            self._intake.referrals_for(principal),
            now=self._intake.clock(),
            trace=current_trace_carrier(),
            first_response_hours=self._intake.first_response_hours_of(principal.organisation),
        )
        return intake_pb2.SubmitReferralResponse(referral=to_message(referral), replayed=replayed)

    def GetReferral(
        self, request: intake_pb2.GetReferralRequest, context: grpc.ServicerContext
    ) -> intake_pb2.GetReferralResponse:
        principal = current_principal()
        referral = self._intake.referrals_for(principal).get(request.referral_id)
        return intake_pb2.GetReferralResponse(referral=to_message(referral))

    def AcknowledgeReferral(
        self, request: intake_pb2.AcknowledgeReferralRequest, context: grpc.ServicerContext
    ) -> intake_pb2.AcknowledgeReferralResponse:
        principal = current_principal()
        if not request.referral_id:
            raise InvalidArgument([FieldError("referral_id", "is required")])
        referral = services.acknowledge_referral(
            request.referral_id,
            principal,
            self._intake.referrals_for(principal),
            now=self._intake.clock(),
            trace=current_trace_carrier(),
        )
        return intake_pb2.AcknowledgeReferralResponse(referral=to_message(referral))

    def RecordFirstContact(
        self, request: intake_pb2.RecordFirstContactRequest, context: grpc.ServicerContext
    ) -> intake_pb2.RecordFirstContactResponse:
        principal = current_principal()
        referral = services.record_first_contact(
            request.referral_id,
            _CHANNELS.get(request.channel),
            request.note,
            principal,
            self._intake.referrals_for(principal),
            now=self._intake.clock(),
            trace=current_trace_carrier(),
        )
        return intake_pb2.RecordFirstContactResponse(referral=to_message(referral))

    # -------------------------------------------------------- consultations

    def RecordConsultation(
        self, request: intake_pb2.RecordConsultationRequest, context: grpc.ServicerContext
    ) -> intake_pb2.RecordConsultationResponse:
        principal = current_principal()
        consultation, replayed = services.record_consultation(
            to_consultation_command(request),
            principal,
            self._intake.organisation_of(principal),
            self._intake.consultations_for(principal),
            now=self._intake.clock(),
            trace=current_trace_carrier(),
        )
        return intake_pb2.RecordConsultationResponse(
            consultation=consultation_message(consultation), replayed=replayed
        )

    def ListConsultations(
        self, request: intake_pb2.ListConsultationsRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListConsultationsResponse:
        principal = current_principal()
        offset, limit = page_window(request.page_size, request.page_token)
        if request.centre_id:
            principal.require_centre(request.centre_id)
        page = self._intake.consultations_for(principal).page(
            centre_id=request.centre_id, offset=offset, limit=limit
        )
        return intake_pb2.ListConsultationsResponse(
            consultations=[consultation_message(c) for c in page],
            next_page_token=next_token(offset, limit, len(page)),
        )

    # -------------------------------------------------------- routing rules

    def SaveRoutingRules(
        self, request: intake_pb2.SaveRoutingRulesRequest, context: grpc.ServicerContext
    ) -> intake_pb2.SaveRoutingRulesResponse:
        principal = current_principal()
        rule_set = services.save_routing_rules(
            [to_rule(r) for r in request.rules],
            principal,
            self._intake.organisation_of(principal),
            self._intake.routing_rules_of(principal.organisation),
            now=self._intake.clock(),
        )
        return intake_pb2.SaveRoutingRulesResponse(rule_set=rule_set_message(rule_set))

    def ListRoutingRuleSets(
        self, request: intake_pb2.ListRoutingRuleSetsRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListRoutingRuleSetsResponse:
        principal = current_principal()
        self._intake.organisation_of(principal)
        offset, limit = page_window(request.page_size, request.page_token)
        repository = self._intake.routing_rules_of(principal.organisation)
        page = repository.page(offset=offset, limit=limit)
        published = repository.published()
        return intake_pb2.ListRoutingRuleSetsResponse(
            rule_sets=[rule_set_message(r) for r in page],
            next_page_token=next_token(offset, limit, len(page)),
            published_version=published.version if published else 0,
        )

    def PublishRoutingRules(
        self, request: intake_pb2.PublishRoutingRulesRequest, context: grpc.ServicerContext
    ) -> intake_pb2.PublishRoutingRulesResponse:
        principal = current_principal()
        rule_set = services.publish_routing_rules(
            request.version,
            principal,
            self._intake.organisation_of(principal),
            self._intake.routing_rules_of(principal.organisation),
            now=self._intake.clock(),
            trace=current_trace_carrier(),
        )
        return intake_pb2.PublishRoutingRulesResponse(rule_set=rule_set_message(rule_set))

    def DryRunRouting(
        self, request: intake_pb2.DryRunRoutingRequest, context: grpc.ServicerContext
    ) -> intake_pb2.DryRunRoutingResponse:
        principal = current_principal()
        version, result = services.dry_run_routing(
            request.version,
            Case(request.centre_id, request.client_type, request.problem_type),
            self._intake.organisation_of(principal),
            self._intake.routing_rules_of(principal.organisation),
        )
        return intake_pb2.DryRunRoutingResponse(
            version=version,
            recipients=[
                intake_pb2.RoutingRecipient(worker_id=r.worker_id, reason=r.reason)
                for r in result.recipients
            ],
            matching_rule_ids=list(result.matching_rule_ids),
        )

    # ---------------------------------------------------------------- forms

    def PublishForm(
        self, request: intake_pb2.PublishFormRequest, context: grpc.ServicerContext
    ) -> intake_pb2.PublishFormResponse:
        principal = current_principal()
        try:
            definition = json.loads(request.definition_json or "null")
        except json.JSONDecodeError as exc:
            raise InvalidArgument([FieldError("definition_json", f"is not JSON: {exc}")]) from None
        now = self._intake.clock()
        published = services.publish_form(
            request.form_id, definition, principal, self._intake.forms_for(principal), now=now
        )
        return intake_pb2.PublishFormResponse(form=form_message(published, principal.subject, now))

    def GetForm(
        self, request: intake_pb2.GetFormRequest, context: grpc.ServicerContext
    ) -> intake_pb2.GetFormResponse:
        principal = current_principal()
        defn, meta = services.get_form(
            request.form_id, request.version, principal, self._intake.forms_for(principal)
        )
        return intake_pb2.GetFormResponse(
            form=form_message(defn, meta["published_by"], meta["published_at"])
        )

    def SubmitFormAnswers(
        self, request: intake_pb2.SubmitFormAnswersRequest, context: grpc.ServicerContext
    ) -> intake_pb2.SubmitFormAnswersResponse:
        principal = current_principal()
        record = services.submit_form_answers(
            request.referral_id,
            request.form_id,
            request.form_version,
            json_format.MessageToDict(request.answers),
            principal,
            self._intake.referrals_for(principal),
            self._intake.forms_for(principal),
            now=self._intake.clock(),
        )
        return intake_pb2.SubmitFormAnswersResponse(form_answers=answers_message(record))

    def IssueSelfFillLink(
        self, request: intake_pb2.IssueSelfFillLinkRequest, context: grpc.ServicerContext
    ) -> intake_pb2.IssueSelfFillLinkResponse:
        principal = current_principal()
        token, expires_at, defn, question_ids = services.issue_self_fill_link(
            request.referral_id,
            request.form_id,
            request.form_version,
            list(request.question_ids),
            request.valid_hours,
            principal,
            self._intake.referrals_for(principal),
            self._intake.forms_for(principal),
            secret=self._intake.self_fill_secret,
            now=self._intake.clock(),
        )
        return intake_pb2.IssueSelfFillLinkResponse(
            token=token,
            path=f"{SELF_FILL_PATH}{token}",
            expires_at=_timestamp(expires_at),
            form_version=defn.version,
            question_ids=list(question_ids),
        )

    def ListFormAnswers(
        self, request: intake_pb2.ListFormAnswersRequest, context: grpc.ServicerContext
    ) -> intake_pb2.ListFormAnswersResponse:
        principal = current_principal()
        self._intake.referrals_for(principal).get(request.referral_id)
        docs = self._intake.forms_for(principal).answers_of(request.referral_id)
        return intake_pb2.ListFormAnswersResponse(
            form_answers=[
                answers_message(doc.to_mongo().to_dict() | {"id": doc.id}) for doc in docs
            ]
        )


def register(server: grpc.Server) -> Iterable[str]:
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(IntakeServicer(bootstrap()), server)
    return [intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name]
