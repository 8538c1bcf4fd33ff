"""Specification of how intake's public HTTP endpoints read what they are sent and
what they answer when something still goes wrong (werkzeug requests, no server)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from casework_intake.entrypoints import events


def create_request(body: bytes, content_type: str, *, length: bool = True) -> Request:
    environ = EnvironBuilder(
        path="/public/v1/organisations/org-demo/referrals",
        method="POST",
        data=body,
        content_type=content_type,
    ).get_environ()
    environ["wsgi.input"] = io.BytesIO(body)
    if not length:
        # What a chunked request looks like to the application: no Content-Length,
        # a stream the server ends where the last chunk ends.
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    return Request(environ)


def answer_of(read: dict[str, Any] | Response) -> tuple[int, dict[str, Any]]:
    assert isinstance(read, Response)
    return read.status_code, json.loads(read.get_data())


@pytest.mark.parametrize("length", [True, False])
def test_a_json_body_is_read_whole_with_or_without_a_content_length(length: bool) -> None:
    body = json.dumps({"given_name": "Eva", "free_text": "x" * 10_000}).encode()
    read = events._body(create_request(body, "application/json", length=length))
    assert read == {"given_name": "Eva", "free_text": "x" * 10_000}


@pytest.mark.parametrize("length", [True, False])
def test_a_form_encoded_body_is_read_whole_with_or_without_a_content_length(
    length: bool,
) -> None:
    read = events._body(
        create_request(
            b"given_name=Eva&family_name=Nov%C3%A1kov%C3%A1",
            "application/x-www-form-urlencoded",
            length=length,
        )
    )
    assert read == {"given_name": "Eva", "family_name": "Nováková"}


@pytest.mark.parametrize("length", [True, False])
def test_a_body_over_the_limit_answers_413(length: bool) -> None:
    body = json.dumps({"free_text": "x" * events.MAX_BODY_BYTES}).encode()
    status, _ = answer_of(events._body(create_request(body, "application/json", length=length)))
    assert status == 413


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "body"),
        (b'{"given_name": NaN}', "body"),
        (b'{"answers": {"household": 1e400}}', "body"),
        (b'{"answers": {"household": 99999999999999999999999}}', "body"),
        (b'{"given_name": "\\ud800"}', "given_name"),
        (b'{"answers": {"note": "a\\u0000"}}', "answers.note"),
        (b"\xff\xfe", "body"),
        (b"[1, 2", "body"),
        (b"[]", "body"),
    ],
)
def test_json_no_store_can_keep_answers_400_naming_the_field(body: bytes, field: str) -> None:
    status, answer = answer_of(events._body(create_request(body, "application/json")))
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == [field]


def test_a_form_field_with_a_nul_answers_400_naming_it() -> None:
    status, answer = answer_of(
        events._body(create_request(b"given_name=Eva%00", "application/x-www-form-urlencoded"))
    )
    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["given_name"]
