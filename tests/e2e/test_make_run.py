"""`make run` / `make stop` as a user runs them: embedded servers, every process up,
a referral through, and the data still there after a stop and a new start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.auth import DEVELOPMENT_KID_PREFIX, ensure_development_keys
from casework_common.config import SERVICES
from casework_common.devstack import PYTHONPATH, REPO_ROOT, free_port, port_open
from casework_common.testing.fixtures import create_partner_token, create_token
from casework_common.testing.helpers import auth, eventually

pytestmark = pytest.mark.e2e


def free_block(size: int) -> int:
    """A first port such that it and the next size-1 are all free."""
    for _ in range(50):
        base = free_port()
        if base + size < 65535 and all(not port_open(base + i) for i in range(size)):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", base + size - 1))
                except OSError:
                    continue
            return base
    raise RuntimeError("no free block of ports")


# What `make run` provides itself (embedded servers, the development keys) unless set.
CONFIGURED_BY_MAKE_RUN = (
    "MONGO_URI", "S3_ENDPOINT", "SMTP_HOST", "SMTP_PORT", "CASEWORK_TRACE_DIR", "JWT_JWKS_FILE",
)  # fmt: skip


@pytest.fixture()
def local_env(amqp_uri: str, tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CONFIGURED_BY_MAKE_RUN
    }
    env.update(
        {
            "AMQP_URI": amqp_uri,
            "PYTHONPATH": PYTHONPATH,
            "CASEWORK_GRPC_PORT_BASE": str(free_block(len(SERVICES))),
            "CASEWORK_HEALTH_PORT_BASE": str(free_block(len(SERVICES))),
            "CASEWORK_EMBEDDED_MONGO_PORT": str(free_port()),
            "CASEWORK_EMBEDDED_S3_PORT": str(free_port()),
            "CASEWORK_EMBEDDED_SMTP_PORT": str(free_port()),
        }
    )
    return env


def devstack(command: str, env: dict[str, str], var: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "casework_common.devstack", command, "--var", str(var)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_run_starts_everything_and_stop_then_run_keeps_the_data(
    local_env: dict[str, str], tmp_path: Path
) -> None:
    var = tmp_path / "var"
    grpc_base = int(local_env["CASEWORK_GRPC_PORT_BASE"])
    intake_port, clients_port, notify_port = grpc_base, grpc_base + 1, grpc_base + 4
    try:
        started = devstack("up", local_env, var)
        assert started.returncode == 0, started.stdout + started.stderr
        for service in SERVICES:
            assert f"{service:<10} api  127.0.0.1:" in started.stdout
        assert started.stdout.count("SERVING") == len(SERVICES)
        for server in ("MONGO", "S3", "SMTP"):
            assert port_open(int(local_env[f"CASEWORK_EMBEDDED_{server}_PORT"])), server

        request = intake_pb2.SubmitReferralRequest(
            idempotency_key="make-run-referral-0001",
            person=intake_pb2.Person(
                given_name="Olga", family_name="Шевченко", date_of_birth="1990-05-17"
            ),
            contact=intake_pb2.Contact(email="olga@example.org"),
            centre_id="ctr-north-town",
            client_type="youth",
            problem_type="debt",
            channel=intake_pb2.CHANNEL_EMAIL,
        )
        intake = intake_pb2_grpc.IntakeServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{intake_port}")
        )
        # `make run` trusts the development key it keeps in var/keys/ (`make token`'s).
        development = ensure_development_keys(var / "keys")
        assert development.kid.startswith(DEVELOPMENT_KID_PREFIX)
        partner = auth(create_partner_token(signing_key=development))
        referral = intake.SubmitReferral(request, metadata=partner).referral
        anna = auth(create_token(signing_key=development))
        notify = notify_pb2_grpc.NotifyServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{notify_port}")
        )

        def note() -> Any:
            inbox = notify.ListInbox(notify_pb2.ListInboxRequest(), metadata=anna, timeout=5)
            return next(
                (n for n in inbox.notifications if n.referral_id == referral.referral_id), None
            )

        client_id = eventually(note, timeout=60).client_id

        stopped = devstack("down", local_env, var)
        assert stopped.returncode == 0, stopped.stderr
        assert not port_open(intake_port) and not port_open(
            int(local_env["CASEWORK_EMBEDDED_MONGO_PORT"])
        )

        again = devstack("up", local_env, var)
        assert again.returncode == 0, again.stdout + again.stderr
        clients = clients_pb2_grpc.ClientsServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{clients_port}")
        )
        card = clients.GetClient(
            clients_pb2.GetClientRequest(client_id=client_id), metadata=anna, timeout=5
        )
        assert card.client.family_name == "Шевченко"
        assert list(card.client.referral_ids) == [referral.referral_id]
    finally:
        devstack("down", local_env, var)
