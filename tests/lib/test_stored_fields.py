"""Specification of the declarative mapping between an aggregate and its document
(`casework_common.repository.StoredFields`) and of a proto enum read by name
(`casework_common.messages.enum_codes`): no database, documents built in memory."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime

import mongoengine as me
import pytest

from casework.intake.v1 import intake_pb2
from casework_common.messages import enum_codes
from casework_common.repository import (
    FLAG,
    ISO_DATE,
    LIST,
    OPTIONAL_ISO_DATE,
    OPTIONAL_KEY,
    UTC_INSTANT,
    StoredFields,
    as_utc,
    enum_value,
    idempotency_key_index,
    optional_enum_value,
)
from casework_common.storage import AggregateDocument


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Note:
    note_id: str
    organisation: str
    colour: Colour
    born: date
    seen: date | None
    tags: tuple[str, ...]
    written_at: datetime
    idempotency_key: str = ""
    second_colour: Colour | None = None
    text: str = ""


class NoteDocument(AggregateDocument):
    meta = {"collection": "test_stored_fields_notes"}

    id = me.StringField(primary_key=True)
    colour = me.StringField(required=True)
    born = me.StringField(required=True)
    seen = me.StringField(default="")
    tags = me.ListField(me.StringField())
    written_at = me.DateTimeField(required=True)
    idempotency_key = me.StringField()
    second_colour = me.StringField(default="")
    text = me.StringField(default="")
    summary = me.StringField(default="")


FIELDS = StoredFields(
    Note,
    "note_id",
    colour=enum_value(Colour),
    born=ISO_DATE,
    seen=OPTIONAL_ISO_DATE,
    tags=LIST,
    idempotency_key=OPTIONAL_KEY,
    second_colour=optional_enum_value(Colour),
)
AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def create_note(**overrides: object) -> Note:
    values: dict[str, object] = {
        "note_id": "n-1",
        "organisation": "org-a",
        "colour": Colour.RED,
        "born": date(1990, 5, 17),
        "seen": None,
        "tags": ("a", "b"),
        "written_at": AT,
    }
    return Note(**(values | overrides))  # type: ignore[arg-type]


def stored(note: Note) -> NoteDocument:
    doc = NoteDocument(id=FIELDS.id_of(note))
    FIELDS.write(doc, note)
    return doc


def test_an_aggregate_is_stored_attribute_for_field_and_read_back_equal() -> None:
    note = create_note(seen=date(2026, 1, 2), second_colour=Colour.BLUE, idempotency_key="k-1")

    doc = stored(note)

    assert (doc.id, doc.organisation, doc.colour, doc.born, doc.seen) == (
        "n-1",
        "org-a",
        "red",
        "1990-05-17",
        "2026-01-02",
    )
    assert (doc.tags, doc.idempotency_key, doc.second_colour) == (["a", "b"], "k-1", "blue")
    assert FIELDS.read(doc) == note


def test_empty_optional_values_are_stored_empty_or_unset_and_read_back_empty() -> None:
    note = create_note()

    doc = stored(note)

    assert (doc.seen, doc.second_colour, doc.idempotency_key) == ("", "", None)
    assert FIELDS.read(doc) == note


def test_writing_leaves_fields_that_are_no_attribute_alone() -> None:
    doc = NoteDocument(id="n-1", summary="kept")

    FIELDS.write(doc, create_note(text="changed"))

    assert (doc.summary, doc.text) == ("kept", "changed")


def test_an_attribute_mapped_apart_is_neither_written_nor_read() -> None:
    apart = StoredFields(Note, "note_id", colour=enum_value(Colour), apart=("born", "seen", "tags"))
    doc = NoteDocument(id="n-1")

    apart.write(doc, create_note())
    read = apart.read(stored(create_note()), born=date(2000, 1, 1), seen=None, tags=())

    assert doc.born is None
    assert read.born == date(2000, 1, 1)


def test_a_conversion_for_an_attribute_the_aggregate_lacks_is_refused() -> None:
    with pytest.raises(TypeError, match="no attribute"):
        StoredFields(Note, "note_id", colur=enum_value(Colour))


def test_the_key_index_leaves_keyless_records_out_only_when_asked() -> None:
    assert idempotency_key_index() == {
        "fields": ["organisation", "idempotency_key"],
        "unique": True,
    }
    assert idempotency_key_index(keyless_records=True)["partialFilterExpression"] == {
        "idempotency_key": {"$type": "string"}
    }


def test_a_proto_enum_is_read_by_the_names_of_the_domain_members() -> None:
    class Status(enum.Enum):
        OPEN = "open"
        DONE = "done"

    assert enum_codes(intake_pb2.TaskStatus, Status) == {
        intake_pb2.TASK_STATUS_OPEN: Status.OPEN,
        intake_pb2.TASK_STATUS_DONE: Status.DONE,
    }


def test_a_domain_member_without_a_proto_code_is_refused() -> None:
    class Status(enum.Enum):
        OPEN = "open"
        PAUSED = "paused"

    with pytest.raises(ValueError):
        enum_codes(intake_pb2.TaskStatus, Status)


def test_a_stored_instant_reads_back_aware_and_a_stored_zero_flag_reads_back_false() -> None:
    naive = datetime(2026, 3, 2, 9, 30)
    assert UTC_INSTANT.load(naive) == as_utc(naive) == naive.replace(tzinfo=UTC)
    aware = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert UTC_INSTANT.load(aware) is aware
    assert UTC_INSTANT.load(None) is None
    assert UTC_INSTANT.dump(aware) is aware
    assert FLAG.load(0) is False and FLAG.load(1) is True
    assert FLAG.dump(False) is False
