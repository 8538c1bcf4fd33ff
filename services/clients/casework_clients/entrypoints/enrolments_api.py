"""gRPC calls about a card's enrolments in projects (translation only: the rules are
``domain.enrolments`` and ``use_cases.enrolments``)."""

from __future__ import annotations

import grpc

from casework.clients.v1 import clients_pb2
from casework_clients.entrypoints import requests
from casework_clients.entrypoints.servicer_base import ServicerBase
from casework_clients.use_cases import enrolments
from casework_common.grpc_runtime import current_principal
from casework_common.unit_of_work import current_unit_of_work


class EnrolmentRpcs(ServicerBase):
    """EnrolClient, EndEnrolment."""

    def EnrolClient(
        self, request: clients_pb2.EnrolClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.EnrolClientResponse:
        principal = current_principal()
        card = enrolments.enrol_client(
            requests.enrol_client(request),
            current_unit_of_work(),
            self._clients.cards_for(principal),
            settings=self._settings(principal),
        )
        return clients_pb2.EnrolClientResponse(client=self._msg(card))

    def EndEnrolment(
        self, request: clients_pb2.EndEnrolmentRequest, context: grpc.ServicerContext
    ) -> clients_pb2.EndEnrolmentResponse:
        principal = current_principal()
        card = enrolments.end_enrolment(
            requests.end_enrolment(request),
            current_unit_of_work(),
            self._clients.cards_for(principal),
            settings=self._settings(principal),
        )
        return clients_pb2.EndEnrolmentResponse(client=self._msg(card))
