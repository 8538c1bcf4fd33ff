"""`make bench`'s timeline of a referral, read from the spans of its traced referrals."""

from __future__ import annotations

import re
from typing import Any

from casework_dev.bench import where_the_time_goes

MS = 1_000_000
# start from the call, length, process, step
ROW = re.compile(r"(\S+) ms\s+\+\s*(\S+) ms\s+(\S+)\s+(.+)")


def create_span(trace_id: str, name: str, service: str, start_ms: float, end_ms: float) -> Any:
    return {
        "trace_id": trace_id,
        "name": name,
        "service": f"casework-{service}",
        "start_ns": int(start_ms * MS),
        "end_ns": int(end_ms * MS),
    }


def create_referral_trace(trace_id: str, offset_ms: float, **overrides: Any) -> list[Any]:
    """A call at `offset_ms`, clients' handler with two inserts, notify's handler."""
    steps = [
        ("SubmitReferral", "intake-api", 0, 4),
        ("insert referrals", "intake-api", 2, 3),
        ("clients.register", "clients-events", 8, 20),
        ("insert search_index", "clients-events", 10, 13),
        ("insert search_index", "clients-events", 14, 15),
        ("notify.tell", "notify-events", 21, 27),
    ]
    name = {"SubmitReferral": "casework.intake.v1.IntakeService/SubmitReferral"}
    spans = [
        create_span(trace_id, name.get(step, step), service, offset_ms + start, offset_ms + end)
        for step, service, start, end in steps
    ]
    return spans + overrides.get("extra", [])


def test_each_step_is_a_row_at_its_median_start_from_the_call_in_order() -> None:
    spans = create_referral_trace("a", 1000) + create_referral_trace("b", 5000)
    spans += create_referral_trace("c", 9000)

    lines = where_the_time_goes(spans)

    assert lines[0].startswith("3 traced referrals")
    rows = [ROW.fullmatch(line.strip()).groups() for line in lines[1:]]  # type: ignore[union-attr]
    assert rows == [
        ("0.00", "4.00", "intake-api", "casework.intake.v1.IntakeService/SubmitReferral"),
        ("2.00", "1.00", "intake-api", "insert referrals"),
        ("8.00", "12.00", "clients-events", "clients.register"),
        ("10.00", "3.00", "clients-events", "insert search_index"),
        # A step taken twice in one trace is two rows, the second one numbered.
        ("14.00", "1.00", "clients-events", "insert search_index (#2)"),
        ("21.00", "6.00", "notify-events", "notify.tell"),
    ]


def test_a_trace_that_never_reached_notify_is_left_out() -> None:
    stuck = [s for s in create_referral_trace("x", 0) if "notify" not in s["service"]]
    lines = where_the_time_goes(create_referral_trace("a", 100) + stuck)

    assert lines[0].startswith("1 traced referrals")


def test_a_step_most_referrals_do_not_take_is_left_out() -> None:
    rare = create_span("a", "insert match_proposals", "clients-events", 116, 117)
    spans = create_referral_trace("a", 100, extra=[rare]) + create_referral_trace("b", 500)
    spans += create_referral_trace("c", 900)

    assert not any("match_proposals" in line for line in where_the_time_goes(spans))
