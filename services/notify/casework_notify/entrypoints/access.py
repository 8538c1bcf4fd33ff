"""Who may make each notify call: deny by default, a call missing here is refused.

Every worker has an inbox of their own, whatever their role; partners and services have
none (the use case refuses them too, whatever their token's subject). Reminders are for
services (their token lists the call); e-mails' state, webhooks and dead letters are
for managers and admins."""

from __future__ import annotations

from casework_common.auth import ADMIN, MANAGER, ROLES, access_map
from casework_common.auth import SERVICE as SERVICE_KIND

SERVICE = "casework.notify.v1.NotifyService"
OPERATORS = frozenset({MANAGER, ADMIN})
ADMINS = frozenset({ADMIN})

ACCESS = access_map(
    SERVICE,
    {
        "ListInbox": ROLES,
        "MarkNotificationRead": ROLES,
        "WatchInbox": ROLES,
        "SetNotificationPreferences": ROLES,
        "GetNotificationPreferences": ROLES,
        "SendClientMessage": ROLES,
        "ScheduleReminder": frozenset({SERVICE_KIND}),
        "CancelReminder": frozenset({SERVICE_KIND}),
        "ListOutgoingEmails": OPERATORS,
        "CreateWebhookSubscription": ADMINS,
        "ListWebhookSubscriptions": ADMINS,
        "DeleteWebhookSubscription": ADMINS,
        "ListWebhookDeliveries": ADMINS,
        "ReplayWebhookDelivery": ADMINS,
    },
)
