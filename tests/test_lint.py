"""House style is part of the build: ruff and mypy run with the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_finds_nothing_in_the_library_services_and_tests() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "--output-format", "concise", "lib", "services", "tests", "tools"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing_in_the_library_and_services() -> None:
    packages = [str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("services/*/casework_*"))]
    result = subprocess.run(
        [str(BIN / "mypy"), "lib", *packages, "tools/casework_dev"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
