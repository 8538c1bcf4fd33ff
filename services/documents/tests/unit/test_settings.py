"""documents' own settings fail fast naming the variable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casework_common.config import MissingConfiguration
from casework_documents.bootstrap import _max_conversions, _signing_files, _url_lifetime


def test_production_without_the_organisations_certificate_stops_naming_it() -> None:
    with pytest.raises(MissingConfiguration, match="DOCUMENTS_SIGNING_KEY_FILE"):
        _signing_files({"CASEWORK_ENV": "production"})
    with pytest.raises(MissingConfiguration, match="DOCUMENTS_SIGNING_CERT_FILE"):
        _signing_files({"CASEWORK_ENV": "production", "DOCUMENTS_SIGNING_KEY_FILE": "/k"})
    assert _signing_files({}) is None  # development: signing answers FAILED_PRECONDITION


def test_a_certificate_file_that_is_not_there_stops_naming_the_variable() -> None:
    with pytest.raises(MissingConfiguration, match="DOCUMENTS_SIGNING_KEY_FILE"):
        _signing_files(
            {"DOCUMENTS_SIGNING_KEY_FILE": "/nowhere/k", "DOCUMENTS_SIGNING_CERT_FILE": "/c"}
        )


@pytest.mark.parametrize("raw", ["0", "3601", "five", "-1"])
def test_a_download_link_lives_one_second_to_one_hour(raw: str) -> None:
    with pytest.raises(MissingConfiguration, match="DOCUMENTS_DOWNLOAD_URL_SECONDS"):
        _url_lifetime({"DOCUMENTS_DOWNLOAD_URL_SECONDS": raw})
    assert _url_lifetime({}) == timedelta(seconds=300)


@pytest.mark.parametrize("raw", ["0", "17", "many"])
def test_concurrent_conversions_are_one_to_sixteen(raw: str) -> None:
    with pytest.raises(MissingConfiguration, match="DOCUMENTS_MAX_CONVERSIONS"):
        _max_conversions({"DOCUMENTS_MAX_CONVERSIONS": raw})
    assert _max_conversions({}) == 2
