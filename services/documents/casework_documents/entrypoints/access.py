"""Who may make each documents call: deny by default, a call missing here is refused.

An organisation's administrator and managers maintain its templates; every worker of
the case reads them. Generating, signing and ending contracts is case work. Reading a
client's documents follows reading the card (the data-protection officer too); which
client's documents is decided by the caller's centres in the repository. Who read or
changed them is for the managers and the data-protection officer."""

from __future__ import annotations

from casework_common.auth import (
    ADMIN,
    CASE_WORKER_AND_ABOVE,
    DATA_PROTECTION_OFFICER,
    FRONT_LINE_AND_ABOVE,
    MANAGER,
    access_map,
)

SERVICE = "casework.documents.v1.DocumentsService"

ACCESS = access_map(
    SERVICE,
    {
        "UploadTemplate": {ADMIN, MANAGER},
        "ListTemplates": FRONT_LINE_AND_ABOVE | {ADMIN},
        "PreviewTemplate": FRONT_LINE_AND_ABOVE | {ADMIN},
        "GenerateDocument": CASE_WORKER_AND_ABOVE,
        "SignDocument": CASE_WORKER_AND_ABOVE,
        "EndContract": CASE_WORKER_AND_ABOVE,
        "GetDocument": FRONT_LINE_AND_ABOVE | {DATA_PROTECTION_OFFICER},
        "ListDocuments": FRONT_LINE_AND_ABOVE | {DATA_PROTECTION_OFFICER},
        "GetDownloadUrl": FRONT_LINE_AND_ABOVE | {DATA_PROTECTION_OFFICER},
        "ListAuditEntries": {MANAGER, DATA_PROTECTION_OFFICER},
    },
)
