"""notify's mailer against a real SMTP server (aiosmtpd) that requires STARTTLS and a
login: the e-mail arrives with its headers; a wrong password or a server that cannot be
reached is an error the sender retries (never a silent success)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import smtplib
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from casework_dev.devstack import free_port
from casework_notify.adapters.mail import SmtpMailer, SmtpSettings
from casework_notify.domain.email import Email

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def write_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"notify", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Inbox, int, Path]]:
    cert_file, key_file = write_certificate(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield inbox, port, cert_file
    controller.stop()


def create_email() -> Email:
    return Email(
        email_id="notification:reminder:svc-plans:k1",
        organisation="org-demo",
        recipient="petr@demo.casework.test",
        subject="[Sieť] Kontrola plánu",
        text="Dobrý deň,\n\nkontrola plánu.\n",
        language="sk",
        created_at=NOW,
        next_attempt_at=NOW,
    )


def mailer(port: int, cert_file: Path, **overrides: Any) -> SmtpMailer:
    fields: dict[str, Any] = {
        "host": "localhost",
        "port": port,
        "sender": "casework@demo.casework.test",
        "starttls": True,
        "username": "notify",
        "password": "s3cret",
        "timeout": 5.0,
        "ca_file": str(cert_file),
    }
    fields.update(overrides)
    return SmtpMailer(SmtpSettings(**fields))


def test_an_email_goes_over_starttls_with_a_login(server: tuple[Inbox, int, Path]) -> None:
    inbox, port, cert_file = server
    mailer(port, cert_file).send(create_email(), NOW)

    sender, recipients, content = inbox.messages[-1]
    message = message_from_bytes(content)
    assert (sender, recipients) == ("casework@demo.casework.test", ["petr@demo.casework.test"])
    assert message["Message-ID"] == "<notification-reminder-svc-plans-k1@casework>"
    assert message["Content-Language"] == "sk"


def test_a_wrong_password_or_no_tls_is_an_error_not_a_silent_success(
    server: tuple[Inbox, int, Path],
) -> None:
    inbox, port, cert_file = server
    before = len(inbox.messages)
    with pytest.raises(smtplib.SMTPException):
        mailer(port, cert_file, password="wrong").send(create_email(), NOW)
    with pytest.raises(smtplib.SMTPException):
        mailer(port, cert_file, starttls=False).send(create_email(), NOW)
    # A certificate the configured CAs do not vouch for.
    with pytest.raises(ssl.SSLError):
        mailer(port, cert_file, ca_file="").send(create_email(), NOW)
    assert len(inbox.messages) == before


def test_an_unreachable_server_is_an_os_error() -> None:
    with pytest.raises(OSError):
        mailer(free_port(), Path("/nonexistent"), starttls=False, username="").send(
            create_email(), NOW
        )
