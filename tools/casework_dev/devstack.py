"""Brings the suite up on one machine: the embedded servers it needs (when no real
ones are configured) and every service's two processes. Used by `make run`/`make stop`
and by the end-to-end tests, so what the tests start is what a user runs.

    python -m casework_dev.devstack up|down|status
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
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
from casework_dev.service_tokens import NOTIFY_SCOPES, write_service_tokens
from casework_dev.signing_certificate import ensure_signing_certificate

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
    feedback_public: int = 8110


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
        feedback_public=number("FEEDBACK_PUBLIC_HTTP_PORT", 8110),
        mongo=number("CASEWORK_EMBEDDED_MONGO_PORT", 27117),
        s3=number("CASEWORK_EMBEDDED_S3_PORT", 9100),
        smtp=number("CASEWORK_EMBEDDED_SMTP_PORT", 2525),
    )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()


def free_port() -> int:
    """A port nobody listens on, and never one this process handed out before. The
    kernel offers a port again as soon as its probe socket closes, so two servers of one
    suite could be given the same port before either listens; both would then bind it
    (the api's gRPC server and eventlet's listeners set SO_REUSEPORT) and the kernel
    would split connections between them (seen: a readiness check reaching another
    process's health server for a minute)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        with _HANDED_OUT_LOCK:
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


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


# ---------------------------------------------------------------- broker users
#
# Each service speaks to the broker as `<prefix><service>`, which may publish only its own
# `<service>.*` keys on the events exchange, and use its own queues `<service>.*` and the
# shared exchanges (and, since they share those names, the parking queues). `<prefix>replay`
# is the operator's: tagged `impersonator`, so it can publish a parked message again in
# its original publisher's name, and never given to a service.

REPLAY_ROLE = "replay"
BROKER_ROLES = (*SERVICES, REPLAY_ROLE)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class BrokerGrant:
    configure: str
    write: str
    read: str
    topic_write: str
    topic_read: str
    tags: tuple[str, ...] = ()


def _literal(name: str) -> str:
    """A regex matching `name` only, with no backslash: `rabbitmqctl eval` eats them."""
    if not _SAFE_NAME.match(name):
        raise ValueError(f"broker names are letters, digits, '.', '_' and '-': {name!r}")
    return name.replace(".", "[.]")


def broker_grant(role: str, exchange: str) -> BrokerGrant:
    ex = _literal(exchange)
    shared = f"{ex}|{ex}[.]unrouted|{ex}[.]dead-letter"
    if role == REPLAY_ROLE:
        return BrokerGrant(
            configure=f"^({shared})$",
            write=f"^(amq[.]default|{shared})$",
            read=f"^({shared})$",
            topic_write=".*",
            topic_read=".*",
            tags=("impersonator",),
        )
    own = f"^({shared}|{_literal(role)}[.].+)$"
    # Topic read is what a queue may be bound to: any event, as before.
    return BrokerGrant(
        configure=own, write=own, read=own, topic_write=f"^{_literal(role)}[.]", topic_read=".*"
    )


def _erl(text: str) -> str:
    if '"' in text or "\\" in text:
        raise ValueError(f"not passed to the broker: {text!r}")
    return f'<<"{text}">>'


def _rabbitmqctl_eval(expression: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError(
            "rabbitmqctl is not installed here: per-service broker users are created with "
            "it; set AMQP_URI_<SERVICE> for every service (and CASEWORK_REPLAY_AMQP_URI) "
            "to use users made elsewhere"
        )
    done = subprocess.run([ctl, "eval", expression], capture_output=True, text=True)
    if done.returncode != 0 or "done" not in done.stdout:
        raise RuntimeError(f"rabbitmqctl eval failed: {done.stdout}{done.stderr}")


def provision_broker_users(
    vhost: str, prefix: str, passwords: Mapping[str, str], exchange: str = "casework.events"
) -> None:
    """Create (or update) `<prefix><role>` for every role in `passwords` with its
    permissions on `vhost`; idempotent. One `rabbitmqctl eval` for all, since each
    rabbitmqctl call costs a second of Erlang start-up."""
    actor = _erl("casework-devstack")
    lines = [
        "Up = fun(U, P) -> case rabbit_auth_backend_internal:lookup_user(U) of "
        f"{{ok, _}} -> ok = rabbit_auth_backend_internal:change_password(U, P, {actor}); "
        f"_ -> ok = rabbit_auth_backend_internal:add_user(U, P, {actor}) end end"
    ]
    vh = _erl(vhost)
    for role, password in passwords.items():
        grant = broker_grant(role, exchange)
        user = _erl(prefix + role)
        tags = ", ".join(grant.tags)
        lines += [
            f"Up({user}, {_erl(password)})",
            f"ok = rabbit_auth_backend_internal:set_tags({user}, [{tags}], {actor})",
            f"ok = rabbit_auth_backend_internal:set_permissions({user}, {vh}, "
            f"{_erl(grant.configure)}, {_erl(grant.write)}, {_erl(grant.read)}, {actor})",
            f"ok = rabbit_auth_backend_internal:set_topic_permissions({user}, {vh}, "
            f"{_erl(exchange)}, {_erl(grant.topic_write)}, {_erl(grant.topic_read)}, {actor})",
        ]
    _rabbitmqctl_eval(",\n".join([*lines, "done."]))


def delete_broker_users(prefix: str) -> None:
    users = ", ".join(_erl(prefix + role) for role in BROKER_ROLES)
    _rabbitmqctl_eval(
        f"[catch rabbit_auth_backend_internal:delete_user(U, {_erl('casework-devstack')}) "
        f"|| U <- [{users}]], done."
    )


def new_broker_passwords() -> dict[str, str]:
    return {role: secrets.token_urlsafe(24) for role in BROKER_ROLES}


def vhost_of(amqp_uri: str) -> str:
    path = urllib.parse.urlsplit(amqp_uri).path
    return urllib.parse.unquote(path[1:]) if len(path) > 1 else "/"


def administrable_vhost(amqp_uri: str) -> str:
    """The vhost of a URI whose broker the local rabbitmqctl administers (a broker on
    this machine); anywhere else its users must be made by whoever runs it."""
    host = urllib.parse.urlsplit(amqp_uri).hostname or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise RuntimeError(
            f"the broker at {host} is not this machine's: make its users there (see README, "
            "'Publishers are the broker's word') and set AMQP_URI_<SERVICE> for every "
            "service, or CASEWORK_TEST_AMQP_URI to a local broker"
        )
    return vhost_of(amqp_uri)


def broker_uris(base_uri: str, prefix: str, passwords: Mapping[str, str]) -> dict[str, str]:
    """Each role's AMQP URI: the base URI's broker and vhost, the role's own user."""
    parts = urllib.parse.urlsplit(base_uri)
    host = parts.hostname or "127.0.0.1"
    hostport = f"[{host}]" if ":" in host else host
    if parts.port:
        hostport += f":{parts.port}"
    uris = {}
    for role, password in passwords.items():
        user = urllib.parse.quote(prefix + role, safe="")
        secret = urllib.parse.quote(password, safe="")
        uris[role] = urllib.parse.urlunsplit(
            (parts.scheme or "amqp", f"{user}:{secret}@{hostport}", parts.path or "/", "", "")
        )
    return uris


def default_broker_user_prefix(vhost: str) -> str:
    """`casework-` on the default vhost; elsewhere the vhost's name, so that two
    suites on one broker (users are broker-wide) never share a password."""
    configured = os.environ.get("CASEWORK_BROKER_USER_PREFIX")
    if configured:
        return configured
    return "casework-" if vhost == "/" else f"{vhost}-"


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


def start_s3(port: int, run_dir: Path, recording: Path | None = None) -> None:
    """moto's S3 server. With `recording`, every request is appended to that file and the
    file is replayed when the server starts, so the archive (buckets, object-lock
    retention, every object version) is there again after `make stop && make run`;
    moto alone keeps nothing across a restart."""
    if port_open(port):
        return
    env = {}
    if recording is not None:
        recording.parent.mkdir(parents=True, exist_ok=True)
        recording.touch()
        env = {"MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(recording)}
    start_background("s3", [_bin("moto_server"), "-H", LOOPBACK, "-p", str(port)], run_dir, env=env)
    wait_for(lambda: port_open(port), 30, f"S3 endpoint on {port}")
    if recording is not None and recording.stat().st_size:
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{port}/moto-api/recorder/replay-recording", method="POST"
        )
        with urllib.request.urlopen(request, timeout=600) as reply:
            reply.read()


def start_smtp(port: int, run_dir: Path, mail_dir: Path) -> None:
    if not port_open(port):
        # aiosmtpd's Mailbox handler writes a Maildir: it needs its three folders.
        for folder in ("tmp", "new", "cur"):
            (mail_dir / folder).mkdir(parents=True, exist_ok=True)
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
    # feedback's public mini-survey endpoints, likewise.
    feedback_public_port: int = field(default_factory=free_port)
    # api processes with a metrics port of their own (none unless given).
    metrics_ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Each service's own broker user (and the operator's, "replay"); env's AMQP_URI,
    # when set, is the vhost's administrator, for tests that watch the broker.
    amqp_uris: dict[str, str] = field(default_factory=dict)

    def process_env(self, service: str, process: str) -> dict[str, str]:
        own = {"AMQP_URI": self.amqp_uris[service]} if service in self.amqp_uris else {}
        env = {
            **self.env,
            **own,
            "PYTHONPATH": PYTHONPATH,
            "GRPC_PORT": str(self.grpc_ports[service]),
            "HEALTH_PORT": str(self.health_ports[service]),
            "PUBLIC_HTTP_PORT": str(self.public_port),
            "FEEDBACK_PUBLIC_HTTP_PORT": str(self.feedback_public_port),
            # Never one inherited from the shell: every process would ask for the same.
            "METRICS_PORT": "",
        }
        if service == "documents" and "clients" in self.grpc_ports:
            # documents reads cards from this suite's clients api.
            env.setdefault("CLIENTS_GRPC_TARGET", f"127.0.0.1:{self.grpc_ports['clients']}")
        if service == "notify" and "clients" in self.grpc_ports:
            # notify reads the card of a client it messages from this suite's clients api.
            env.setdefault("CLIENTS_GRPC_TARGET", f"127.0.0.1:{self.grpc_ports['clients']}")
        if service == "documents" and "plans" in self.grpc_ports:
            # ... and the goals of the plan in effect from this suite's plans api.
            env.setdefault("PLANS_GRPC_TARGET", f"127.0.0.1:{self.grpc_ports['plans']}")
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

    def declare_topology(self, services: tuple[str, ...] = SERVICES) -> None:
        """Declare the consumer queues of `services` before any process publishes (the
        topology step), each as its service's own broker user."""
        env = {
            **self.env,
            "PYTHONPATH": PYTHONPATH,
            **{f"AMQP_URI_{name.upper()}": uri for name, uri in self.amqp_uris.items()},
        }
        done = subprocess.run(
            [sys.executable, "-m", "casework_common.topology", *services],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"topology step failed:\n{done.stderr[-3000:]}")
        print(done.stdout, end="", flush=True)

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
            if service == "feedback" and not port_open(self.feedback_public_port):
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
        start_s3(ports.s3, run_dir, var / "s3" / "recording.jsonl")
        env["S3_ENDPOINT"] = f"http://127.0.0.1:{ports.s3}"
    if not os.environ.get("SMTP_HOST"):
        start_smtp(ports.smtp, run_dir, var / "mail")
        env.update({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(ports.smtp)})
    if not os.environ.get("JWT_JWKS_FILE"):
        # The same key pair `make token` signs with: created once, kept in var/keys/.
        key = ensure_development_keys(var / "keys")
        env["JWT_JWKS_FILE"] = str(var / "keys" / "jwks.json")
        if not os.environ.get("NOTIFY_SERVICE_TOKENS_FILE"):
            # notify reads the card of a client it messages with these.
            env["NOTIFY_SERVICE_TOKENS_FILE"] = str(
                write_service_tokens(
                    var / "keys" / "notify-service-tokens.json",
                    key,
                    Path(
                        os.environ.get("CASEWORK_ORGANISATION_FILE")
                        or REPO_ROOT / "config" / "organisation.dev.json"
                    ),
                    subject="svc-notify",
                    scopes=NOTIFY_SCOPES,
                )
            )
        if not os.environ.get("DOCUMENTS_SERVICE_TOKENS_FILE"):
            # documents reads cards and plans with these (renewed at every make run).
            env["DOCUMENTS_SERVICE_TOKENS_FILE"] = str(
                write_service_tokens(
                    var / "keys" / "documents-service-tokens.json",
                    key,
                    Path(
                        os.environ.get("CASEWORK_ORGANISATION_FILE")
                        or REPO_ROOT / "config" / "organisation.dev.json"
                    ),
                )
            )
    if not os.environ.get("DOCUMENTS_SIGNING_KEY_FILE"):
        # A development certificate documents seals signed PDFs with, kept in var/documents/.
        key_file, cert_file = ensure_signing_certificate(var / "documents" / "signing")
        env["DOCUMENTS_SIGNING_KEY_FILE"] = str(key_file)
        env["DOCUMENTS_SIGNING_CERT_FILE"] = str(cert_file)
    return env


BROKER_USERS_FILE = "broker-users.json"


def local_broker_users(var: Path, env: dict[str, str]) -> dict[str, str]:
    """Each service's AMQP URI for `make run`: AMQP_URI_<SERVICE> when the user gives
    them all (users made elsewhere), else users made here on the broker AMQP_URI names
    (the local one by default), passwords kept in var/broker-users.json."""
    given = {name: os.environ.get(f"AMQP_URI_{name.upper()}", "") for name in SERVICES}
    if all(given.values()):
        return given
    base = os.environ.get("AMQP_URI") or "amqp://guest:guest@127.0.0.1:5672//"
    vhost = administrable_vhost(base)
    prefix = default_broker_user_prefix(vhost)
    exchange = os.environ.get("CASEWORK_EVENTS_EXCHANGE") or "casework.events"
    path = var / BROKER_USERS_FILE
    stored = json.loads(path.read_text()) if path.exists() else {}
    passwords = stored.get("passwords") if stored.get("prefix") == prefix else None
    passwords = {**new_broker_passwords(), **(passwords or {})}
    provision_broker_users(vhost, prefix, passwords, exchange)
    uris = broker_uris(base, prefix, passwords)
    var.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(
        json.dumps({"prefix": prefix, "passwords": passwords, "uris": uris}, indent=2) + "\n"
    )
    env["CASEWORK_BROKER_USER_PREFIX"] = prefix
    return uris


def up(var: Path) -> Suite:
    run_dir = var / "run"
    ports = local_ports()
    env = _local_env(var, run_dir, ports)
    amqp_uris = local_broker_users(var, env)
    suite = Suite(
        run_dir=run_dir,
        env=env,
        grpc_ports=dict(ports.grpc),
        health_ports=dict(ports.health),
        public_port=ports.public,
        feedback_public_port=ports.feedback_public,
        metrics_ports=dict(ports.metrics),
        amqp_uris=amqp_uris,
    )
    # Every consumer queue first: an event published before its consumer's first start
    # waits in its queue instead of going to the unrouted queue.
    suite.declare_topology()
    # Run again, `make run` starts only what is not running: a process that died (killed,
    # crashed, a zombie nobody reaped) is started again, the others are left alone.
    for service in SERVICES:
        for process in ("api", "events"):
            pid_file = run_dir / f"{service}-{process}.pid"
            if pid_file.exists():
                if _runs(int(pid_file.read_text() or 0), f"casework_{service}"):
                    continue
                print(f"{service}-{process} was not running; starting it again", flush=True)
            suite.start(service, process)
    for service in SERVICES:
        for process in ("api", "events"):
            suite.wait_ready(service, process, timeout=90)
    return suite


def process_state(pid: int) -> str | None:
    """The kernel's one-letter state of `pid` (R, S, D, T, Z, X...), None if there is no
    such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return "?"  # someone else's, alive
        return "?"  # no /proc here; it exists
    # The command name, in parentheses, may itself hold spaces and parentheses.
    return stat[stat.rindex(")") + 2 :].split(" ", 1)[0]


def _alive(pid: int) -> bool:
    """Whether `pid` still runs. A killed child of ours that nobody reaped yet (a zombie)
    still answers `kill(pid, 0)`, so that alone would take a dead process for a live one:
    reap it if it is ours, and read its state."""
    # Not our child: its own parent (or init) reaps it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return process_state(pid) not in (None, "Z", "X")


def _runs(pid: int, module: str) -> bool:
    """Alive and still the process the pid file names (pids are reused)."""
    if not pid or not _alive(pid):
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return module.encode() in command


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
    print(
        f"public     http://127.0.0.1:{ports.feedback_public}/public/v1/feedback/ "
        "(feedback mini-surveys, kiosk)"
    )
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
