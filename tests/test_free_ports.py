"""The development tools' free ports: never the same port twice in one process, even
when the kernel offers it again (two servers on one port would split its connections)."""

from __future__ import annotations

from typing import Any

import pytest

from casework_dev import devstack


class ProbeSocket:
    """A probe socket the kernel gives the ports of `offered` to, in turn."""

    offered: list[int] = []

    def __enter__(self) -> ProbeSocket:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def bind(self, address: tuple[str, int]) -> None:
        self._port = ProbeSocket.offered.pop(0)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self._port)


def test_a_port_the_kernel_offers_again_is_not_handed_out_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(devstack.socket, "socket", ProbeSocket)
    monkeypatch.setattr(devstack, "_HANDED_OUT", set())
    ProbeSocket.offered = [40001, 40001, 40001, 40002]

    assert [devstack.free_port(), devstack.free_port()] == [40001, 40002]


def test_free_ports_are_real_ports_nobody_listens_on() -> None:
    import socket

    port = devstack.free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
