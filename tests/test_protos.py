"""The gRPC and event contracts: linted, commented, checked against the recorded baseline
for changes that break a partner, and the generated code is the build's own."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"


def test_protos_pass_buf_lint_including_comments_on_every_service_rpc_and_message() -> None:
    assert BUF.exists(), "buf is not installed; `make tools` installs it"
    result = subprocess.run([str(BUF), "lint"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_has_a_versioned_proto_package_of_its_own() -> None:
    for service in ("intake", "clients", "plans", "documents", "notify", "feedback"):
        proto = ROOT / "protos" / "casework" / service / "v1" / f"{service}.proto"
        assert f"package casework.{service}.v1;" in proto.read_text()


def test_generated_code_is_what_the_build_generates_from_the_protos(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos").rglob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(ROOT / "protos"),
            f"--python_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            *protos,
        ],
        check=True,
    )
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py"))
    assert generated, "protoc generated nothing"
    for relative in generated:
        assert filecmp.cmp(tmp_path / relative, ROOT / "gen" / relative, shallow=False), relative


def test_generated_code_is_never_committed() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "gen"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert tracked == ""


BASELINE = ROOT / "protos" / "baseline.binpb"


def breaking(workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), "breaking", "--against", str(BASELINE)],
        cwd=workdir,
        capture_output=True,
        text=True,
    )


def copy_of_the_protos(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) >= 1, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_the_protos_break_no_contract_recorded_in_the_baseline() -> None:
    result = breaking(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


EVENTS = Path("protos/casework/intake/v1/events.proto")
CLIENT_EVENTS = Path("protos/casework/clients/v1/events.proto")
API = Path("protos/casework/intake/v1/intake.proto")


@pytest.mark.parametrize(
    ("proto", "old", "new", "named"),
    [
        # A partner's JSON decoder would choke on a number where a string was.
        (EVENTS, "  string assignee_id = 6;", "  int32 assignee_id = 6;", "assignee_id"),
        # proto JSON payloads are keyed by field name: a rename is a break.
        (EVENTS, "  string assignee_id = 6;", "  string assignee = 6;", "assignee"),
        (CLIENT_EVENTS, "message ClientArchived {", "message ClientShelved {", "ClientArchived"),
        (API, "service IntakeService {", "service IntakeServiceRenamed {", "IntakeService"),
    ],
)
def test_a_change_that_breaks_a_partner_fails_the_breaking_check(
    tmp_path: Path, proto: Path, old: str, new: str, named: str
) -> None:
    workdir = copy_of_the_protos(tmp_path)
    edit(workdir / proto, old, new)
    result = breaking(workdir)
    assert result.returncode != 0, "the breaking change went through"
    assert named in result.stdout + result.stderr


def test_an_additive_field_passes_the_breaking_check(tmp_path: Path) -> None:
    workdir = copy_of_the_protos(tmp_path)
    edit(
        workdir / EVENTS,
        "  // assigned_by is the worker who added and assigned the task.\n"
        "  string assigned_by = 9;\n",
        "  // assigned_by is the worker who added and assigned the task.\n"
        "  string assigned_by = 9;\n"
        "  // priority is new and optional to read.\n"
        "  string priority = 10;\n",
    )
    result = breaking(workdir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_lint_runs_the_breaking_check_against_the_recorded_baseline() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "$(BUF) breaking --against protos/baseline.binpb" in lint
    assert "proto-baseline:" in makefile
