"""Service tokens one service uses to call another, issued here for development the way
the identity provider issues them in production: per organisation, kind `service`, the
organisation's centres, and only the calls named. documents reads cards from clients
and the plan in effect from plans with them (DOCUMENTS_SERVICE_TOKENS_FILE); notify reads
the card of a client it messages (NOTIFY_SERVICE_TOKENS_FILE)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from casework_common import organisation as organisations
from casework_common.auth import SigningKey, issue_token

DOCUMENTS_SCOPES = (
    "casework.clients.v1.ClientsService/GetClient",
    "casework.plans.v1.PlansService/ListPlans",
)

NOTIFY_SCOPES = ("casework.clients.v1.ClientsService/GetClient",)


def write_service_tokens(
    path: Path,
    key: SigningKey,
    organisation_file: Path,
    *,
    subject: str = "svc-documents",
    scopes: Iterable[str] = DOCUMENTS_SCOPES,
    ttl: timedelta = timedelta(hours=12),
) -> Path:
    """`{"<organisation>": "<jwt>"}` for every organisation of the file, written atomically
    (the reader re-reads the file when it changes)."""
    tokens = {
        org.id: issue_token(
            key.private_key,
            key.kid,
            organisation=org.id,
            subject=subject,
            kind="service",
            centres=org.centres,
            scopes=scopes,
            ttl=ttl,
        )
        for org in organisations.load(organisation_file).values()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    staging.touch(mode=0o600)
    staging.write_text(json.dumps(tokens, indent=2) + "\n")
    staging.replace(path)
    return path
