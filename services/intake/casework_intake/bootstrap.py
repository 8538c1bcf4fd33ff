"""Wires intake's adapters for both processes: settings, organisations, repositories,
and intake's own settings (read here, since the shared config knows nothing of them):

- INTAKE_SELF_FILL_SECRET: key that signs self-fill links, at least 32 bytes. Required
  when CASEWORK_ENV=production (the process stops naming it); a development default
  otherwise.
- INTAKE_WEB_FORM_PER_MINUTE: public web-form submissions one address may make per
  minute (default 5).
- INTAKE_TRUSTED_PROXIES: the proxies in front of intake's public port (CIDRs or
  addresses, comma- or space-separated). Without it a submission counts under the
  connecting address: behind a proxy, one bucket for everyone.
- INTAKE_WEB_FORM_IP_HEADER: the header those proxies append the client's address to
  (default X-Forwarded-For). Read only from a trusted proxy, right to left; set without
  INTAKE_TRUSTED_PROXIES it stops the start, since a client could otherwise choose its
  own address and escape the limit.
- PUBLIC_HTTP_PORT: the port of the public endpoints (/public/...), served apart from
  /healthz and /metrics so that only it is exposed to the internet (default 8100).
- `first_response_hours` per organisation in the organisation file (default 24).
- `outreach_reminder_hours` per organisation in the organisation file (default 24): how
  long before a planned outreach activity its worker is reminded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from casework_common import organisation as organisations
from casework_common.config import (
    DEFAULT_PUBLIC_HTTP_PORT,
    MissingConfiguration,
    Settings,
    load_settings,
)
from casework_common.errors import PermissionDenied
from casework_common.organisation import InvalidOrganisation, Organisation
from casework_common.unit_of_work import UnitOfWork, now_to_the_millisecond
from casework_intake.adapters.repository import (
    ConsultationRepository,
    FormsRepository,
    OutreachRepository,
    ProjectRepository,
    ReferralRepository,
    RoutingRulesRepository,
)
from casework_intake.domain import outreach
from casework_intake.domain.first_response import DEFAULT_FIRST_RESPONSE_HOURS, check_hours
from casework_intake.domain.selffill import MIN_SECRET_BYTES
from casework_intake.domain.web_form import DEFAULT_PER_MINUTE, Network, parse_networks

DEFAULT_IP_HEADER = "X-Forwarded-For"
DEV_SELF_FILL_SECRET = b"casework-development-self-fill-secret-not-for-production"


def self_fill_secret(env: Mapping[str, str]) -> bytes:
    raw = env.get("INTAKE_SELF_FILL_SECRET", "")
    if not raw:
        if env.get("CASEWORK_ENV", "development") == "production":
            raise MissingConfiguration(
                "INTAKE_SELF_FILL_SECRET", "CASEWORK_ENV=production has no development default"
            )
        return DEV_SELF_FILL_SECRET
    secret = raw.encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise MissingConfiguration(
            "INTAKE_SELF_FILL_SECRET", f"must be at least {MIN_SECRET_BYTES} bytes"
        )
    return secret


def trusted_proxies(env: Mapping[str, str]) -> tuple[tuple[Network, ...], str]:
    """The trusted proxies and the header they append the client's address to."""
    header = env.get("INTAKE_WEB_FORM_IP_HEADER", "")
    try:
        proxies = parse_networks(env.get("INTAKE_TRUSTED_PROXIES", ""))
    except ValueError as exc:
        raise MissingConfiguration("INTAKE_TRUSTED_PROXIES", str(exc)) from None
    if header and not proxies:
        raise MissingConfiguration(
            "INTAKE_TRUSTED_PROXIES",
            f"INTAKE_WEB_FORM_IP_HEADER={header} is believed only from trusted proxies; "
            "name them, or unset the header",
        )
    return proxies, (header or DEFAULT_IP_HEADER) if proxies else ""


def public_http_port(env: Mapping[str, str]) -> int:
    raw = env.get("PUBLIC_HTTP_PORT", "")
    if not raw:
        return DEFAULT_PUBLIC_HTTP_PORT
    if not raw.isdigit() or not 0 < int(raw) <= 65535:
        raise MissingConfiguration("PUBLIC_HTTP_PORT", f"must be a port number, got {raw!r}")
    return int(raw)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MissingConfiguration(name, f"must be a whole number, got {raw!r}") from None
    if value < 1:
        raise MissingConfiguration(name, f"must be 1 or more, got {raw!r}")
    return value


def _hours_setting(
    path: Path, key: str, default: float, check: Callable[[object], float]
) -> dict[str, float]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = {}
    for item in data.get("organisations", [data]):
        try:
            out[item["id"]] = check(item.get(key, default))
        except ValueError as exc:
            raise InvalidOrganisation(f"organisation {item.get('id')}: {exc}") from None
    return out


def first_response_hours(path: Path) -> dict[str, float]:
    """Each organisation's first-response time, from the same organisation file."""
    return _hours_setting(path, "first_response_hours", DEFAULT_FIRST_RESPONSE_HOURS, check_hours)


def outreach_reminder_hours(path: Path) -> dict[str, float]:
    """How long before an outreach activity each organisation reminds its worker."""
    return _hours_setting(
        path, "outreach_reminder_hours", outreach.DEFAULT_REMINDER_HOURS, outreach.check_hours
    )


@dataclass
class Intake:
    settings: Settings
    organisations: dict[str, Organisation]
    clock: Callable[[], datetime]
    self_fill_secret: bytes = DEV_SELF_FILL_SECRET
    response_hours: dict[str, float] = field(default_factory=dict)
    reminder_hours: dict[str, float] = field(default_factory=dict)
    web_form_per_minute: int = DEFAULT_PER_MINUTE
    web_form_ip_header: str = ""
    trusted_proxies: tuple[Network, ...] = ()
    public_http_port: int = DEFAULT_PUBLIC_HTTP_PORT

    def organisation_of(self, uow: UnitOfWork) -> Organisation:
        principal = uow.principal
        org = self.organisations.get(principal.organisation)
        if org is None:
            raise PermissionDenied(f"organisation {principal.organisation} is not served here")
        return org

    def first_response_hours_of(self, organisation: str) -> float:
        return self.response_hours.get(organisation, DEFAULT_FIRST_RESPONSE_HOURS)

    def outreach_reminder_hours_of(self, organisation: str) -> float:
        return self.reminder_hours.get(organisation, outreach.DEFAULT_REMINDER_HOURS)

    def referrals_for(self, uow: UnitOfWork) -> ReferralRepository:
        return ReferralRepository.for_caller(uow.principal, uow)

    def consultations_for(self, uow: UnitOfWork) -> ConsultationRepository:
        return ConsultationRepository.for_caller(uow.principal, uow)

    def routing_rules_of(self, uow: UnitOfWork) -> RoutingRulesRepository:
        return RoutingRulesRepository(uow.principal.organisation, uow)

    def forms_for(self, uow: UnitOfWork) -> FormsRepository:
        return FormsRepository.for_caller(uow.principal, uow)

    def outreach_for(self, uow: UnitOfWork) -> OutreachRepository:
        return OutreachRepository.for_caller(uow.principal, uow)

    def projects_for(self, uow: UnitOfWork) -> ProjectRepository:
        return ProjectRepository.for_caller(uow.principal, uow)


def bootstrap(settings: Settings | None = None, env: Mapping[str, str] | None = None) -> Intake:
    env = os.environ if env is None else env
    settings = settings or load_settings("intake", env)
    proxies, ip_header = trusted_proxies(env)
    return Intake(
        settings=settings,
        organisations=organisations.load(settings.organisation_file),
        clock=now_to_the_millisecond,
        self_fill_secret=self_fill_secret(env),
        response_hours=first_response_hours(settings.organisation_file),
        reminder_hours=outreach_reminder_hours(settings.organisation_file),
        web_form_per_minute=_positive_int(env, "INTAKE_WEB_FORM_PER_MINUTE", DEFAULT_PER_MINUTE),
        web_form_ip_header=ip_header,
        trusted_proxies=proxies,
        public_http_port=public_http_port(env),
    )
