"""`make chaos`: a stream of partner referrals through a full suite while its processes,
its database server and its broker are killed in turn, and a database outage of over a
minute; then count what arrived.

    python -m casework_dev.chaos [--referrals N] [--small]

It runs on a RabbitMQ node and a MongoDB-wire server of its own (free ports, a scratch
directory), so the default broker and database never notice. Prints accepted / cards /
notifications / lost / doubled / dead-lettered / time to drain and exits 1 on any loss,
double or dead letter.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from casework_dev.devstack import (
    Suite,
    broker_uris,
    free_port,
    new_broker_passwords,
    port_open,
    provision_broker_users,
    start_mongo,
    wait_for,
)

SERVICES = ("intake", "clients", "notify")
PROCESSES = tuple(f"{s}-{p}" for s in SERVICES for p in ("api", "events"))


def _ctl() -> str:
    return shutil.which("rabbitmqctl") or "rabbitmqctl"


@contextlib.contextmanager
def _node_env(node: str) -> Iterator[None]:
    """rabbitmqctl (also inside devstack's helpers) talks to the node this names."""
    before = os.environ.get("RABBITMQ_NODENAME")
    os.environ["RABBITMQ_NODENAME"] = node
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("RABBITMQ_NODENAME", None)
        else:
            os.environ["RABBITMQ_NODENAME"] = before


class RabbitNode:
    """A RabbitMQ node of its own on this machine (see PLATFORM-NOTES, "A second RabbitMQ
    node"), in a directory owned by the `rabbitmq` user, which the Debian wrapper runs it as."""

    def __init__(self, name: str | None = None) -> None:
        # A directory of its own, readable on the way down by the `rabbitmq` user.
        self.base = Path(tempfile.mkdtemp(prefix="casework-chaos-rabbit-"))
        self.base.chmod(0o755)
        self.port = free_port()
        self.dist_port = free_port()
        self.node = name or f"chaos{secrets.token_hex(3)}@localhost"
        self.pid_file = self.base / "rabbit.pid"
        self.accepting_at = 0.0

    def env(self) -> dict[str, str]:
        plugins = self.base / "enabled_plugins"
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            # The machine's rabbitmq.conf names 5672; this node listens on its own port.
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
        }

    def start(self, timeout: float = 120.0) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir(exist_ok=True)
        subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(self.base)], check=True)
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env(), check=False)
        wait_for(lambda: port_open(self.port), timeout, f"RabbitMQ node {self.node}")
        self.accepting_at = time.time()
        subprocess.run([_ctl(), "-n", self.node, "await_startup"], check=True, capture_output=True)

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """kill -9 of the node's Erlang VM, as a machine crash would."""
        pid = self.pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not port_open(self.port), 30, f"{self.node} gone")

    def stop(self) -> None:
        subprocess.run([_ctl(), "-n", self.node, "stop"], check=False, capture_output=True)
        wait_for(lambda: not port_open(self.port), 60, f"{self.node} stopped")

    def admin_uri(self, vhost: str) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{urllib.parse.quote(vhost, safe='')}"

    def add_vhost(self, vhost: str) -> str:
        for args in (
            ["add_vhost", vhost],
            ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        ):
            subprocess.run([_ctl(), "-n", self.node, *args], check=True, capture_output=True)
        return self.admin_uri(vhost)


class MongoServer:
    """The development MongoDB-wire server of the run's own."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.base / "run" / f"mongo-{self.port}.pid"

    def start(self) -> None:
        start_mongo(self.base / "data", self.port, self.base / "run")

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            os.kill(int(self.pid_file.read_text()), signal.SIGKILL)
        wait_for(lambda: not port_open(self.port), 30, "database server gone")
        self.pid_file.unlink(missing_ok=True)

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            os.kill(int(self.pid_file.read_text()), signal.SIGTERM)
        wait_for(lambda: not port_open(self.port), 30, "database server stopped")
        self.pid_file.unlink(missing_ok=True)


@dataclass
class Outcome:
    accepted: int
    cards: int
    notifications: int
    lost: list[str]
    doubled: list[str]
    dead_lettered: int
    drain_seconds: float
    faults: list[str] = field(default_factory=list)
    resume_gaps: list[float] = field(default_factory=list)

    @property
    def resumed(self) -> bool:
        """Events flowed again by themselves after every broker restart."""
        return all(gap == gap for gap in self.resume_gaps)  # NaN: they did not

    @property
    def ok(self) -> bool:
        return not self.lost and not self.doubled and self.dead_lettered == 0 and self.resumed

    def report(self) -> str:
        return "\n".join(
            [
                f"faults:         {', '.join(self.faults)}",
                f"accepted:       {self.accepted}",
                f"cards:          {self.cards}",
                f"notifications:  {self.notifications}",
                f"lost:           {len(self.lost)} {self.lost[:5]}",
                f"doubled:        {len(self.doubled)} {self.doubled[:5]}",
                f"dead-lettered:  {self.dead_lettered}",
                f"time to drain:  {self.drain_seconds:.1f} s",
                "broker back -> events resumed: "
                + (", ".join(f"{g:.2f} s" for g in self.resume_gaps) or "-"),
            ]
        )


class Referrals:
    """Submits referrals as a partner would: each one with its own idempotency key, sent
    again (the same key) until the suite accepts it."""

    def __init__(self, grpc_port: int, token: str) -> None:
        import grpc

        from casework.intake.v1 import intake_pb2_grpc

        self._channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        self._stub = intake_pb2_grpc.IntakeServiceStub(self._channel)
        self._metadata = [("authorization", f"Bearer {token}")]
        self.accepted: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _request(self, n: int) -> Any:
        from casework.intake.v1 import intake_pb2

        return intake_pb2.SubmitReferralRequest(
            idempotency_key=f"chaos-{secrets.token_hex(8)}",
            person=intake_pb2.Person(
                given_name="Jana",
                family_name=f"Chaos-{n}-{secrets.token_hex(4)}",
                # People born on as many days as a region's clients are: a run where
                # everyone shares one birthday measures clients' candidate search over
                # hundreds of namesakes, not the event path.
                date_of_birth=(
                    date(1935, 1, 1) + timedelta(days=secrets.randbelow(25_000))
                ).isoformat(),
            ),
            contact=intake_pb2.Contact(phone=f"+421 9{secrets.randbelow(10**8):08d}"),
            centre_id="ctr-north-town",
            client_type="senior",
            problem_type="housing",
            channel=intake_pb2.CHANNEL_PARTNER_REFERRAL,
            free_text="Lives alone.",
        )

    def submit(self, n: int) -> None:
        import grpc

        request = self._request(n)
        while not self._stop.is_set():
            try:
                reply = self._stub.SubmitReferral(request, metadata=self._metadata, timeout=5)
                self.accepted[reply.referral.referral_id] = time.monotonic()
                return
            except grpc.RpcError:
                time.sleep(0.2)

    def stream(self, count: int, interval: float) -> None:
        def run() -> None:
            for n in range(count):
                if self._stop.is_set():
                    return
                self.submit(n)
                time.sleep(interval)

        self._thread = threading.Thread(target=run, name="referrals", daemon=True)
        self._thread.start()

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self._channel.close()


def _split(names: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(name.split("-")[0], name.split("-")[1]) for name in names]


class ChaosRun:
    """A full suite on a broker node and a database server of the run's own."""

    def __init__(self, base: Path, *, log: Callable[[str], None] = print) -> None:
        self.base = base
        self.log = log
        self.broker = RabbitNode()
        self.mongo = MongoServer(base / "mongo")
        self.suite: Suite | None = None
        self.faults: list[str] = []
        self.resume_gaps: list[float] = []

    def start(self, env: dict[str, str] | None = None) -> Suite:
        from casework_dev.testing.fixtures import session_jwks_file

        self.broker.start()
        self.mongo.start()
        vhost = "chaos"
        admin = self.broker.add_vhost(vhost)
        prefix = f"chaos-{secrets.token_hex(3)}-"
        passwords = new_broker_passwords()
        with _node_env(self.broker.node):
            provision_broker_users(vhost, prefix, passwords, "casework.events")
        run_dir = self.base / "suite"
        run_dir.mkdir(parents=True, exist_ok=True)
        self.suite = Suite(
            run_dir=run_dir,
            amqp_uris=broker_uris(admin, prefix, passwords),
            env={
                "AMQP_URI": admin,
                "CASEWORK_BROKER_USER_PREFIX": prefix,
                "MONGO_URI": self.mongo.uri,
                "MONGO_DB_PREFIX": f"chaos_{secrets.token_hex(3)}",
                "LOG_LEVEL": "INFO",
                "JWT_JWKS_FILE": str(session_jwks_file()),
                "MONGO_SERVER_SELECTION_MS": "1000",
                **(env or {}),
            },
            grpc_ports={name: free_port() for name in SERVICES},
            health_ports={name: free_port() for name in SERVICES},
        )
        for service, process in _split(PROCESSES):
            self.suite.start(service, process)
        for service, process in _split(PROCESSES):
            self.suite.wait_ready(service, process, timeout=120)
        return self.suite

    # ----------------------------------------------------------------- faults

    def kill_process(self, name: str) -> None:
        assert self.suite is not None
        service, process = name.split("-")
        self.fault(f"kill -9 {name}")
        self.suite.kill(service, process)
        self.suite.start(service, process)
        self.suite.wait_ready(service, process, timeout=120)

    def restart_database(self) -> None:
        self.fault("kill -9 database")
        self.mongo.kill()
        self.mongo.start()

    def database_outage(self, seconds: float) -> None:
        self.fault(f"database down {seconds:.0f} s")
        self.mongo.stop()
        time.sleep(seconds)
        self.mongo.start()

    def restart_broker(self, probe: Callable[[], object] | None = None) -> float:
        """kill -9 of the broker node and a start again; answers the seconds from the broker
        accepting connections to the suite's next consumed event (NaN: none within two
        minutes). `probe` sends a referral once the broker is back, so there is an event
        to resume with even when the stream has ended."""
        assert self.suite is not None
        self.fault("kill -9 broker")
        self.broker.kill()
        log = self.suite.run_dir / "clients-events.log"
        seen = len(log.read_text(errors="replace").splitlines())
        self.broker.start()
        back = self.broker.accepting_at
        if probe is not None:
            probe()

        def handled_at() -> float | None:
            lines = log.read_text(errors="replace").splitlines()[seen:]
            for line in lines:
                if '"event handled"' in line:
                    at = datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
                    # A handler that had its message before the kill may still log
                    # while the broker is down: that is not a resumption.
                    if at >= back:
                        return at
            return None

        with contextlib.suppress(TimeoutError):
            wait_for(handled_at, 120, "an event handled after the broker restart")
        at = handled_at()
        gap = at - back if at is not None else float("nan")
        self.log(f"[chaos] events resumed {gap:.2f} s after the broker accepted connections")
        self.resume_gaps.append(gap)
        return gap

    def fault(self, what: str) -> None:
        self.faults.append(what)
        self.log(f"[chaos] {time.strftime('%H:%M:%S')} {what}")

    # ----------------------------------------------------------------- counting

    def count(self, accepted: dict[str, float]) -> tuple[int, int, list[str], list[str]]:
        import pymongo

        assert self.suite is not None
        prefix = self.suite.env["MONGO_DB_PREFIX"]
        client: pymongo.MongoClient[Any] = pymongo.MongoClient(
            self.mongo.uri, serverSelectionTimeoutMS=5000
        )
        try:
            cards: dict[str, int] = {}
            for doc in client[f"{prefix}_clients"].clients.find({}, {"referral_ids": 1}):
                for referral_id in doc.get("referral_ids") or []:
                    cards[referral_id] = cards.get(referral_id, 0) + 1
            notes: dict[str, int] = {}
            for doc in client[f"{prefix}_notify"].notifications.find({}, {"referral_id": 1}):
                referral_id = doc.get("referral_id") or ""
                notes[referral_id] = notes.get(referral_id, 0) + 1
        finally:
            client.close()
        lost = [r for r in accepted if not cards.get(r) or not notes.get(r)]
        doubled = [r for r in accepted if cards.get(r, 0) > 1 or notes.get(r, 0) > 1]
        return (
            sum(1 for r in accepted if cards.get(r)),
            sum(1 for r in accepted if notes.get(r)),
            lost,
            doubled,
        )

    def dead_letters(self) -> int:
        import kombu

        assert self.suite is not None
        with kombu.Connection(self.suite.env["AMQP_URI"]) as connection:
            channel = connection.default_channel
            try:
                reply = channel.queue_declare("casework.events.dead-letter", passive=True)
            except Exception:
                return 0
            return int(reply.message_count)

    def where_lost(self, lost: list[str]) -> list[str]:
        """Where each lost referral stopped: not stored by intake, still in intake's
        outbox, published but no card, or a card but no notification; and what the
        broker still holds, queue by queue. A failed run says where to look."""
        import pymongo

        assert self.suite is not None
        prefix = self.suite.env["MONGO_DB_PREFIX"]
        client: pymongo.MongoClient[Any] = pymongo.MongoClient(
            self.mongo.uri, serverSelectionTimeoutMS=5000
        )
        lines = []
        try:
            for referral_id in lost:
                referral = client[f"{prefix}_intake"].referrals.find_one({"_id": referral_id})
                card = client[f"{prefix}_clients"].clients.find_one(
                    {"referral_ids": referral_id}, {"_id": 1}
                )
                if referral is None:
                    stage = "not in intake's database (an acknowledged write the server lost?)"
                elif referral.get("outbox_pending"):
                    stage = (
                        f"in intake's outbox: {len(referral.get('outbox') or [])} events, "
                        f"claimed {referral.get('outbox_claimed_ms')}"
                    )
                elif card is None:
                    stage = "published by intake, no card"
                else:
                    stage = f"card {card['_id']}, no notification"
                lines.append(f"  {referral_id}: {stage}")
        finally:
            client.close()
        listed = subprocess.run(
            [_ctl(), "-n", self.broker.node, "list_queues", "-p", "chaos", "name", "messages"],
            capture_output=True,
            text=True,
            check=False,
        )
        held = [
            line for line in listed.stdout.splitlines() if line.rstrip().split("\t")[-1:] != ["0"]
        ]
        lines.extend(f"  queue {line}" for line in held)
        return lines

    def drain(self, accepted: dict[str, float], timeout: float) -> Outcome:
        started = time.monotonic()
        deadline = started + timeout
        while True:
            cards, notes, lost, doubled = self.count(accepted)
            if not lost or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if lost:
            for line in self.where_lost(lost):
                self.log(f"[chaos] {line}")
        return Outcome(
            accepted=len(accepted),
            cards=cards,
            notifications=notes,
            lost=lost,
            doubled=doubled,
            dead_lettered=self.dead_letters(),
            drain_seconds=time.monotonic() - started,
            faults=list(self.faults),
            resume_gaps=list(self.resume_gaps),
        )

    def close(self) -> None:
        if self.suite is not None:
            self.suite.stop_all()
        with contextlib.suppress(Exception):
            self.mongo.stop()
        with contextlib.suppress(Exception):
            self.broker.stop()
        shutil.rmtree(self.broker.base, ignore_errors=True)


def run(*, referrals: int, small: bool, base: Path, log: Callable[[str], None] = print) -> Outcome:
    """The whole run; `small` is the variant inside `make test` (a kill of clients-events
    and of notify-events, one database restart, one broker restart)."""
    from casework_dev.testing.fixtures import create_partner_token

    chaos = ChaosRun(base, log=log)
    try:
        suite = chaos.start(
            env={
                "CASEWORK_RETRY_DELAYS": "0.5,1,2,4" if small else "",
                "CASEWORK_SWEEP_AFTER": "2",
            }
        )
        stream = Referrals(suite.grpc_ports["intake"], create_partner_token())
        try:
            interval = 0.5 if small else 0.2
            stream.stream(referrals, interval)
            faults: list[Callable[[], object]]
            if small:
                faults = [
                    lambda: chaos.kill_process("clients-events"),
                    lambda: chaos.kill_process("notify-events"),
                    chaos.restart_database,
                    lambda: chaos.restart_broker(probe=lambda: stream.submit(referrals)),
                ]
            else:
                faults = [
                    *(lambda name=name: chaos.kill_process(name) for name in PROCESSES),
                    chaos.restart_database,
                    lambda: chaos.restart_broker(probe=lambda: stream.submit(referrals)),
                    lambda: chaos.database_outage(65),
                ]
            for fault in faults:
                fault()
                # Let some referrals through between two faults.
                before = len(stream.accepted)
                wait_for(
                    lambda before=before: (
                        len(stream.accepted) >= before + 3 or not stream.running()
                    ),
                    120,
                    "referrals accepted again",
                )
            stream.join(timeout=600)
            log(f"[chaos] {time.strftime('%H:%M:%S')} stream ended; draining")
            return chaos.drain(stream.accepted, timeout=180)
        finally:
            stream.close()
    finally:
        chaos.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=0)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    referrals = args.referrals or (30 if args.small else 400)
    base = Path(tempfile.mkdtemp(prefix="casework-chaos-"))
    try:
        outcome = run(referrals=referrals, small=args.small, base=base)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"[chaos] kept {base}")
    print(outcome.report())
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
