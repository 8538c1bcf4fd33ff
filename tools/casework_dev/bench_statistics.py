"""Statistics and search on 100,000 clients, each beside a baseline measured in the same
run: the statistics use case and the GetStatistics RPC (a database aggregation over the
facts each card stores) beside one raw aggregation of the same collection; SearchClients
p50/p99 over those cards, with names drawn from the region's common names, beside one
indexed find of the same collection (a card by its id: a find by date of birth is not
index-served on the development wire server, which compares date-like values as dates).

    python -m casework_dev.bench_statistics [--clients 100000] [--searches 300] [--keep DIR]

Uses MONGO_URI when set, else starts a development wire server of its own (data in a
temporary directory, or in DIR with --keep). Cards are written in bulk through the
repository's own document mapping into a fresh database, which is dropped at the end
(kept with --keep, and measured again by the next run with the same --clients).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics as stats
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc

from casework_clients.domain.cards import ClientCard
from casework_clients.domain.identity import identity_key
from casework_clients.domain.status import (
    StatusHistory,
    StatusSettings,
    record_first_contact,
    record_manual_status,
)

CENTRES = (("ctr-north-town", "reg-north"), ("ctr-north-village", "reg-north"),
           ("ctr-south-city", "reg-south"))  # fmt: skip
ORG = "org-demo"

# Common given and family names of the region (Slovakia, Czechia): many people share
# them, which is what makes a search before registering hard.
GIVEN_NAMES = (
    "Jana", "Mária", "Eva", "Anna", "Zuzana", "Katarína", "Lucia", "Petra", "Martina",
    "Monika", "Peter", "Ján", "Jozef", "Michal", "Martin", "Tomáš", "Milan", "Pavel",
    "Jiří", "Lukáš",
)  # fmt: skip
FAMILY_NAMES = (
    "Horváth", "Kováč", "Varga", "Tóth", "Nagy", "Baláž", "Szabó", "Molnár", "Novák",
    "Svoboda", "Novotný", "Dvořák", "Černý", "Procházka", "Kučera", "Veselý", "Krejčí",
    "Marek", "Lukáč", "Polák",
)  # fmt: skip
FEMALE = frozenset(GIVEN_NAMES[:10])


def common_name(rng: random.Random) -> tuple[str, str]:
    """A given and family name as the region writes them (-ová / -á for women)."""
    given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
    if given in FEMALE:
        family = family[:-1] + "á" if family.endswith("ý") else family + "ová"
    return given, family


def _card(i: int, rng: random.Random, today: date) -> ClientCard:
    settings = StatusSettings()
    start = today - timedelta(days=rng.randrange(1, 700))
    at = datetime(start.year, start.month, start.day, 12, tzinfo=UTC)
    now = datetime.now(UTC)
    history = record_first_contact(StatusHistory(), settings, start, "w-anna", at).history
    roll = rng.random()
    later = min(today, start + timedelta(days=rng.randrange(0, 60)))
    if roll < 0.35:
        history = record_manual_status(
            history, settings, "service_user", None, later, "w-anna", now
        ).history
        if rng.random() < 0.4:
            end = min(today, later + timedelta(days=rng.randrange(0, 200)))
            reason = rng.choice(settings.termination_reasons)
            history = record_manual_status(
                history, settings, "terminated", reason, end, "w-anna", now
            ).history
    elif roll < 0.6:
        reason = rng.choice(settings.rejection_reasons)
        history = record_manual_status(
            history, settings, "rejected", reason, later, "w", now
        ).history
    centre, region = CENTRES[i % len(CENTRES)]
    born = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 30000))
    given, family = common_name(rng)
    return ClientCard(
        client_id=f"bench-{i:06d}",
        organisation=ORG,
        # Namesakes born the same day are many among 100,000 common names: each card
        # stands apart under its own key, as the service keeps such a second card.
        identity_key=f"{identity_key(ORG, given, family, born)}#{i}",
        given_name=given,
        family_name=family,
        date_of_birth=born,
        phone="",
        email="",
        address="",
        region_id=region,
        centre_ids=(centre,),
        client_type="senior",
        problem_types=("housing",),
        status=history.current.value if history.current else "",
        referral_ids=(),
        registered_at=at,
        status_entries=history.entries,
        last_contact_on=start,
    )


SEED_BATCH = 2000


def seed(count: int, *, transactions: bool = True) -> float:
    from casework_clients.adapters.repository.card_documents import (
        ClientDocument,
        card_fact_rows,
        to_document,
    )
    from casework_clients.adapters.repository.search_index import (
        SearchKeyDocument,
        search_rows,
    )
    from casework_clients.adapters.repository.stat_facts import StatusFactDocument

    rng = random.Random(42)
    today = date.today()
    # The collections as such: mongoengine's own handle would build the indexes first.
    db = ClientDocument._get_db()
    collection, facts, index = (
        db[d._get_collection_name()]
        for d in (ClientDocument, StatusFactDocument, SearchKeyDocument)
    )
    client = db.client
    started = time.perf_counter()
    batch: list[dict[str, object]] = []
    rows: list[dict[str, object]] = []
    keys: list[dict[str, str]] = []

    def flush(batch: list[dict[str, object]], rows: list[dict[str, object]],
              keys: list[dict[str, str]]) -> None:  # fmt: skip
        # One transaction per batch: the development wire server inserts document by
        # document, and outside a transaction commits each one on its own (a standalone
        # MongoDB named by MONGO_URI has no transactions).
        if not transactions:
            collection.insert_many(batch, ordered=False)
            facts.insert_many(rows, ordered=False)
            index.insert_many(keys, ordered=False)
            return
        with client.start_session() as session, session.start_transaction():
            collection.insert_many(batch, ordered=False, session=session)
            facts.insert_many(rows, ordered=False, session=session)
            index.insert_many(keys, ordered=False, session=session)

    # The next batch is built while the server stores the last one.
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future[None] | None = None
        for i in range(count):
            card = _card(i, rng, today)
            data = to_document(card).to_mongo().to_dict()
            data["version"] = 1
            batch.append(data)
            # What the repository stores with every write: statistics facts, search keys.
            rows += card_fact_rows(card)
            keys += search_rows(card)
            if len(batch) == SEED_BATCH or i == count - 1:
                if pending is not None:
                    pending.result()
                pending = writer.submit(flush, batch, rows, keys)
                batch, rows, keys = [], [], []
        if pending is not None:
            pending.result()
    # Indexes once the rows are in: built in one pass instead of row by row.
    ClientDocument.ensure_indexes()
    StatusFactDocument.ensure_indexes()
    SearchKeyDocument.ensure_indexes()
    return time.perf_counter() - started


def timed(fn: object, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - started)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the seeded cards in this data directory (development wire server) and "
        "measure them again on the next run instead of seeding anew",
    )
    args = parser.parse_args(argv)

    from casework_dev.devstack import free_port, start_mongo, stop_mongo

    tmp = Path(tempfile.mkdtemp(prefix="bench-clients-"))
    own_mongo = not os.environ.get("MONGO_URI") or args.keep is not None
    port = free_port()
    if own_mongo:
        start_mongo(args.keep or tmp / "data", port, tmp / "run")
        os.environ["MONGO_URI"] = f"mongodb://127.0.0.1:{port}"
    kept = args.keep is not None
    os.environ["MONGO_DB"] = (
        f"bench_clients_{args.clients}" if kept else f"bench_clients_{secrets.token_hex(4)}"
    )

    import mongoengine as me

    from casework.clients.v1 import clients_pb2, clients_pb2_grpc
    from casework_clients import services
    from casework_clients.adapters.repository import (
        AuditEntry,
        ClientDocument,
        ClientRepository,
        FamilyRepository,
    )
    from casework_clients.adapters.repository.card_documents import ShownCardsEntry
    from casework_clients.domain.commands import Period
    from casework_clients.entrypoints.access import ACCESS
    from casework_clients.entrypoints.api import register
    from casework_common import storage
    from casework_common.auth import Principal, ensure_development_keys, issue_token
    from casework_common.config import load_settings
    from casework_common.grpc_runtime import build_server
    from casework_common.heap import freeze_wired_objects
    from casework_common.unit_of_work import UnitOfWork

    settings = load_settings("clients")
    storage.connect(settings)
    server = None
    try:
        collection = ClientDocument._get_collection()
        if kept and collection.estimated_document_count() == args.clients:
            print(f"{args.clients} clients seeded before, in {args.keep}")
        else:
            # A seeding cut short leaves part of the cards: start over.
            me.get_connection().drop_database(os.environ["MONGO_DB"])
            seconds = seed(args.clients, transactions=own_mongo)
            print(f"seeded {args.clients} clients in {seconds:.1f} s (bulk, through the adapter)")
        today = date.today()
        start, end = today - timedelta(days=365), today

        # The baseline: one raw aggregation of the same collection (cards per status).
        raw_pipeline = [
            {"$match": {"organisation": ORG}},
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
        ]
        baseline = timed(lambda: list(collection.aggregate(raw_pipeline)), args.repeat)
        all_centres = frozenset(c for c, _ in CENTRES)
        manager = Principal(
            ORG, "w-manager-north", "worker", all_centres, frozenset({"manager"}), frozenset()
        )

        def use_case() -> object:
            scoped = (ClientRepository(ORG, all_centres), FamilyRepository(ORG, all_centres))
            return services.statistics(
                Period(start, end, None, None), UnitOfWork(manager), scoped, scoped, org=None,
                settings=StatusSettings(shared_with_family=True),
            )  # fmt: skip

        result = use_case()
        use_case_times = timed(use_case, args.repeat)

        server, _, grpc_port, _ = build_server(settings, register, access=ACCESS, port=0)
        freeze_wired_objects()  # as serve() does once an api process is wired
        server.start()
        key = ensure_development_keys()
        token = issue_token(
            key.private_key, key.kid, organisation=ORG, subject="w-manager-north",
            centres=sorted(all_centres), roles=["manager"],
        )  # fmt: skip
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        stub = clients_pb2_grpc.ClientsServiceStub(channel)
        request = clients_pb2.GetStatisticsRequest(
            period_start=start.isoformat(), period_end=end.isoformat()
        )
        metadata = [("authorization", f"Bearer {token}")]
        reply = stub.GetStatistics(request, metadata=metadata, timeout=600)
        rpc_times = timed(
            lambda: stub.GetStatistics(request, metadata=metadata, timeout=600), args.repeat
        )
        counted = result.clients.total  # type: ignore[attr-defined]
        assert counted == args.clients == reply.clients.total, (counted, reply.clients.total)
        base = stats.median(baseline)
        print(f"baseline: one raw aggregation of the collection, median {base * 1000:.0f} ms")
        for name, times in (
            ("statistics use case", use_case_times),
            ("GetStatistics RPC", rpc_times),
        ):
            median = stats.median(times)
            print(
                f"{name}: median {median:.2f} s over {args.repeat} runs "
                f"({args.clients / median:,.0f} clients/s), {median / base:.1f}x the baseline"
            )
        print(
            "counts at period end:",
            {s.status: s.count for s in reply.clients.statuses},
            "flows:",
            len(reply.clients.flows),
            flush=True,
        )
        # Each search audits the cards it shows: a kept database would otherwise carry
        # every earlier run's rows, and each run would write to a larger audit trail.
        for trail in (AuditEntry, ShownCardsEntry):
            trail._get_collection().delete_many({"organisation": ORG})
        _search(stub, metadata, collection, WARM_UP, args.clients, seed=WARM_UP)
        search_times, find_times, failed = _search(
            stub, metadata, collection, args.searches, args.clients
        )
        channel.close()
        _print_search(search_times, find_times, args.clients, failed)
    finally:
        if server is not None:
            server.stop(0)
        if not kept:
            me.get_connection().drop_database(os.environ["MONGO_DB"])
        me.disconnect()
        if own_mongo:
            stop_mongo(port, tmp / "run")


SEARCH_DEADLINE = 30.0
# Searches before the measured ones (other names): the server's caches and the cards'
# pages warm, as in a service that has run for a while.
WARM_UP = 50


def _percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _search(
    stub: object, metadata: object, collection: object, count: int, clients: int, seed: int = 7
) -> tuple[list[float], list[float], int]:
    """SearchClients with common names (half with a date of birth), and the same
    number of single indexed finds (a card by its id: the development wire server
    answers a find by date of birth by scanning) for the baseline."""
    from casework.clients.v1 import clients_pb2

    rng = random.Random(seed)
    searches, finds = [], []
    failed = 0
    for i in range(count):
        given, family = common_name(rng)
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 30000))
        request = clients_pb2.SearchClientsRequest(
            given_name=given,
            family_name=family,
            date_of_birth=born.isoformat() if i % 2 else "",
        )
        started = time.perf_counter()
        try:
            stub.SearchClients(request, metadata=metadata, timeout=SEARCH_DEADLINE)  # type: ignore[attr-defined]
        except grpc.RpcError:
            failed += 1  # counted at the deadline: a search that never answers is slow
        searches.append(time.perf_counter() - started)
        started = time.perf_counter()
        collection.find_one({"_id": f"bench-{rng.randrange(clients):06d}"})  # type: ignore[attr-defined]
        finds.append(time.perf_counter() - started)
    return searches, finds, failed


def _print_search(searches: list[float], finds: list[float], clients: int, failed: int) -> None:
    p50, p99 = _percentile(searches, 0.5), _percentile(searches, 0.99)
    f50, f99 = _percentile(finds, 0.5), _percentile(finds, 0.99)
    print(
        f"SearchClients over {clients} cards (common names): p50 {p50 * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms; one indexed find: p50 {f50 * 1000:.2f} ms, "
        f"p99 {f99 * 1000:.2f} ms; p99 {p99 / f99:.1f}x the find's p99 (goal: at most 10x), "
        f"p50 {p50 / f50:.1f}x the find's p50; "
        f"{failed} of {len(searches)} searches passed the {SEARCH_DEADLINE:.0f} s deadline"
    )


if __name__ == "__main__":
    main()
