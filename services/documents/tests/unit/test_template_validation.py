"""What a template may say: the catalogue's fields, loops over lists, conditions; nothing
that reaches Python, calls a function or expands output at will."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import InvalidArgument
from casework_dev.testing.documents import create_template_docx, create_zip_bomb
from casework_documents.domain.package import PackageLimits, check_docx
from casework_documents.domain.templates import (
    COMMON_FIELDS,
    KIND_FIELDS,
    SAMPLE_CONTEXT,
    TemplateKind,
    inspect_source,
    missing_fields,
    refuse_unless_acceptable,
)


def test_fields_loops_and_conditions_of_the_catalogue_are_accepted() -> None:
    verdict = inspect_source(
        "{{ client.full_name }} {% for goal in goals %}{{ loop.index }}. {{ goal.description }}"
        " {{ goal.deadline }}{% endfor %}{% if contract.valid_until %}{{ contract.valid_until"
        " | upper }}{% else %}open-ended{% endif %}"
    )

    assert verdict.acceptable
    assert verdict.placeholders == {
        "client.full_name",
        "goals",
        "goals[].description",
        "goals[].deadline",
        "contract.valid_until",
    }


def test_every_unknown_placeholder_is_listed_in_the_refusal() -> None:
    verdict = inspect_source("{{ client.shoe_size }} {{ salary }} {{ client.given_name }}")

    with pytest.raises(InvalidArgument) as refused:
        refuse_unless_acceptable(verdict)

    assert verdict.unknown == {"client.shoe_size", "salary"}
    assert "client.shoe_size, salary" in str(refused.value)


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("{{ ''.__class__ }}", "internals"),
        ("{{ client.__class__.__mro__ }}", "internals"),
        ("{{ client['__class__'] }}", "internals"),
        ("{% for x in range(10**9) %}{{ x }}{% endfor %}", "calling a function"),
        ("{{ client.given_name * 1000000000 }}", "multiplication"),
        ("{{ 9 ** 9 ** 9 }}", "power"),
        ("{% for c in client.given_name %}{{ c }}{% endfor %}", "only go over a list"),
        ("{% set x = 1 %}", "setting a variable"),
        ("{% include 'x' %}", "include"),
        ("{{ client.given_name | attr('upper') }}", "filter 'attr'"),
        ("{% if client.given_name %}", "line 1"),
    ],
)
def test_template_injection_is_refused_with_the_reason(source: str, why: str) -> None:
    verdict = inspect_source(source)

    assert not verdict.acceptable
    assert why in " ".join(verdict.forbidden)


def test_every_missing_card_field_is_named_at_once() -> None:
    context = {
        **SAMPLE_CONTEXT,
        "client": {**SAMPLE_CONTEXT["client"], "address": "", "date_of_birth": ""},
    }

    assert missing_fields(
        {"client.address", "client.date_of_birth", "client.full_name", "goals[].deadline"}, context
    ) == ["client.address", "client.date_of_birth"]


def test_a_word_document_is_accepted() -> None:
    check_docx(create_template_docx())


@pytest.mark.parametrize(
    "content",
    [b"", b"%PDF-1.7 not a word file", b"PK\x03\x04 truncated", create_zip_bomb(64 * 1024 * 1024)],
    ids=["empty", "pdf", "broken-zip", "zip-bomb"],
)
def test_what_is_not_a_safe_word_document_is_refused(content: bytes) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_docx(content)

    assert refused.value.errors[0].field == "content"


def test_a_zip_bomb_is_refused_by_its_ratio_before_anything_is_inflated() -> None:
    bomb = create_zip_bomb(8 * 1024 * 1024)

    with pytest.raises(InvalidArgument, match="zip bomb"):
        check_docx(bomb, PackageLimits(member_bytes=10**9, inflated_bytes=10**9))


def test_each_kind_of_template_knows_its_own_placeholders() -> None:
    source = "{{ client.full_name }} {{ decision.reason }} {{ contract.valid_until }}"

    consent = inspect_source(source, TemplateKind.CONSENT)
    decision = inspect_source(source, TemplateKind.DECISION)
    contract = inspect_source(source, TemplateKind.CONTRACT)

    assert consent.unknown == {"decision.reason", "contract.valid_until"}
    assert decision.unknown == {"contract.valid_until"}
    assert contract.unknown == {"decision.reason"}
    assert all(KIND_FIELDS[kind] >= COMMON_FIELDS for kind in TemplateKind)


@given(st.sets(st.sampled_from(sorted(COMMON_FIELDS - {"client_signature", "worker_signature"}))))
def test_a_template_printing_catalogue_fields_is_accepted_with_exactly_those(
    fields: set[str],
) -> None:
    source = " ".join(f"{{{{ {field} }}}}" for field in sorted(fields))

    verdict = inspect_source(source, TemplateKind.CONSENT)

    assert verdict.acceptable
    assert verdict.placeholders == fields
