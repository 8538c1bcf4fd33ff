"""`make run` / `make stop` as a user runs them: embedded servers, every process up,
a referral through, and the data still there after a stop and a new start."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import random
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest

from casework.clients.v1 import clients_pb2, clients_pb2_grpc
from casework.documents.v1 import documents_pb2, documents_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.auth import DEVELOPMENT_KID_PREFIX, ensure_development_keys
from casework_common.config import SERVICES
from casework_dev.devstack import PYTHONPATH, REPO_ROOT, port_open
from casework_dev.testing.documents import create_signature_png, create_template_docx
from casework_dev.testing.fixtures import create_partner_token, create_token
from casework_dev.testing.helpers import auth, eventually

pytestmark = pytest.mark.e2e


def free_ports(count: int) -> list[int]:
    """`count` consecutive free ports below the kernel's ephemeral range.

    Ports from free_port() lie in the ephemeral range, where any outgoing connection of
    another suite on this machine may take one as its source port between our pick and
    the server's bind; and blocks picked one by one may overlap each other. One block,
    picked at random below 32768 and checked whole, avoids both."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32768 - count)
        ports = list(range(base, base + count))
        if all(_bindable(port) for port in ports):
            return ports
    raise RuntimeError("no free block of ports")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not port_open(port)


# What `make run` provides itself (embedded servers, the development keys) unless set.
CONFIGURED_BY_MAKE_RUN = (
    "MONGO_URI", "S3_ENDPOINT", "SMTP_HOST", "SMTP_PORT", "CASEWORK_TRACE_DIR", "BIND_HOST",
    "JWT_JWKS_FILE",
)  # fmt: skip


@pytest.fixture()
def local_env(amqp_uri: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIGURED_BY_MAKE_RUN}
    n = len(SERVICES)
    ports = free_ports(3 * n + 6)
    grpc_base, health_base, metrics_base = ports[0], ports[n], ports[2 * n]
    public, shell_metrics, mongo, s3, smtp, feedback_public = ports[3 * n :]
    env.update(
        {
            "AMQP_URI": amqp_uri,
            # devstack itself is a development tool: tools/ besides what the suite runs on.
            "PYTHONPATH": os.pathsep.join([PYTHONPATH, str(REPO_ROOT / "tools")]),
            "CASEWORK_GRPC_PORT_BASE": str(grpc_base),
            "CASEWORK_HEALTH_PORT_BASE": str(health_base),
            "CASEWORK_METRICS_PORT_BASE": str(metrics_base),
            "PUBLIC_HTTP_PORT": str(public),
            "FEEDBACK_PUBLIC_HTTP_PORT": str(feedback_public),
            # One METRICS_PORT in the shell once made five api processes die on it.
            "METRICS_PORT": str(shell_metrics),
            "CASEWORK_EMBEDDED_MONGO_PORT": str(mongo),
            "CASEWORK_EMBEDDED_S3_PORT": str(s3),
            "CASEWORK_EMBEDDED_SMTP_PORT": str(smtp),
        }
    )
    return env


def listening_addresses(port: int) -> set[str]:
    """The local addresses TCP sockets listen on at `port`, read from /proc/net."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with open(table) as lines:
            next(lines)
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state != "0A" or int(hex_port, 16) != port:
                    continue
                raw = bytes.fromhex(address)
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def loopback(address: str) -> bool:
    parsed = ipaddress.ip_address(address)
    mapped = getattr(parsed, "ipv4_mapped", None)
    return (mapped or parsed).is_loopback


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return int(reply.status)


def devstack(command: str, env: dict[str, str], var: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "casework_dev.devstack", command, "--var", str(var)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def sign_contract(documents: Any, client_id: str, key: Any) -> Any:
    """A contract from a template printing the card's name, signed by Anna."""
    manager = auth(create_token(signing_key=key, subject="w-manager-north", roles=["manager"]))
    content = create_template_docx(
        ["Договор {{ contract.contract_id }}: {{ client.full_name }}",
         "{{ client_signature }} {{ worker_signature }}"],
        goals_table=False,
    )  # fmt: skip
    template = documents.UploadTemplate(
        documents_pb2.UploadTemplateRequest(
            kind=documents_pb2.TEMPLATE_KIND_CONTRACT, name="Contract", content=content
        ),
        metadata=manager,
        timeout=60,
    ).template
    anna = auth(create_token(signing_key=key))
    draft = documents.GenerateDocument(
        documents_pb2.GenerateDocumentRequest(
            template_id=template.template_id, client_id=client_id
        ),
        metadata=anna,
        timeout=60,
    ).document
    return documents.SignDocument(
        documents_pb2.SignDocumentRequest(
            document_id=draft.document_id,
            client_signature_png=create_signature_png(),
            worker_signature_png=create_signature_png(seed=3),
            method=documents_pb2.SIGNING_METHOD_IN_PERSON,
        ),
        metadata=anna,
        timeout=120,
    ).document


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

        # Every api serves its own metrics port; intake's public port answers the form.
        metrics_base = int(local_env["CASEWORK_METRICS_PORT_BASE"])
        metrics_ports = [metrics_base + i for i in range(len(SERVICES))]
        for port in metrics_ports:
            assert http_status(f"http://127.0.0.1:{port}/metrics") == 200, port
        public_port = int(local_env["PUBLIC_HTTP_PORT"])
        web_form = f"http://127.0.0.1:{public_port}/public/v1/organisations/org-demo/web-form"
        assert http_status(web_form) == 200

        # Loopback only: nothing `make run` starts is reachable from the network.
        health_base = int(local_env["CASEWORK_HEALTH_PORT_BASE"])
        ports = [
            *(grpc_base + i for i in range(len(SERVICES))),
            *(health_base + i for i in range(len(SERVICES))),
            *metrics_ports,
            public_port,
            *(int(local_env[f"CASEWORK_EMBEDDED_{s}_PORT"]) for s in ("MONGO", "S3", "SMTP")),
        ]
        bound = {port: listening_addresses(port) for port in ports}
        assert all(bound.values()), f"not listening: {[p for p, a in bound.items() if not a]}"
        exposed = {port: a for port, a in bound.items() if not all(map(loopback, a))}
        assert not exposed, f"listening beyond loopback: {exposed}"

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
        # documents signs a contract for the card: it must be in the archive after restart.
        documents = documents_pb2_grpc.DocumentsServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{grpc_base + 3}")
        )
        signed = sign_contract(documents, client_id, development)

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
        link = documents.GetDownloadUrl(
            documents_pb2.GetDownloadUrlRequest(document_id=signed.document_id),
            metadata=anna,
            timeout=30,
        )
        with urllib.request.urlopen(link.url, timeout=10) as reply:
            archived = reply.read()
        assert hashlib.sha256(archived).hexdigest() == signed.versions[-1].files[-1].sha256
    finally:
        devstack("down", local_env, var)


def test_run_again_starts_at_once_a_process_killed_and_not_yet_reaped(
    local_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This test is the parent of the suite it starts, as a terminal or a supervisor may
    be: a process killed with -9 stays a zombie until reaped, and used to pass for a
    live one - `make run` then waited 90 s for it instead of starting it again."""
    import signal

    from casework_dev import devstack as stack

    for name in CONFIGURED_BY_MAKE_RUN:
        monkeypatch.delenv(name, raising=False)
    for name, value in local_env.items():
        monkeypatch.setenv(name, value)
    var = tmp_path / "var"
    pid_file = var / "run" / "notify-events.pid"
    try:
        stack.up(var)
        killed = int(pid_file.read_text())
        os.kill(killed, signal.SIGKILL)
        eventually(lambda: stack.process_state(killed) == "Z", timeout=10)

        stack.up(var)

        restarted = int(pid_file.read_text())
        assert restarted != killed
        assert stack.process_state(killed) is None  # reaped, no zombie left
        assert stack._alive(restarted)
        others = [var / "run" / f"{s}-{p}.pid" for s in SERVICES for p in ("api", "events")]
        assert all(stack._alive(int(f.read_text())) for f in others)
    finally:
        stack.down(var)
