"""What feedback's use cases share: events built from the domain's facts, the caller's
centres, required values."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from casework_common.errors import FieldError, NotFound
from casework_common.unit_of_work import UnitOfWork
from casework_common.unit_of_work import event as event

E = TypeVar("E", bound=StrEnum)


def instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def require_centre(uow: UnitOfWork, centre_id: str, field: str = "centre_id") -> None:
    """A centre outside the caller's answers as an unknown one: NOT_FOUND."""
    if not centre_id:
        from casework_common.errors import InvalidArgument

        raise InvalidArgument([FieldError(field, "is required")])
    if centre_id not in uow.principal.centres:
        raise NotFound(f"centre {centre_id} not found")


def choice(
    kind: type[E], value: str, field: str, errors: list[FieldError], allowed: tuple[E, ...] = ()
) -> E | None:
    """`value` as a member of `kind` (of `allowed` when given), else an error by field."""
    members = allowed or tuple(kind)
    for member in members:
        if member.value == value:
            return member
    errors.append(FieldError(field, f"must be one of {', '.join(m.value for m in members)}"))
    return None
