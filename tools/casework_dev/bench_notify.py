"""notify's figures for `make bench`, each beside a baseline measured in the same run.

- Notifications per second through the inbox: a backlog of clients.client.registered
  events handled by notify's events process into inboxes (first to last insert), beside
  bare inserts into the same database server; and the live inbox's latency: an event
  published to the stream's update arriving, woken by the inbox's change hint, beside
  the change poll alone (the api process restarted with the hint off).
- Reminder lateness: N reminders (10,000 by default) scheduled over gRPC as a service
  would, all due within the same minute, fired by two events processes; lateness is a
  notification's insert moment minus its reminder's due moment (p50, p99, max). The
  timers' interval is the floor it is compared with.
- Webhook deliveries per second to a local receiver (subscribed to clients.note.added,
  an event notify does nothing else with), beside a raw sequential HTTP POST loop to the
  same receiver.

    python -m casework_dev.bench_notify [--events 500] [--reminders 10000] [--webhooks 500]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pymongo
from google.protobuf.timestamp_pb2 import Timestamp

from casework.clients.v1 import events_pb2 as clients_events
from casework.notify.v1 import notify_pb2, notify_pb2_grpc
from casework_common import contracts
from casework_common.auth import issue_token, write_key_pair
from casework_common.config import SERVICES
from casework_common.envelope import Actor
from casework_common.messaging import Publisher
from casework_dev import bench_consumer
from casework_dev.bench import percentile
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
    wait_for,
)
from casework_notify.adapters.reminders import document_of
from casework_notify.domain.reminders import Reminder

TIMER_SECONDS = 0.25
# The live inbox's fallback poll, and the poll alone it is compared with (the hint off).
WATCH_POLL_SECONDS = 1.0
POLL_ONLY_SECONDS = 0.1


def raw_inserts_per_second(mongo_uri: str, count: int) -> float:
    collection: Any = pymongo.MongoClient(mongo_uri)["bench_raw"]["inserts"]
    started = time.perf_counter()
    for i in range(count):
        collection.insert_one(
            {"_id": f"{secrets.token_hex(4)}-{i}", "n": i, "at": datetime.now(UTC)}
        )
    return count / (time.perf_counter() - started)


def inbox_throughput(suite: Suite, mongo_uri: str, count: int) -> float:
    """Queue `count` clients.client.registered events for a stopped notify events
    process, start it, and read the rate from the notifications' insert moments (first
    to last), so neither the publisher nor the start-up is in the figure."""
    suite.stop("notify", "events")
    run = secrets.token_hex(3)
    publisher = Publisher(suite.amqp_uris["clients"], "casework.events")
    for i in range(count):
        publisher.publish_event(
            bench_consumer.client_registered(i, run, "org-demo", "ctr-north-town")
        )
    publisher.close()
    notifications: Any = pymongo.MongoClient(mongo_uri)["bench_notify"]["notifications"]
    ours = {"client_id": {"$regex": f"^bench-{run}-"}}
    suite.start("notify", "events", {"EVENTS_PROCESSES": "2"})
    suite.wait_ready("notify", "events")
    wait_for(
        lambda: len(list(notifications.find(ours, {"_id": 1}))) >= count,
        max(60.0, count / 5),
        f"notify handling {count} events",
    )
    times = sorted(doc["stored_at"] for doc in notifications.find(ours, {"stored_at": 1}))
    return (len(times) - 1) / (times[-1] - times[0]).total_seconds()


def live_latency(suite: Suite, token: str, count: int) -> list[float]:
    """Publish one clients.client.registered at a time for w-anna's rule and time its
    arrival on her open WatchInbox stream."""
    channel = grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports['notify']}")
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    call = stub.WatchInbox(
        notify_pb2.WatchInboxRequest(), metadata=[("authorization", f"Bearer {token}")]
    )
    updates = iter(call)
    next(updates)  # the counts: the stream is open
    publisher = Publisher(suite.amqp_uris["clients"], "casework.events")
    run = secrets.token_hex(3)
    samples = []
    try:
        for i in range(count):
            event = bench_consumer.client_registered(i, f"live{run}", "org-demo", "ctr-north-town")
            started = time.perf_counter()
            publisher.publish_event(event)
            while True:
                update = next(updates)
                if update.notification.client_id == f"bench-live{run}-{i:06d}":
                    break
            samples.append(time.perf_counter() - started)
    finally:
        call.cancel()
        publisher.close()
        channel.close()
    return samples


def _ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def grpc_schedule_rate(suite: Suite, token: str, count: int) -> float:
    """Reminders scheduled per second over gRPC by a service (8 threads)."""
    channel = grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports['notify']}")
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    metadata = [("authorization", f"Bearer {token}")]
    run = secrets.token_hex(3)
    later = datetime.now(UTC) + timedelta(days=1)

    def schedule(i: int) -> None:
        stub.ScheduleReminder(
            notify_pb2.ScheduleReminderRequest(
                reminder=notify_pb2.Reminder(
                    key=f"rate-{run}-{i:05d}",
                    worker_id="w-petr",
                    due_at=_ts(later),
                    kind="bench_reminder",
                    title=f"Bench reminder {i}",
                )
            ),
            metadata=metadata,
            timeout=60,
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(schedule, range(count)))
    seconds = time.perf_counter() - started
    channel.close()
    return count / seconds


def reminder_lateness(mongo_uri: str, count: int) -> list[float]:
    """`count` reminders due within one minute, stored as ScheduleReminder stores them
    (the adapter's own document, inserted in batches so that storing them does not eat
    into the minute); answers each one's lateness once all fired."""
    database: Any = pymongo.MongoClient(mongo_uri)["bench_notify"]
    run = secrets.token_hex(3)
    start = datetime.now(UTC) + timedelta(seconds=max(15.0, count / 100))
    due = []
    batch = []
    for i in range(count):
        moment = start + timedelta(seconds=60 * i / count)
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        due.append(moment)
        batch.append(
            document_of(
                Reminder(
                    reminder_id=f"svc-bench:bench-{run}-{i:05d}",
                    organisation="org-demo",
                    owner="svc-bench",
                    key=f"bench-{run}-{i:05d}",
                    worker_id="w-petr",
                    due_at=moment,
                    kind="bench_reminder",
                    title=f"Bench reminder {i}",
                    body="",
                    scheduled_at=datetime.now(UTC),
                )
            )
        )
        if len(batch) == 500:
            database["reminders"].insert_many(batch)
            batch = []
    if batch:
        database["reminders"].insert_many(batch)
    if datetime.now(UTC) >= start:
        print("  warning: storing them took past the first due moment")

    def left() -> int:
        rows = list(
            database["reminders"].aggregate(
                [
                    {
                        "$match": {
                            "owner": "svc-bench",
                            "state": "scheduled",
                            "due_ts": {"$lte": due[-1].timestamp()},
                        }
                    },
                    {"$count": "n"},
                ]
            )
        )
        return int(rows[0]["n"]) if rows else 0

    wait_for(lambda: datetime.now(UTC) > due[-1] and left() == 0, 900, f"{count} reminders fired")
    prefix = f"reminder:svc-bench:bench-{run}-"
    due_of = {f"{prefix}{i:05d}": due[i] for i in range(count)}
    lateness = []
    for doc in database["notifications"].find({"_id": {"$regex": f"^{prefix}"}}, {"stored_at": 1}):
        stored = doc["stored_at"].replace(tzinfo=UTC)
        lateness.append((stored - due_of[doc["_id"]]).total_seconds())
    if len(lateness) != count:
        print(f"  warning: {len(lateness)} notifications for {count} reminders")
    return lateness


class Receiver:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.times.append(time.perf_counter())
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def raw_posts_per_second(url: str, count: int) -> float:
    body = b'{"bench": true}'
    started = time.perf_counter()
    for _ in range(count):
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            reply.read()
    return count / (time.perf_counter() - started)


def webhook_throughput(suite: Suite, admin_token: str, receiver: Receiver, count: int) -> float:
    channel = grpc.insecure_channel(f"127.0.0.1:{suite.grpc_ports['notify']}")
    stub = notify_pb2_grpc.NotifyServiceStub(channel)
    stub.CreateWebhookSubscription(
        notify_pb2.CreateWebhookSubscriptionRequest(
            event_type="clients.note.added.v1", url=receiver.url
        ),
        metadata=[("authorization", f"Bearer {admin_token}")],
    )
    channel.close()
    receiver.times.clear()
    publisher = Publisher(suite.amqp_uris["clients"], "casework.events")
    run = secrets.token_hex(3)
    for i in range(count):
        message = clients_events.NoteAdded(
            client_id=f"c-{run}-{i}", note_id=f"n-{i}", author="w-anna"
        )
        publisher.publish_event(
            contracts.envelope(
                message, organisation="org-demo", actor=Actor.system("clients"), trace={}
            ).to_dict()
        )
    publisher.close()
    wait_for(
        lambda: len(receiver.times) >= count, max(120.0, count / 5), f"{count} webhook deliveries"
    )
    times = sorted(receiver.times)
    return (count - 1) / (times[-1] - times[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500, help="events drained into inboxes")
    parser.add_argument("--live", type=int, default=100, help="live inbox latency samples")
    parser.add_argument("--reminders", type=int, default=10000, help="reminders due in one minute")
    parser.add_argument("--webhooks", type=int, default=500, help="webhook deliveries")
    args = parser.parse_args(argv)

    ensure_rabbitmq()
    vhost = f"casework-bench-notify-{secrets.token_hex(4)}"
    amqp_uri = create_vhost(vhost)
    passwords = new_broker_passwords()
    provision_broker_users(vhost, f"{vhost}-", passwords)
    work = Path(tempfile.mkdtemp(prefix="casework-bench-notify-"))
    mongo_port = free_port()
    start_mongo(work / "mongo", mongo_port, work)
    mongo_uri = f"mongodb://127.0.0.1:{mongo_port}"
    key = write_key_pair(work / "keys", f"bench-{secrets.token_hex(4)}")

    def token(**claims: Any) -> str:
        return issue_token(key.private_key, key.kid, organisation="org-demo", **claims)

    worker = token(
        subject="w-anna", kind="worker", centres=["ctr-north-town"], roles=["case_worker"]
    )
    admin = token(subject="w-admin", kind="worker", centres=["ctr-north-town"], roles=["admin"])
    service = token(
        subject="svc-bench",
        kind="service",
        centres=[],
        roles=[],
        scopes=["casework.notify.v1.NotifyService/ScheduleReminder"],
    )
    suite = Suite(
        run_dir=work,
        env={
            "AMQP_URI": amqp_uri,
            "CASEWORK_BROKER_USER_PREFIX": f"{vhost}-",
            "MONGO_URI": mongo_uri,
            "MONGO_DB_PREFIX": "bench",
            "LOG_LEVEL": "WARNING",
            "JWT_JWKS_FILE": str(work / "keys" / "jwks.json"),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(free_port()),
            "NOTIFY_TIMER_SECONDS": str(TIMER_SECONDS),
            "NOTIFY_WATCH_POLL_SECONDS": str(WATCH_POLL_SECONDS),
        },
        grpc_ports={name: free_port() for name in SERVICES},
        health_ports={name: free_port() for name in SERVICES},
        amqp_uris=broker_uris(amqp_uri, f"{vhost}-", passwords),
    )
    receiver = Receiver()
    try:
        for process in ("api", "events"):
            suite.start(
                "notify", process, {"EVENTS_PROCESSES": "2"} if process == "events" else None
            )
        for process in ("api", "events"):
            suite.wait_ready("notify", process)

        print("notify: inbox")
        raw = raw_inserts_per_second(mongo_uri, args.events)
        handled = inbox_throughput(suite, mongo_uri, args.events)
        print(f"  bare inserts into the database server: {raw:8.0f}/s")
        print(
            f"  events into inboxes (notify events process): {handled:8.0f} notifications/s"
            f"   ratio to bare inserts: x{raw / handled:.1f}"
        )
        live = live_latency(suite, worker, args.live)
        suite.stop("notify", "api")
        suite.start(
            "notify",
            "api",
            {
                "NOTIFY_LIVE_INBOX_HINTS": "false",
                "NOTIFY_WATCH_POLL_SECONDS": str(POLL_ONLY_SECONDS),
            },
        )
        suite.wait_ready("notify", "api")
        polled = live_latency(suite, worker, args.live)
        print(
            f"  live inbox, event published -> stream update ({args.live} samples each):\n"
            f"    woken by the inbox's change hint (fallback poll every "
            f"{WATCH_POLL_SECONDS * 1000:.0f} ms): p50 {percentile(live, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(live, 0.99) * 1000:.0f} ms\n"
            f"    baseline, the poll alone every {POLL_ONLY_SECONDS * 1000:.0f} ms: "
            f"p50 {percentile(polled, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(polled, 0.99) * 1000:.0f} ms   ratio (p50): "
            f"x{percentile(polled, 0.5) / percentile(live, 0.5):.1f}"
        )

        print(f"notify: reminders ({args.reminders} due within one minute, two events processes)")
        rate = grpc_schedule_rate(suite, service, 300)
        print(f"  ScheduleReminder over gRPC (8 threads): {rate:.0f}/s")
        lateness = reminder_lateness(mongo_uri, args.reminders)
        print(
            f"  lateness: p50 {percentile(lateness, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(lateness, 0.99) * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms "
            f"(goal p99 < 1000 ms; the timers look every {TIMER_SECONDS * 1000:.0f} ms)"
        )

        print("notify: partner webhooks")
        raw_posts = raw_posts_per_second(receiver.url, args.webhooks)
        delivered = webhook_throughput(suite, admin, receiver, args.webhooks)
        print(f"  raw sequential HTTP POST loop: {raw_posts:8.0f}/s")
        print(
            f"  signed deliveries (event -> receiver): {delivered:8.0f}/s"
            f"   ratio to the raw loop: x{raw_posts / delivered:.1f}"
        )
    finally:
        receiver.server.shutdown()
        suite.stop_all()
        stop_mongo(mongo_port, work)
        delete_vhost(vhost)
        delete_broker_users(f"{vhost}-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
