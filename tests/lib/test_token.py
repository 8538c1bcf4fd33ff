"""Specification of `make token`: development tokens, signed with the development key
the locally running suite trusts, and nothing for any other environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from casework_common.auth import DEVELOPMENT_KID_PREFIX, TokenVerifier, read_jwks
from casework_dev.token import main


def test_make_token_signs_with_the_development_key_make_run_trusts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASEWORK_ENV", raising=False)

    assert main(["--keys", str(tmp_path), "--subject", "w-petr", "--role", "manager"]) == 0

    keys = read_jwks(tmp_path / "jwks.json")
    principal = TokenVerifier(keys).verify(capsys.readouterr().out.strip())
    assert (principal.subject, principal.roles) == ("w-petr", frozenset({"manager"}))
    assert all(kid.startswith(DEVELOPMENT_KID_PREFIX) for kid in keys)


def test_make_token_twice_uses_the_same_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASEWORK_ENV", raising=False)
    main(["--keys", str(tmp_path)])
    first = capsys.readouterr().out.strip()
    main(["--keys", str(tmp_path)])
    second = capsys.readouterr().out.strip()

    verifier = TokenVerifier(read_jwks(tmp_path / "jwks.json"))
    assert verifier.verify(first) == verifier.verify(second)


def test_make_token_refuses_outside_development(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_ENV", "production")
    monkeypatch.setenv("JWT_JWKS_FILE", str(tmp_path / "jwks.json"))
    for name in ("AMQP_URI", "MONGO_URI", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY",
                 "SMTP_HOST", "CASEWORK_ORGANISATION_FILE"):  # fmt: skip
        monkeypatch.setenv(name, "set")

    assert main(["--keys", str(tmp_path)]) == 2

    assert "CASEWORK_ENV" in capsys.readouterr().err
    assert not (tmp_path / "private.pem").exists()


def test_make_token_will_not_outlive_the_lifetime_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CASEWORK_ENV", raising=False)

    assert main(["--keys", str(tmp_path), "--hours", "24"]) == 2
    assert "JWT_MAX_LIFETIME" in capsys.readouterr().err
