"""Feedback reports over 100,000 responses: the report use case and the
GetFeedbackReport RPC (one database aggregation, then the small-group suppression and
trends), beside a raw aggregate of the same data measured in the same run (one `$group`
by centre summing the stored scores: what the database must do at the least).

    python -m casework_dev.bench_feedback [--responses 100000]

Uses MONGO_URI when set, else starts a development wire server of its own (data in a
temporary directory). Responses are written in bulk through the repository's own
document mapping into a fresh database, which is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics as stats
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

ORG = "org-demo"
CENTRES = ("ctr-north-town", "ctr-north-village", "ctr-south-city")
DEPARTMENTS = ("dep-debt", "dep-housing", "dep-family", "dep-rare")
WORKERS = tuple(f"w-{i}" for i in range(40))


def seed(count: int) -> float:
    from casework_feedback.adapters.response_repository import ResponseDocument, response_document
    from casework_feedback.domain import responses
    from casework_feedback.domain.surveys import (
        Aspect,
        Audience,
        DefinitionStatus,
        Question,
        QuestionKind,
        SurveyDefinition,
    )

    rng = random.Random(14)
    surveys = {
        centre: SurveyDefinition(
            survey_id=f"bench-{centre}",
            version=1,
            centre_id=centre,
            title="After your visit",
            audience=Audience.DEPARTMENT,
            language="en",
            questions=(
                Question("mood", QuestionKind.SMILEY, "How was it?", Aspect.ATTITUDE),
                Question("clear", QuestionKind.SMILEY, "Was it clear?", Aspect.COMMUNICATION),
                Question(
                    "wait",
                    QuestionKind.SCALE,
                    "The wait?",
                    Aspect.DURATION,
                    scale_min=1,
                    scale_max=5,
                ),
                Question("more", QuestionKind.FREE_TEXT, "Anything else?"),
            ),
            status=DefinitionStatus.PUBLISHED,
        )
        for centre in CENTRES
    }
    collection = ResponseDocument._get_collection()
    ResponseDocument.ensure_indexes()
    start = datetime.now(UTC) - timedelta(days=365)
    started = time.perf_counter()
    batch = []
    for i in range(count):
        centre = CENTRES[i % len(CENTRES)]
        survey = surveys[centre]
        # The rare department gets a handful of responses a month: suppressed.
        department = DEPARTMENTS[3] if rng.random() < 0.0004 else rng.choice(DEPARTMENTS[:3])
        anonymous = rng.random() < 0.5
        response = responses.new_response(
            survey,
            response_id=f"bench-{i:06d}",
            department_id=department,
            channel=responses.Channel.PAPER,
            answers={
                "mood": rng.randint(1, 5),
                "clear": rng.randint(1, 5),
                "wait": rng.randint(1, 5),
            },
            comment="",
            received_at=start + timedelta(minutes=rng.randrange(0, 365 * 24 * 60)),
            anonymous=anonymous,
            client_id="" if anonymous else f"cl-{i}",
            worker_id=rng.choice(WORKERS),
        )
        figures = responses.figures_by_aspect(responses.scored_answers(survey, response))
        data = response_document(ORG, response, figures).to_mongo().to_dict()
        data["version"] = 1
        batch.append(data)
        if len(batch) == 2000:
            collection.insert_many(batch, ordered=False)
            batch = []
    if batch:
        collection.insert_many(batch, ordered=False)
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
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from casework_dev.devstack import free_port, start_mongo, stop_mongo

    tmp = Path(tempfile.mkdtemp(prefix="bench-feedback-"))
    own_mongo = not os.environ.get("MONGO_URI")
    port = free_port()
    if own_mongo:
        start_mongo(tmp / "data", port, tmp / "run")
        os.environ["MONGO_URI"] = f"mongodb://127.0.0.1:{port}"
    os.environ["MONGO_DB"] = f"bench_feedback_{secrets.token_hex(4)}"

    import mongoengine as me

    from casework.feedback.v1 import feedback_pb2, feedback_pb2_grpc
    from casework_common import storage
    from casework_common.auth import Principal, ensure_development_keys, issue_token
    from casework_common.config import load_settings
    from casework_common.grpc_runtime import build_server
    from casework_common.unit_of_work import UnitOfWork
    from casework_feedback.adapters.response_repository import ResponseDocument, ResponseRepository
    from casework_feedback.entrypoints.access import ACCESS
    from casework_feedback.entrypoints.api import register
    from casework_feedback.use_cases import reports

    settings = load_settings("feedback")
    storage.connect(settings)
    server = None
    try:
        seconds = seed(args.responses)
        print(f"seeded {args.responses} responses in {seconds:.1f} s (bulk, through the adapter)")
        collection = ResponseDocument._get_collection()
        raw = [
            {"$match": {"organisation": ORG, "pilot": False, "centre_id": {"$in": list(CENTRES)}}},
            {"$group": {"_id": "$centre_id", "n": {"$sum": 1}, "t": {"$sum": "$score_total"}}},
        ]
        baseline = timed(lambda: list(collection.aggregate(raw)), args.repeat)
        raw_total = sum(r["n"] for r in collection.aggregate(raw))
        manager = Principal(
            ORG, "w-manager", "worker", frozenset(CENTRES), frozenset({"manager"}), frozenset()
        )

        def use_case(dimension: str) -> reports.Report:
            uow = UnitOfWork(manager)
            return reports.feedback_report(
                reports.ReportRequest(dimension, "month", [], None, None),
                uow,
                ResponseRepository.for_caller(manager, uow),
                minimum_group=5,
            )

        by_centre = use_case("centre")
        shown = sum(r.responses or 0 for r in by_centre.rows)
        # Only groups below the minimum (this month's first hours, say) are not shown.
        assert raw_total == args.responses and shown <= raw_total, (shown, raw_total)
        department = use_case("department")
        suppressed = sum(r.suppressed for r in department.rows)
        times = {
            d: timed(lambda d=d: use_case(d), args.repeat)
            for d in ("centre", "department", "worker", "aspect")
        }

        server, _, grpc_port, _ = build_server(settings, register, access=ACCESS, port=0)
        server.start()
        key = ensure_development_keys()
        token = issue_token(
            key.private_key, key.kid, organisation=ORG, subject="w-manager",
            centres=list(CENTRES), roles=["manager"],
        )  # fmt: skip
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        stub = feedback_pb2_grpc.FeedbackServiceStub(channel)
        request = feedback_pb2.GetFeedbackReportRequest(
            dimension="aspect", granularity="month", csv=True
        )
        metadata = [("authorization", f"Bearer {token}")]
        reply = stub.GetFeedbackReport(request, metadata=metadata, timeout=600)
        rpc_times = timed(
            lambda: stub.GetFeedbackReport(request, metadata=metadata, timeout=600), args.repeat
        )
        channel.close()

        base = stats.median(baseline)
        print(f"baseline raw $group by centre over the same responses: median {base * 1000:.0f} ms")
        for name, values in [
            *((f"report by {d} (use case)", v) for d, v in times.items()),
            ("GetFeedbackReport by aspect with CSV (RPC)", rpc_times),
        ]:
            median = stats.median(values)
            print(
                f"{name}: median {median * 1000:.0f} ms over {args.repeat} runs "
                f"({args.responses / median:,.0f} responses/s), {median / base:.2f}x the baseline"
            )
        print(
            f"rows by department: {len(department.rows)}, suppressed {suppressed}; "
            f"rows by aspect: {len(reply.rows)}, csv {len(reply.csv):,} bytes, "
            f"themes {len(reply.themes)}"
        )
    finally:
        if server is not None:
            server.stop(0)
        me.get_connection().drop_database(os.environ["MONGO_DB"])
        me.disconnect()
        if own_mongo:
            stop_mongo(port, tmp / "run")


if __name__ == "__main__":
    main()
