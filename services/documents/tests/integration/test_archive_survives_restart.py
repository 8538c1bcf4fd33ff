"""make run's embedded S3 (moto's server with its recorder, replayed at start) keeps the
archive across a stop and start, and object lock still refuses deleting a retained
document and shortening its retention after the restart."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio import Minio

from casework_dev.devstack import free_port, port_open, start_s3
from casework_documents.adapters.archive import Archive, ObjectLocked, TamperedObject, sha256_of

RETAIN = timedelta(days=1)


def stop_s3(run_dir: Path, port: int) -> None:
    os.kill(int((run_dir / "s3.pid").read_text()), signal.SIGTERM)
    deadline = time.monotonic() + 15
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.05)


def archive_on(port: int) -> tuple[Archive, Minio]:
    client = Minio(f"127.0.0.1:{port}", "casework", "casework-secret", secure=False)
    return Archive(client, "casework-documents"), client


def put(archive: Archive, key: str, data: bytes) -> None:
    archive.put(
        key,
        data,
        content_type="application/pdf",
        metadata={"client-id": "cl-1"},
        retain_until=datetime.now(UTC) + RETAIN,
    )


def test_documents_and_their_locks_survive_a_stop_and_start(tmp_path: Path) -> None:
    port, run_dir, recording = free_port(), tmp_path / "run", tmp_path / "s3" / "recording.jsonl"
    start_s3(port, run_dir, recording)
    archive, raw = archive_on(port)
    contract, plan = "Zmluva - Договор".encode() * 500, b"plan" * 1000
    put(archive, "org/cl-1/doc-1/v1.pdf", contract)
    put(archive, "org/cl-1/doc-2/v1.pdf", plan)
    stop_s3(run_dir, port)

    start_s3(port, run_dir, recording)
    try:
        archive, raw = archive_on(port)
        assert archive.read_verified("org/cl-1/doc-1/v1.pdf", sha256_of(contract)).data == contract
        version = raw.stat_object("casework-documents", "org/cl-1/doc-1/v1.pdf").version_id
        with pytest.raises(ObjectLocked):
            archive.delete("org/cl-1/doc-1/v1.pdf", version or "")
        # Bytes written over a key become a new version: the retained one stays, and the
        # archive reports the key as tampered instead of serving the new bytes.
        put(archive, "org/cl-1/doc-2/v1.pdf", b"forged")
        with pytest.raises(TamperedObject):
            archive.read_verified("org/cl-1/doc-2/v1.pdf", sha256_of(plan))
        versions = list(
            raw.list_objects("casework-documents", prefix="org/cl-1/doc-2/", include_version=True)
        )
        assert len(versions) == 2
    finally:
        stop_s3(run_dir, port)
