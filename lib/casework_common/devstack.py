"""Brings the suite up on one machine: the embedded servers it needs (when no real
ones are configured) and every service's two processes. Used by `make run`/`make stop`
and by the end-to-end tests, so what the tests start is what a user runs.

    python -m casework_common.devstack up|down|status
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from casework_common.auth import ensure_development_keys
from casework_common.config import (
    DEFAULT_GRPC_PORTS,
    DEFAULT_HEALTH_PORTS,
    DEFAULT_PUBLIC_HTTP_PORT,
    REPO_ROOT,
    SERVICES,
)

PYTHONPATH = os.pathsep.join(
    [str(REPO_ROOT / "lib"), str(REPO_ROOT / "gen")]
    + [str(REPO_ROOT / "services" / name) for name in SERVICES]
)


DEFAULT_METRICS_PORT_BASE = 9151
# Every server `make run` starts listens here only (BIND_HOST of the service processes).
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class LocalPorts:
    """Where `make run` puts things; movable as a block so a second suite (or the test
    of `make run` itself) can run beside the first."""

    grpc: dict[str, int]
    health: dict[str, int]
    metrics: dict[str, int]
    public: int
    mongo: int
    s3: int
    smtp: int


def local_ports(env: Mapping[str, str] | None = None) -> LocalPorts:
    env = os.environ if env is None else env

    def number(name: str, default: int) -> int:
        raw = env.get(name) or ""
        if not raw:
            return default
        if not raw.isdigit():
            raise ValueError(f"{name} must be a port number, got {raw!r}")
        return int(raw)

    grpc_base = number("CASEWORK_GRPC_PORT_BASE", DEFAULT_GRPC_PORTS[SERVICES[0]])
    health_base = number("CASEWORK_HEALTH_PORT_BASE", DEFAULT_HEALTH_PORTS[SERVICES[0]])
    # One METRICS_PORT per api process: a single one shared by all would let the first
    # take it and the other five die at start-up.
    metrics_base = number("CASEWORK_METRICS_PORT_BASE", DEFAULT_METRICS_PORT_BASE)
    return LocalPorts(
        grpc={name: grpc_base + i for i, name in enumerate(SERVICES)},
        health={name: health_base + i for i, name in enumerate(SERVICES)},
        metrics={name: metrics_base + i for i, name in enumerate(SERVICES)},
        public=number("PUBLIC_HTTP_PORT", DEFAULT_PUBLIC_HTTP_PORT),
        mongo=number("CASEWORK_EMBEDDED_MONGO_PORT", 27117),
        s3=number("CASEWORK_EMBEDDED_S3_PORT", 9100),
        smtp=number("CASEWORK_EMBEDDED_SMTP_PORT", 2525),
    )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def ensure_rabbitmq(timeout: float = 90.0) -> None:
    """RabbitMQ on 127.0.0.1:5672, started from the Debian package when none listens."""
    if port_open(5672):
        return
    if shutil.which("rabbitmq-server") is None:
        raise RuntimeError(
            "nothing listens on 5672 and rabbitmq-server is not installed; "
            "run `make deps` (apt-get install rabbitmq-server) or set AMQP_URI"
        )
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    wait_for(lambda: port_open(5672), timeout, "RabbitMQ on 5672")


def create_vhost(name: str) -> str:
    """A RabbitMQ vhost of its own (tests, benchmarks), answered as an AMQP URI."""
    ctl = shutil.which("rabbitmqctl") or "rabbitmqctl"
    subprocess.run([ctl, "add_vhost", name], check=True, capture_output=True)
    subprocess.run(
        [ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    return f"amqp://guest:guest@127.0.0.1:5672/{urllib.parse.quote(name, safe='')}"


def delete_vhost(name: str) -> None:
    ctl = shutil.which("rabbitmqctl") or "rabbitmqctl"
    subprocess.run([ctl, "delete_vhost", name], check=False, capture_output=True)


def stop_mongo(port: int, run_dir: Path) -> None:
    pid_file = run_dir / f"mongo-{port}.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text() or 0)
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        # Wait for it to close its SQLite files: the next start must not race them.
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    pid_file.unlink(missing_ok=True)


def start_mongo(data_dir: Path, port: int, run_dir: Path) -> None:
    """The MongoDB wire-compatible development server, data on disk."""
    if port_open(port):
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            _bin("nx-27017"),
            "--data-dir",
            str(data_dir),
            "--host",
            LOOPBACK,
            "-p",
            str(port),
            "-d",
            "--pid-file",
            str(run_dir / f"mongo-{port}.pid"),
            "--log-file",
            str(run_dir / f"mongo-{port}.log"),
        ],
        check=True,
    )
    wait_for(lambda: port_open(port), 30, f"development MongoDB server on {port}")


def start_background(
    name: str, argv: list[str], run_dir: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    run_dir.mkdir(parents=True, exist_ok=True)
    log = (run_dir / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
    )
    (run_dir / f"{name}.pid").write_text(str(proc.pid))
    return proc


def start_s3(port: int, run_dir: Path) -> None:
    if not port_open(port):
        start_background("s3", [_bin("moto_server"), "-H", LOOPBACK, "-p", str(port)], run_dir)
        wait_for(lambda: port_open(port), 30, f"S3 endpoint on {port}")


def start_smtp(port: int, run_dir: Path, mail_dir: Path) -> None:
    if not port_open(port):
        mail_dir.mkdir(parents=True, exist_ok=True)
        start_background(
            "smtp",
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"{LOOPBACK}:{port}",
                "-c",
                "aiosmtpd.handlers.Mailbox",
                str(mail_dir),
            ],
            run_dir,
        )
        wait_for(lambda: port_open(port), 30, f"SMTP sink on {port}")


def grpc_serving(port: int) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=1
            )
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


def http_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@dataclass
class Suite:
    """The service processes of one running suite and the environment they share."""

    run_dir: Path
    env: dict[str, str]
    grpc_ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_GRPC_PORTS))
    health_ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_HEALTH_PORTS))
    # intake's public endpoints; free unless told, so suites never collide on it.
    public_port: int = field(default_factory=free_port)
    # api processes with a metrics port of their own (none unless given).
    metrics_ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def process_env(self, service: str, process: str) -> dict[str, str]:
        env = {
            **self.env,
            "PYTHONPATH": PYTHONPATH,
            "GRPC_PORT": str(self.grpc_ports[service]),
            "HEALTH_PORT": str(self.health_ports[service]),
            "PUBLIC_HTTP_PORT": str(self.public_port),
            # Never one inherited from the shell: every process would ask for the same.
            "METRICS_PORT": "",
        }
        if process == "api" and service in self.metrics_ports:
            env["METRICS_PORT"] = str(self.metrics_ports[service])
        return env

    def start(self, service: str, process: str, extra_env: Mapping[str, str] | None = None) -> None:
        name = f"{service}-{process}"
        self.processes[name] = start_background(
            name,
            [sys.executable, "-m", f"casework_{service}", process],
            self.run_dir,
            {**self.process_env(service, process), **(extra_env or {})},
        )

    def wait_ready(self, service: str, process: str, timeout: float = 60.0) -> None:
        name = f"{service}-{process}"
        proc = self.processes.get(name)

        def ready() -> bool:
            if proc is not None and proc.poll() is not None:
                log = (self.run_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log}")
            if process == "api":
                return grpc_serving(self.grpc_ports[service])
            if service == "intake" and not port_open(self.public_port):
                return False
            return http_ok(self.health_ports[service])

        wait_for(ready, timeout, name)

    def stop(self, service: str, process: str, timeout: float = 20.0) -> None:
        name = f"{service}-{process}"
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self, service: str, process: str) -> None:
        """Stop without grace, as a crash would."""
        proc = self.processes.pop(f"{service}-{process}", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            service, process = name.rsplit("-", 1)
            self.stop(service, process)


def _local_env(var: Path, run_dir: Path, ports: LocalPorts) -> dict[str, str]:
    """Environment of `make run`: what the user configured, else embedded servers."""
    env: dict[str, str] = {}
    if not os.environ.get("AMQP_URI"):
        ensure_rabbitmq()
    if not os.environ.get("MONGO_URI"):
        start_mongo(var / "mongo", ports.mongo, run_dir)
        env["MONGO_URI"] = f"mongodb://127.0.0.1:{ports.mongo}"
    if not os.environ.get("S3_ENDPOINT"):
        start_s3(ports.s3, run_dir)
        env["S3_ENDPOINT"] = f"http://127.0.0.1:{ports.s3}"
    if not os.environ.get("SMTP_HOST"):
        start_smtp(ports.smtp, run_dir, var / "mail")
        env.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(ports.smtp)})
    if not os.environ.get("JWT_JWKS_FILE"):
        # The same key pair `make token` signs with: created once, kept in var/keys/.
        ensure_development_keys(var / "keys")
        env["JWT_JWKS_FILE"] = str(var / "keys" / "jwks.json")
    return env


def up(var: Path) -> Suite:
    run_dir = var / "run"
    ports = local_ports()
    suite = Suite(
        run_dir=run_dir,
        env=_local_env(var, run_dir, ports),
        grpc_ports=dict(ports.grpc),
        health_ports=dict(ports.health),
        public_port=ports.public,
        metrics_ports=dict(ports.metrics),
    )
    for service in SERVICES:
        for process in ("api", "events"):
            pid_file = run_dir / f"{service}-{process}.pid"
            if pid_file.exists() and _alive(int(pid_file.read_text())):
                continue
            suite.start(service, process)
    for service in SERVICES:
        for process in ("api", "events"):
            suite.wait_ready(service, process, timeout=90)
    return suite


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def down(var: Path) -> None:
    run_dir = var / "run"
    pids = []
    for pid_file in sorted(run_dir.glob("*.pid")):
        if pid_file.name.startswith("mongo-"):
            continue
        pid = int(pid_file.read_text() or 0)
        if pid and _alive(pid):
            os.killpg(pid, signal.SIGTERM)
            pids.append(pid)
        pid_file.unlink()
    deadline = time.monotonic() + 20
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if _alive(pid)]
        time.sleep(0.1)
    for pid in pids:
        os.killpg(pid, signal.SIGKILL)
    for pid_file in run_dir.glob("mongo-*.pid"):
        stop_mongo(int(pid_file.stem.split("-", 1)[1]), run_dir)


def status(var: Path) -> int:
    ports = local_ports()
    down_count = 0
    for service in SERVICES:
        api = grpc_serving(ports.grpc[service])
        events = http_ok(ports.health[service])
        down_count += (not api) + (not events)
        api_state = "SERVING" if api else "DOWN"
        events_state = "OK" if events else "DOWN"
        print(
            f"{service:<10} api  127.0.0.1:{ports.grpc[service]}  {api_state}"
            f"   events http://127.0.0.1:{ports.health[service]}/healthz  {events_state}"
            f"   metrics http://127.0.0.1:{ports.metrics[service]}/metrics"
        )
    print(f"public     http://127.0.0.1:{ports.public}/public/v1/ (intake web form, self-fill)")
    return 1 if down_count else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--var", type=Path, default=REPO_ROOT / "var")
    args = parser.parse_args(argv)
    if args.command == "up":
        up(args.var)
        return status(args.var)
    if args.command == "down":
        down(args.var)
        return 0
    return status(args.var)


if __name__ == "__main__":
    sys.exit(main())
