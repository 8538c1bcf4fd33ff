"""What the suite's anonymous HTTP endpoints share (intake's web form, feedback's kiosk
and survey links): a web server of their own beside the events process, bodies read
whole up to a bound, answers in JSON, a bare 500 for whatever escapes, and per-address
request counts per minute shared by every process and replica.

Anyone on the internet calls these, so nothing here answers with more than the caller
sent: an escaped exception is logged under a correlation id the caller can quote."""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import mongoengine as me
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import BindAddress, WebServer
from pymongo import ReturnDocument
from werkzeug.wrappers import Response

from casework_common import safe_json
from casework_common.config import bind_host
from casework_common.errors import FieldError, InvalidArgument
from casework_common.forwarded import Network, client_address
from casework_common.rates import RateDecision, decide, window_of

log = logging.getLogger(__name__)

__all__ = [
    "RateCounters",
    "RateDecision",
    "caller_address",
    "decide",
    "field_errors",
    "json_object",
    "json_response",
    "limited",
    "public",
    "public_http_entrypoint",
    "read_whole",
    "too_large",
    "too_many",
    "window_of",
]

Handler = TypeVar("Handler", bound=Callable[..., Response])


def public_http_entrypoint(port: Callable[[], int], settle: Callable[[], object]) -> Any:
    """nameko's `http` entrypoint again, on a server of its own bound to `port()`: a
    shared extension of a class of its own is a server of its own, holding only the
    handlers declared with the decorator answered here. `settle` runs as the server
    starts, so a bad setting stops the process then, not at the first visitor."""

    class PublicWebServer(WebServer):  # type: ignore[misc]
        @property
        def bind_addr(self) -> BindAddress:
            return BindAddress(bind_host(), port())

        def start(self) -> None:
            settle()
            super().start()

    class PublicHttpRequestHandler(HttpRequestHandler):  # type: ignore[misc]
        server = PublicWebServer()

    return PublicHttpRequestHandler.decorator


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        mimetype="application/json",
        headers=headers or {},
    )


def field_errors(status: int, errors: list[FieldError]) -> Response:
    return json_response(
        status, {"errors": [{"field": e.field, "description": e.description} for e in errors]}
    )


def too_large(max_bytes: int) -> Response:
    return json_response(413, {"error": f"at most {max_bytes} bytes"})


def too_many(decision: RateDecision, error: str) -> Response:
    return json_response(429, {"error": error}, {"Retry-After": str(decision.retry_after_seconds)})


def read_whole(request: Any, max_bytes: int) -> bytes | None:
    """The body's bytes, chunked or not; None when it is longer than `max_bytes`.

    werkzeug reads a body without Content-Length (chunked) as empty unless the server
    flags its input as terminated, and with the flag it cuts a long body silently at
    its limit. eventlet's wsgi input does end where the body ends, chunked or not, so
    it is read here directly, one byte past the limit to tell "too long" apart."""
    declared = request.content_length
    if (declared or 0) > max_bytes:
        return None
    # Never past a declared length: another server's input may not end there.
    most = max_bytes + 1 if declared is None else declared
    stream = request.environ["wsgi.input"]
    parts: list[bytes] = []
    size = 0
    while size < most:
        part = stream.read(most - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return None if size > max_bytes else b"".join(parts)


def json_object(raw: bytes) -> dict[str, Any] | Response:
    """A body that must be a JSON object; what cannot be read answers the caller's
    mistake (400), never a 500."""
    try:
        data = safe_json.loads(raw or b"null", field="body", root="")
    except InvalidArgument as exc:
        return field_errors(400, exc.errors)
    except ValueError:
        return field_errors(400, [FieldError("body", "could not be read")])
    if not isinstance(data, dict):
        return field_errors(400, [FieldError("body", "must be a JSON object")])
    return data


def public(handler: Handler) -> Handler:
    """Whatever still escapes a public handler answers a bare 500: the exception and
    its text go to the log under a correlation id the caller can quote, never to them."""

    @functools.wraps(handler)
    def answer(self: Any, request: Any, *args: Any, **kwargs: Any) -> Response:
        try:
            return handler(self, request, *args, **kwargs)
        except Exception:
            correlation_id = secrets.token_hex(8)
            log.exception(
                "public request failed",
                extra={"fields": {"correlation_id": correlation_id, "path": request.path}},
            )
            return json_response(500, {"error": "internal error", "correlation_id": correlation_id})

    return cast(Handler, answer)


def limited(endpoint: str) -> Callable[[Handler], Handler]:
    """Answer with the service's refusal, before the handler runs, when the caller's
    address asked `endpoint` too often: the service says so with its
    `rate_refusal(request, endpoint)`, None when the request may go on."""

    def decorator(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def answer(self: Any, request: Any, *args: Any, **kwargs: Any) -> Response:
            refusal: Response | None = self.rate_refusal(request, endpoint)
            if refusal is not None:
                return refusal
            return handler(self, request, *args, **kwargs)

        return cast(Handler, answer)

    return decorator


# ------------------------------------------------------------------ rate of requests


def caller_address(request: Any, header: str, trusted: Sequence[Network]) -> str:
    """The address a request counts against: the connecting peer, or, behind one of the
    `trusted` proxies, the hop they appended to `header` (casework_common.forwarded)."""
    forwarded = request.headers.getlist(header) if header else []
    return client_address(str(request.remote_addr or ""), forwarded, trusted)


class RateCounters:
    """Requests per address and minute window in one collection of the service's
    database, so every process and replica counts together. The address is kept only
    for the window it counts in: `forget_windows_before` drops the past ones."""

    def __init__(self, collection: str) -> None:
        self._name = collection
        self._indexed = False

    def _collection(self) -> Any:
        collection = me.get_db()[self._name]
        if not self._indexed:
            collection.create_index("window")
            self._indexed = True
        return collection

    def count(self, address: str, window: int) -> int:
        """This address's requests in the window, this one included (one atomic
        increment)."""
        raw = self._collection().find_one_and_update(
            {"_id": f"{address}|{window}"},
            {"$inc": {"count": 1}, "$set": {"window": window}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(raw["count"])

    def forget_windows_before(self, window: int) -> None:
        self._collection().delete_many({"window": {"$lt": window}})
