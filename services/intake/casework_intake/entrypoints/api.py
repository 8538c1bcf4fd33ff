"""gRPC entry point of intake: translates messages to commands and back."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework_common.grpc_runtime import current_principal
from casework_common.telemetry import current_trace_carrier
from casework_intake import services
from casework_intake.bootstrap import Intake, bootstrap
from casework_intake.domain.referrals import Channel, Referral, SubmitReferral

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
    submitted_at = Timestamp()
    submitted_at.FromDatetime(referral.submitted_at)
    return intake_pb2.Referral(
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
        submitted_at=submitted_at,
    )


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, intake: Intake) -> None:
        self._intake = intake

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
        )
        return intake_pb2.SubmitReferralResponse(referral=to_message(referral), replayed=replayed)

    def GetReferral(
        self, request: intake_pb2.GetReferralRequest, context: grpc.ServicerContext
    ) -> intake_pb2.GetReferralResponse:
        principal = current_principal()
        referral = self._intake.referrals_for(principal).get(request.referral_id)
        return intake_pb2.GetReferralResponse(referral=to_message(referral))


def register(server: grpc.Server) -> Iterable[str]:
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(IntakeServicer(bootstrap()), server)
    return [intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name]
