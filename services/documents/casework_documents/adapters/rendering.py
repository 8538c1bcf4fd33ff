"""Opens and renders untrusted templates in a child process with a deadline and limits
(render_worker), and converts .docx to PDF with LibreOffice headless."""

from __future__ import annotations

import atexit
import base64
import contextlib
import itertools
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casework_common.errors import FieldError, InvalidArgument
from casework_documents.domain.templates import RenderLimits

SERVICE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LIMITS = RenderLimits()


class RenderFailed(InvalidArgument):
    """The template could not be opened or rendered within its limits."""

    def __init__(self, why: str) -> None:
        super().__init__([FieldError("content", why)])


class ConversionFailed(RuntimeError):
    """LibreOffice did not produce a PDF."""


def _run_worker(request: dict[str, Any], limits: RenderLimits) -> bytes:
    request = {
        **request,
        "memory_bytes": limits.memory_bytes,
        "cpu_seconds": max(1, int(limits.seconds)),
        "output_bytes": limits.output_bytes,
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _BOOT],
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=limits.seconds,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderFailed(
            f"the template took longer than {limits.seconds:g} s to render and was stopped"
        ) from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        message = why[-1] if why else f"the renderer stopped (exit {done.returncode})"
        if done.returncode < 0:
            message = "the template exceeded the renderer's time or memory limit"
        raise RenderFailed(f"cannot be rendered: {message}")
    return done.stdout


# -I isolates the child from the caller's environment and working directory; the path
# the service itself runs with is handed over explicitly.
_BOOT = (
    "import os, sys; sys.path[:0] = os.environ['PYTHONPATH'].split(os.pathsep); "
    "from casework_documents.adapters.render_worker import main; sys.exit(main())"
)


def template_sources(content: bytes, limits: RenderLimits = DEFAULT_LIMITS) -> list[str]:
    answer = _run_worker(
        {"operation": "inspect", "template": base64.b64encode(content).decode()}, limits
    )
    return list(json.loads(answer)["sources"])


def render_docx(
    content: bytes,
    context: Mapping[str, Any],
    images: Mapping[str, bytes] | None = None,
    limits: RenderLimits = DEFAULT_LIMITS,
) -> bytes:
    return _run_worker(
        {
            "operation": "render",
            "template": base64.b64encode(content).decode(),
            "context": dict(context),
            "images": {k: base64.b64encode(v).decode() for k, v in (images or {}).items()},
        },
        limits,
    )


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        raise ConversionFailed("LibreOffice (soffice) is not installed: `make deps` installs it")
    return found


# LibreOffice conversions running at once in this process: each is a soffice process of
# a few hundred MB, so sixteen concurrent calls must not start sixteen of them.
_conversions = threading.BoundedSemaphore(2)


def limit_conversions(most: int) -> None:
    """How many conversions this process runs at once (DOCUMENTS_MAX_CONVERSIONS)."""
    global _conversions
    _conversions = threading.BoundedSemaphore(most)


class Profiles:
    """LibreOffice user profiles kept for the life of the process, one per conversion
    running at once: soffice builds a profile on its first start, which a fresh profile
    per conversion paid every time (`make bench` compares the two). Never shared by two
    conversions at once: a second soffice on a profile in use hands its work to the
    first and exits. A profile whose conversion failed is thrown away (a killed soffice
    may leave it locked or half written)."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root
        self._free: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self._made = itertools.count()
        self._lock = threading.Lock()

    def _new(self) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="casework-soffice-profiles-"))
                atexit.register(shutil.rmtree, self._root, True)
            return self._root / f"profile-{next(self._made)}"

    @contextlib.contextmanager
    def borrowed(self) -> Iterator[Path]:
        try:
            profile = self._free.get_nowait()
        except queue.Empty:
            profile = self._new()
        try:
            yield profile
        except BaseException:
            shutil.rmtree(profile, ignore_errors=True)
            raise
        self._free.put(profile)


_profiles = Profiles()


def docx_to_pdf(docx: bytes, timeout: float = 120.0) -> bytes:
    """One LibreOffice headless conversion on a profile kept for this process (see
    Profiles); at most `limit_conversions` at once, the others wait their turn."""
    with _conversions, _profiles.borrowed() as profile:
        return convert(docx, timeout, profile)


def convert(docx: bytes, timeout: float = 120.0, profile: Path | None = None) -> bytes:
    """One soffice run; without a profile, in a fresh one of its own."""
    with tempfile.TemporaryDirectory(prefix="casework-pdf-") as work:
        source = Path(work) / "document.docx"
        source.write_bytes(docx)
        profile = profile or Path(work) / "profile"
        try:
            subprocess.run(
                [
                    soffice(),
                    f"-env:UserInstallation=file://{profile}",
                    "--headless",
                    "--norestore",
                    "--convert-to",
                    "pdf:writer_pdf_Export",
                    "--outdir",
                    work,
                    str(source),
                ],
                capture_output=True,
                timeout=timeout,
                check=False,
                env={**os.environ, "HOME": work},
            )
        except subprocess.TimeoutExpired:
            raise ConversionFailed(f"LibreOffice took longer than {timeout:g} s") from None
        pdf = Path(work) / "document.pdf"
        if not pdf.exists():
            raise ConversionFailed("LibreOffice produced no PDF")
        return pdf.read_bytes()


@dataclass
class Renderer:
    """The rendering adapters behind one seam, so use cases and tests can swap them."""

    template_sources: Callable[[bytes], list[str]] = template_sources
    render_docx: Callable[..., bytes] = render_docx
    docx_to_pdf: Callable[[bytes], bytes] = docx_to_pdf
