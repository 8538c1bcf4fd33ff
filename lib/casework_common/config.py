"""Configuration from the environment, with local defaults for development.

CASEWORK_ENV is `development` (the default) or `production`; any other value stops the
process rather than guessing. In production nothing falls back to a development default:
a missing variable stops the process at start-up with its name, rather than letting a
service quietly talk to a broker or database that is not the one operations meant.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

SERVICES = ("intake", "clients", "plans", "documents", "notify", "feedback")
PROCESSES = ("api", "events")

# Local ports of `make run`: one gRPC port per service api, one health port per
# events process. Kubernetes gives every pod its own address and uses GRPC_PORT.
DEFAULT_GRPC_PORTS = {name: 50051 + i for i, name in enumerate(SERVICES)}
DEFAULT_HEALTH_PORTS = {name: 8101 + i for i, name in enumerate(SERVICES)}
# The only service holding object-storage credentials (signed documents): no other
# service needs them, so deploy/ gives them to no other service's Secret.
OBJECT_STORAGE_SERVICES = frozenset({"documents"})
# intake's public endpoints (web form, self-fill), apart from its health port.
DEFAULT_PUBLIC_HTTP_PORT = 8100

REPO_ROOT = Path(__file__).resolve().parents[2]
# The development key pair (`make run`, `make token`): generated on first use.
DEV_KEYS_DIR = REPO_ROOT / "var" / "keys"

ENVIRONMENTS = ("development", "production")
DEFAULT_JWT_MAX_LIFETIME_HOURS = 12.0


class MissingConfiguration(RuntimeError):
    """A required environment variable is not set."""

    def __init__(self, variable: str, why: str) -> None:
        super().__init__(f"{variable} is required: {why}")
        self.variable = variable


class InvalidConfiguration(MissingConfiguration):
    """A variable is set to a value the process must not run with."""

    def __init__(self, variable: str, why: str) -> None:
        RuntimeError.__init__(self, f"{variable}: {why}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    service: str
    environment: str
    amqp_uri: str
    mongo_uri: str
    mongo_db: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str
    smtp_host: str
    smtp_port: int
    # None only in development: the api then uses (and creates) var/keys/jwks.json.
    jwt_jwks_file: Path | None
    jwt_audience: str
    jwt_max_lifetime: timedelta
    grpc_port: int
    health_port: int
    metrics_port: int
    otlp_endpoint: str | None
    trace_dir: str | None
    organisation_file: Path
    events_exchange: str
    log_level: str

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def development(self) -> bool:
        return self.environment == "development"


N = TypeVar("N", int, float)


def _number(
    env: Mapping[str, str], name: str, default: N, parse: Callable[[str], N]
) -> tuple[N | None, str]:
    """The variable read by `parse` (`default` when unset, None when `parse` refuses
    it), and its text as set ("" when unset)."""
    raw = env.get(name) or ""
    if not raw:
        return default, raw
    try:
        return parse(raw), raw
    except ValueError:
        return None, raw


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value, raw = _number(env, name, default, int)
    if value is None:
        raise MissingConfiguration(name, f"must be a whole number, got {raw!r}")
    if raw and name.endswith("_PORT") and not 0 <= value <= 65535:
        raise MissingConfiguration(name, f"must be a port number (0-65535), got {raw!r}")
    return value


def _hours(env: Mapping[str, str], name: str, default: float) -> float:
    value, raw = _number(env, name, default, float)
    if raw and (value is None or not 0 < value <= 24 * 7):
        raise InvalidConfiguration(name, f"must be a number of hours (0-168], got {raw!r}")
    return value if value is not None else default


def seconds(name: str, default: float, env: Mapping[str, str] | None = None) -> float:
    """A positive number of seconds from the environment (`default` when unset); a
    process given anything else stops, naming the variable."""
    value, raw = _number(os.environ if env is None else env, name, default, float)
    if value is None:
        raise MissingConfiguration(name, f"must be a number of seconds, got {raw!r}")
    if value <= 0:
        raise MissingConfiguration(name, f"must be positive, got {raw!r}")
    return value


def whole_number(
    name: str, default: int, low: int, high: int, env: Mapping[str, str] | None = None
) -> int:
    """A whole number from `low` to `high` from the environment (`default` when unset or
    empty); a process given anything else stops, naming the variable."""
    raw = (os.environ if env is None else env).get(name) or ""
    if raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidConfiguration(
            name, f"must be a whole number from {low} to {high}, got {raw!r}"
        )
    return int(raw)


def load_settings(service: str, env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings of one service's processes from the environment."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    env = os.environ if env is None else env
    environment = env.get("CASEWORK_ENV") or "development"
    if environment not in ENVIRONMENTS:
        raise InvalidConfiguration(
            "CASEWORK_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
    production = environment != "development"

    def required(name: str, dev_default: str) -> str:
        value = env.get(name, "")
        if value:
            return value
        if production:
            raise MissingConfiguration(
                name, f"CASEWORK_ENV={environment} has no development default"
            )
        return dev_default

    def secret(name: str, value: str, dev_default: str) -> str:
        # A development credential copied into another environment is as good as none:
        # it is in this repository for anyone to read.
        if production and value == dev_default:
            raise InvalidConfiguration(
                name, f"is the development default, refused with CASEWORK_ENV={environment}"
            )
        return value

    jwks_file = env.get("JWT_JWKS_FILE", "")
    if not jwks_file and production:
        raise MissingConfiguration(
            "JWT_JWKS_FILE",
            f"CASEWORK_ENV={environment} needs the identity provider's public keys (a JWKS)",
        )
    max_lifetime_hours = _hours(env, "JWT_MAX_LIFETIME", DEFAULT_JWT_MAX_LIFETIME_HOURS)

    def storage_credential(name: str, dev_default: str) -> str:
        if service in OBJECT_STORAGE_SERVICES:
            return required(name, dev_default)
        return env.get(name) or ("" if production else dev_default)

    return Settings(
        service=service,
        environment=environment,
        amqp_uri=secret(
            "AMQP_URI",
            required("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//"),
            "amqp://guest:guest@127.0.0.1:5672//",
        ),
        mongo_uri=required("MONGO_URI", "mongodb://127.0.0.1:27117"),
        mongo_db=env.get("MONGO_DB") or f"{env.get('MONGO_DB_PREFIX', 'casework')}_{service}",
        s3_endpoint=required("S3_ENDPOINT", "http://127.0.0.1:9100"),
        s3_access_key=storage_credential("S3_ACCESS_KEY", "casework"),
        s3_secret_key=secret(
            "S3_SECRET_KEY",
            storage_credential("S3_SECRET_KEY", "casework-secret"),
            "casework-secret",
        ),
        s3_bucket=env.get("S3_BUCKET") or "casework-documents",
        smtp_host=required("SMTP_HOST", "127.0.0.1"),
        smtp_port=_int(env, "SMTP_PORT", 2525),
        jwt_jwks_file=Path(jwks_file) if jwks_file else None,
        jwt_audience=env.get("JWT_AUDIENCE") or "casework",
        jwt_max_lifetime=timedelta(hours=max_lifetime_hours),
        grpc_port=_int(env, "GRPC_PORT", DEFAULT_GRPC_PORTS[service]),
        health_port=_int(env, "HEALTH_PORT", DEFAULT_HEALTH_PORTS[service]),
        metrics_port=_int(env, "METRICS_PORT", 0),
        otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
        trace_dir=env.get("CASEWORK_TRACE_DIR") or None,
        organisation_file=Path(
            required(
                "CASEWORK_ORGANISATION_FILE",
                str(REPO_ROOT / "config" / "organisation.dev.json"),
            )
        ),
        events_exchange=env.get("CASEWORK_EVENTS_EXCHANGE") or "casework.events",
        log_level=env.get("LOG_LEVEL") or "INFO",
    )


DEFAULT_BIND_HOST = "127.0.0.1"


def bind_host(env: Mapping[str, str] | None = None) -> str:
    """The address every server of a process listens on (BIND_HOST).

    Loopback unless told otherwise: a developer's `make run` must not offer unauthenticated
    health, metrics and development tokens' APIs to the whole network. The container
    image and deploy/ set 0.0.0.0, where the pod's network policy is the boundary."""
    env = os.environ if env is None else env
    return env.get("BIND_HOST") or DEFAULT_BIND_HOST
