"""The gRPC contracts: linted, commented, and the generated code is the build's own."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

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
        [sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT / "protos"),
         f"--python_out={tmp_path}", f"--grpc_python_out={tmp_path}", *protos],
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
