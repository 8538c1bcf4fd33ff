"""Specification of whose address a public submission counts under: the connecting
peer, or, behind the operator's trusted proxies, the hop those proxies appended."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.config import MissingConfiguration
from casework_intake.bootstrap import trusted_proxies
from casework_intake.domain.web_form import Network, client_address, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 192.168.1.1")


def address_of(peer: str, *forwarded: str, trusted: Sequence[Network] = PROXIES) -> str:
    return client_address(peer, list(forwarded), trusted)


def test_without_trusted_proxies_the_peer_is_the_key_whatever_the_header_says() -> None:
    assert address_of("203.0.113.9", "198.51.100.1", trusted=()) == "203.0.113.9"


def test_a_header_from_a_peer_that_is_no_trusted_proxy_is_ignored() -> None:
    assert address_of("203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_behind_a_trusted_proxy_the_hop_it_appended_is_the_client() -> None:
    assert address_of("10.1.2.3", "198.51.100.7") == "198.51.100.7"


def test_a_spoofed_left_most_address_is_never_believed() -> None:
    for spoofed in ("1.1.1.1", "8.8.8.8, 9.9.9.9", "not-an-address"):
        assert address_of("10.1.2.3", f"{spoofed}, 198.51.100.7") == "198.51.100.7"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    assert address_of("10.1.2.3", "6.6.6.6, 198.51.100.7, 192.168.1.1, 10.9.9.9") == (
        "198.51.100.7"
    )


def test_several_header_lines_are_one_list_in_order() -> None:
    assert address_of("10.1.2.3", "6.6.6.6", "198.51.100.7") == "198.51.100.7"


def test_garbage_where_a_proxy_should_have_written_counts_under_the_last_trusted_hop() -> None:
    assert address_of("10.1.2.3", "198.51.100.7, junk") == "10.1.2.3"
    assert address_of("10.1.2.3", "") == "10.1.2.3"


def test_ports_brackets_and_mapped_addresses_are_read_as_the_address() -> None:
    assert address_of("10.1.2.3", "198.51.100.7:5123") == "198.51.100.7"
    assert address_of("10.1.2.3", "[2001:db8::1]:443") == "2001:db8::1"
    assert address_of("::ffff:10.1.2.3", "198.51.100.7") == "198.51.100.7"


@given(spoofed=st.lists(st.ip_addresses().map(str), max_size=5))
def test_whatever_a_client_prepends_its_key_stays_the_same(spoofed: list[str]) -> None:
    assert address_of("10.1.2.3", ", ".join([*spoofed, "198.51.100.7"])) == "198.51.100.7"


def test_trusted_proxies_are_read_as_networks_and_bad_entries_are_named() -> None:
    assert [str(n) for n in parse_networks("10.0.0.0/8 2001:db8::/32,127.0.0.1")] == [
        "10.0.0.0/8",
        "2001:db8::/32",
        "127.0.0.1/32",
    ]
    with pytest.raises(ValueError, match=r"'proxy\.example'"):
        parse_networks("10.0.0.0/8, proxy.example")


def test_the_header_defaults_to_x_forwarded_for_once_proxies_are_named() -> None:
    proxies, header = trusted_proxies({"INTAKE_TRUSTED_PROXIES": "10.0.0.0/8"})
    assert header == "X-Forwarded-For" and [str(p) for p in proxies] == ["10.0.0.0/8"]
    assert trusted_proxies({}) == ((), "")


def test_a_client_address_header_without_trusted_proxies_stops_the_start() -> None:
    with pytest.raises(MissingConfiguration) as stopped:
        trusted_proxies({"INTAKE_WEB_FORM_IP_HEADER": "X-Forwarded-For"})
    assert stopped.value.variable == "INTAKE_TRUSTED_PROXIES"
    with pytest.raises(MissingConfiguration):
        trusted_proxies({"INTAKE_TRUSTED_PROXIES": "everyone"})
