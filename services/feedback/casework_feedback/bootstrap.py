"""Wires feedback's adapters for both processes, from the environment:

- FEEDBACK_LINK_SECRET: signs the public survey links (32 bytes or more; required
  outside development).
- FEEDBACK_MINIMUM_GROUP: the smallest group a report shows (default 5).
- FEEDBACK_PHONE_SAMPLE_RATE: the share of visits without a survey that get a random
  phone survey (0..1, default 0.2); FEEDBACK_SAMPLE_SALT keeps the draw unguessable.
- FEEDBACK_SAMPLE_AFTER_SECONDS: how long after a visit the draw waits for a survey
  (default 7200).
- FEEDBACK_LINK_HOURS: how long a mini-survey link works (default 72).
- FEEDBACK_PUBLIC_PER_MINUTE: public submissions one address may make per minute
  (default 10).
- FEEDBACK_PUBLIC_HTTP_PORT: the port of the public mini-survey endpoints (default 8110).
- FEEDBACK_TRUSTED_PROXIES: the proxies in front of the public port (CIDRs or
  addresses, comma- or space-separated). Without it a request counts under the
  connecting address: behind a proxy, one bucket for every visitor.
- FEEDBACK_PUBLIC_IP_HEADER: the header those proxies append the visitor's address to
  (default X-Forwarded-For). Read only from a trusted proxy, right to left
  (casework_common.forwarded, the rule intake's web form uses); set without
  FEEDBACK_TRUSTED_PROXIES it stops the start, since a visitor could otherwise choose
  its own address and escape the limit.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from casework_common import organisation as organisations
from casework_common.config import MissingConfiguration, Settings, load_settings
from casework_common.errors import PermissionDenied
from casework_common.forwarded import Network
from casework_common.forwarded import trusted_proxies as read_trusted_proxies
from casework_common.organisation import Organisation
from casework_common.unit_of_work import UnitOfWork, now_to_the_millisecond
from casework_feedback.adapters.call_repository import CallRepository
from casework_feedback.adapters.campaign_repository import CampaignRepository
from casework_feedback.adapters.complaint_repository import ComplaintRepository
from casework_feedback.adapters.repository import SurveyRepository, VisitRepository
from casework_feedback.adapters.response_repository import ResponseRepository
from casework_feedback.domain.links import MAX_VALIDITY, MIN_SECRET_BYTES
from casework_feedback.domain.reports import DEFAULT_MINIMUM_GROUP

DEV_LINK_SECRET = b"casework-development-feedback-link-secret-not-for-production"
DEFAULT_FEEDBACK_PUBLIC_HTTP_PORT = 8110


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise MissingConfiguration(name, f"must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise MissingConfiguration(name, f"must be from {low:g} to {high:g}, got {raw!r}")
    return value


def link_secret(env: Mapping[str, str]) -> bytes:
    raw = env.get("FEEDBACK_LINK_SECRET", "")
    if not raw:
        if env.get("CASEWORK_ENV", "development") != "development":
            raise MissingConfiguration(
                "FEEDBACK_LINK_SECRET", "only development has a default secret"
            )
        return DEV_LINK_SECRET
    if len(raw.encode()) < MIN_SECRET_BYTES:
        raise MissingConfiguration(
            "FEEDBACK_LINK_SECRET", f"must be at least {MIN_SECRET_BYTES} bytes"
        )
    return raw.encode()


def trusted_proxies(env: Mapping[str, str]) -> tuple[tuple[Network, ...], str]:
    """The trusted proxies of the public port and the header they append the address to."""
    return read_trusted_proxies(env, "FEEDBACK_TRUSTED_PROXIES", "FEEDBACK_PUBLIC_IP_HEADER")


def public_http_port(env: Mapping[str, str]) -> int:
    return int(
        _number(env, "FEEDBACK_PUBLIC_HTTP_PORT", DEFAULT_FEEDBACK_PUBLIC_HTTP_PORT, 1, 65535)
    )


@dataclass
class Feedback:
    settings: Settings
    organisations: dict[str, Organisation]
    clock: Callable[[], datetime]
    link_secret: bytes = DEV_LINK_SECRET
    minimum_group: int = DEFAULT_MINIMUM_GROUP
    sample_rate: float = 0.2
    sample_salt: str = "casework-development-sample-salt"
    sample_after: timedelta = timedelta(hours=2)
    later_after: timedelta = timedelta(days=7)
    link_validity: timedelta = timedelta(hours=72)
    public_per_minute: int = 10
    public_http_port: int = DEFAULT_FEEDBACK_PUBLIC_HTTP_PORT
    trusted_proxies: tuple[Network, ...] = ()
    public_ip_header: str = ""

    def organisation_of(self, uow: UnitOfWork) -> Organisation:
        return self.organisation(uow.principal.organisation)

    def organisation(self, organisation_id: str) -> Organisation:
        org = self.organisations.get(organisation_id)
        if org is None:
            raise PermissionDenied(f"organisation {organisation_id} is not served here")
        return org

    def surveys_for(self, uow: UnitOfWork) -> SurveyRepository:
        return SurveyRepository.for_caller(uow.principal, uow)

    def visits_for(self, uow: UnitOfWork) -> VisitRepository:
        return VisitRepository.for_caller(uow.principal, uow)

    def responses_for(self, uow: UnitOfWork) -> ResponseRepository:
        return ResponseRepository.for_caller(uow.principal, uow)

    def calls_for(self, uow: UnitOfWork) -> CallRepository:
        return CallRepository.for_caller(uow.principal, uow)

    def complaints_for(self, uow: UnitOfWork) -> ComplaintRepository:
        return ComplaintRepository.for_caller(uow.principal, uow)

    def campaigns_for(self, uow: UnitOfWork) -> CampaignRepository:
        return CampaignRepository.for_caller(uow.principal, uow)


def bootstrap(settings: Settings | None = None, env: Mapping[str, str] | None = None) -> Feedback:
    env = os.environ if env is None else env
    settings = settings or load_settings("feedback", env)
    proxies, ip_header = trusted_proxies(env)
    return Feedback(
        settings=settings,
        organisations=organisations.load(settings.organisation_file),
        clock=now_to_the_millisecond,
        link_secret=link_secret(env),
        minimum_group=int(_number(env, "FEEDBACK_MINIMUM_GROUP", DEFAULT_MINIMUM_GROUP, 1, 1000)),
        sample_rate=_number(env, "FEEDBACK_PHONE_SAMPLE_RATE", 0.2, 0, 1),
        sample_salt=env.get("FEEDBACK_SAMPLE_SALT") or "casework-development-sample-salt",
        sample_after=timedelta(
            seconds=_number(env, "FEEDBACK_SAMPLE_AFTER_SECONDS", 7200, 0, 30 * 86400)
        ),
        later_after=timedelta(
            seconds=_number(env, "FEEDBACK_LATER_SURVEY_AFTER_SECONDS", 7 * 86400, 0, 90 * 86400)
        ),
        link_validity=timedelta(
            hours=_number(env, "FEEDBACK_LINK_HOURS", 72, 0.01, MAX_VALIDITY.total_seconds() / 3600)
        ),
        public_per_minute=int(_number(env, "FEEDBACK_PUBLIC_PER_MINUTE", 10, 1, 1_000_000)),
        public_http_port=public_http_port(env),
        trusted_proxies=proxies,
        public_ip_header=ip_header,
    )
