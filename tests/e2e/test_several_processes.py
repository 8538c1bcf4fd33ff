"""Several api and events processes per service (API_PROCESSES, EVENTS_PROCESSES): the
api copies share the gRPC port (SO_REUSEPORT), the events copies share the queues; each
takes part of the work, and a copy that dies is started again by its supervisor."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from casework.intake.v1 import intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_dev.devstack import Suite, process_state
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually, stub

from .test_referral_reaches_inbox import create_referral

pytestmark = pytest.mark.e2e

PARTNER = auth(create_partner_token())
ANNA = auth(create_token(subject="w-anna", centres=["ctr-north-town"]))


@pytest.fixture(scope="module")
def suite(suite_factory: Any) -> Iterator[Suite]:
    yield suite_factory(
        ("intake", "clients", "notify"), env={"API_PROCESSES": "2", "EVENTS_PROCESSES": "2"}
    )


def copies(suite: Suite, name: str) -> set[int]:
    """The running processes the supervisor of `name` forked."""
    parent = suite.processes[name].pid
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat[stat.rindex(")") + 2 :].split(" ")[:2]
        if int(ppid) == parent and state not in ("Z", "X"):
            found.add(int(entry.name))
    return found


def handled_by(suite: Suite, process: str, span_name: str) -> set[int]:
    """Pids of the `process` processes whose trace shows a span named `span_name`."""
    pids = set()
    for path in Path(suite.env["CASEWORK_TRACE_DIR"]).glob(f"casework-{process}-*.jsonl"):
        with path.open() as spans:
            if any(json.loads(line)["name"].startswith(span_name) for line in spans):
                pids.add(int(path.stem.rsplit("-", 1)[1]))
    return pids


def submit_on_fresh_connections(suite: Suite, count: int) -> list[str]:
    """Each referral on a connection of its own: the kernel spreads connections, not calls,
    between the processes sharing the port."""
    ids = []
    for _ in range(count):
        with grpc.insecure_channel(
            f"127.0.0.1:{suite.grpc_ports['intake']}",
            options=[("grpc.use_local_subchannel_pool", 1)],
        ) as channel:
            reply = intake_pb2_grpc.IntakeServiceStub(channel).SubmitReferral(
                create_referral(), metadata=PARTNER, timeout=10
            )
            ids.append(reply.referral.referral_id)
    return ids


def in_inbox(suite: Suite, referral_ids: list[str]) -> bool:
    notify = stub(suite, "notify", notify_pb2_grpc.NotifyServiceStub)
    reply = notify.ListInbox(notify_pb2.ListInboxRequest(page_size=200), metadata=ANNA)
    return set(referral_ids) <= {n.referral_id for n in reply.notifications}


def test_every_copy_takes_part_of_the_work(suite: Suite) -> None:
    for name in ("intake-api", "intake-events", "clients-events", "notify-events"):
        assert len(copies(suite, name)) == 2, name

    referral_ids = submit_on_fresh_connections(suite, 24)

    eventually(lambda: in_inbox(suite, referral_ids), timeout=60)
    assert eventually(
        lambda: (
            handled_by(suite, "intake-api", "casework.intake.v1.IntakeService/Submit")
            == copies(suite, "intake-api")
        )
    )
    assert eventually(
        lambda: (
            handled_by(suite, "clients-events", "clients.register-referred-person")
            == copies(suite, "clients-events")
        )
    )


def test_a_copy_killed_is_started_again_and_the_work_goes_on(suite: Suite) -> None:
    for name in ("intake-api", "clients-events"):
        before = copies(suite, name)
        killed = min(before)

        os.kill(killed, signal.SIGKILL)

        after = eventually(
            lambda n=name, b=before: (c := copies(suite, n)) != b and len(c) == 2 and c
        )
        assert killed not in after
        assert process_state(killed) is None  # reaped by its supervisor
    referral_ids = submit_on_fresh_connections(suite, 4)
    eventually(lambda: in_inbox(suite, referral_ids), timeout=60)
