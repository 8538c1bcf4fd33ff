"""documents' figures for `make bench`, each beside a baseline measured in the same run:

- contracts generated and signed per second: .docx (the template rendered with the card
  and both drawn signatures in the limited child process) and PDF (that, converted by
  LibreOffice headless and sealed with the organisation's certificate, PAdES), beside a
  bare LibreOffice conversion of the same .docx in a fresh user profile; and documents'
  own conversion of it, on the user profile the process keeps;
- archive write+verify MB/s (object lock, SHA-256 checksum on the PUT, read back and
  checked) beside a raw S3 put and get of the same bytes into a bucket without lock.

S3_ENDPOINT names the S3 server (MinIO in production); unset, moto's server is started
on a free port for the run. `--contracts N` and `--objects N` size the run.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from minio import Minio

from casework_dev.devstack import free_port, start_s3
from casework_dev.signing_certificate import ensure_signing_certificate
from casework_dev.testing.documents import create_signature_png, create_template_docx
from casework_documents.adapters import rendering
from casework_documents.adapters.archive import Archive, sha256_of
from casework_documents.adapters.signing import OrganisationSigner
from casework_documents.domain.templates import SAMPLE_CONTEXT


def rate(runs: int, work: Callable[[int], object]) -> float:
    """Runs per second of `work`, after one warm-up run."""
    work(-1)
    started = time.perf_counter()
    for n in range(runs):
        work(n)
    return runs / (time.perf_counter() - started)


def child_cpu_seconds(runs: int, work: Callable[[int], object]) -> float:
    """CPU seconds (user + system) the child processes of `work` used per run: the
    conversion's own cost, whatever else the machine runs meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for n in range(runs):
        work(n)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return used / runs


def bench_contracts(runs: int, signer: OrganisationSigner) -> None:
    template = create_template_docx()
    images = {
        "client_signature": create_signature_png(seed=1),
        "worker_signature": create_signature_png(seed=4),
    }
    docx = rendering.render_docx(template, dict(SAMPLE_CONTEXT), images)

    def as_docx(_: int) -> bytes:
        return rendering.render_docx(template, dict(SAMPLE_CONTEXT), images)

    def as_pdf(_: int) -> bytes:
        rendered = rendering.render_docx(template, dict(SAMPLE_CONTEXT), images)
        return signer.seal(rendering.docx_to_pdf(rendered), reason="bench")

    def bare(_: int) -> bytes:
        return rendering.convert(docx)

    def kept_profile(_: int) -> bytes:
        return rendering.docx_to_pdf(docx)

    baseline = rate(runs, bare)
    kept = rate(runs, kept_profile)
    bare_cpu = child_cpu_seconds(runs, bare)
    kept_cpu = child_cpu_seconds(runs, kept_profile)
    docx_rate = rate(runs, as_docx)
    pdf_rate = rate(runs, as_pdf)
    print(f"bare LibreOffice .docx -> PDF:          {baseline:7.2f} /s  (a fresh profile each)")
    print(f"documents' conversion (kept profile):   {kept:7.2f} /s", end="")
    print(f"  ({kept / baseline:.2f}x the bare conversion)")
    print(
        f"CPU per conversion: bare {bare_cpu:.2f} s, kept profile {kept_cpu:.2f} s"
        f"  ({kept_cpu / bare_cpu:.2f}x)"
    )
    print(f"contracts generated + signed, .docx:    {docx_rate:7.2f} /s", end="")
    print(f"  ({docx_rate / baseline:.1f}x the bare conversion)")
    print(f"contracts signed and sealed, PDF:       {pdf_rate:7.2f} /s", end="")
    print(f"  ({pdf_rate / baseline:.2f}x the bare conversion)")


def bench_archive(endpoint: str, objects: int, size: int) -> None:
    address = urlparse(endpoint)
    key, secret = (
        os.environ.get("S3_ACCESS_KEY", "casework"),
        os.environ.get("S3_SECRET_KEY", "casework-secret"),
    )
    client = Minio(
        address.netloc, key, secret, secure=address.scheme == "https", region="us-east-1"
    )
    stamp = f"{int(time.time())}-{os.getpid()}"
    archive = Archive(client, f"bench-locked-{stamp}")
    archive.ensure_bucket()
    raw_bucket = f"bench-raw-{stamp}"
    client.make_bucket(raw_bucket)
    data = os.urandom(size)
    digest = sha256_of(data)
    until = datetime.now(UTC) + timedelta(days=1)

    def archived(n: int) -> None:
        k = f"org/cl/doc-{n}/v1.pdf"
        archive.put(k, data, content_type="application/pdf", metadata={}, retain_until=until)
        archive.read_verified(k, digest)

    def raw(n: int) -> None:
        k = f"raw-{n}"
        client.put_object(raw_bucket, k, io.BytesIO(data), len(data))
        reply = client.get_object(raw_bucket, k)
        try:
            reply.read()
        finally:
            reply.close()
            reply.release_conn()

    raw_rate = rate(objects, raw) * size / 1e6
    archive_rate = rate(objects, archived) * size / 1e6
    print(f"raw S3 put + get ({size // 1024} kB objects):          {raw_rate:7.1f} MB/s")
    print(f"archive write + verify (lock, SHA-256):   {archive_rate:7.1f} MB/s", end="")
    print(f"  ({archive_rate / raw_rate:.2f}x raw)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contracts", type=int, default=5)
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--size", type=int, default=1024 * 1024)
    args = parser.parse_args(argv)
    print("documents")
    with tempfile.TemporaryDirectory(prefix="bench-documents-") as work:
        signer = OrganisationSigner.load(*ensure_signing_certificate(Path(work) / "signing"))
        bench_contracts(args.contracts, signer)
        endpoint = os.environ.get("S3_ENDPOINT", "")
        run_dir = Path(work) / "s3"
        if not endpoint:
            port = free_port()
            start_s3(port, run_dir)
            endpoint = f"http://127.0.0.1:{port}"
        try:
            bench_archive(endpoint, args.objects, args.size)
        finally:
            if (run_dir / "s3.pid").exists():
                os.kill(int((run_dir / "s3.pid").read_text()), signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
