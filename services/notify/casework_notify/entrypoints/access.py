"""Who may make each notify call: deny by default, a call missing here is refused.

Every worker has an inbox of their own, whatever their role; partners and services have
none (the use case refuses them too, whatever their token's subject). Reminders are for
services (their token lists the call); e-mails' state, webhooks and dead letters are
for managers and admins."""

from __future__ import annotations

from casework_common.auth import ADMIN, MANAGER, ROLES, AccessMap
from casework_common.auth import SERVICE as SERVICE_KIND

SERVICE = "casework.notify.v1.NotifyService"
OPERATORS = frozenset({MANAGER, ADMIN})
ADMINS = frozenset({ADMIN})

ACCESS: AccessMap = {
    f"{SERVICE}/ListInbox": ROLES,
    f"{SERVICE}/MarkNotificationRead": ROLES,
    f"{SERVICE}/WatchInbox": ROLES,
    f"{SERVICE}/SetNotificationPreferences": ROLES,
    f"{SERVICE}/GetNotificationPreferences": ROLES,
    f"{SERVICE}/SendClientMessage": ROLES,
    f"{SERVICE}/ScheduleReminder": frozenset({SERVICE_KIND}),
    f"{SERVICE}/CancelReminder": frozenset({SERVICE_KIND}),
    f"{SERVICE}/ListOutgoingEmails": OPERATORS,
    f"{SERVICE}/CreateWebhookSubscription": ADMINS,
    f"{SERVICE}/ListWebhookSubscriptions": ADMINS,
    f"{SERVICE}/DeleteWebhookSubscription": ADMINS,
    f"{SERVICE}/ListWebhookDeliveries": ADMINS,
    f"{SERVICE}/ReplayWebhookDelivery": ADMINS,
}
