"""`python -m casework_<service> api|events`: the one command a container runs.

Kept free of imports at module level because the events process must monkey-patch
eventlet before anything opens a socket or a thread, and the api process (grpcio)
must never be patched at all.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

USAGE = "usage: python -m casework_{service} api|events"


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def main(service: str, argv: list[str], *, api: str, access: str, events: str) -> int:
    process = argv[1] if len(argv) > 1 else ""
    if process == "events":
        import eventlet

        eventlet.monkey_patch()
        from casework_common.events_runtime import run

        run(_load(events))
        return 0
    if process == "api":
        from casework_common.grpc_runtime import serve

        api_target = _load(api)
        serve(
            service,
            api_target,
            _load(access),
            needs_database=getattr(api_target, "needs_database", True),
        )
        return 0
    print(USAGE.format(service=service), file=sys.stderr)
    return 2
