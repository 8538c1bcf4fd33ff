"""Page tokens for List* calls: opaque to callers, an offset to us."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from casework_common.errors import FieldError, InvalidArgument

MAX_PAGE = 200
DEFAULT_PAGE = 50
# Far past any list we keep, far below what a database's 64-bit skip holds.
MAX_OFFSET = 2**53
MAX_TOKEN = 64

T = TypeVar("T")


def page_window(page_size: int, page_token: str) -> tuple[int, int]:
    """Offset and limit of the requested page; bad values answer INVALID_ARGUMENT."""
    errors = []
    if page_size < 0 or page_size > MAX_PAGE:
        errors.append(FieldError("page_size", f"between 0 and {MAX_PAGE}"))
    offset = 0
    if page_token:
        try:
            if len(page_token) > MAX_TOKEN:
                raise ValueError
            digits = base64.urlsafe_b64decode(page_token.encode()).decode("ascii")
            if not digits.isdigit():
                raise ValueError
            offset = int(digits)
            if offset > MAX_OFFSET:
                raise ValueError
        except ValueError:
            errors.append(FieldError("page_token", "is not a token this service issued"))
    if errors:
        raise InvalidArgument(errors)
    return offset, page_size or DEFAULT_PAGE


def next_token(offset: int, limit: int, returned: int) -> str:
    """The token of the following page, empty when this page was the last."""
    if returned < limit:
        return ""
    return base64.urlsafe_b64encode(str(offset + limit).encode()).decode()


def token_at(offset: int | None) -> str:
    """The token of the page starting at `offset` (None: there is no further page),
    for lists that filter as they read and so stop at an offset of their own."""
    if offset is None:
        return ""
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def paged(request: Any, read: Callable[[int, int], Sequence[T]]) -> tuple[Sequence[T], str]:
    """One page of a List call: the window the request's `page_size` and `page_token`
    ask for (refused as page_window refuses), read by `read(offset, limit)`, and the
    following page's token."""
    offset, limit = page_window(request.page_size, request.page_token)
    page = read(offset, limit)
    return page, next_token(offset, limit, len(page))
