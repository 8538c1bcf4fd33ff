"""Who may make each documents call: deny by default, a call missing here is refused.

The calls answer UNIMPLEMENTED until they are built; the map is here so that a call
built later is never served to a role nobody chose for it."""

from __future__ import annotations

from casework_common.auth import FRONT_LINE_AND_ABOVE, AccessMap

SERVICE = "casework.documents.v1.DocumentsService"

ACCESS: AccessMap = {
    f"{SERVICE}/GetDocument": FRONT_LINE_AND_ABOVE,
}
