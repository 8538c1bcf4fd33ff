"""The escalation wait: the organisation file's `escalate_after_seconds`, else
NOTIFY_ESCALATE_AFTER_SECONDS."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from casework_common import organisation as organisations
from casework_common.config import REPO_ROOT, load_settings
from casework_notify.bootstrap import Notify, NotifyConfig

SETTINGS = load_settings("notify", {})
DEV = organisations.load(REPO_ROOT / "config" / "organisation.dev.json")["org-demo"]


def create_notify(*orgs: organisations.Organisation, fallback: str = "900") -> Notify:
    return Notify(
        SETTINGS,
        {org.id: org for org in orgs},
        lambda: datetime(2026, 1, 1, tzinfo=UTC),
        config=NotifyConfig.load(SETTINGS, {"NOTIFY_ESCALATE_AFTER_SECONDS": fallback}),
    )


def test_an_organisation_with_its_own_wait_escalates_after_it() -> None:
    quick = replace(DEV, id="org-quick", escalate_after_seconds=60.0)
    notify = create_notify(DEV, quick)

    assert notify.escalate_after_of("org-quick") == timedelta(seconds=60)
    assert notify.postbox_of("org-quick").escalate_after == timedelta(seconds=60)


def test_an_organisation_without_one_falls_back_to_the_environment() -> None:
    notify = create_notify(DEV, fallback="900")

    assert notify.escalate_after_of("org-demo") == timedelta(seconds=900)
    assert notify.escalate_after_of("org-unknown") == timedelta(seconds=900)
