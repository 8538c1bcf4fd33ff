"""pytest fixtures shared by every service's tests and the end-to-end tests.

Real parts only: a RabbitMQ vhost of the session's own, a MongoDB-wire server (the
one MONGO_URI names, else a development server started here on a free port), and the
suite's own processes started exactly as `make run` starts them.
"""

from __future__ import annotations

import atexit
import functools
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from casework_common.auth import SigningKey, issue_token, write_key_pair
from casework_common.config import SERVICES
from casework_dev.devstack import (
    Suite,
    administrable_vhost,
    broker_uris,
    create_vhost,
    delete_broker_users,
    delete_vhost,
    ensure_rabbitmq,
    free_port,
    new_broker_passwords,
    provision_broker_users,
    start_mongo,
    stop_mongo,
)

ORGANISATION = "org-demo"

# Tests assert behaviour, never speed: on a loaded machine an example must not fail for
# being slow (hypothesis' default deadline is 200 ms), nor its data for being slow to make.
hypothesis_settings.register_profile(
    "casework", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("casework")


@pytest.fixture(scope="session")
def amqp_uri() -> Iterator[str]:
    """A vhost of this test session's own on the local RabbitMQ (or CASEWORK_TEST_AMQP_URI),
    as a user that administers it."""
    given = os.environ.get("CASEWORK_TEST_AMQP_URI")
    if given:
        yield given
        return
    ensure_rabbitmq()
    vhost = f"casework-test-{secrets.token_hex(4)}"
    yield create_vhost(vhost)
    delete_vhost(vhost)
    # Users `make run` made on this vhost (named after it) go with it.
    delete_broker_users(f"{vhost}-")


@dataclass(frozen=True)
class BrokerUsers:
    """Broker users of one test: `uris[role]` for each service and "replay"."""

    prefix: str
    uris: dict[str, str]

    def user(self, role: str) -> str:
        return self.prefix + role


@pytest.fixture()
def broker_users(amqp_uri: str) -> Iterator[Callable[[str], BrokerUsers]]:
    """Makes the suite's broker users on the session's vhost for an events exchange of
    the test's own; deleted when the test ends."""
    prefixes: list[str] = []

    def make(exchange: str) -> BrokerUsers:
        prefix = f"casework-test-{secrets.token_hex(4)}-"
        passwords = new_broker_passwords()
        provision_broker_users(administrable_vhost(amqp_uri), prefix, passwords, exchange)
        prefixes.append(prefix)
        return BrokerUsers(prefix, broker_uris(amqp_uri, prefix, passwords))

    yield make
    for prefix in prefixes:
        delete_broker_users(prefix)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MONGO_URI when the user names a server (a real MongoDB, say), else a development
    wire server of this session's own, data in a temporary directory."""
    given = os.environ.get("MONGO_URI")
    if given:
        yield given
        return
    port = free_port()
    base = tmp_path_factory.mktemp("mongo")
    start_mongo(base / "data", port, base / "run")
    yield f"mongodb://127.0.0.1:{port}"
    stop_mongo(port, base / "run")


@pytest.fixture()
def mongo_db(mongo_uri: str) -> Iterator[str]:
    """mongoengine connected to a fresh database of this test's own."""
    import mongoengine as me

    name = f"test_{secrets.token_hex(6)}"
    reconnect(db=name, host=mongo_uri)
    yield name
    me.get_connection().drop_database(name)
    disconnect()


def disconnect() -> None:
    """mongoengine's disconnect, and every document class's cached collection dropped.

    mongoengine detaches only the classes of its registry, which is keyed by class
    name: where two services each have a `ProjectDocument` (intake, clients), the one
    the registry does not hold keeps a collection of the closed client, and its next
    query in the same test process fails with "Cannot use MongoClient after close"."""
    import mongoengine as me

    me.disconnect()
    pending: list[type[me.Document]] = [me.Document]
    while pending:
        cls = pending.pop()
        cls._collection = None
        pending.extend(cls.__subclasses__())


def reconnect(*, db: str, host: str, **options: Any) -> None:
    """Connect mongoengine to `db` on `host`, forgetting any earlier connection."""
    import mongoengine as me

    disconnect()
    me.connect(db=db, host=host, tz_aware=True, uuidRepresentation="standard", **options)


TokenFactory = Callable[..., str]


@functools.cache
def documents_env() -> dict[str, str]:
    """documents' development certificate and its service tokens for reading cards,
    signed with the session's key; made once per test session."""
    from casework_common.config import REPO_ROOT
    from casework_dev.service_tokens import write_service_tokens
    from casework_dev.signing_certificate import ensure_signing_certificate

    directory = _session_keys()[0] / "documents"
    key_file, cert_file = ensure_signing_certificate(directory)
    tokens = write_service_tokens(
        directory / "service-tokens.json",
        session_signing_key(),
        Path(
            os.environ.get("CASEWORK_ORGANISATION_FILE")
            or REPO_ROOT / "config" / "organisation.dev.json"
        ),
    )
    return {
        "DOCUMENTS_SIGNING_KEY_FILE": str(key_file),
        "DOCUMENTS_SIGNING_CERT_FILE": str(cert_file),
        "DOCUMENTS_SERVICE_TOKENS_FILE": str(tokens),
    }


@functools.cache
def notify_env() -> dict[str, str]:
    """notify's service tokens for reading the card of a client it messages, signed with
    the session's key; made once per test session."""
    from casework_common.config import REPO_ROOT
    from casework_dev.service_tokens import NOTIFY_SCOPES, write_service_tokens

    tokens = write_service_tokens(
        _session_keys()[0] / "notify" / "service-tokens.json",
        session_signing_key(),
        Path(
            os.environ.get("CASEWORK_ORGANISATION_FILE")
            or REPO_ROOT / "config" / "organisation.dev.json"
        ),
        subject="svc-notify",
        scopes=NOTIFY_SCOPES,
    )
    return {"NOTIFY_SERVICE_TOKENS_FILE": str(tokens)}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """S3_ENDPOINT when the user names one (MinIO, say), else moto's S3 server of this
    session's own on a free port."""
    given = os.environ.get("S3_ENDPOINT")
    if given:
        yield given
        return
    import signal

    from casework_dev.devstack import start_s3

    port = free_port()
    run_dir = tmp_path_factory.mktemp("s3")
    start_s3(port, run_dir)
    yield f"http://127.0.0.1:{port}"
    pid = int((run_dir / "s3.pid").read_text())
    os.kill(pid, signal.SIGTERM)


@functools.cache
def _session_keys() -> tuple[Path, SigningKey]:
    directory = Path(tempfile.mkdtemp(prefix="casework-test-keys-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory, write_key_pair(directory, f"test-{secrets.token_hex(4)}")


def session_signing_key() -> SigningKey:
    """The key pair of this test session: tokens are signed with it, and the processes the
    tests start trust its public half (session_jwks_file) and nothing else."""
    return _session_keys()[1]


def session_jwks_file() -> Path:
    return _session_keys()[0] / "jwks.json"


def create_token(**overrides: Any) -> str:
    """A token signed with the session's test key; a case worker of North Town unless
    told otherwise. `signing_key` signs with another key (a forger's, say)."""
    claims: dict[str, Any] = {
        "organisation": ORGANISATION,
        "subject": "w-anna",
        "kind": "worker",
        "centres": ["ctr-north-town"],
        "roles": ["case_worker"],
    }
    key = overrides.pop("signing_key", None) or session_signing_key()
    claims.update(overrides)
    return issue_token(key.private_key, key.kid, **claims)


def create_partner_token(**overrides: Any) -> str:
    claims: dict[str, Any] = {
        "subject": "partner-city-hospital",
        "kind": "partner",
        "centres": ["ctr-north-town", "ctr-north-village", "ctr-south-city"],
        "roles": [],
        "scopes": ["casework.intake.v1.IntakeService/SubmitReferral"],
    }
    claims.update(overrides)
    return create_token(**claims)


@pytest.fixture(scope="module")
def suite_factory(
    amqp_uri: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Suite]]:
    """Starts service processes on free ports against the session's broker and database;
    they stop when the test module ends, so idle suites never slow the next module down.
    `env` adds to (or overrides) the processes' environment, e.g. a short timer interval.

    Every service connects as a broker user of its own, made for this suite and deleted
    with it (`suite.amqp_uris`); `suite.env["AMQP_URI"]` administers the suite's vhost.
    With CASEWORK_TEST_AMQP_URI the users are made on its vhost, which needs the local
    rabbitmqctl to administer that broker."""
    started: list[Suite] = []
    vhosts: list[str] = []
    prefixes: list[str] = []

    def start(services: tuple[str, ...] = SERVICES, env: Mapping[str, str] | None = None) -> Suite:
        run_dir = tmp_path_factory.mktemp("suite")
        # A vhost per suite: two suites' consumers must never take each other's events.
        suite_amqp = amqp_uri
        vhost = f"casework-test-{secrets.token_hex(4)}"
        if not os.environ.get("CASEWORK_TEST_AMQP_URI"):
            suite_amqp = create_vhost(vhost)
            vhosts.append(vhost)
        # Users are broker-wide: named after this suite's own vhost (or a fresh name).
        prefix = f"{vhost}-"
        passwords = new_broker_passwords()
        provision_broker_users(
            administrable_vhost(suite_amqp),
            prefix,
            passwords,
            (env or {}).get("CASEWORK_EVENTS_EXCHANGE", "casework.events"),
        )
        prefixes.append(prefix)
        trace_dir = Path(tempfile.mkdtemp(prefix="traces-", dir=run_dir))
        suite = Suite(
            run_dir=run_dir,
            amqp_uris=broker_uris(suite_amqp, prefix, passwords),
            env={
                "AMQP_URI": suite_amqp,
                "CASEWORK_BROKER_USER_PREFIX": prefix,
                "MONGO_URI": mongo_uri,
                "MONGO_DB_PREFIX": f"e2e_{secrets.token_hex(4)}",
                "CASEWORK_TRACE_DIR": str(trace_dir),
                "LOG_LEVEL": "INFO",
                "JWT_JWKS_FILE": str(session_jwks_file()),
                **documents_env(),
                **notify_env(),
                **(env or {}),
            },
            grpc_ports={name: free_port() for name in SERVICES},
            health_ports={name: free_port() for name in SERVICES},
        )
        started.append(suite)
        for service in services:
            for process in ("api", "events"):
                suite.start(service, process)
        for service in services:
            for process in ("api", "events"):
                suite.wait_ready(service, process)
        return suite

    yield start
    for suite in started:
        suite.stop_all()
    for vhost in vhosts:
        delete_vhost(vhost)
    for prefix in prefixes:
        delete_broker_users(prefix)
