"""feedback's public mini-survey port through its real events process over HTTP: whose
address the rate limit counts when the service sits behind a trusted proxy (the
ingress), and that a forwarding header a visitor writes never escapes the limit.

The test client connects from chosen loopback addresses (127.0.0.x): PROXY is named in
FEEDBACK_TRUSTED_PROXIES, the others are visitors or untrusted peers. Every public
request counts, so an unknown link (404) is enough to spend the limit."""

from __future__ import annotations

import http.client
import secrets
import time
from typing import Any

import pytest

from casework_dev.devstack import Suite

pytestmark = pytest.mark.e2e

LIMIT = 3
PROXY = "127.0.0.2"
UNKNOWN_LINK = "/public/v1/feedback/not-a-link.at-all"


@pytest.fixture(scope="module")
def proxied(suite_factory: Any) -> Suite:
    """feedback behind a trusted proxy (PROXY), as deploy/ runs it behind the ingress."""
    suite: Suite = suite_factory(
        ("feedback",),
        env={"FEEDBACK_PUBLIC_PER_MINUTE": str(LIMIT), "FEEDBACK_TRUSTED_PROXIES": f"{PROXY}/32"},
    )
    return suite


def get(suite: Suite, *, source: str, forwarded_for: str | None = None) -> int:
    connection = http.client.HTTPConnection(
        "127.0.0.1", suite.feedback_public_port, timeout=10, source_address=(source, 0)
    )
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    try:
        connection.request("GET", UNKNOWN_LINK, headers=headers)
        reply = connection.getresponse()
        reply.read()
        return reply.status
    finally:
        connection.close()


def spoofed() -> str:
    return f"203.0.113.{secrets.randbelow(254) + 1}"


def visitor() -> str:
    """A real visitor's address (documentation range), distinct per call."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def one_window() -> None:
    """Keep a flood inside one minute window of the limit."""
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


def test_a_peer_that_is_no_trusted_proxy_cannot_escape_the_limit_with_a_forwarded_address(
    proxied: Suite,
) -> None:
    one_window()
    peer = "127.0.0.3"
    answers = [get(proxied, source=peer, forwarded_for=spoofed()) for _ in range(LIMIT + 2)]
    assert answers == [404] * LIMIT + [429, 429]
    # Another peer has its own bucket.
    assert get(proxied, source="127.0.0.4", forwarded_for=spoofed()) == 404


def test_behind_the_trusted_proxy_the_forwarded_visitor_is_the_one_limited(
    proxied: Suite,
) -> None:
    one_window()
    first, second = visitor(), visitor()
    flood = [get(proxied, source=PROXY, forwarded_for=first) for _ in range(LIMIT + 1)]
    assert flood == [404] * LIMIT + [429]
    # The proxy itself is not one shared bucket: the next visitor behind it gets through.
    assert get(proxied, source=PROXY, forwarded_for=second) == 404


def test_spoofed_left_most_addresses_behind_the_trusted_proxy_do_not_escape_the_limit(
    proxied: Suite,
) -> None:
    one_window()
    real = visitor()
    answers = [
        get(proxied, source=PROXY, forwarded_for=f"{spoofed()}, {spoofed()}, {real}")
        for _ in range(LIMIT + 2)
    ]
    assert answers == [404] * LIMIT + [429, 429]
