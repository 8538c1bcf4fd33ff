"""Wires documents' adapters, and reads documents' own settings:

- S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET (shared config): the archive, a
  bucket with versioning and object lock (created so when missing).
- DOCUMENTS_SIGNING_KEY_FILE / DOCUMENTS_SIGNING_CERT_FILE: the organisation's private
  key and certificate (PEM) that seal signed PDFs. Required when CASEWORK_ENV=production;
  in development signing answers FAILED_PRECONDITION naming them while they are unset.
- DOCUMENTS_SERVICE_TOKENS_FILE: documents' service tokens for reading cards from
  clients, `{"<organisation>": "<jwt>"}` (see adapters/cards.py).
- CLIENTS_GRPC_TARGET: clients' api, host:port (default 127.0.0.1 and clients' default
  port).
- PLANS_GRPC_TARGET: plans' api, host:port (default 127.0.0.1 and plans' default port),
  asked for the goals of the client's plan in effect when a template prints them.
- DOCUMENTS_DOWNLOAD_URL_SECONDS: how long a download link lives (default 300, at most
  3600).
- DOCUMENTS_MAX_CONVERSIONS: LibreOffice conversions one api process runs at once
  (default 2, at most 16; each is a soffice process of a few hundred MB).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from casework_common import organisation as organisations
from casework_common.config import DEFAULT_GRPC_PORTS, MissingConfiguration, Settings, load_settings
from casework_common.errors import FailedPrecondition, PermissionDenied
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork, now_to_the_millisecond
from casework_documents.adapters import rendering
from casework_documents.adapters.archive import Archive, client_for
from casework_documents.adapters.cards import ClientCards, ServiceTokens
from casework_documents.adapters.plans import ClientPlans
from casework_documents.adapters.rendering import Renderer
from casework_documents.adapters.repository import DocumentRepository, TemplateRepository
from casework_documents.adapters.signing import OrganisationSigner, SigningUnavailable

DEFAULT_URL_SECONDS = 300
MAX_URL_SECONDS = 3600


@dataclass
class Documents:
    settings: Settings
    organisations: dict[str, Organisation]
    archive: Archive
    cards: ClientCards
    plans: ClientPlans
    clock: Callable[[], datetime]
    url_lifetime: timedelta
    renderer: Renderer
    signing_files: tuple[Path, Path] | None = None
    _signer: OrganisationSigner | None = None

    def organisation_of(self, uow: UnitOfWork) -> Organisation:
        org = self.organisations.get(uow.principal.organisation)
        if org is None:
            raise PermissionDenied(f"organisation {uow.principal.organisation} is not served here")
        return org

    def templates_of(self, uow: UnitOfWork) -> TemplateRepository:
        return TemplateRepository(uow.principal.organisation, uow)

    def documents_for(self, uow: UnitOfWork) -> DocumentRepository:
        return DocumentRepository.for_caller(uow.principal, uow)

    def signer(self) -> OrganisationSigner:
        if self._signer is None:
            if self.signing_files is None:
                raise FailedPrecondition(
                    "no organisation certificate to seal documents with: set "
                    "DOCUMENTS_SIGNING_KEY_FILE and DOCUMENTS_SIGNING_CERT_FILE"
                )
            try:
                self._signer = OrganisationSigner.load(*self.signing_files)
            except SigningUnavailable as exc:
                raise FailedPrecondition(str(exc)) from None
        return self._signer


def _signing_files(env: Mapping[str, str]) -> tuple[Path, Path] | None:
    key, cert = (
        env.get("DOCUMENTS_SIGNING_KEY_FILE", ""),
        env.get("DOCUMENTS_SIGNING_CERT_FILE", ""),
    )
    if not key or not cert:
        if env.get("CASEWORK_ENV", "development") == "production":
            missing = "DOCUMENTS_SIGNING_KEY_FILE" if not key else "DOCUMENTS_SIGNING_CERT_FILE"
            raise MissingConfiguration(
                missing, "production seals documents with a real certificate"
            )
        return None
    for name, value in (("DOCUMENTS_SIGNING_KEY_FILE", key), ("DOCUMENTS_SIGNING_CERT_FILE", cert)):
        if not Path(value).is_file():
            raise MissingConfiguration(name, f"{value} is not a readable file")
    return Path(key), Path(cert)


def _url_lifetime(env: Mapping[str, str]) -> timedelta:
    raw = env.get("DOCUMENTS_DOWNLOAD_URL_SECONDS", "")
    if not raw:
        return timedelta(seconds=DEFAULT_URL_SECONDS)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_URL_SECONDS:
        raise MissingConfiguration(
            "DOCUMENTS_DOWNLOAD_URL_SECONDS", f"whole seconds from 1 to {MAX_URL_SECONDS}"
        )
    return timedelta(seconds=int(raw))


def _max_conversions(env: Mapping[str, str]) -> int:
    raw = env.get("DOCUMENTS_MAX_CONVERSIONS", "")
    if not raw:
        return 2
    if not raw.isdigit() or not 1 <= int(raw) <= 16:
        raise MissingConfiguration("DOCUMENTS_MAX_CONVERSIONS", "a whole number from 1 to 16")
    return int(raw)


def bootstrap(settings: Settings | None = None, env: Mapping[str, str] | None = None) -> Documents:
    env = os.environ if env is None else env
    rendering.limit_conversions(_max_conversions(env))
    settings = settings or load_settings("documents", env)
    tokens_file = env.get("DOCUMENTS_SERVICE_TOKENS_FILE", "")
    target = env.get("CLIENTS_GRPC_TARGET") or f"127.0.0.1:{DEFAULT_GRPC_PORTS['clients']}"
    plans_target = env.get("PLANS_GRPC_TARGET") or f"127.0.0.1:{DEFAULT_GRPC_PORTS['plans']}"
    tokens = ServiceTokens(Path(tokens_file) if tokens_file else None)
    return Documents(
        settings=settings,
        organisations=organisations.load(settings.organisation_file),
        archive=Archive(client_for(settings), settings.s3_bucket),
        cards=ClientCards(target, tokens),
        plans=ClientPlans(plans_target, tokens),
        clock=now_to_the_millisecond,
        url_lifetime=_url_lifetime(env),
        renderer=Renderer(),
        signing_files=_signing_files(env),
    )
