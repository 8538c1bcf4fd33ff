"""Who may make each plans call: deny by default, a call missing here is refused.

The calls answer UNIMPLEMENTED until they are built; the map is here so that a call
built later is never served to a role nobody chose for it."""

from __future__ import annotations

from casework_common.auth import FRONT_LINE_AND_ABOVE, AccessMap

SERVICE = "casework.plans.v1.PlansService"

ACCESS: AccessMap = {
    f"{SERVICE}/GetPlan": FRONT_LINE_AND_ABOVE,
}
