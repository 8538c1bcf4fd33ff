"""gRPC entry point of notify: each worker's inbox (live too), reminders for other
services, outgoing e-mails, preferences, messages to clients, partner webhooks."""

from __future__ import annotations

import queue
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import grpc

from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common import contracts
from casework_common.errors import FieldError, InvalidArgument
from casework_common.messages import guard_requests, same_fields
from casework_common.messages import timestamp as _ts
from casework_common.paging import next_token, page_window, paged
from casework_common.unit_of_work import current_unit_of_work
from casework_notify import services
from casework_notify.adapters.feed import InboxFeed
from casework_notify.adapters.inbox_signal import InboxSignalListener
from casework_notify.adapters.reminders import ReminderRepository
from casework_notify.bootstrap import Notify, bootstrap
from casework_notify.domain.email import Email, Preferences
from casework_notify.domain.inbox import Link, Notification
from casework_notify.domain.reminders import Reminder
from casework_notify.domain.webhooks import Delivery, Subscription
from casework_notify.entrypoints.offers import start_offer_reader
from casework_notify.use_cases import emails, people, reminders, webhooks

PRIORITY = {
    "low": notify_pb2.PRIORITY_LOW,
    "normal": notify_pb2.PRIORITY_NORMAL,
    "high": notify_pb2.PRIORITY_HIGH,
    "urgent": notify_pb2.PRIORITY_URGENT,
}
PRIORITY_NAME = {v: k for k, v in PRIORITY.items()}
REMINDER_STATE = {
    "scheduled": notify_pb2.REMINDER_STATE_SCHEDULED,
    "fired": notify_pb2.REMINDER_STATE_FIRED,
    "cancelled": notify_pb2.REMINDER_STATE_CANCELLED,
}
EMAIL_STATE = {"pending": notify_pb2.EMAIL_STATE_PENDING, "sent": notify_pb2.EMAIL_STATE_SENT}
EMAIL_STATE_NAME = {v: k for k, v in EMAIL_STATE.items()}
DELIVERY_STATE = {
    "pending": notify_pb2.DELIVERY_STATE_PENDING,
    "delivered": notify_pb2.DELIVERY_STATE_DELIVERED,
    "dead": notify_pb2.DELIVERY_STATE_DEAD,
}
CLIENT_MESSAGE = {
    notify_pb2.CLIENT_MESSAGE_KIND_SELF_FILL: "self_fill",
    notify_pb2.CLIENT_MESSAGE_KIND_SURVEY: "survey",
}
# How often an idle stream checks that its caller is still there.
WATCH_HEARTBEAT_SECONDS = 1.0


def to_message(n: Notification) -> notify_pb2.Notification:
    return notify_pb2.Notification(
        **same_fields(
            n,
            "notification_id worker_id kind title body client_id referral_id centre_id"
            " routing_reason subject_kind subject_id needs_action",
        ),
        created_at=_ts(n.created_at),
        read_at=_ts(n.read_at),
        priority=PRIORITY.get(n.priority, notify_pb2.PRIORITY_NORMAL),
        links=[notify_pb2.Link(kind=link.kind, id=link.id) for link in n.links],
    )


def reminder_message(r: Reminder) -> notify_pb2.Reminder:
    return notify_pb2.Reminder(
        **same_fields(r, "key worker_id kind title body centre_id needs_action"),
        due_at=_ts(r.due_at),
        priority=PRIORITY.get(r.priority, notify_pb2.PRIORITY_UNSPECIFIED),
        links=[notify_pb2.Link(kind=link.kind, id=link.id) for link in r.links],
        state=REMINDER_STATE[r.state],
        fired_at=_ts(r.fired_at),
    )


def email_message(e: Email) -> notify_pb2.OutgoingEmail:
    return notify_pb2.OutgoingEmail(
        **same_fields(e, "email_id recipient subject attempts last_error"),
        state=EMAIL_STATE.get(e.state, notify_pb2.EMAIL_STATE_UNSPECIFIED),
        next_attempt_at=_ts(e.next_attempt_at) if e.state == "pending" else None,
        created_at=_ts(e.created_at),
        sent_at=_ts(e.sent_at),
    )


def preferences_message(p: Preferences) -> notify_pb2.NotificationPreferences:
    return notify_pb2.NotificationPreferences(
        email_kinds=sorted(p.email_kinds),
        quiet_from=p.quiet_from.strftime("%H:%M") if p.quiet_from else "",
        quiet_until=p.quiet_until.strftime("%H:%M") if p.quiet_until else "",
        time_zone=p.time_zone,
    )


def subscription_message(s: Subscription) -> notify_pb2.WebhookSubscription:
    return notify_pb2.WebhookSubscription(
        **same_fields(s, "subscription_id event_type url active"),
        created_at=_ts(s.created_at),
    )


def delivery_message(d: Delivery) -> notify_pb2.WebhookDelivery:
    return notify_pb2.WebhookDelivery(
        **same_fields(d, "delivery_id subscription_id event_id event_type"),
        state=DELIVERY_STATE.get(d.state, notify_pb2.DELIVERY_STATE_UNSPECIFIED),
        attempts=[
            notify_pb2.DeliveryAttempt(at=_ts(a.at), status_code=a.status_code, error=a.error)
            for a in d.attempts
        ],
        next_attempt_at=_ts(d.next_attempt_at) if d.state == "pending" else None,
    )


def reminder_from(message: notify_pb2.Reminder) -> Reminder:
    errors = []
    if not message.HasField("due_at"):
        errors.append(FieldError("reminder.due_at", "is required"))
    priority = PRIORITY_NAME.get(message.priority, "")
    if message.priority and not priority:
        errors.append(FieldError("reminder.priority", "is not a priority"))
    due_at = datetime.min.replace(tzinfo=UTC)
    if message.HasField("due_at"):
        try:
            due_at = message.due_at.ToDatetime(tzinfo=UTC)
            # The database keeps milliseconds: the moment kept is the moment answered.
            due_at = due_at.replace(microsecond=due_at.microsecond // 1000 * 1000)
        except (ValueError, OverflowError):
            errors.append(FieldError("reminder.due_at", "is not a moment"))
    if errors:
        raise InvalidArgument(errors)
    return Reminder(
        reminder_id="",
        organisation="",
        owner="",
        key=message.key,
        worker_id=message.worker_id,
        due_at=due_at,
        kind=message.kind,
        title=message.title,
        body=message.body,
        centre_id=message.centre_id,
        priority=priority,
        links=tuple(Link(link.kind, link.id) for link in message.links),
        needs_action=message.needs_action,
    )


@guard_requests
class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, notify: Notify, feed: InboxFeed | None = None) -> None:
        self._notify = notify
        self._feed = feed or InboxFeed(interval=notify.config.watch_poll)

    # --------------------------------------------------------------------- inbox

    def ListInbox(
        self, request: notify_pb2.ListInboxRequest, context: grpc.ServicerContext
    ) -> notify_pb2.ListInboxResponse:
        inbox = self._notify.inbox_of(current_unit_of_work())
        offset, limit = page_window(request.page_size, request.page_token)
        page = inbox.page(unread_only=request.unread_only, offset=offset, limit=limit)
        by_kind = inbox.unread_by_kind()
        return notify_pb2.ListInboxResponse(
            notifications=[to_message(n) for n in page],
            next_page_token=next_token(offset, limit, len(page)),
            unread_count=sum(by_kind.values()),
            unread_by_kind=by_kind,
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

    def WatchInbox(
        self, request: notify_pb2.WatchInboxRequest, context: grpc.ServicerContext
    ) -> Iterator[notify_pb2.WatchInboxResponse]:
        uow = current_unit_of_work()
        inbox = self._notify.inbox_of(uow)
        principal = uow.principal
        arrivals = self._feed.watch(principal.organisation, principal.subject)
        # Also when grpc drops the stream without running it to its end (a caller that
        # hung up between two updates).
        context.add_callback(
            lambda: self._feed.unwatch(principal.organisation, principal.subject, arrivals)
        )
        try:
            by_kind = inbox.unread_by_kind()
            yield notify_pb2.WatchInboxResponse(
                unread_count=sum(by_kind.values()), unread_by_kind=by_kind
            )
            while context.is_active():
                try:
                    notification = arrivals.get(timeout=WATCH_HEARTBEAT_SECONDS)
                except queue.Empty:
                    continue
                by_kind = inbox.unread_by_kind()
                yield notify_pb2.WatchInboxResponse(
                    notification=to_message(notification),
                    unread_count=sum(by_kind.values()),
                    unread_by_kind=by_kind,
                )
        finally:
            self._feed.unwatch(principal.organisation, principal.subject, arrivals)

    # ----------------------------------------------------------------- reminders

    def ScheduleReminder(
        self, request: notify_pb2.ScheduleReminderRequest, context: grpc.ServicerContext
    ) -> notify_pb2.ScheduleReminderResponse:
        uow = current_unit_of_work()
        reminder = reminders.schedule_reminder(
            reminders.ScheduleReminder(reminder_from(request.reminder)),
            uow,
            ReminderRepository(uow.organisation, uow.principal.subject),
            self._notify.organisation_of(uow),
        )
        return notify_pb2.ScheduleReminderResponse(reminder=reminder_message(reminder))

    def CancelReminder(
        self, request: notify_pb2.CancelReminderRequest, context: grpc.ServicerContext
    ) -> notify_pb2.CancelReminderResponse:
        uow = current_unit_of_work()
        reminder = reminders.cancel_reminder(
            request.key, uow, ReminderRepository(uow.organisation, uow.principal.subject)
        )
        return notify_pb2.CancelReminderResponse(reminder=reminder_message(reminder))

    # -------------------------------------------------------------------- e-mail

    def ListOutgoingEmails(
        self, request: notify_pb2.ListOutgoingEmailsRequest, context: grpc.ServicerContext
    ) -> notify_pb2.ListOutgoingEmailsResponse:
        uow = current_unit_of_work()
        state = EMAIL_STATE_NAME.get(request.state, "" if not request.state else "?")
        page, token = paged(
            request,
            lambda offset, limit: emails.list_emails(
                self._notify.emails, uow.organisation, state, offset, limit
            ),
        )
        found = [email_message(e) for e in page]
        return notify_pb2.ListOutgoingEmailsResponse(emails=found, next_page_token=token)

    def SetNotificationPreferences(
        self,
        request: notify_pb2.SetNotificationPreferencesRequest,
        context: grpc.ServicerContext,
    ) -> notify_pb2.SetNotificationPreferencesResponse:
        uow = current_unit_of_work()
        self._notify.inbox_of(uow)  # workers only
        wanted = request.preferences
        preferences = people.set_preferences(
            people.SetPreferences(
                tuple(wanted.email_kinds), wanted.quiet_from, wanted.quiet_until, wanted.time_zone
            ),
            uow,
            self._notify.preferences,
        )
        return notify_pb2.SetNotificationPreferencesResponse(
            preferences=preferences_message(preferences)
        )

    def GetNotificationPreferences(
        self,
        request: notify_pb2.GetNotificationPreferencesRequest,
        context: grpc.ServicerContext,
    ) -> notify_pb2.GetNotificationPreferencesResponse:
        uow = current_unit_of_work()
        self._notify.inbox_of(uow)
        preferences = people.get_preferences(uow, self._notify.preferences)
        return notify_pb2.GetNotificationPreferencesResponse(
            preferences=preferences_message(preferences)
        )

    def SendClientMessage(
        self, request: notify_pb2.SendClientMessageRequest, context: grpc.ServicerContext
    ) -> notify_pb2.SendClientMessageResponse:
        uow = current_unit_of_work()
        self._notify.inbox_of(uow)  # a worker sends it
        email = people.send_client_message(
            people.SendClientMessage(
                client_id=request.client_id,
                kind=CLIENT_MESSAGE.get(request.kind, ""),
                link=request.link,
                email=request.email,
                idempotency_key=request.idempotency_key,
            ),
            uow,
            self._notify.organisation_of(uow),
            self._notify.client_cards(),
            self._notify.consents,
            self._notify.emails,
            production=self._notify.settings.production,
        )
        return notify_pb2.SendClientMessageResponse(email=email_message(email))

    # ------------------------------------------------------------------ webhooks

    def CreateWebhookSubscription(
        self,
        request: notify_pb2.CreateWebhookSubscriptionRequest,
        context: grpc.ServicerContext,
    ) -> notify_pb2.CreateWebhookSubscriptionResponse:
        uow = current_unit_of_work()
        subscription = webhooks.create_subscription(
            webhooks.CreateSubscription(request.event_type, request.url),
            uow,
            self._notify.webhooks_of(uow.organisation),
            known_event_types=set(contracts.registry()),
            resolve=self._notify.resolve,
            production=self._notify.settings.production,
        )
        # Route that type to notify's webhook queue now (the events process also binds
        # every subscribed type when it starts, and every 30 s).
        self._notify.bind_webhook_type(subscription.event_type)
        return notify_pb2.CreateWebhookSubscriptionResponse(
            subscription=subscription_message(subscription), secret=subscription.secret
        )

    def ListWebhookSubscriptions(
        self,
        request: notify_pb2.ListWebhookSubscriptionsRequest,
        context: grpc.ServicerContext,
    ) -> notify_pb2.ListWebhookSubscriptionsResponse:
        uow = current_unit_of_work()
        found = self._notify.webhooks_of(uow.organisation).subscriptions()
        return notify_pb2.ListWebhookSubscriptionsResponse(
            subscriptions=[subscription_message(s) for s in found]
        )

    def DeleteWebhookSubscription(
        self,
        request: notify_pb2.DeleteWebhookSubscriptionRequest,
        context: grpc.ServicerContext,
    ) -> notify_pb2.DeleteWebhookSubscriptionResponse:
        uow = current_unit_of_work()
        if not request.subscription_id:
            raise InvalidArgument([FieldError("subscription_id", "is required")])
        repository = self._notify.webhooks_of(uow.organisation)
        repository.subscription(request.subscription_id)
        return notify_pb2.DeleteWebhookSubscriptionResponse(
            subscription=subscription_message(repository.deactivate(request.subscription_id))
        )

    def ListWebhookDeliveries(
        self, request: notify_pb2.ListWebhookDeliveriesRequest, context: grpc.ServicerContext
    ) -> notify_pb2.ListWebhookDeliveriesResponse:
        uow = current_unit_of_work()
        repository = self._notify.webhooks_of(uow.organisation)

        def deliveries(offset: int, limit: int) -> list[Delivery]:
            if request.subscription_id:
                repository.subscription(request.subscription_id)
            return repository.deliveries(request.subscription_id, request.dead_only, offset, limit)

        page, token = paged(request, deliveries)
        found = [delivery_message(d) for d in page]
        return notify_pb2.ListWebhookDeliveriesResponse(deliveries=found, next_page_token=token)

    def ReplayWebhookDelivery(
        self, request: notify_pb2.ReplayWebhookDeliveryRequest, context: grpc.ServicerContext
    ) -> notify_pb2.ReplayWebhookDeliveryResponse:
        uow = current_unit_of_work()
        delivery = webhooks.replay(
            request.delivery_id, uow, self._notify.webhooks_of(uow.organisation)
        )
        return notify_pb2.ReplayWebhookDeliveryResponse(delivery=delivery_message(delivery))


def register(server: grpc.Server) -> Iterable[str]:
    app = bootstrap()
    start_offer_reader(app)
    feed = InboxFeed(interval=app.config.watch_poll)
    if app.config.live_inbox_hints:
        InboxSignalListener(app.settings.amqp_uri, feed.changed).start()
    notify_pb2_grpc.add_NotifyServiceServicer_to_server(NotifyServicer(app, feed), server)
    return [notify_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name]
