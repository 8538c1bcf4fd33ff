"""Who may make each notify call: deny by default, a call missing here is refused.

Every worker has an inbox of their own, whatever their role; partners and services have
none (the use case refuses them too, whatever their token's subject)."""

from __future__ import annotations

from casework_common.auth import ROLES, AccessMap

SERVICE = "casework.notify.v1.NotifyService"

ACCESS: AccessMap = {
    f"{SERVICE}/ListInbox": ROLES,
    f"{SERVICE}/MarkNotificationRead": ROLES,
}
