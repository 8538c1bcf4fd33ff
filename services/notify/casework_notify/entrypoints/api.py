"""gRPC entry point of notify: each worker's inbox."""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.messages import guard_requests
from casework_common.paging import next_token, page_window
from casework_common.unit_of_work import current_unit_of_work
from casework_notify import services
from casework_notify.bootstrap import Notify, bootstrap
from casework_notify.domain.inbox import Notification


def to_message(n: Notification) -> notify_pb2.Notification:
    message = notify_pb2.Notification(
        notification_id=n.notification_id,
        worker_id=n.worker_id,
        kind=n.kind,
        title=n.title,
        body=n.body,
        client_id=n.client_id,
        referral_id=n.referral_id,
        centre_id=n.centre_id,
        routing_reason=n.routing_reason,
        subject_kind=n.subject_kind,
        subject_id=n.subject_id,
    )
    created_at = Timestamp()
    created_at.FromDatetime(n.created_at)
    message.created_at.CopyFrom(created_at)
    if n.read_at:
        read_at = Timestamp()
        read_at.FromDatetime(n.read_at)
        message.read_at.CopyFrom(read_at)
    return message


@guard_requests
class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, notify: Notify) -> None:
        self._notify = notify

    def ListInbox(
        self, request: notify_pb2.ListInboxRequest, context: grpc.ServicerContext
    ) -> notify_pb2.ListInboxResponse:
        inbox = self._notify.inbox_of(current_unit_of_work())
        offset, limit = page_window(request.page_size, request.page_token)
        page = inbox.page(unread_only=request.unread_only, offset=offset, limit=limit)
        return notify_pb2.ListInboxResponse(
            notifications=[to_message(n) for n in page],
            next_page_token=next_token(offset, limit, len(page)),
            unread_count=inbox.unread_count(),
        )

    def MarkNotificationRead(
        self, request: notify_pb2.MarkNotificationReadRequest, context: grpc.ServicerContext
    ) -> notify_pb2.MarkNotificationReadResponse:
        uow = current_unit_of_work()
        notification = services.mark_read(
            services.MarkNotificationRead(request.notification_id),
            uow,
            self._notify.inbox_of(uow),
        )
        return notify_pb2.MarkNotificationReadResponse(notification=to_message(notification))


def register(server: grpc.Server) -> Iterable[str]:
    notify_pb2_grpc.add_NotifyServiceServicer_to_server(NotifyServicer(bootstrap()), server)
    return [notify_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name]
