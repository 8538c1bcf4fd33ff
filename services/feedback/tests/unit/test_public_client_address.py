"""Whose address a public mini-survey request counts under, as feedback reads its
settings: the shared rule (casework_common.forwarded) with feedback's own variables."""

from __future__ import annotations

import pytest

from casework_common.config import MissingConfiguration
from casework_common.forwarded import client_address
from casework_feedback.bootstrap import trusted_proxies

BEHIND_INGRESS = {"FEEDBACK_TRUSTED_PROXIES": "10.0.0.0/8, fc00::/7"}


def address_of(env: dict[str, str], peer: str, forwarded: str) -> str:
    proxies, header = trusted_proxies(env)
    return client_address(peer, [forwarded] if header else [], proxies)


def test_without_trusted_proxies_the_forwarding_header_is_not_even_read() -> None:
    assert trusted_proxies({}) == ((), "")
    assert address_of({}, "10.1.2.3", "198.51.100.7") == "10.1.2.3"


def test_a_spoofed_header_from_a_peer_that_is_no_trusted_proxy_keeps_the_peers_key() -> None:
    assert address_of(BEHIND_INGRESS, "203.0.113.9", "198.51.100.7") == "203.0.113.9"


def test_behind_a_trusted_proxy_the_hop_it_appended_is_the_visitor() -> None:
    assert address_of(BEHIND_INGRESS, "10.1.2.3", "6.6.6.6, 198.51.100.7") == "198.51.100.7"


def test_the_header_defaults_to_x_forwarded_for_and_may_be_renamed() -> None:
    assert trusted_proxies(BEHIND_INGRESS)[1] == "X-Forwarded-For"
    renamed = {**BEHIND_INGRESS, "FEEDBACK_PUBLIC_IP_HEADER": "X-Real-Client"}
    assert trusted_proxies(renamed)[1] == "X-Real-Client"


def test_a_header_without_trusted_proxies_or_a_bad_entry_stops_the_start() -> None:
    with pytest.raises(MissingConfiguration) as stopped:
        trusted_proxies({"FEEDBACK_PUBLIC_IP_HEADER": "X-Forwarded-For"})
    assert stopped.value.variable == "FEEDBACK_TRUSTED_PROXIES"
    with pytest.raises(MissingConfiguration, match=r"proxy\.example") as bad:
        trusted_proxies({"FEEDBACK_TRUSTED_PROXIES": "10.0.0.0/8 proxy.example"})
    assert bad.value.variable == "FEEDBACK_TRUSTED_PROXIES"
