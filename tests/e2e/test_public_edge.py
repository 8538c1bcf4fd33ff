"""intake's public edge through its real events process over HTTP: whose address the
web form's rate limit counts (spoofed forwarding headers must not escape it), the
public port serving /public/ and nothing else, and the log lines a refused
submission or self-fill link leaves (reason and peer, nothing about the person).

The test client connects from chosen loopback addresses (127.0.0.x): one of them is
named a trusted proxy, the others are clients or untrusted peers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from casework_dev.devstack import Suite
from casework_dev.testing.helpers import eventually

pytestmark = pytest.mark.e2e

LIMIT = 3
PROXY = "127.0.0.2"
SELF_FILL_SECRET = "test-self-fill-secret-" + "x" * 32
REFERRALS = "/public/v1/organisations/org-demo/referrals"


@pytest.fixture(scope="module")
def proxied(suite_factory: Any) -> Suite:
    """intake behind a trusted proxy (PROXY), as deploy/ runs it behind the ingress."""
    suite: Suite = suite_factory(
        ("intake",),
        env={
            "INTAKE_WEB_FORM_PER_MINUTE": str(LIMIT),
            "INTAKE_TRUSTED_PROXIES": f"{PROXY}/32",
            "INTAKE_SELF_FILL_SECRET": SELF_FILL_SECRET,
        },
    )
    return suite


@pytest.fixture(scope="module")
def direct(suite_factory: Any) -> Suite:
    """intake with no trusted proxies named: the connecting peer is the key."""
    suite: Suite = suite_factory(("intake",), env={"INTAKE_WEB_FORM_PER_MINUTE": str(LIMIT)})
    return suite


def post(
    port: int,
    path: str,
    body: dict[str, Any],
    *,
    source: str = "127.0.0.1",
    forwarded_for: str | None = None,
) -> tuple[int, dict[str, Any]]:
    return request(port, "POST", path, body, source=source, forwarded_for=forwarded_for)


def request(
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    source: str = "127.0.0.1",
    forwarded_for: str | None = None,
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    headers = {"Content-Type": "application/json"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        reply = connection.getresponse()
        data = reply.read()
        try:
            return reply.status, json.loads(data)
        except ValueError:
            return reply.status, data.decode(errors="replace")
    finally:
        connection.close()


def web_form(**overrides: Any) -> dict[str, Any]:
    fields = {
        "given_name": "Marta",
        "family_name": f"Okrajová-{secrets.token_hex(3)}",
        "date_of_birth": "1985-07-01",
        "phone": "+421 900 555 111",
        "centre_id": "ctr-north-town",
        "client_type": "family_with_children",
        "problem_type": "debt",
    }
    fields.update(overrides)
    return fields


def spoofed() -> str:
    return f"203.0.113.{secrets.randbelow(254) + 1}"


def client() -> str:
    """A real client's address (documentation range), distinct per call."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def one_window() -> None:
    """Keep a flood inside one minute window of the limit."""
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


def log_lines(suite: Suite, process: str = "intake-events") -> list[dict[str, Any]]:
    lines = []
    for raw in (suite.run_dir / f"{process}.log").read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


def logged(suite: Suite, match: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    return eventually(lambda: [e for e in log_lines(suite) if match(e)] or None)


def sign(payload: dict[str, Any]) -> str:
    """A self-fill link as whoever holds the key (an insider, a leaked key) would sign it."""
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    tag = hmac.new(
        SELF_FILL_SECRET.encode(), b"casework.intake.self-fill-link\x00" + raw, hashlib.sha256
    ).digest()
    return ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in (raw, tag))


def create_link_payload(issued: datetime, expires: datetime) -> dict[str, Any]:
    return {
        "v": 2,
        "lid": secrets.token_urlsafe(16),
        "ref": f"ref-{secrets.token_hex(4)}",
        "form": "housing",
        "ver": 1,
        "q": ["has_home"],
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }


# ------------------------------------------------------------------ rate limit


def test_without_trusted_proxies_each_peer_is_one_bucket_whatever_it_forwards(
    direct: Suite,
) -> None:
    one_window()
    peer = "127.0.0.3"
    answers = [
        post(direct.public_port, REFERRALS, web_form(), source=peer, forwarded_for=spoofed())[0]
        for _ in range(LIMIT + 2)
    ]
    assert answers == [201] * LIMIT + [429, 429]
    # Another peer (another citizen, or behind a proxy: everyone) has its own bucket.
    assert post(direct.public_port, REFERRALS, web_form(), source="127.0.0.4")[0] == 201


def test_spoofed_left_most_addresses_behind_a_trusted_proxy_do_not_escape_the_limit(
    proxied: Suite,
) -> None:
    one_window()
    real = client()
    answers = [
        post(
            proxied.public_port,
            REFERRALS,
            web_form(),
            source=PROXY,
            forwarded_for=f"{spoofed()}, {spoofed()}, {real}",
        )[0]
        for _ in range(LIMIT + 2)
    ]
    assert answers == [201] * LIMIT + [429, 429]


def test_distinct_clients_behind_a_trusted_proxy_get_their_own_buckets(proxied: Suite) -> None:
    one_window()
    first, second = client(), client()
    flood = [
        post(proxied.public_port, REFERRALS, web_form(), source=PROXY, forwarded_for=first)[0]
        for _ in range(LIMIT + 1)
    ]
    assert flood == [201] * LIMIT + [429]
    status, _ = post(proxied.public_port, REFERRALS, web_form(), source=PROXY, forwarded_for=second)
    assert status == 201


def test_a_peer_that_is_no_trusted_proxy_cannot_choose_its_address(proxied: Suite) -> None:
    one_window()
    peer = "127.0.0.5"
    answers = [
        post(proxied.public_port, REFERRALS, web_form(), source=peer, forwarded_for=client())[0]
        for _ in range(LIMIT + 1)
    ]
    assert answers == [201] * LIMIT + [429]


def test_a_429_is_logged_with_reason_and_peer_and_without_the_clients_address(
    proxied: Suite,
) -> None:
    one_window()
    real, fake = client(), spoofed()
    family_name = f"Záznamová-{secrets.token_hex(3)}"
    for _ in range(LIMIT + 1):
        status, _ = post(
            proxied.public_port,
            REFERRALS,
            web_form(family_name=family_name),
            source=PROXY,
            forwarded_for=f"{fake}, {real}",
        )
    assert status == 429
    (line, *_) = logged(
        proxied, lambda e: e.get("reason") == "rate_limited" and e.get("peer") == PROXY
    )
    assert line["message"] == "public submission refused"
    assert (line["status"], line["endpoint"]) == (429, "web_form")
    text = (proxied.run_dir / "intake-events.log").read_text()
    assert real not in text and fake not in text and family_name not in text


# ---------------------------------------------------------- the public port


def test_the_public_port_serves_public_paths_only_and_health_stays_apart(proxied: Suite) -> None:
    status, reply = request(
        proxied.public_port, "GET", "/public/v1/organisations/org-demo/web-form"
    )
    assert status == 200 and "fields" in reply
    for path in ("/healthz", "/metrics", "/livez"):
        assert request(proxied.public_port, "GET", path)[0] == 404, path
    health = proxied.health_ports["intake"]
    assert request(health, "GET", "/healthz")[0] == 200
    assert request(health, "GET", "/public/v1/organisations/org-demo/web-form")[0] == 404


# ------------------------------------------------------ refused self-fill links


@pytest.mark.parametrize(
    ("make_token", "status", "reason"),
    [
        (
            lambda now: sign(
                create_link_payload(now - timedelta(hours=2), now - timedelta(hours=1))
            ),
            410,
            "expired",
        ),
        (
            lambda now: sign(create_link_payload(now, now + timedelta(days=365))),
            404,
            "valid_too_long",
        ),
        (
            lambda now: sign(create_link_payload(now, now + timedelta(days=2)))[:-4] + "AAAA",
            404,
            "tampered",
        ),
    ],
    ids=["expired", "valid-longer-than-allowed", "tampered"],
)
def test_a_refused_self_fill_link_answers_its_status_and_leaves_a_log_line(
    proxied: Suite, make_token: Callable[[datetime], str], status: int, reason: str
) -> None:
    token = make_token(datetime.now(UTC))
    source = f"127.0.0.{secrets.randbelow(200) + 20}"
    answered, reply = request(
        proxied.public_port, "GET", f"/public/v1/self-fill/{token}", source=source
    )
    assert answered == status, reply
    (line, *_) = logged(
        proxied,
        lambda e: (
            e.get("message") == "self-fill link refused"
            and e.get("reason") == reason
            and e.get("peer") == source
        ),
    )
    assert line["status"] == status
    # The token is the person's credential: it is never written down.
    assert token.split(".")[0] not in (proxied.run_dir / "intake-events.log").read_text()


def test_a_signed_link_valid_longer_than_allowed_is_refused_for_answers_too(
    proxied: Suite,
) -> None:
    now = datetime.now(UTC)
    token = sign(create_link_payload(now, now + timedelta(days=90)))
    status, reply = post(
        proxied.public_port, f"/public/v1/self-fill/{token}", {"answers": {"has_home": True}}
    )
    assert status == 404 and reply == {"error": "this is not a valid link"}


def test_a_client_address_header_without_trusted_proxies_stops_intake_at_start(
    suite_factory: Any,
) -> None:
    with pytest.raises(RuntimeError, match="INTAKE_TRUSTED_PROXIES is required"):
        suite_factory(("intake",), env={"INTAKE_WEB_FORM_IP_HEADER": "X-Forwarded-For"})
