"""Small helpers for tests that talk to running processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from casework_dev.devstack import Suite

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.05) -> T:
    """Poll until `probe` answers something truthy. The timeout only bounds a failing
    test; how fast things happen is measured by `make bench`, not asserted here."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last answer: {last!r}")


def stub(suite: Suite, service: str, stub_class: type[Any]) -> Any:
    channel = grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports[service]}")
    return stub_class(channel)


def auth(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def without_outbox(document: dict[str, Any]) -> dict[str, Any]:
    """A stored aggregate without its outbox bookkeeping, which the relay and the
    sweeper change on their own schedule: what a test compares to prove "nothing
    changed"."""
    return {key: value for key, value in document.items() if not key.startswith("outbox")}
