"""Specification of the JSON reader for what comes from outside: every refusal is a
field error on the field that carried the JSON, never an exception of another kind."""

from __future__ import annotations

import pytest

from casework_common import safe_json
from casework_common.errors import InvalidArgument


def refusal(raw: str | bytes) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        safe_json.loads(raw, field="body")
    return {e.field: e.description for e in raised.value.errors}


def test_ordinary_json_reads_as_python() -> None:
    assert safe_json.loads('{"a": [1, 2.5, "x\\n", true, null]}', field="body") == {
        "a": [1, 2.5, "x\n", True, None]
    }


@pytest.mark.parametrize("depth", [safe_json.MAX_DEPTH + 1, 1_000, 100_000])
def test_nesting_deeper_than_the_limit_is_refused_without_exhausting_the_stack(
    depth: int,
) -> None:
    assert "nested" in refusal("[" * depth + "]" * depth)["body"]
    assert "nested" in refusal('{"a": ' * depth + "{}" + "}" * depth)["body"]


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = '{"a": "' + "[{" * 1_000 + '\\"]"}'
    assert safe_json.loads(text, field="body") == {"a": "[{" * 1_000 + '"]'}


@pytest.mark.parametrize(
    "raw",
    [
        '{"n": NaN}',
        '{"n": Infinity}',
        '{"n": -Infinity}',
        '{"n": 1e400}',
        '{"n": 9223372036854775808}',
        '{"n": -9223372036854775808}',
        '{"n": 9223372036854775808.0}',
    ],
)
def test_numbers_no_store_can_keep_are_refused(raw: str) -> None:
    assert "body" in refusal(raw)


def test_the_largest_64_bit_integer_is_kept() -> None:
    assert safe_json.loads('{"n": 9223372036854775807}', field="body") == {"n": 2**63 - 1}


@pytest.mark.parametrize("raw", ['{"a": "\\ud800"}', '{"\\udc00": 1}', '["x\\u0000"]'])
def test_lone_surrogates_and_nul_in_strings_or_keys_are_refused(raw: str) -> None:
    assert refusal(raw)


@pytest.mark.parametrize("raw", [b"\xff\xfe", "[1, 2", "", "{'a': 1}", "1" * 5_000])
def test_what_is_not_json_is_refused_as_such(raw: str | bytes) -> None:
    assert "body" in refusal(raw)


def test_decoded_data_is_checked_with_the_same_rules() -> None:
    with pytest.raises(InvalidArgument) as raised:
        safe_json.check_value({"n": [1, float("nan")]}, field="answers")
    assert [e.field for e in raised.value.errors] == ["answers.n[1]"]


def test_an_http_body_names_its_fields_as_the_form_does() -> None:
    with pytest.raises(InvalidArgument) as raised:
        safe_json.loads('{"given_name": "\\ud800", "answers": {"n": NaN}}', field="body", root="")
    assert [e.field for e in raised.value.errors] == ["body"]
    with pytest.raises(InvalidArgument) as raised:
        safe_json.loads('{"given_name": "\\ud800"}', field="body", root="")
    assert [e.field for e in raised.value.errors] == ["given_name"]
