"""Specification of configuration: local defaults in development, and in production
every missing variable stops the process, naming the variable; CASEWORK_ENV is one of a
known few, and the development signing keys are refused anywhere but development."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from casework_common.auth import generate_signing_key, jwks, token_verifier, write_key_pair
from casework_common.config import (
    DEFAULT_GRPC_PORTS,
    DEFAULT_HEALTH_PORTS,
    REPO_ROOT,
    SERVICES,
    InvalidConfiguration,
    MissingConfiguration,
    load_settings,
    seconds,
)

REQUIRED_IN_PRODUCTION = (
    "AMQP_URI",
    "MONGO_URI",
    "S3_ENDPOINT",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "SMTP_HOST",
    "JWT_JWKS_FILE",
    "CASEWORK_ORGANISATION_FILE",
)


def create_production_env(**overrides: Any) -> dict[str, str]:
    """A complete production environment; an override of None removes the variable."""
    env = {
        "CASEWORK_ENV": "production",
        "AMQP_URI": "amqp://casework:pw@rabbitmq:5672/casework",
        "MONGO_URI": "mongodb://mongo-0.mongo:27017/?replicaSet=rs0",
        "S3_ENDPOINT": "https://s3.internal",
        "S3_ACCESS_KEY": "access",
        "S3_SECRET_KEY": "secret",
        "SMTP_HOST": "smtp.internal",
        "JWT_JWKS_FILE": "/etc/casework/jwks/jwks.json",
        "CASEWORK_ORGANISATION_FILE": "/etc/casework/organisation.json",
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def test_development_defaults_let_a_service_start_locally() -> None:
    settings = load_settings("intake", {})

    assert settings.environment == "development"
    assert settings.production is False
    assert settings.amqp_uri == "amqp://guest:guest@127.0.0.1:5672//"
    assert settings.mongo_uri == "mongodb://127.0.0.1:27117"
    assert settings.mongo_db == "casework_intake"
    assert settings.s3_endpoint == "http://127.0.0.1:9100"
    assert settings.s3_bucket == "casework-documents"
    assert settings.smtp_host == "127.0.0.1"
    assert settings.smtp_port == 2525
    assert settings.jwt_jwks_file is None  # the api uses var/keys/ of `make run`
    assert settings.jwt_audience == "casework"
    assert settings.jwt_max_lifetime == timedelta(hours=12)
    assert settings.grpc_port == 50051
    assert settings.health_port == 8101
    assert settings.metrics_port == 0
    assert settings.otlp_endpoint is None
    assert settings.organisation_file == REPO_ROOT / "config" / "organisation.dev.json"
    assert settings.events_exchange == "casework.events"


def test_every_service_has_its_own_database_and_ports() -> None:
    all_settings = [load_settings(service, {}) for service in SERVICES]

    assert [s.mongo_db for s in all_settings] == [f"casework_{name}" for name in SERVICES]
    assert len({s.grpc_port for s in all_settings}) == len(SERVICES)
    assert len({s.health_port for s in all_settings}) == len(SERVICES)
    assert [s.grpc_port for s in all_settings] == [DEFAULT_GRPC_PORTS[n] for n in SERVICES]
    assert [s.health_port for s in all_settings] == [DEFAULT_HEALTH_PORTS[n] for n in SERVICES]


def test_environment_variables_override_the_defaults() -> None:
    settings = load_settings(
        "notify",
        {
            "MONGO_URI": "mongodb://db:27017",
            "MONGO_DB_PREFIX": "e2e_1234",
            "GRPC_PORT": "6000",
            "SMTP_PORT": "25",
            "CASEWORK_ORGANISATION_FILE": "/etc/casework/org.json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4317",
        },
    )

    assert settings.mongo_uri == "mongodb://db:27017"
    assert settings.mongo_db == "e2e_1234_notify"
    assert settings.grpc_port == 6000
    assert settings.smtp_port == 25
    assert settings.organisation_file == Path("/etc/casework/org.json")
    assert settings.otlp_endpoint == "http://otel:4317"


def test_an_explicit_database_name_wins_over_the_prefix() -> None:
    env = {"MONGO_DB": "shared", "MONGO_DB_PREFIX": "ignored"}

    assert load_settings("clients", env).mongo_db == "shared"


def test_a_complete_production_environment_is_used_as_given() -> None:
    settings = load_settings("clients", create_production_env())

    assert settings.production is True
    assert settings.amqp_uri == "amqp://casework:pw@rabbitmq:5672/casework"
    assert settings.mongo_uri == "mongodb://mongo-0.mongo:27017/?replicaSet=rs0"
    assert settings.jwt_jwks_file == Path("/etc/casework/jwks/jwks.json")
    assert settings.organisation_file == Path("/etc/casework/organisation.json")


@pytest.mark.parametrize("variable", REQUIRED_IN_PRODUCTION)
@pytest.mark.parametrize("missing", [None, ""])
def test_in_production_each_missing_variable_is_named(variable: str, missing: str | None) -> None:
    service = "documents" if variable.startswith("S3_") and "KEY" in variable else "intake"
    with pytest.raises(MissingConfiguration) as raised:
        load_settings(service, create_production_env(**{variable: missing}))

    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable} is required:")


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "documents"])
def test_only_documents_needs_object_storage_credentials_in_production(service: str) -> None:
    settings = load_settings(service, create_production_env(S3_ACCESS_KEY=None, S3_SECRET_KEY=None))
    assert (settings.s3_access_key, settings.s3_secret_key) == ("", "")


@pytest.mark.parametrize("variable", ["GRPC_PORT", "HEALTH_PORT", "METRICS_PORT", "SMTP_PORT"])
@pytest.mark.parametrize("value", ["abc", "50051.5", "5 0"])
def test_a_port_that_is_not_a_whole_number_is_named(variable: str, value: str) -> None:
    with pytest.raises(MissingConfiguration) as raised:
        load_settings("intake", {variable: value})

    assert raised.value.variable == variable
    assert repr(value) in str(raised.value)


def test_an_empty_port_takes_the_default() -> None:
    assert load_settings("intake", {"GRPC_PORT": ""}).grpc_port == 50051


@pytest.mark.parametrize("service", ["billing", "", "Intake"])
def test_an_unknown_service_is_rejected(service: str) -> None:
    with pytest.raises(ValueError, match=f"unknown service {service!r}"):
        load_settings(service, {})


# ------------------------------------------------------------------ CASEWORK_ENV


@pytest.mark.parametrize("environment", ["prod", "Production", "staging", "test", "dev", " "])
def test_an_unknown_environment_refuses_to_start_instead_of_falling_back(
    environment: str,
) -> None:
    with pytest.raises(MissingConfiguration) as raised:
        load_settings("intake", create_production_env(CASEWORK_ENV=environment))

    assert raised.value.variable == "CASEWORK_ENV"
    assert repr(environment) in str(raised.value)


def test_an_empty_environment_is_development() -> None:
    assert load_settings("intake", {"CASEWORK_ENV": ""}).development is True


# ------------------------------------------------------------------ token settings


def test_audience_and_lifetime_cap_are_configurable() -> None:
    settings = load_settings(
        "intake", create_production_env(JWT_AUDIENCE="casework-north", JWT_MAX_LIFETIME="1.5")
    )

    assert (settings.jwt_audience, settings.jwt_max_lifetime) == (
        "casework-north",
        timedelta(hours=1.5),
    )


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "169"])
def test_a_lifetime_cap_that_is_not_a_sensible_number_of_hours_is_named(value: str) -> None:
    with pytest.raises(InvalidConfiguration) as raised:
        load_settings("intake", {"JWT_MAX_LIFETIME": value})

    assert raised.value.variable == "JWT_MAX_LIFETIME"


def test_production_without_a_jwks_file_refuses_naming_it() -> None:
    with pytest.raises(MissingConfiguration) as raised:
        load_settings("intake", create_production_env(JWT_JWKS_FILE=None))

    assert raised.value.variable == "JWT_JWKS_FILE"
    assert "JWT_JWKS_FILE" in str(raised.value)


def test_production_trusts_the_keys_of_its_jwks_file(tmp_path: Path) -> None:
    key = write_key_pair(tmp_path, "idp-2026-01")
    settings = load_settings(
        "intake", create_production_env(JWT_JWKS_FILE=str(tmp_path / "jwks.json"))
    )

    assert token_verifier(settings).kids == {key.kid}


def test_production_with_a_development_key_in_the_jwks_refuses_naming_it(
    tmp_path: Path,
) -> None:
    keys = [generate_signing_key("idp-2026-01"), generate_signing_key("development-1a2b3c4d")]
    (tmp_path / "jwks.json").write_text(json.dumps(jwks(keys)))
    settings = load_settings(
        "intake", create_production_env(JWT_JWKS_FILE=str(tmp_path / "jwks.json"))
    )

    with pytest.raises(MissingConfiguration) as raised:
        token_verifier(settings)

    assert raised.value.variable == "JWT_JWKS_FILE"
    assert "development-1a2b3c4d" in str(raised.value)


def test_development_accepts_its_own_development_key(tmp_path: Path) -> None:
    key = write_key_pair(tmp_path, "development-1a2b3c4d")
    settings = load_settings("intake", {"JWT_JWKS_FILE": str(tmp_path / "jwks.json")})

    assert token_verifier(settings).kids == {key.kid}


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "{}",
        '{"keys": []}',
        '{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}',
        '{"keys": [{"kid": "k", "kty": "oct", "k": "c2VjcmV0"}]}',
    ],
    ids=["not-json", "no-keys", "empty", "no-kid", "symmetric"],
)
def test_a_jwks_file_that_holds_no_usable_public_key_is_named(tmp_path: Path, content: str) -> None:
    (tmp_path / "jwks.json").write_text(content)
    settings = load_settings(
        "intake", create_production_env(JWT_JWKS_FILE=str(tmp_path / "jwks.json"))
    )

    with pytest.raises(MissingConfiguration) as raised:
        token_verifier(settings)

    assert raised.value.variable == "JWT_JWKS_FILE"


def test_a_jwks_holding_a_private_key_is_refused(tmp_path: Path) -> None:
    key = generate_signing_key("idp-2026-01")
    private = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.private_key))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**private, "kid": key.kid}]}))
    settings = load_settings(
        "intake", create_production_env(JWT_JWKS_FILE=str(tmp_path / "jwks.json"))
    )

    with pytest.raises(MissingConfiguration, match="public"):
        token_verifier(settings)


@pytest.mark.parametrize(
    ("variable", "development_value"),
    [("S3_SECRET_KEY", "casework-secret"), ("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//")],
)
def test_a_development_credential_is_refused_in_production(
    variable: str, development_value: str
) -> None:
    with pytest.raises(InvalidConfiguration) as raised:
        load_settings("intake", create_production_env(**{variable: development_value}))

    assert raised.value.variable == variable
    assert "development default" in str(raised.value)


def test_seconds_are_read_from_the_environment_with_a_default_when_unset() -> None:
    assert seconds("CASEWORK_SOME_INTERVAL", 2.5, {}) == 2.5
    assert seconds("CASEWORK_SOME_INTERVAL", 2.5, {"CASEWORK_SOME_INTERVAL": "0.25"}) == 0.25


@pytest.mark.parametrize("raw", ["soon", "0", "-1"])
def test_seconds_that_are_no_positive_number_stop_the_process_naming_the_variable(
    raw: str,
) -> None:
    with pytest.raises(MissingConfiguration, match="CASEWORK_SOME_INTERVAL"):
        seconds("CASEWORK_SOME_INTERVAL", 2.5, {"CASEWORK_SOME_INTERVAL": raw})
