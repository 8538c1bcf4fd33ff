"""Tracing, structured logs and metrics, set up the same way in every process.

A trace starts at the partner's gRPC call and follows the referral through AMQP: the
context travels in the event envelope (and as message headers), so each consumer's span
is a child of the span that emitted the event.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from prometheus_client import Counter, Histogram
from pymongo import monitoring

from casework_common.config import Settings

GRPC_CALLS = Counter(
    "casework_grpc_calls_total", "gRPC calls served", ["service", "method", "code"]
)
GRPC_LATENCY = Histogram("casework_grpc_call_seconds", "gRPC call duration", ["service", "method"])
EVENTS_HANDLED = Counter(
    "casework_events_handled_total", "Events consumed", ["service", "handler", "outcome"]
)
EVENTS_PUBLISHED = Counter(
    "casework_events_published_total", "Events published from the outbox", ["service"]
)
HANDLER_RUNS = Counter(
    "casework_event_handler_runs_total",
    "Handler invocations (a claimed event run once more after a fault counts again)",
    ["service", "handler"],
)
EVENTS_REPUBLISHED = Counter(
    "casework_events_republished_total",
    "Events published again from an outbox after an earlier claim had published them "
    "(a lagging or crashed publisher, or a clear that lost to a concurrent save)",
    ["service"],
)

_configured = False


class JsonLinesSpanExporter(SpanExporter):
    """Writes finished spans as JSON lines into a directory, one file per process.

    Lets a test (or a developer without a collector) join a trace across processes.
    """

    def __init__(self, directory: str, process_name: str) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._path = Path(directory) / f"{process_name}-{os.getpid()}.jsonl"
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            if ctx is None:
                continue
            parent = span.parent
            lines.append(
                json.dumps(
                    {
                        "name": span.name,
                        "service": span.resource.attributes.get("service.name"),
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_id": format(parent.span_id, "016x") if parent else None,
                        "start_ns": span.start_time,
                        "end_ns": span.end_time,
                        "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
                    }
                )
            )
        with self._lock, self._path.open("a") as out:
            out.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def setup(settings: Settings, process: str) -> trace.Tracer:
    """Configure tracing and JSON logging once per process."""
    global _configured
    name = f"casework-{settings.service}-{process}"
    if not _configured:
        _configured = True
        provider = TracerProvider(
            resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", name)})
        )
        if settings.otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
            )
        if settings.trace_dir:
            provider.add_span_processor(
                SimpleSpanProcessor(JsonLinesSpanExporter(settings.trace_dir, name))
            )
        trace.set_tracer_provider(provider)
        configure_logging(settings.log_level, name)
    return trace.get_tracer(name)


class JsonFormatter(logging.Formatter):
    def __init__(self, process_name: str) -> None:
        super().__init__()
        self._process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "process": self._process_name,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, process_name: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("kombu", "amqp", "nameko", "pymongo", "werkzeug", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def current_trace_carrier() -> dict[str, str]:
    """The W3C trace context of the current span, to store in an outgoing event."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_carrier(carrier: Mapping[str, str]) -> otel_context.Context:
    return propagate.extract(dict(carrier))


class DatabaseCommandSpans(monitoring.CommandListener):
    """Each database command run inside a traced call or event becomes a child span
    ("<command> <collection>"), so a trace shows where a referral waits on the database.

    The span carries the command and collection only, never its filter or documents:
    those hold clients' names, dates of birth and contacts. Commands outside a traced
    span (the timers' polls, health checks) make no span: they would each start a trace
    of their own. (opentelemetry-instrumentation-pymongo does the same but pins an older
    opentelemetry-api than the sdk this suite runs.)"""

    # A command whose answer never comes (a connection dropped mid-command) leaves its
    # entry behind: bounded so a long outage cannot grow it.
    _KEEP = 1000

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._started: dict[tuple[Any, int], tuple[str, str, str, int]] = {}
        self._lock = threading.Lock()
        # A proxy until the process sets its tracer provider, then that provider's tracer.
        self._tracer = trace.get_tracer("casework.database", tracer_provider=tracer_provider)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not trace.get_current_span().is_recording():
            return
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else ""
        with self._lock:
            if len(self._started) >= self._KEEP:
                self._started.clear()
            self._started[(event.connection_id, event.request_id)] = (
                event.command_name,
                collection,
                event.database_name,
                time.time_ns(),
            )

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        # A refused write (a duplicate key, say) still answers ok, with its errors listed.
        refused = event.reply.get("writeErrors") or []
        self._end(event, f"write error {refused[0].get('code')}" if refused else None)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._end(event, str(event.failure.get("codeName") or event.failure.get("code") or ""))

    def _end(
        self,
        event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent,
        error: str | None,
    ) -> None:
        with self._lock:
            begun = self._started.pop((event.connection_id, event.request_id), None)
        if begun is None:
            return
        command, collection, database, start_ns = begun
        span = self._tracer.start_span(
            f"{command} {collection}".strip(),
            kind=trace.SpanKind.CLIENT,
            start_time=start_ns,
            attributes={
                "db.system": "mongodb",
                "db.name": database,
                "db.operation": command,
                "db.mongodb.collection": collection,
            },
        )
        if error is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, error or "failed"))
        span.end()
