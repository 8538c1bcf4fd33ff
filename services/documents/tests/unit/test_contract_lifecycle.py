"""A contract is signed, in force from its first day, and ends by date, by a worker's
decision with a reason, or by a newer contract; versions of a document are only added."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework_common.errors import FailedPrecondition
from casework_documents.domain.documents import (
    ContractState,
    ContractTerms,
    Document,
    DocumentFormat,
    DocumentVersion,
    Signer,
    SigningEvidence,
    SigningMethod,
    StoredFile,
    end_contract,
    end_errors,
    ended_payload,
    object_key,
    retain_until,
    sha256_hex,
    sign_contract,
    signed_payload,
    terms_errors,
    with_version,
)
from casework_documents.domain.templates import TemplateKind

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TODAY = NOW.date()


def create_document(**overrides: object) -> Document:
    fields: dict[str, object] = {
        "document_id": "doc-1",
        "organisation": "org-demo",
        "client_id": "cl-1",
        "centre_ids": ("ctr-north-town",),
        "kind": TemplateKind.CONTRACT,
        "template_id": "tpl-1",
        "title": "Contract",
        "created_at": NOW,
        "created_by": "w-anna",
        "terms": ContractTerms(TODAY, date(2026, 12, 31)),
    }
    fields.update(overrides)
    return Document(**fields)  # type: ignore[arg-type]


def create_version(number: int = 1, *, signed: bool = False) -> DocumentVersion:
    evidence = (
        SigningEvidence(
            signers=(
                Signer("client", "Žofia Ďurišová", "cl-1"),
                Signer("worker", "Anna", "w-anna"),
            ),
            method=SigningMethod.TABLET,
            signed_at=NOW,
            recorded_by="w-anna",
            signed_bytes_sha256=sha256_hex(b"pdf"),
            signature_images_sha256=(sha256_hex(b"a"), sha256_hex(b"b")),
            sealed_sha256=sha256_hex(b"sealed"),
            certificate_subject="CN=org",
        )
        if signed
        else None
    )
    stored = StoredFile(DocumentFormat.PDF, f"k/v{number}.pdf", sha256_hex(b"x"), 1, NOW)
    return DocumentVersion(number, NOW, "w-anna", 1, (stored,), evidence)


def test_a_signed_contract_is_in_force_from_its_first_day_until_its_last() -> None:
    starts = TODAY + timedelta(days=3)
    document = create_document(terms=ContractTerms(starts, date(2026, 12, 31)))

    signed = sign_contract(
        with_version(document, create_version(1)), create_version(2, signed=True), TODAY
    )

    assert signed.contract is not None
    assert signed.contract.state_on(TODAY) is ContractState.SIGNED
    assert signed.contract.state_on(starts) is ContractState.IN_FORCE
    assert signed.contract.state_on(date(2026, 12, 31)) is ContractState.IN_FORCE
    assert signed.contract.state_on(date(2027, 1, 1)) is ContractState.ENDED
    assert signed_payload(signed) == {
        "client_id": "cl-1",
        "contract_id": "doc-1",
        "signed_on": "2026-03-02",
        "valid_until": "2026-12-31",
    }


def test_an_ended_contract_names_its_date_and_reason_and_cannot_end_twice() -> None:
    signed = sign_contract(create_document(), create_version(1, signed=True), TODAY)

    ended = end_contract(signed, TODAY + timedelta(days=1), "client moved away", TODAY)

    assert ended.contract is not None
    assert ended.contract.state_on(TODAY) is ContractState.IN_FORCE
    assert ended.contract.state_on(TODAY + timedelta(days=1)) is ContractState.ENDED
    assert ended_payload(ended)["reason"] == "client moved away"
    with pytest.raises(FailedPrecondition, match="already ended"):
        end_contract(ended, TODAY, "again", TODAY)


def test_a_replaced_contract_names_the_one_that_replaced_it() -> None:
    signed = sign_contract(create_document(), create_version(1, signed=True), TODAY)

    replaced = end_contract(signed, TODAY, "new terms", TODAY, replaced_by="doc-2")

    assert replaced.contract is not None
    assert replaced.contract.state_on(TODAY) is ContractState.REPLACED
    assert ended_payload(replaced)["replaced_by_contract_id"] == "doc-2"


def test_an_unsigned_document_or_one_signed_twice_is_refused() -> None:
    with pytest.raises(FailedPrecondition, match="not a signed contract"):
        end_contract(create_document(), TODAY, "x", TODAY)
    signed = sign_contract(create_document(), create_version(1, signed=True), TODAY)
    with pytest.raises(FailedPrecondition, match="already signed"):
        sign_contract(signed, create_version(2, signed=True), TODAY)


def test_versions_are_only_added_never_replaced() -> None:
    document = with_version(create_document(), create_version(1))

    with pytest.raises(ValueError):
        with_version(document, create_version(1))
    assert [v.number for v in with_version(document, create_version(2)).versions] == [1, 2]


def test_end_and_terms_errors_name_every_field() -> None:
    assert {e.field for e in end_errors(None, " ", TODAY)} == {"ended_on", "reason"}
    errors = terms_errors(ContractTerms(TODAY, TODAY - timedelta(days=1)), TODAY)
    assert {e.description for e in errors} == {"is before valid_from", "is in the past"}


@given(
    days=st.integers(min_value=-400, max_value=4000),
    until=st.one_of(st.none(), st.integers(min_value=0, max_value=4000)),
)
def test_a_contract_is_in_force_only_inside_its_terms(days: int, until: int | None) -> None:
    terms = ContractTerms(TODAY, TODAY + timedelta(days=until) if until is not None else None)
    document = sign_contract(
        replace(create_document(), terms=terms), create_version(1, signed=True), TODAY
    )
    day = TODAY + timedelta(days=days)

    assert document.contract is not None
    in_force = document.contract.state_on(day) is ContractState.IN_FORCE
    assert in_force == (day >= TODAY and (terms.valid_until is None or day <= terms.valid_until))


def test_every_kind_of_document_is_retained_for_years() -> None:
    for kind in TemplateKind:
        assert retain_until(kind, NOW) >= NOW + timedelta(days=5 * 365)


def test_two_writes_of_the_same_version_never_share_an_archive_key() -> None:
    document = create_document()

    first = object_key(document, 2, DocumentFormat.PDF, "a1b2c3")
    second = object_key(document, 2, DocumentFormat.PDF, "d4e5f6")

    assert first != second
    assert first.startswith("org-demo/cl-1/doc-1/v2-") and first.endswith(".pdf")
