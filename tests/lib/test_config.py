"""Specification of configuration: local defaults in development, and in production
every missing variable stops the process, naming the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from casework_common.config import (
    DEFAULT_GRPC_PORTS,
    DEFAULT_HEALTH_PORTS,
    DEV_JWT_SECRET,
    REPO_ROOT,
    SERVICES,
    MissingConfiguration,
    load_settings,
)

REQUIRED_IN_PRODUCTION = (
    "AMQP_URI",
    "MONGO_URI",
    "S3_ENDPOINT",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "SMTP_HOST",
    "JWT_SECRET",
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
        "JWT_SECRET": "production-secret",
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
    assert settings.jwt_secret == DEV_JWT_SECRET
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
    assert settings.jwt_secret == "production-secret"
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
