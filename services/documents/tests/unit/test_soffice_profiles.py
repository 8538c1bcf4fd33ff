"""LibreOffice user profiles are kept for the process: the next conversion runs on the
profile the last one built, two conversions at once never share one, and a profile
whose conversion failed is thrown away, never handed out again."""

from __future__ import annotations

from pathlib import Path

import pytest

from casework_documents.adapters.rendering import ConversionFailed, Profiles


def test_the_next_conversion_reuses_the_profile_the_last_one_built(tmp_path: Path) -> None:
    profiles = Profiles(tmp_path)
    with profiles.borrowed() as first:
        first.mkdir()
    with profiles.borrowed() as second:
        assert second == first


def test_conversions_at_the_same_time_get_profiles_of_their_own(tmp_path: Path) -> None:
    profiles = Profiles(tmp_path)
    with profiles.borrowed() as one, profiles.borrowed() as other:
        assert one != other


def test_a_profile_whose_conversion_failed_is_thrown_away(tmp_path: Path) -> None:
    profiles = Profiles(tmp_path)
    with pytest.raises(ConversionFailed), profiles.borrowed() as broken:
        broken.mkdir()
        (broken / ".lock").write_text("soffice was killed")
        raise ConversionFailed("LibreOffice took longer than 120 s")
    assert not broken.exists()
    with profiles.borrowed() as next_one:
        assert next_one != broken
