"""Status settings per project: versions effective from a day, never retroactive."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from casework_clients.domain.projects import (
    Project,
    ProjectRuleViolation,
    SettingsBook,
    StaleSettingsVersion,
    change_settings,
    define_project,
    settings_for,
)
from casework_clients.domain.status import StatusMode, StatusSettings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
MANUAL = StatusSettings(mode=StatusMode.MANUAL)
APPROACHED = StatusSettings(use_approached=True)


def create_project(**overrides: object) -> Project:
    fields: dict[str, object] = {
        "project_id": "prj-housing",
        "organisation": "org-demo",
        "name": "Housing first",
        "settings": APPROACHED,
        "effective_from": TODAY,
        "actor": "w-admin",
        "now": NOW,
    }
    fields.update(overrides)
    return define_project(**fields)  # type: ignore[arg-type]


def test_the_version_in_force_is_the_latest_effective_by_that_day() -> None:
    project = create_project()
    later = change_settings(project, MANUAL, TODAY + timedelta(days=10), "w-admin", NOW)
    assert later.settings_on(TODAY, StatusSettings()) == APPROACHED
    assert later.settings_on(TODAY + timedelta(days=10), StatusSettings()) == MANUAL
    assert later.settings_on(TODAY - timedelta(days=1), StatusSettings()) == StatusSettings()
    assert [v.version for v in later.versions] == [1, 2]


def test_settings_are_never_changed_for_the_past_or_behind_a_later_version() -> None:
    project = create_project(effective_from=TODAY + timedelta(days=5))
    with pytest.raises(ProjectRuleViolation) as past:
        change_settings(project, MANUAL, TODAY - timedelta(days=1), "w-admin", NOW)
    assert past.value.field == "effective_from"
    with pytest.raises(ProjectRuleViolation):
        change_settings(project, MANUAL, TODAY + timedelta(days=1), "w-admin", NOW)


def test_a_change_made_from_a_stale_read_is_refused() -> None:
    project = change_settings(create_project(), MANUAL, TODAY, "w-admin", NOW)
    with pytest.raises(StaleSettingsVersion):
        change_settings(project, APPROACHED, TODAY, "w-other", NOW, expected_version=1)


@pytest.mark.parametrize("project_id", ["", "Has Space", "x" * 65, "-lead"])
def test_a_project_id_is_a_plain_slug(project_id: str) -> None:
    with pytest.raises(ProjectRuleViolation):
        create_project(project_id=project_id)


def test_a_card_without_a_known_project_follows_the_organisation_default() -> None:
    project = create_project()
    book = SettingsBook(MANUAL, {"prj-housing": project})  # type: ignore[dict-item]
    assert settings_for(book, "prj-housing", TODAY) == APPROACHED
    assert settings_for(book, "", TODAY) == MANUAL
    assert settings_for(book, "prj-gone", TODAY) == MANUAL
    assert settings_for(APPROACHED, "prj-housing", date(2000, 1, 1)) == APPROACHED
