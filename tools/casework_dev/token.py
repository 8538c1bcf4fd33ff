"""`make token`: print a development bearer token, signed with the development key in
var/keys/ (created on first use, the same key `make run` trusts).

    make token                                   # Anna, case worker of North Town
    make token ARGS="--subject w-ilze --centre ctr-south-city"
    make token ARGS="--kind partner --subject partner-city-hospital \\
        --centre ctr-north-town --scope casework.intake.v1.IntakeService/SubmitReferral"
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from casework_common.auth import ensure_development_keys, issue_token
from casework_common.config import (
    DEV_KEYS_DIR,
    InvalidConfiguration,
    MissingConfiguration,
    load_settings,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Issue a development token (signed with the key in var/keys/)."
    )
    parser.add_argument("--organisation", default="org-demo")
    parser.add_argument("--subject", default="w-anna")
    parser.add_argument("--kind", choices=["worker", "partner", "service"], default="worker")
    parser.add_argument("--centre", action="append", dest="centres")
    parser.add_argument("--role", action="append", dest="roles")
    parser.add_argument("--scope", action="append", dest="scopes")
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--keys", type=Path, default=DEV_KEYS_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        settings = load_settings("intake")
        if not settings.development:
            # Any other environment's services refuse the development key: say so rather
            # than print a token nobody accepts.
            raise InvalidConfiguration("CASEWORK_ENV", "make token issues development tokens only")
    except MissingConfiguration as exc:
        print(f"make token: {exc}", file=sys.stderr)
        return 2
    lifetime = timedelta(hours=args.hours)
    if not timedelta(0) < lifetime <= settings.jwt_max_lifetime:
        print(
            f"make token: --hours must be more than 0 and at most JWT_MAX_LIFETIME "
            f"({settings.jwt_max_lifetime.total_seconds() / 3600:g})",
            file=sys.stderr,
        )
        return 2
    key = ensure_development_keys(args.keys)
    print(
        issue_token(
            key.private_key,
            key.kid,
            organisation=args.organisation,
            subject=args.subject,
            kind=args.kind,
            centres=args.centres or ["ctr-north-town"],
            roles=args.roles or (["case_worker"] if args.kind == "worker" else []),
            scopes=args.scopes or [],
            audience=settings.jwt_audience,
            ttl=lifetime,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
