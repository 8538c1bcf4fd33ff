"""The child process that renders untrusted templates stays inside its bounds: a render
past its deadline is stopped, an output past its size is refused, a broken package is
reported as the template's fault, and nothing of the parent process is reachable."""

from __future__ import annotations

import io
import zipfile

import pytest

from casework_dev.testing.documents import create_template_docx
from casework_documents.adapters.rendering import RenderFailed, render_docx, template_sources
from casework_documents.domain.templates import SAMPLE_CONTEXT, RenderLimits


def test_a_render_past_its_deadline_is_stopped() -> None:
    with pytest.raises(RenderFailed, match="longer than"):
        render_docx(create_template_docx(), dict(SAMPLE_CONTEXT), limits=RenderLimits(seconds=0.05))


def test_a_rendered_document_larger_than_allowed_is_refused() -> None:
    with pytest.raises(RenderFailed, match="larger than allowed"):
        render_docx(
            create_template_docx(), dict(SAMPLE_CONTEXT), limits=RenderLimits(output_bytes=1000)
        )


def test_a_broken_package_is_reported_as_the_templates_fault() -> None:
    with pytest.raises(RenderFailed, match="cannot be rendered"):
        template_sources(b"PK\x03\x04 not really a zip")


def test_the_sandbox_reaches_no_python_internals_at_render_time() -> None:
    # Inspection refuses this at upload; should one slip through, the render's own
    # sandbox answers nothing for the attribute instead of Python's class.
    template = create_template_docx(["[{{ client.__class__ }}]"], goals_table=False)

    rendered = render_docx(template, dict(SAMPLE_CONTEXT))

    with zipfile.ZipFile(io.BytesIO(rendered)) as package:
        text = package.read("word/document.xml").decode()
    assert "[]" in text and "class" not in text
