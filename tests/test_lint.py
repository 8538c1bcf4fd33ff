"""House style is part of the build: ruff, mypy and the import layers run with the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVICES = ("intake", "clients", "plans", "documents", "notify", "feedback")
CONTRACTS = ROOT / ".importlinter"
LINTED = ("lib", "services", "tests", "tools")
INDEPENDENT = "No service imports another: they talk through gRPC and events only"
PURE_DOMAIN = (
    "A domain imports no adapters, entrypoints, wiring, I/O library or generated protocol code"
)
NO_DEV_TOOL = "The runtime (library and services) imports no development tool"
NO_SERVICE_IN_LIBRARY = "The shared library imports no service"


def test_ruff_finds_nothing_in_the_library_services_tests_and_tools() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "--output-format", "concise", *LINTED],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing_in_the_library_services_and_tools() -> None:
    packages = [str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("services/*/casework_*"))]
    result = subprocess.run(
        [str(BIN / "mypy"), "lib", *packages, "tools/casework_dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """The layer contracts of `.importlinter`, checked on the packages under `tree`."""
    path = [tree / "lib", tree / "tools", ROOT / "gen"]
    path += [tree / "services" / name for name in SERVICES]
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache", "--no-logo", "--config", str(CONTRACTS)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))},
        capture_output=True,
        text=True,
    )


def test_the_import_layers_hold() -> None:
    result = lint_imports(ROOT)
    report = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in (INDEPENDENT, PURE_DOMAIN, NO_DEV_TOOL, NO_SERVICE_IN_LIBRARY):
        assert f"{contract} KEPT" in report, result.stdout


@pytest.fixture()
def copy_of_the_packages(tmp_path: Path) -> Path:
    """The runtime and dev-tool packages, copied so a test may break one of their imports."""
    ignore = shutil.ignore_patterns("tests", "__pycache__")
    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=ignore)
    shutil.copytree(ROOT / "tools", tmp_path / "tools", ignore=ignore)
    for name in SERVICES:
        package = f"services/{name}/casework_{name}"
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    return tmp_path


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        (
            "services/intake/casework_intake/services.py",
            "import casework_clients.services",
            INDEPENDENT,
        ),
        (
            "services/clients/casework_clients/domain/status.py",
            "import mongoengine",
            PURE_DOMAIN,
        ),
        (
            "services/notify/casework_notify/domain/inbox.py",
            "import grpc",
            PURE_DOMAIN,
        ),
        (
            "services/intake/casework_intake/domain/referrals.py",
            "from casework.intake.v1 import events_pb2",
            PURE_DOMAIN,
        ),
        (
            "services/clients/casework_clients/domain/cards.py",
            "from casework_clients.adapters import repository",
            PURE_DOMAIN,
        ),
        (
            "lib/casework_common/messaging.py",
            "from casework_dev.testing import helpers",
            NO_DEV_TOOL,
        ),
        (
            "services/notify/casework_notify/services.py",
            "from casework_dev import devstack",
            NO_DEV_TOOL,
        ),
        (
            "lib/casework_common/outbox.py",
            "import casework_intake",
            NO_SERVICE_IN_LIBRARY,
        ),
    ],
)
def test_an_import_across_a_layer_fails_the_lint(
    copy_of_the_packages: Path, module: str, bad_import: str, contract: str
) -> None:
    target = copy_of_the_packages / module
    target.write_text(target.read_text() + f"\n{bad_import}\n")
    result = lint_imports(copy_of_the_packages)
    # The report wraps long lines at the terminal's width.
    report = " ".join(result.stdout.split())
    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in report, result.stdout
