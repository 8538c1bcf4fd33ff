"""gRPC calls about projects and their status settings (translation only: the rules are
``domain.projects`` and ``use_cases.projects``)."""

from __future__ import annotations

import grpc

from casework.clients.v1 import clients_pb2
from casework_clients.entrypoints.servicer_base import ServicerBase
from casework_clients.entrypoints.translate import MODE_NAME, project_message, settings_message
from casework_clients.use_cases import projects
from casework_common import values
from casework_common.errors import FieldError, InvalidArgument
from casework_common.grpc_runtime import current_principal
from casework_common.unit_of_work import current_unit_of_work


def _values(request: clients_pb2.SetProjectStatusSettingsRequest) -> projects.SettingsValues | None:
    if not request.HasField("settings"):
        return None
    s = request.settings
    return projects.SettingsValues(
        mode=MODE_NAME.get(s.mode, ""),
        use_approached=s.use_approached,
        inactivity_days=s.inactivity_days,
        shared_with_family=s.shared_with_family,
        rejection_reasons=tuple(s.rejection_reasons),
        termination_reasons=tuple(s.termination_reasons),
    )


class ProjectRpcs(ServicerBase):
    """ListProjects, GetProject, SetProjectStatusSettings."""

    def ListProjects(
        self, request: clients_pb2.ListProjectsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListProjectsResponse:
        principal = current_principal()
        book = projects.list_projects(
            self._clients.projects_of(principal.organisation),
            self._clients.status_settings_of(principal.organisation),
        )
        today = self._today()
        return clients_pb2.ListProjectsResponse(
            projects=[project_message(p, today) for _, p in sorted(book.projects.items())],
            organisation_default=settings_message(book.default),
        )

    def GetProject(
        self, request: clients_pb2.GetProjectRequest, context: grpc.ServicerContext
    ) -> clients_pb2.GetProjectResponse:
        principal = current_principal()
        project = projects.read_project(
            request.project_id, self._clients.projects_of(principal.organisation)
        )
        return clients_pb2.GetProjectResponse(project=project_message(project, self._today()))

    def SetProjectStatusSettings(
        self,
        request: clients_pb2.SetProjectStatusSettingsRequest,
        context: grpc.ServicerContext,
    ) -> clients_pb2.SetProjectStatusSettingsResponse:
        principal = current_principal()
        effective_from = (
            values.iso_day(request.effective_from) if request.effective_from else self._today()
        )
        if effective_from is None:
            raise InvalidArgument([FieldError("effective_from", "must be a date YYYY-MM-DD")])
        project = projects.set_project_settings(
            projects.SetProjectSettings(
                project_id=request.project_id,
                name=request.name,
                settings=_values(request),
                effective_from=effective_from,
                expected_version=request.expected_version,
                note=request.note,
            ),
            current_unit_of_work(),
            self._clients.projects_of(principal.organisation),
        )
        return clients_pb2.SetProjectStatusSettingsResponse(
            project=project_message(project, self._today())
        )
