"""Whose address a public request counts under, behind the operator's trusted proxies.

The rule (first written for intake's web form, shared so every public endpoint keys its
rate limit the same way): the connecting peer's address, unless that peer is one of the
operator's trusted proxies. Then the forwarding header is read from the right, each hop
a trusted proxy appended, and the first address no trusted proxy vouches for is the
client. Everything left of it was written by the client and is never believed: the
left-most address is whatever a bot chooses, one new "client" per request. Without
trusted proxies a proxy's address is every visitor's key (one shared bucket), which is
safe but strict; the operator who runs a proxy names it.

Pure: no I/O, only `ipaddress`; `trusted_proxies` reads a service's two settings from
the mapping it is given.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

from casework_common.config import MissingConfiguration

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_IP_HEADER = "X-Forwarded-For"


def parse_networks(text: str) -> tuple[Network, ...]:
    """Trusted proxies as written by an operator: CIDRs or single addresses, separated by
    commas or spaces. Raises ValueError naming the entry that is not one."""
    networks = []
    for entry in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry[:64]!r} is not an address or CIDR network") from None
    return tuple(networks)


def _address(text: str) -> IPAddress | None:
    text = text.strip()
    # "[2001:db8::1]:443" and "192.0.2.1:443" as some proxies write them.
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def client_address(peer: str, forwarded: Iterable[str], trusted: Sequence[Network]) -> str:
    """The address a request is counted under.

    `peer` is the connecting address, `forwarded` the values of the forwarding header
    (each a comma-separated list of hops, oldest first) and `trusted` the operator's
    proxies. Only hops appended by trusted proxies are believed."""
    current = _address(peer)
    if current is None:
        return peer[:64] or "unknown"
    if not _trusted(current, trusted):
        return str(current)
    hops = [hop for value in forwarded for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Not written by a proxy we trust: the last trusted hop is all we know.
            break
        current = address
        if not _trusted(current, trusted):
            break
    return str(current)


def _trusted(address: IPAddress, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def trusted_proxies(
    env: Mapping[str, str], proxies_variable: str, header_variable: str
) -> tuple[tuple[Network, ...], str]:
    """A service's trusted proxies and the header they append the client's address to
    (DEFAULT_IP_HEADER unless `header_variable` names another; "" without proxies).

    A bad entry, or a header named without proxies (a client could then choose its own
    address and escape the limit), stops the start naming `proxies_variable`."""
    header = env.get(header_variable, "")
    try:
        proxies = parse_networks(env.get(proxies_variable, ""))
    except ValueError as exc:
        raise MissingConfiguration(proxies_variable, str(exc)) from None
    if header and not proxies:
        raise MissingConfiguration(
            proxies_variable,
            f"{header_variable}={header} is believed only from trusted proxies; "
            "name them, or unset the header",
        )
    return proxies, (header or DEFAULT_IP_HEADER) if proxies else ""
