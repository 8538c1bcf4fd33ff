"""`python -m casework_<service> api|events [--processes N]`: the one command a
container runs.

Kept free of imports at module level because the events process must monkey-patch
eventlet before anything opens a socket or a thread, and the api process (grpcio)
must never be patched at all.

With N > 1 (`--processes`, else API_PROCESSES / EVENTS_PROCESSES) this process forks N
copies of itself before either library is imported - grpcio does not survive a fork
once its threads run - and supervises them: api copies share the gRPC port
(SO_REUSEPORT, the kernel spreads connections), events copies share the queues (the
broker spreads deliveries) and the health port (eventlet listens with SO_REUSEPORT).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

USAGE = "usage: python -m casework_{service} api|events [--processes N]"
PROCESS_COUNT_VARIABLES = {"api": "API_PROCESSES", "events": "EVENTS_PROCESSES"}
# A copy that dies sooner than this after its start is restarted only after this long,
# so a copy that cannot start does not spin.
RESTART_PAUSE = 1.0


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def process_count(process: str, argv: list[str], env: dict[str, str] | os._Environ[str]) -> int:
    """How many copies of `process` to run: `--processes N`, else the variable."""
    raw = ""
    if "--processes" in argv:
        at = argv.index("--processes")
        raw = argv[at + 1] if at + 1 < len(argv) else ""
        name = "--processes"
    else:
        name = PROCESS_COUNT_VARIABLES.get(process, "")
        raw = env.get(name, "") if name else ""
    if raw == "":
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise SystemExit(f"{name} must be a whole number from 1 to 64, got {raw!r}")
    return int(raw)


def _die_with_parent() -> None:
    """A copy whose supervisor is killed (-9 included) is told to stop, so no copy
    outlives it holding the port or the queue."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def supervise(count: int, run: Callable[[int], int]) -> int:
    """Fork `count` copies running `run(index)`; restart a copy that dies; on SIGTERM or
    SIGINT pass the signal on and wait for all of them."""
    children: dict[int, int] = {}  # pid -> index
    stopping = False
    parent = os.getpid()

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                # Its own process group: the supervisor alone passes a stop on, once.
                os.setpgid(0, 0)
                _die_with_parent()
                if os.getppid() != parent:  # the supervisor died before prctl took hold
                    os._exit(0)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.environ["CASEWORK_PROCESS_INDEX"] = str(index)
                if index > 0:
                    # One /metrics port per container; the first copy serves it.
                    os.environ["METRICS_PORT"] = ""
                code = run(index)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = index

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started: dict[int, float] = {}
    for index in range(count):
        spawn(index)
        started[index] = time.monotonic()
    worst = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        index = children.pop(pid, -1)
        if index < 0:
            continue
        code = os.waitstatus_to_exitcode(status)
        if stopping:
            worst = max(worst, abs(code))
            continue
        print(
            f"process {index} (pid {pid}) ended with {code}; starting it again",
            file=sys.stderr,
            flush=True,
        )
        if time.monotonic() - started[index] < RESTART_PAUSE:
            time.sleep(RESTART_PAUSE)
        if not stopping:
            spawn(index)
            started[index] = time.monotonic()
    return 0 if worst in (0, signal.SIGTERM, signal.SIGINT) else 1


def main(service: str, argv: list[str], *, api: str, access: str, events: str) -> int:
    process = argv[1] if len(argv) > 1 else ""
    if process not in PROCESS_COUNT_VARIABLES:
        print(USAGE.format(service=service), file=sys.stderr)
        return 2
    count = process_count(process, argv, os.environ)

    def run(index: int) -> int:
        if process == "events":
            import eventlet

            eventlet.monkey_patch()
            from casework_common.events_runtime import run as run_events

            run_events(_load(events))
            return 0
        from casework_common.grpc_runtime import serve

        api_target = _load(api)
        serve(
            service,
            api_target,
            _load(access),
            needs_database=getattr(api_target, "needs_database", True),
        )
        return 0

    if count == 1:
        return run(0)
    return supervise(count, run)
