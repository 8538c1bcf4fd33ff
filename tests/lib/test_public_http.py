"""Specification of what the suite's anonymous HTTP endpoints share
(`casework_common.public_http`): werkzeug requests, no server."""

from __future__ import annotations

import io
import json
import logging

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from casework_common.forwarded import parse_networks
from casework_common.public_http import (
    RateDecision,
    caller_address,
    json_object,
    public,
    read_whole,
    too_many,
)


def create_request(body: bytes, *, length: bool = True) -> Request:
    environ = EnvironBuilder(
        path="/public/v1/anything", method="POST", data=body, content_type="application/json"
    ).get_environ()
    environ["wsgi.input"] = io.BytesIO(body)
    if not length:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    return Request(environ)


def answer_of(response: Response) -> tuple[int, dict[str, object]]:
    return response.status_code, json.loads(response.get_data())


@pytest.mark.parametrize("length", [True, False])
def test_a_body_up_to_the_bound_is_read_whole_and_one_byte_more_is_refused(length: bool) -> None:
    assert read_whole(create_request(b"x" * 10, length=length), 10) == b"x" * 10
    assert read_whole(create_request(b"x" * 11, length=length), 10) is None


def test_a_json_body_is_an_object_or_the_callers_400_naming_the_body() -> None:
    assert json_object(b'{"answers": {}}') == {"answers": {}}
    for raw, description in (
        (b"", "must be a JSON object"),
        (b"[1]", "must be a JSON object"),
    ):
        answer = json_object(raw)
        assert isinstance(answer, Response)
        assert answer_of(answer) == (
            400,
            {"errors": [{"field": "body", "description": description}]},
        )
    unreadable = json_object(b"{not json")
    assert isinstance(unreadable, Response)
    status, body = answer_of(unreadable)
    assert status == 400
    assert [error["field"] for error in body["errors"]] == ["body"]  # type: ignore[attr-defined]


def test_a_request_counts_against_its_peer_or_the_hop_a_trusted_proxy_appended() -> None:
    def request_from(peer: str, forwarded: str) -> Request:
        environ = EnvironBuilder(
            path="/public/v1/anything", headers={"X-Forwarded-For": forwarded}
        ).get_environ()
        environ["REMOTE_ADDR"] = peer
        return Request(environ)

    proxies = parse_networks("10.0.0.0/8")
    header = "X-Forwarded-For"
    behind_proxy = request_from("10.0.0.1", "203.0.113.7")
    assert caller_address(behind_proxy, header, proxies) == "203.0.113.7"
    assert caller_address(request_from("198.51.100.2", "203.0.113.7"), header, proxies) == (
        "198.51.100.2"
    )
    assert caller_address(behind_proxy, "", proxies) == "10.0.0.1"


def test_too_many_requests_answers_429_with_when_to_come_back() -> None:
    answer = too_many(RateDecision(allowed=False, count=61, retry_after_seconds=17), "slow down")
    assert answer_of(answer) == (429, {"error": "slow down"})
    assert answer.headers["Retry-After"] == "17"


def test_whatever_escapes_a_public_handler_answers_a_bare_500_logged_with_its_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Endpoint:
        @public
        def handle(self, request: Request, org: str) -> Response:
            raise RuntimeError("mongodb://admin:hunter2@db/intake is down")

    with caplog.at_level(logging.ERROR):
        status, answer = answer_of(Endpoint().handle(create_request(b"{}"), "org-demo"))
    assert status == 500
    assert set(answer) == {"error", "correlation_id"}
    assert "hunter2" not in json.dumps(answer)
    (record,) = [r for r in caplog.records if r.getMessage() == "public request failed"]
    assert record.exc_info is not None
    assert record.fields["correlation_id"] == answer["correlation_id"]  # type: ignore[attr-defined]
