"""The service tokens file a service reads to call another (documents, notify)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from casework_common.errors import FailedPrecondition
from casework_common.service_tokens import ServiceTokens, TokensUnavailable


def create_tokens(path: Path | None) -> ServiceTokens:
    return ServiceTokens(
        path, variable="NOTIFY_SERVICE_TOKENS_FILE", service="notify", purpose="read cards"
    )


def test_without_a_file_the_call_is_refused_naming_the_variable() -> None:
    with pytest.raises(FailedPrecondition, match="set NOTIFY_SERVICE_TOKENS_FILE"):
        create_tokens(None).for_organisation("org-demo")


def test_a_rotated_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"org-demo": "first"}))
    tokens = create_tokens(path)
    assert tokens.for_organisation("org-demo") == "first"

    path.write_text(json.dumps({"org-demo": "second-token"}))
    os.utime(path, ns=(1, 1))

    assert tokens.for_organisation("org-demo") == "second-token"


def test_an_organisation_without_a_token_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"org-demo": "t"}))

    with pytest.raises(FailedPrecondition, match="org-other"):
        create_tokens(path).for_organisation("org-other")


def test_an_unreadable_file_is_reported_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")

    with pytest.raises(TokensUnavailable, match="cannot read"):
        create_tokens(path).for_organisation("org-demo")
