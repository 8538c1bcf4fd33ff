"""Plans: the discrepancy check over 10,000 plans in effect with a month of deliveries
each, and the first page of a manager's due work over them, beside a plain scan of the
same documents; and a provider's CSV of 10,000 rows
imported through the use case, beside plain writes of the same plan documents. Both
measured in the same run on the same database server.

    python -m casework_dev.bench_plans [--plans 10000] [--rows 10000]

Uses MONGO_URI when set, else starts a development wire server of its own (data in a
temporary directory). Plans are written in bulk through the repository's own document
mapping into a fresh database, which is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ORG = "org-demo"
CENTRE = "ctr-north-town"


def _template(today: date):  # type: ignore[no-untyped-def]
    from casework_dev.testing.plans import create_action, create_content, create_goal
    from casework_plans.domain import life_cycle
    from casework_plans.domain.plans import Signer

    start = today - timedelta(days=40)
    began = datetime(start.year, start.month, start.day, 9, tzinfo=UTC)
    later = today + timedelta(days=180)
    goal = create_goal(target_date=later, actions=(create_action(deadline=later),))
    content = create_content(plan_date=start, next_review_on=later, goals=(goal,))
    # A draft dated in the past: drafted "now" then moved back, as a plan made then.
    plan = life_cycle.draft(
        plan_id="template", organisation=ORG, client_id="c", family_id="", centre_ids=(CENTRE,),
        worker_id="w-anna", content=content,
        by="w-anna", now=datetime.now(UTC),
    )  # fmt: skip
    for signer in Signer:
        plan, _ = life_cycle.sign(plan, 1, signer, "x", client_status=None, by="w-anna", now=began)
    return plan, start


def seed(count: int, today: date, rng: random.Random) -> tuple[float, list[str]]:
    from casework_plans.adapters.repository import PlanDocument, write_plan
    from casework_plans.domain.plans import Delivery

    template, _start = _template(today)
    collection = PlanDocument._get_collection()
    started = time.perf_counter()
    batch: list[dict[str, object]] = []
    ids = []
    for i in range(count):
        plan_id = f"plan-{i:06d}"
        ids.append(plan_id)
        days = [today - timedelta(days=d) for d in range(1, 36)]
        deliveries = tuple(
            Delivery(f"d-{i}-{n}", plan_id, "meals", day, 2 if rng.random() < 0.05 else 3,
                     "Charity kitchen", f"R-{i}-{n}")
            for n, day in enumerate(days)
            if rng.random() > 0.02  # now and then a day with nothing delivered
        )  # fmt: skip
        plan = replace(
            template, plan_id=plan_id, client_id=f"client-{i:06d}", deliveries=deliveries,
            idempotency_key=f"bench-{plan_id}",
        )  # fmt: skip
        doc = PlanDocument(id=plan_id, version=1)  # stored, as save_aggregate would
        write_plan(doc, plan)
        batch.append(doc.to_mongo().to_dict())
        if len(batch) == 500:
            collection.insert_many(batch)
            batch = []
    if batch:
        collection.insert_many(batch)
    return time.perf_counter() - started, ids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args(argv)

    from casework_dev.devstack import free_port, start_mongo, stop_mongo

    tmp = Path(tempfile.mkdtemp(prefix="bench-plans-"))
    own_mongo = not os.environ.get("MONGO_URI")
    port = free_port()
    if own_mongo:
        start_mongo(tmp / "data", port, tmp / "run")
        os.environ["MONGO_URI"] = f"mongodb://127.0.0.1:{port}"
    os.environ["MONGO_DB"] = f"bench_plans_{secrets.token_hex(4)}"

    import mongoengine as me

    from casework_common import paging, storage
    from casework_common.auth import Principal
    from casework_common.config import load_settings
    from casework_common.unit_of_work import UnitOfWork
    from casework_plans.adapters.repository import (
        ClientStatusRepository,
        PlanDocument,
        PlanRepository,
    )
    from casework_plans.domain.monitoring import Cadence
    from casework_plans.use_cases import queries, records

    storage.connect(load_settings("plans"))
    rng = random.Random(11)
    today = datetime.now(UTC).date()
    try:
        seconds, ids = seed(args.plans, today, rng)
        print(f"seeded {args.plans} plans with a month of deliveries in {seconds:.1f} s")
        started = time.perf_counter()
        rows = PlanRepository(ORG, None).backfill_due_rows()
        print(
            f"backfilled {rows} due rows (the events process's first tick): "
            f"{time.perf_counter() - started:.1f} s"
        )
        collection = PlanDocument._get_collection()

        started = time.perf_counter()
        scanned = sum(1 for _ in collection.find({"status": "in_effect"}, {"body": 1}))
        scan = time.perf_counter() - started

        started = time.perf_counter()
        found = 0
        checked = 0
        for plan in PlanRepository(ORG, None).in_effect():
            found += len(records.check_plan(plan, today=today, service_user_until=None))
            checked += 1
        check = time.perf_counter() - started
        assert checked == scanned == args.plans, (checked, scanned)
        print(f"plain scan of the {scanned} plan documents: {scan:.2f} s")
        print(
            f"discrepancy check over {checked} plans (read, decode, check a month): "
            f"{check:.2f} s ({checked / check:,.0f} plans/s), {found} discrepancies, "
            f"{check / scan:.1f}x the plain scan"
        )

        # A manager's due work over every plan: the first page and one deep in the list
        # (each page works out the whole list it is cut from).
        manager = Principal(
            ORG, "w-manager-north", "worker", frozenset({CENTRE}), frozenset({"manager"}),
            frozenset(),
        )  # fmt: skip
        timings = []
        for token in ("", paging.token_at(args.plans // 2)):
            unit = UnitOfWork(manager)
            query = queries.DueWorkQuery(on=None, centre_id="", page_size=50, page_token=token)
            started = time.perf_counter()
            page, _next = queries.list_due_work(
                query, unit, PlanRepository.for_caller(manager, unit), Cadence()
            )
            timings.append((time.perf_counter() - started, len(page)))
        (first, first_items), (deep, deep_items) = timings
        print(
            f"ListDueWork over {args.plans} plans: first page ({first_items} items) "
            f"{first:.2f} s, {first / scan:.2f}x the plain scan; page at item "
            f"{args.plans // 2} ({deep_items} items) {deep:.2f} s"
        )

        # A provider's file: `rows` deliveries of today spread over the plans.
        touched = ids[: max(1, min(len(ids), args.rows // 10))]
        lines = ["plan_id,service_code,delivered_on,quantity,delivered_by,receipt"]
        for n in range(args.rows):
            lines.append(f"{touched[n % len(touched)]},meals,{today},1,Charity kitchen,CSV-{n}")
        data = "\n".join(lines).encode()
        principal = Principal(
            ORG, "w-anna", "worker", frozenset({CENTRE}), frozenset({"case_worker"}), frozenset()
        )
        uow = UnitOfWork(principal)
        started = time.perf_counter()
        result = records.import_deliveries(
            data, False, uow, PlanRepository.for_caller(principal, uow), ClientStatusRepository(ORG)
        )
        imported = time.perf_counter() - started
        assert result.rows_kept == args.rows and not result.errors, result.errors[:3]

        raw = [collection.find_one({"_id": plan_id}) for plan_id in touched]
        started = time.perf_counter()
        for doc in raw:
            collection.replace_one({"_id": doc["_id"]}, doc)  # type: ignore[index]
        baseline = time.perf_counter() - started
        print(
            f"plain replace of the {len(touched)} plan documents the file touches: {baseline:.2f} s"
        )
        print(
            f"CSV import of {args.rows} rows over {len(touched)} plans: {imported:.2f} s "
            f"({args.rows / imported:,.0f} rows/s), {imported / baseline:.1f}x the plain writes"
        )
    finally:
        me.get_connection().drop_database(os.environ["MONGO_DB"])
        me.disconnect()
        if own_mongo:
            stop_mongo(port, tmp / "run")


if __name__ == "__main__":
    main()
