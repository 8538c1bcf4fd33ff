"""Specification of where the processes listen: loopback unless BIND_HOST says
otherwise, and a metrics port that cannot be had stops the start naming METRICS_PORT."""

from __future__ import annotations

import socket

import pytest

from casework_common.config import MissingConfiguration, bind_host
from casework_common.grpc_runtime import start_metrics_server


def test_servers_listen_on_loopback_unless_told_otherwise() -> None:
    assert bind_host({}) == "127.0.0.1"
    assert bind_host({"BIND_HOST": ""}) == "127.0.0.1"
    assert bind_host({"BIND_HOST": "0.0.0.0"}) == "0.0.0.0"


def test_a_metrics_port_already_taken_stops_the_start_naming_the_variable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MissingConfiguration) as stopped:
            start_metrics_server(port)
    assert stopped.value.variable == "METRICS_PORT"
    assert str(port) in str(stopped.value)
