"""Status settings of each organisation, read from the organisation file.

The organisation file (CASEWORK_ORGANISATION_FILE) may carry, at organisation level,
``"status_settings": {"mode": "automatic", "use_approached": false,
"inactivity_days": 60, "shared_with_family": true, "rejection_reasons": [...],
"termination_reasons": [...]}``. Every key is optional (the status engine's defaults
apply); a wrong value stops the process at start-up with the key named.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from casework_clients.domain.proposals import Disclosure
from casework_clients.domain.status import (
    DEFAULT_REJECTION_REASONS,
    DEFAULT_TERMINATION_REASONS,
    StatusMode,
    StatusRuleViolation,
    StatusSettings,
)

KNOWN_KEYS = frozenset(
    {
        "mode",
        "use_approached",
        "inactivity_days",
        "shared_with_family",
        "rejection_reasons",
        "termination_reasons",
    }
)


class InvalidStatusSettings(ValueError):
    pass


def parse_status_settings(
    raw: Mapping[str, Any] | None, where: str = "status_settings"
) -> StatusSettings:
    if raw is None:
        return StatusSettings()
    if not isinstance(raw, Mapping):
        raise InvalidStatusSettings(f"{where} must be an object")
    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        raise InvalidStatusSettings(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        mode = StatusMode(raw.get("mode", "automatic"))
    except ValueError:
        raise InvalidStatusSettings(f"{where}.mode must be 'manual' or 'automatic'") from None
    try:
        return StatusSettings(
            mode=mode,
            use_approached=raw.get("use_approached", False),
            inactivity_days=raw.get("inactivity_days"),
            shared_with_family=raw.get("shared_with_family", False),
            rejection_reasons=tuple(raw.get("rejection_reasons", DEFAULT_REJECTION_REASONS)),
            termination_reasons=tuple(raw.get("termination_reasons", DEFAULT_TERMINATION_REASONS)),
        )
    except (StatusRuleViolation, TypeError) as exc:
        field = getattr(exc, "field", "")
        raise InvalidStatusSettings(f"{where}.{field}: {exc}") from None


def _organisation_items(path: Path) -> list[Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidStatusSettings(f"cannot read {path}: {exc}") from None
    return data.get("organisations", [data]) if isinstance(data, dict) else []


def load_disclosures(path: Path) -> dict[str, Disclosure]:
    """Per organisation, what a referring centre is told when the referred person is a
    client of a centre it does not serve: organisation key
    ``"known_elsewhere_disclosure"``, ``"none"`` (the default: nothing) or
    ``"tell_known_elsewhere"``. Any other value stops the process at start-up."""
    out: dict[str, Disclosure] = {}
    for item in _organisation_items(path):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        raw = item.get("known_elsewhere_disclosure", Disclosure.NONE.value)
        try:
            out[item["id"]] = Disclosure(raw)
        except ValueError:
            choices = ", ".join(d.value for d in Disclosure)
            raise InvalidStatusSettings(
                f"organisation {item['id']} known_elsewhere_disclosure: one of {choices}, "
                f"got {raw!r}"
            ) from None
    return out


def load_status_settings(path: Path) -> dict[str, StatusSettings]:
    """Settings per organisation id, from a file holding one organisation or
    {"organisations": [...]}."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidStatusSettings(f"cannot read {path}: {exc}") from None
    items = data.get("organisations", [data]) if isinstance(data, dict) else []
    out: dict[str, StatusSettings] = {}
    for item in items:
        org_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(org_id, str) or not org_id:
            raise InvalidStatusSettings(f"{path}: an organisation without an id")
        out[org_id] = parse_status_settings(
            item.get("status_settings"), f"organisation {org_id} status_settings"
        )
    return out


def settings_to_dict(settings: StatusSettings) -> dict[str, Any]:
    """The settings as the organisation file (and the projects collection) write them."""
    return {
        "mode": settings.mode.value,
        "use_approached": settings.use_approached,
        "inactivity_days": settings.inactivity_days,
        "shared_with_family": settings.shared_with_family,
        "rejection_reasons": list(settings.rejection_reasons),
        "termination_reasons": list(settings.termination_reasons),
    }
