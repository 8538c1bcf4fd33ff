"""`make bench`: referral-to-inbox latency and throughput, beside the raw hops a
referral cannot do without, measured in the same run on the same servers: one
sequential gRPC call, two confirmed AMQP round trips (intake -> clients -> notify) and
three database writes (the referral, the card, the notification). The ratios are the
figures to watch: they say what the suite adds on top of its servers, whatever
machine this runs on. Goals: p50 <= 5x and p99 <= 10x the hop sum; sustained intake
>= 50 % of the database-bound ceiling (raw saves/s / writes per referral).

Starts its own intake, clients and notify processes (own vhost, own database server),
so it can run beside `make run` without touching its data.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import kombu
import pymongo

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common.auth import issue_token, write_key_pair
from casework_common.config import SERVICES
from casework_common.messaging import Publisher
from casework_dev import bench_consumer
from casework_dev.devstack import (
    Suite,
    broker_uris,
    create_vhost,
    delete_broker_users,
    delete_vhost,
    ensure_rabbitmq,
    free_port,
    new_broker_passwords,
    provision_broker_users,
    start_mongo,
    stop_mongo,
)

HOPS = {"grpc": 1, "amqp": 2, "write": 3}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_amqp_round_trips(amqp_uri: str, count: int) -> tuple[list[float], str]:
    """Confirmed, persistent publish -> consume -> ack, one at a time, through a queue of
    the type the suite's own queues have on this broker (quorum where it supports them:
    its confirm waits for the queue's log on disk): the floor any event hop of the suite
    stands on. Answers the times and the queue type."""
    publisher = Publisher(amqp_uri, "bench.raw")
    publisher.connect()
    kind = publisher.queue_type()
    queue = kombu.Queue(
        "bench.raw.round-trip",
        exchange=kombu.Exchange(
            "bench.raw",
            type="topic",
            durable=True,
            arguments={"alternate-exchange": "bench.raw.unrouted"},
        ),
        routing_key="bench.#",
        durable=True,
        queue_arguments={"x-queue-type": kind},
    )
    latencies = []
    with kombu.Connection(amqp_uri) as connection:
        simple = connection.SimpleQueue(queue)
        for i in range(count):
            started = time.perf_counter()
            publisher.publish_raw(
                b'{"n":%d}' % i,
                exchange="bench.raw",
                routing_key="bench.ping",
                headers={},
                message_id=None,
            )
            message = simple.get(timeout=10)
            message.ack()
            latencies.append(time.perf_counter() - started)
        simple.close()
    publisher.close()
    return latencies, kind


def raw_grpc_calls(port: int, count: int) -> list[float]:
    """One sequential unary call answered by the same server the referrals go to
    (its health check: no token, no database), on one channel."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    latencies = []
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="")
        stub.Check(request, timeout=5)
        for _ in range(count):
            started = time.perf_counter()
            stub.Check(request, timeout=5)
            latencies.append(time.perf_counter() - started)
    return latencies


def raw_writes(mongo_uri: str, count: int) -> list[float]:
    """Acknowledged insert_one of a referral-sized document, one at a time, into the
    same database server the services write to."""
    collection: Any = pymongo.MongoClient(mongo_uri)["bench_raw"]["writes"]
    body = "x" * 1500
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        collection.insert_one({"n": i, "body": body})
        latencies.append(time.perf_counter() - started)
    return latencies


def raw_saves_per_second(mongo_uri: str, count: int, concurrency: int) -> float:
    """Insert rate with as many concurrent writers as the burst has callers: the
    database's ceiling on this machine."""
    client: Any = pymongo.MongoClient(mongo_uri, maxPoolSize=concurrency)
    collection = client["bench_raw"]["saves"]
    body = "x" * 1500
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda i: collection.insert_one({"n": i, "body": body}), range(count)))
    return count / (time.perf_counter() - started)


def writes_in_databases(mongo_uri: str, prefix: str) -> int:
    """Writes the suite made, read back from what it stored: an aggregate's `version`
    counts its saves and `outbox_epoch` the relay's clears; any other document (a
    processed mark, a log entry) was written once. The development server keeps no
    operation counters, and this needs no hook inside the services."""
    client: Any = pymongo.MongoClient(mongo_uri)
    total = 0
    for name in client.list_database_names():
        if not name.startswith(f"{prefix}_"):
            continue
        database = client[name]
        for collection in database.list_collection_names():
            for doc in database[collection].find({}, {"version": 1, "outbox_epoch": 1}):
                total += max(int(doc.get("version") or 1), 1) + int(doc.get("outbox_epoch") or 0)
    return total


GIVEN = (
    "Jana",
    "Petr",
    "Marta",
    "Ilze",
    "Olena",
    "Jānis",
    "Tomáš",
    "Eva",
    "Andrii",
    "Lucia",
    "Marek",
    "Zuzana",
    "Oksana",
    "Pavel",
    "Anna",
    "Dmytro",
    "Kristīne",
    "Martin",
)
FAMILY = (
    "Nováková",
    "Horváth",
    "Bērziņa",
    "Шевченко",
    "Dvořák",
    "Kovalenko",
    "Ozoliņš",
    "Svoboda",
    "Varga",
    "Бондаренко",
    "Kalniņa",
    "Černý",
    "Tkachenko",
    "Kováč",
)


def referral(i: int, run: str) -> intake_pb2.SubmitReferralRequest:
    """A different person each time, named as people in the region are: common names
    recur (so search-before-register meets real look-alikes), dates of birth differ."""
    born = date(1940, 1, 1) + timedelta(days=(i * 7919) % 25000)
    family = FAMILY[(i // len(GIVEN)) % len(FAMILY)]
    return intake_pb2.SubmitReferralRequest(
        idempotency_key=f"bench-{run}-{i:06d}",
        person=intake_pb2.Person(
            given_name=GIVEN[i % len(GIVEN)], family_name=family, date_of_birth=born.isoformat()
        ),
        contact=intake_pb2.Contact(phone=f"+421 9{i % 100:02d} {i // 100:03d} {len(run):03d}"),
        centre_id="ctr-north-town",
        client_type="senior",
        problem_type="housing",
        channel=intake_pb2.CHANNEL_PARTNER_REFERRAL,
        free_text="benchmark referral",
    )


# Where the bench's referrals go (config/organisation.dev.json: North Town, housing).
RESPONSIBLE_WORKER = "w-anna"
ARRIVAL_DEADLINE = 120.0  # seconds: only a broken path waits this long


# How often the bench looks whether referrals have reached the inboxes. The development
# database server answers one command at a time: a bench asking every millisecond kept
# it busy about half the time and slowed the very path it timed (measured: p50 42.5 ms
# under a 1 ms poll, 35.7 ms under a 20 ms one, interleaved). The time taken is read
# from each notification's stored moment instead, so looking seldom costs no precision.
LOOK_EVERY = 0.05
# A burst's hundreds of referrals make each look a longer read: look less often.
LOOK_EVERY_BURST = 0.25


def utc_now() -> datetime:
    # As the database hands stored moments back: UTC, naive, whole milliseconds.
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def stored_after(
    inbox: Any, referral_ids: list[str], sent: datetime, every: float = LOOK_EVERY
) -> float:
    """Seconds from `sent` until the last of these referrals had its first notification
    stored (the notification's `stored_at`, written by notify as it inserts it)."""
    wanted = set(referral_ids)
    first: dict[str, datetime] = {}
    deadline = time.monotonic() + ARRIVAL_DEADLINE
    while True:
        time.sleep(every)
        missing = sorted(wanted - first.keys())
        seen = inbox.find({"referral_id": {"$in": missing}}, {"referral_id": 1, "stored_at": 1})
        for doc in seen:
            at = doc["stored_at"]
            if doc["referral_id"] not in first or at < first[doc["referral_id"]]:
                first[doc["referral_id"]] = at
        if len(first) == len(wanted):
            return (max(first.values()) - sent).total_seconds()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(wanted) - len(first)} referrals never reached the inbox")


class LiveInbox:
    """The responsible worker's live inbox (WatchInbox), as their screen has it: when
    each referral's first notification arrived there."""

    def __init__(self, port: int, metadata: list[tuple[str, str]]) -> None:
        self._arrived: dict[str, float] = {}
        self._changed = threading.Condition()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = notify_pb2_grpc.NotifyServiceStub(self._channel)
        self._stream = stub.WatchInbox(notify_pb2.WatchInboxRequest(), metadata=metadata)
        next(self._stream)  # the counts: the watch is open before any referral is sent
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for update in self._stream:
                referral_id = update.notification.referral_id
                if referral_id:
                    with self._changed:
                        self._arrived.setdefault(referral_id, time.perf_counter())
                        self._changed.notify_all()
        except grpc.RpcError:
            return  # closed

    def arrived(self, referral_ids: list[str]) -> float:
        """When the last of these referrals reached the inbox (perf_counter)."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: all(r in self._arrived for r in referral_ids), ARRIVAL_DEADLINE
            ):
                missing = [r for r in referral_ids if r not in self._arrived]
                raise TimeoutError(f"{len(missing)} referrals never reached the inbox")
            return max(self._arrived[r] for r in referral_ids)

    def close(self) -> None:
        self._stream.cancel()
        self._channel.close()


def worker_token(key: Any) -> str:
    """The responsible worker, signed in."""
    return issue_token(
        key.private_key, key.kid, organisation="org-demo", subject=RESPONSIBLE_WORKER,
        centres=["ctr-north-town"], roles=["case_worker"],
    )  # fmt: skip


def burst(
    port: int,
    metadata: list[tuple[str, str]],
    inbox: Any,
    count: int,
    concurrency: int,
    first: int,
) -> tuple[float, float]:
    """`count` referrals from `concurrency` callers at once: seconds until intake
    accepted them all, and until the last had its notification stored. The people are
    `referral(first)` onwards (4 x `concurrency` of them to warm up), each new to clients.

    Each caller has a channel (a connection) of its own, as separate partners would:
    the api processes share one port and the kernel spreads connections, not calls, so
    callers sharing one channel would all be served by a single process."""
    channels = [grpc.insecure_channel(f"127.0.0.1:{port}") for _ in range(concurrency)]
    stubs = [intake_pb2_grpc.IntakeServiceStub(channel) for channel in channels]
    try:
        # Untimed: every process answers its first calls and events more slowly (lazy
        # imports, connections, caches), and freshly started ones would pay it in the burst.
        warm = secrets.token_hex(3)
        with ThreadPoolExecutor(concurrency) as pool:
            warmed = list(
                pool.map(
                    lambda i: (
                        stubs[i % concurrency]
                        .SubmitReferral(referral(first + i, f"warm{warm}"), metadata=metadata)
                        .referral.referral_id
                    ),
                    range(4 * concurrency),
                )
            )
        stored_after(inbox, warmed, utc_now(), LOOK_EVERY_BURST)
        run = secrets.token_hex(3)
        sent = utc_now()
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            ids = list(
                pool.map(
                    lambda i: (
                        stubs[i % concurrency]
                        .SubmitReferral(
                            referral(first + 4 * concurrency + i, run), metadata=metadata
                        )
                        .referral.referral_id
                    ),
                    range(count),
                )
            )
        accepted = time.perf_counter() - started
        return accepted, stored_after(inbox, ids, sent, LOOK_EVERY_BURST)
    finally:
        for channel in channels:
            channel.close()


BENCH_SERVICES = ("intake", "clients", "notify")


def read_spans(trace_dir: Path) -> list[dict[str, Any]]:
    """Every span the processes wrote to `trace_dir` (CASEWORK_TRACE_DIR), as dicts."""
    spans = []
    for path in trace_dir.glob("*.jsonl"):
        spans += [json.loads(line) for line in path.read_text().splitlines() if line]
    return spans


def where_the_time_goes(spans: list[dict[str, Any]]) -> list[str]:
    """The median referral's trace as a timeline: each step (a process's call or event,
    each database command and publish in it) with its median start, from the partner's
    call, and median duration. A step's n-th occurrence in a trace is its own row."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
    steps: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    traces = 0
    for trace_spans in by_trace.values():
        roots = [s for s in trace_spans if s["name"].endswith("IntakeService/SubmitReferral")]
        if len(roots) != 1 or not any("notify" in (s["service"] or "") for s in trace_spans):
            continue
        traces += 1
        origin = roots[0]["start_ns"]
        seen: dict[tuple[str, str], int] = {}
        for span in sorted(trace_spans, key=lambda s: s["start_ns"]):
            service = (span["service"] or "").removeprefix("casework-")
            nth = seen[(service, span["name"])] = seen.get((service, span["name"]), 0) + 1
            steps.setdefault((service, span["name"], nth), []).append(
                ((span["start_ns"] - origin) / 1e6, (span["end_ns"] - span["start_ns"]) / 1e6)
            )
    rows = []
    for (service, name, nth), times in steps.items():
        if len(times) * 2 < traces:
            continue  # a step most referrals do not take (a match proposal, a retry)
        start = percentile([t[0] for t in times], 0.5)
        took = percentile([t[1] for t in times], 0.5)
        label = f"{name} (#{nth})" if nth > 1 else name
        rows.append((start, f"  {start:7.2f} ms  +{took:6.2f} ms  {service:<15} {label}"))
    return [f"{traces} traced referrals, median start from the partner's call, median length"] + [
        row for _, row in sorted(rows)
    ]


def start_services(suite: Suite, processes: int, env: dict[str, str] | None = None) -> None:
    """intake, clients and notify, each as `processes` api and `processes` events
    processes (launch.py forks them; they share the ports and the queues)."""
    suite.stop_all()
    extra = {"API_PROCESSES": str(processes), "EVENTS_PROCESSES": str(processes), **(env or {})}
    for service in BENCH_SERVICES:
        for process in ("api", "events"):
            suite.start(service, process, extra)
    for service in BENCH_SERVICES:
        for process in ("api", "events"):
            suite.wait_ready(service, process)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:7.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=200, help="sequential latency samples")
    parser.add_argument(
        "--burst", type=int, default=300, help="referrals sent at once for throughput"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--traced", type=int, default=60, help="sequential referrals traced for the timeline"
    )
    parser.add_argument(
        "--events", type=int, default=500, help="events queued for notify's consumer throughput"
    )
    parser.add_argument(
        "--processes",
        default="1,2",
        help="api and events processes per service for the burst, compared (e.g. 1,2)",
    )
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.processes.split(",") if n.strip()]

    ensure_rabbitmq()
    vhost = f"casework-bench-{secrets.token_hex(4)}"
    amqp_uri = create_vhost(vhost)
    passwords = new_broker_passwords()
    provision_broker_users(vhost, f"{vhost}-", passwords)
    work = Path(tempfile.mkdtemp(prefix="casework-bench-"))
    mongo_port = free_port()
    start_mongo(work / "mongo", mongo_port, work)
    mongo_uri = f"mongodb://127.0.0.1:{mongo_port}"
    key = write_key_pair(work / "keys", f"bench-{secrets.token_hex(4)}")
    suite = Suite(
        run_dir=work,
        env={
            "AMQP_URI": amqp_uri,
            "CASEWORK_BROKER_USER_PREFIX": f"{vhost}-",
            "MONGO_URI": mongo_uri,
            "MONGO_DB_PREFIX": "bench",
            "LOG_LEVEL": "WARNING",
            "JWT_JWKS_FILE": str(work / "keys" / "jwks.json"),
        },
        grpc_ports={name: free_port() for name in SERVICES},
        health_ports={name: free_port() for name in SERVICES},
        amqp_uris=broker_uris(amqp_uri, f"{vhost}-", passwords),
    )
    try:
        start_services(suite, 1)
        token = issue_token(
            key.private_key,
            key.kid,
            organisation="org-demo",
            subject="bench-partner",
            kind="partner",
            centres=["ctr-north-town"],
            scopes=["casework.intake.v1.IntakeService/SubmitReferral"],
        )
        metadata = [("authorization", f"Bearer {token}")]
        stub = intake_pb2_grpc.IntakeServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports['intake']}")
        )
        inbox: Any = pymongo.MongoClient(mongo_uri)["bench_notify"]["notifications"]

        run = secrets.token_hex(3)
        # Each referral below is a person clients has not met (a new card, the path a
        # referral takes most): each takes the next person. Those met again would make
        # match proposals instead, another path. `person` also counts the referrals sent.
        stub.SubmitReferral(referral(0, f"warm{run}"), metadata=metadata)  # warm every path once
        person = 1
        latencies = []
        for i in range(args.referrals):
            sent = utc_now()
            referral_id = stub.SubmitReferral(
                referral(person + i, run), metadata=metadata
            ).referral.referral_id
            latencies.append(stored_after(inbox, [referral_id], sent))
        person += args.referrals

        # The same path as far as the worker's screen: notify's live inbox passes on
        # what its feed finds stored (woken by a hint, else polling).
        live = LiveInbox(
            suite.grpc_ports["notify"], [("authorization", f"Bearer {worker_token(key)}")]
        )
        try:
            live_latencies = []
            for i in range(args.referrals):
                started = time.perf_counter()
                referral_id = stub.SubmitReferral(
                    referral(person + i, run), metadata=metadata
                ).referral.referral_id
                live_latencies.append(live.arrived([referral_id]) - started)
        finally:
            live.close()
        person += args.referrals

        # The hops, measured between the referrals' runs on the same servers.
        amqp_hops, queue_kind = raw_amqp_round_trips(amqp_uri, args.referrals)
        hops = {
            "grpc": raw_grpc_calls(suite.grpc_ports["intake"], args.referrals),
            "amqp": amqp_hops,
            "write": raw_writes(mongo_uri, args.referrals),
        }
        saves_per_s = raw_saves_per_second(mongo_uri, max(args.burst * 3, 300), args.concurrency)

        bursts: dict[int, tuple[float, float]] = {}
        for n in counts:
            if n != 1 or bursts:
                start_services(suite, n)
            bursts[n] = burst(
                suite.grpc_ports["intake"], metadata, inbox, args.burst, args.concurrency, person
            )
            person += args.burst + 4 * args.concurrency
        writes_per_referral = writes_in_databases(mongo_uri, "bench") / person
        ceiling = saves_per_s / writes_per_referral

        print(f"\nraw hops (same run, same servers), sequential, n={args.referrals} each:")
        hop_p50 = hop_p99 = 0.0
        for name, times in hops.items():
            p50_hop, p99_hop = percentile(times, 0.5), percentile(times, 0.99)
            hop_p50 += HOPS[name] * p50_hop
            hop_p99 += HOPS[name] * p99_hop
            what = f"   ({queue_kind} queue, as the suite's)" if name == "amqp" else ""
            print(f"  {HOPS[name]} x {name:<6} p50 {ms(p50_hop)}   p99 {ms(p99_hop)}{what}")
        print(f"  sum (the least a referral needs) p50 {ms(hop_p50)}   p99 {ms(hop_p99)}")
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(
            "referral -> inbox (intake gRPC -> AMQP -> clients -> AMQP -> notify), "
            f"sequential, n={len(latencies)}"
        )
        print(f"  p50 {ms(p50)}   p99 {ms(p99)}   max {ms(max(latencies))}")
        print(
            f"  ratio to the hop sum (p50): p50 x{p50 / hop_p50:.1f} (goal <= 5)   "
            f"p99 x{p99 / hop_p50:.1f} (goal <= 10)"
        )
        live50, live99 = percentile(live_latencies, 0.5), percentile(live_latencies, 0.99)
        print(
            "referral -> the responsible worker's live inbox (WatchInbox), sequential, "
            f"n={len(live_latencies)}\n  p50 {ms(live50)}   p99 {ms(live99)}   "
            f"(p50 {ms(live50 - p50)} above the stored notification's)"
        )
        print(
            f"database-bound ceiling: {saves_per_s:.0f} raw saves/s "
            f"({args.concurrency} writers) / {writes_per_referral:.1f} writes per referral "
            f"= {ceiling:.0f} referrals/s"
        )
        print(f"burst of {args.burst} referrals, {args.concurrency} concurrent callers")
        for n, (accepted, drained) in bursts.items():
            rate = args.burst / drained
            print(
                f"  {n} api + {n} events process(es) per service: accepted in {accepted:.2f} s "
                f"({args.burst / accepted:.0f}/s), in inboxes after {drained:.2f} s: "
                f"{rate:.0f} referrals/s = {100 * rate / ceiling:.0f} % of the ceiling "
                "(goal >= 50 %)"
            )

        # Where a referral's time goes: the same sequential referrals with tracing on (its
        # span files cost time of their own, so this pass is not the one timed above).
        trace_dir = work / "traces"
        start_services(suite, 1, {"CASEWORK_TRACE_DIR": str(trace_dir)})
        traced = secrets.token_hex(3)
        stub.SubmitReferral(referral(person, f"warm{traced}"), metadata=metadata)
        for i in range(1, args.traced + 1):
            sent = utc_now()
            referral_id = stub.SubmitReferral(
                referral(person + i, traced), metadata=metadata
            ).referral.referral_id
            stored_after(inbox, [referral_id], sent)
        start_services(suite, 1)  # closes the span files
        print("where a referral's time goes (sequential, traced):")
        print("\n".join(where_the_time_goes(read_spans(trace_dir))))

        raw_drained = bench_consumer.raw_drain(amqp_uri, args.events)
        handled = bench_consumer.notify_drain(suite, mongo_uri, args.events)
        per_event = bench_consumer.notify_drain(suite, mongo_uri, args.events, per_event=True)
        print(f"consumer throughput, a backlog of {args.events} events drained")
        print(f"  raw AMQP consume + ack: {raw_drained.per_second:8.0f} messages/s")
        print(
            f"  notify (clients.client.registered -> inboxes): {handled.per_second:8.0f} events/s"
            f"   ratio to raw AMQP: x{raw_drained.per_second / handled.per_second:.1f}"
        )
        print(
            f"  notify, wiring built once per process: {handled.per_second:8.0f} events/s;"
            f" built per event (before the provider): {per_event.per_second:8.0f} events/s"
            f"   gain x{handled.per_second / per_event.per_second:.2f}"
        )
    finally:
        suite.stop_all()
        stop_mongo(mongo_port, work)
        delete_vhost(vhost)
        delete_broker_users(f"{vhost}-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
