"""Database commands inside a traced call or event show in its trace, without the data
they carry (names, dates of birth and contacts must never reach a trace collector)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pymongo
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pymongo.errors import DuplicateKeyError

from casework_common.telemetry import DatabaseCommandSpans


@pytest.fixture()
def traced(mongo_uri: str) -> Iterator[tuple[Any, TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client: Any = pymongo.MongoClient(mongo_uri, event_listeners=[DatabaseCommandSpans(provider)])
    name = f"test_{secrets.token_hex(6)}"
    yield client[name], provider, exporter
    client.drop_database(name)
    client.close()


def test_a_command_inside_a_call_is_a_child_span_naming_command_and_collection(
    traced: tuple[Any, TracerProvider, InMemorySpanExporter],
) -> None:
    database, provider, exporter = traced
    with provider.get_tracer("test").start_as_current_span("SubmitReferral") as call:
        database.clients.insert_one({"given_name": "Jana", "date_of_birth": "1950-03-04"})
        list(database.clients.find({"given_name": "Jana"}))

    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert {"insert clients", "find clients", "SubmitReferral"} <= set(spans)
    for name in ("insert clients", "find clients"):
        span = spans[name]
        assert span.parent is not None
        assert span.parent.span_id == call.get_span_context().span_id
        assert span.kind is SpanKind.CLIENT
        assert span.attributes is not None
        assert span.attributes["db.mongodb.collection"] == "clients"
        assert span.attributes["db.name"] == database.name
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= span.end_time


def test_a_span_carries_no_value_of_the_command(
    traced: tuple[Any, TracerProvider, InMemorySpanExporter],
) -> None:
    database, provider, exporter = traced
    with provider.get_tracer("test").start_as_current_span("SearchClients"):
        database.clients.insert_one({"given_name": "Kristīne", "phone": "+421 900 111 222"})
        list(database.clients.find({"given_name": "Kristīne", "phone": "+421 900 111 222"}))

    written = repr([(s.name, dict(s.attributes or {})) for s in exporter.get_finished_spans()])
    assert "Kristīne" not in written
    assert "900 111 222" not in written


def test_a_refused_command_is_an_error_span(
    traced: tuple[Any, TracerProvider, InMemorySpanExporter],
) -> None:
    database, provider, exporter = traced
    database.cards.insert_one({"_id": "c-1"})
    with (
        provider.get_tracer("test").start_as_current_span("RegisterClient"),
        pytest.raises(DuplicateKeyError),
    ):
        database.cards.insert_one({"_id": "c-1"})

    refused = [s for s in exporter.get_finished_spans() if s.name == "insert cards"]
    assert len(refused) == 1
    assert refused[0].status.status_code is StatusCode.ERROR


def test_a_command_outside_any_call_or_event_makes_no_span(
    traced: tuple[Any, TracerProvider, InMemorySpanExporter],
) -> None:
    # A timer's poll, a health check: each would otherwise start a trace of its own.
    database, _, exporter = traced
    database.reminders.insert_one({"due": 1})
    list(database.reminders.find({"due": 1}))

    assert exporter.get_finished_spans() == ()
