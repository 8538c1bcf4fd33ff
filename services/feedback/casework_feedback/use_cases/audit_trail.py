"""Reading feedback's audit trail: who read or changed clients' complaints and named
responses, a page at a time, only within the reader's own centres."""

from __future__ import annotations

from casework_common import paging
from casework_common.errors import FieldError, InvalidArgument, NotFound
from casework_common.unit_of_work import UnitOfWork
from casework_feedback.adapters import audit
from casework_feedback.adapters.audit import AuditEntry

MAX_ID = 128


def list_audit_entries(
    uow: UnitOfWork,
    *,
    centre_id: str,
    client_id: str,
    record_id: str,
    page_size: int,
    page_token: str,
) -> tuple[list[AuditEntry], str]:
    """A page of the trail, newest first, and the token of the next page. Another
    centre answers NOT_FOUND, as a centre nobody knows does."""
    errors = [
        FieldError(name, f"at most {MAX_ID} characters")
        for name, value in (("client_id", client_id), ("record_id", record_id))
        if len(value) > MAX_ID
    ]
    try:
        offset, limit = paging.page_window(page_size, page_token)
    except InvalidArgument as bad:
        errors += bad.errors
    if errors:
        raise InvalidArgument(errors)
    centres = uow.principal.centres
    if centre_id:
        if centre_id not in centres:
            raise NotFound(f"centre {centre_id[:MAX_ID]} not found")
        centres = frozenset({centre_id})
    found = audit.entries(
        uow.organisation,
        centres,
        client_id=client_id,
        record=record_id,
        offset=offset,
        limit=limit,
    )
    return found, paging.next_token(offset, limit, len(found))
