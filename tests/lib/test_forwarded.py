"""The shared reader of a service's trusted-proxy settings (casework_common.forwarded);
the address rule itself is specified in intake's test_web_form_client_address.py."""

from __future__ import annotations

import pytest

from casework_common.config import MissingConfiguration
from casework_common.forwarded import DEFAULT_IP_HEADER, trusted_proxies


def read(env: dict[str, str]) -> tuple[list[str], str]:
    proxies, header = trusted_proxies(env, "SVC_TRUSTED_PROXIES", "SVC_IP_HEADER")
    return [str(p) for p in proxies], header


def test_no_proxies_means_no_header_is_read() -> None:
    assert read({}) == ([], "")


def test_named_proxies_are_networks_and_the_header_defaults() -> None:
    assert read({"SVC_TRUSTED_PROXIES": "10.0.0.0/8,192.168.1.1"}) == (
        ["10.0.0.0/8", "192.168.1.1/32"],
        DEFAULT_IP_HEADER,
    )


def test_each_wrong_setting_is_named_by_the_services_own_variable() -> None:
    for env in ({"SVC_IP_HEADER": "X-Forwarded-For"}, {"SVC_TRUSTED_PROXIES": "anyone"}):
        with pytest.raises(MissingConfiguration) as stopped:
            read(env)
        assert stopped.value.variable == "SVC_TRUSTED_PROXIES"
