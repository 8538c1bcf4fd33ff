"""Reading the service tokens one service uses to call another.

A service holds no signing key: the identity provider issues its tokens (one per
organisation, kind `service`, the organisation's centres, only the calls named) into a
JSON file `{"<organisation>": "<jwt>"}` whose path the service reads from its own
variable (DOCUMENTS_SERVICE_TOKENS_FILE, NOTIFY_SERVICE_TOKENS_FILE). The file is read
again whenever it changes, so tokens rotate without a restart.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path

from casework_common.errors import FailedPrecondition


class TokensUnavailable(Exception):
    """The tokens file could not be read."""


class ServiceTokens:
    def __init__(
        self,
        path: Path | None,
        *,
        variable: str,
        service: str,
        purpose: str,
        unavailable: type[Exception] = TokensUnavailable,
    ) -> None:
        self._path = path
        self._variable = variable
        self._service = service
        self._purpose = purpose
        self._unavailable = unavailable
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._tokens: dict[str, str] = {}

    def for_organisation(self, organisation: str) -> str:
        if self._path is None:
            raise FailedPrecondition(
                f"{self._service} has no service token to {self._purpose}: set {self._variable}"
            )
        with self._lock:
            try:
                stat = self._path.stat()
                stamp = (stat.st_mtime_ns, stat.st_size)
                if stamp != self._stamp:
                    self._tokens = dict(json.loads(self._path.read_text()))
                    self._stamp = stamp
            except (OSError, ValueError) as exc:
                raise self._unavailable(f"cannot read {self._path}: {exc}") from exc
            token = self._tokens.get(organisation)
        if not token:
            raise FailedPrecondition(
                f"{self._variable} has no token for organisation {organisation}"
            )
        return token

    def metadata(
        self, organisation: str, trace: Mapping[str, str] | None = None
    ) -> list[tuple[str, str]]:
        """A call's metadata: this service's bearer token and the caller's trace."""
        bearer = [("authorization", f"Bearer {self.for_organisation(organisation)}")]
        return bearer + [(k.lower(), v) for k, v in (trace or {}).items()]
