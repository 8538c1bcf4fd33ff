"""`make bench`: referral-to-inbox latency and throughput, beside a raw AMQP round
trip measured in the same run on the same broker. The ratio is the figure to watch:
it says what the suite adds on top of the bus, whatever machine this runs on.

Starts its own intake, clients and notify processes (own vhost, own database server),
so it can run beside `make run` without touching its data.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import grpc
import kombu
import pymongo

from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework_common.auth import issue_token, write_key_pair
from casework_common.config import SERVICES
from casework_common.messaging import Publisher
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_amqp_round_trips(amqp_uri: str, count: int) -> list[float]:
    """Confirmed, persistent publish -> consume -> ack, one at a time: the floor any
    event hop of the suite stands on."""
    publisher = Publisher(amqp_uri, "bench.raw")
    publisher.connect()
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
    return latencies


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=200, help="sequential latency samples")
    parser.add_argument(
        "--burst", type=int, default=300, help="referrals sent at once for throughput"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)

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
        for service in ("intake", "clients", "notify"):
            for process in ("api", "events"):
                suite.start(service, process)
        for service in ("intake", "clients", "notify"):
            for process in ("api", "events"):
                suite.wait_ready(service, process)

        raw = raw_amqp_round_trips(amqp_uri, args.referrals)
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

        def delivered(referral_id: str) -> bool:
            return inbox.find_one({"referral_id": referral_id}, {"_id": 1}) is not None

        run = secrets.token_hex(3)
        stub.SubmitReferral(referral(0, f"warm{run}"), metadata=metadata)  # warm every path once
        latencies = []
        for i in range(args.referrals):
            started = time.perf_counter()
            referral_id = stub.SubmitReferral(
                referral(i, run), metadata=metadata
            ).referral.referral_id
            while not delivered(referral_id):
                time.sleep(0.002)
            latencies.append(time.perf_counter() - started)

        burst_run = secrets.token_hex(3)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            ids = list(
                pool.map(
                    lambda i: (
                        stub.SubmitReferral(
                            referral(i, burst_run), metadata=metadata
                        ).referral.referral_id
                    ),
                    range(args.burst),
                )
            )
        accepted = time.perf_counter() - started
        while inbox.count_documents({"referral_id": {"$in": ids}}) < len(ids):
            time.sleep(0.01)
        drained = time.perf_counter() - started

        raw_p50, raw_p99 = percentile(raw, 0.5), percentile(raw, 0.99)
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"\nraw AMQP round trip (confirmed publish -> consume -> ack), n={len(raw)}")
        print(f"  p50 {raw_p50 * 1e3:8.2f} ms   p99 {raw_p99 * 1e3:8.2f} ms")
        print(
            "referral -> inbox (intake gRPC -> AMQP -> clients -> AMQP -> notify), "
            f"sequential, n={len(latencies)}"
        )
        worst = max(latencies)
        print(f"  p50 {p50 * 1e3:8.2f} ms   p99 {p99 * 1e3:8.2f} ms   max {worst * 1e3:.2f} ms")
        print(f"  ratio to raw AMQP: p50 x{p50 / raw_p50:.1f}   p99 x{p99 / raw_p99:.1f}")
        print(f"burst of {args.burst} referrals, {args.concurrency} concurrent callers")
        print(
            f"  accepted by intake in {accepted:.2f} s ({args.burst / accepted:.0f}/s); "
            f"all in inboxes after {drained:.2f} s "
            f"({args.burst / drained:.0f} referrals/s end to end)"
        )
        print(f"  raw AMQP sequential round trips per second: {1 / statistics.mean(raw):.0f}")
    finally:
        suite.stop_all()
        stop_mongo(mongo_port, work)
        delete_vhost(vhost)
        delete_broker_users(f"{vhost}-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
