"""Who may make each feedback call: deny by default, a call missing here is refused.

The calls answer UNIMPLEMENTED until they are built; the map is here so that a call
built later is never served to a role nobody chose for it. A complaint may be about the
front-line worker who would read it, so it is for case workers and managers."""

from __future__ import annotations

from casework_common.auth import CASE_WORKER_AND_ABOVE, AccessMap

SERVICE = "casework.feedback.v1.FeedbackService"

ACCESS: AccessMap = {
    f"{SERVICE}/GetComplaint": CASE_WORKER_AND_ABOVE,
}
