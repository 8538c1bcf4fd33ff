"""Specification of how `make run` tells a running process from a dead one: a killed
process that its parent has not reaped yet (a zombie) still has its pid, and must count
as dead so that `make run` starts it again at once."""

from __future__ import annotations

import signal
import subprocess
import sys

from casework_dev.devstack import _alive, process_state, wait_for


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_running_process_is_alive() -> None:
    proc = sleeper()
    try:
        assert _alive(proc.pid)
        assert process_state(proc.pid) in {"R", "S", "D"}
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_child_not_yet_reaped_is_dead() -> None:
    proc = sleeper()
    proc.send_signal(signal.SIGKILL)
    wait_for(lambda: process_state(proc.pid) == "Z", 10, "the killed child to be a zombie")

    assert not _alive(proc.pid)
    # Reaped on the way: no zombie is left behind.
    assert process_state(proc.pid) is None


def test_a_pid_nobody_has_is_dead() -> None:
    proc = sleeper()
    proc.kill()
    proc.wait()

    assert process_state(proc.pid) is None
    assert not _alive(proc.pid)
