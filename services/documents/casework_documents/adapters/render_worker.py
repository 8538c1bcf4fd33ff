"""The child process that opens and renders an untrusted template.

Run as `python -m casework_documents.adapters.render_worker`; reads one JSON request on
stdin and writes the answer on stdout. It caps its own memory and CPU before it parses a
byte of the template, so a template that slipped past inspection still cannot take the
service down; the parent kills it at a wall-clock deadline as well.
"""

from __future__ import annotations

import base64
import io
import json
import resource
import sys
from typing import Any

from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage

from casework_documents.domain.templates import SIGNATURE_FIELDS, sandbox_environment

CORE_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")
FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def sources(template: DocxTemplate) -> list[str]:
    """Every piece of Jinja source docxtpl renders: body, headers, footers, footnotes and
    the core properties."""
    template.init_docx()
    found = [template.patch_xml(template.get_xml())]
    for uri in (template.HEADER_URI, template.FOOTER_URI):
        for _key, part in template.get_headers_footers(uri):
            found.append(template.patch_xml(template.get_part_xml(part)))
    for part in template.docx.part.package.parts:
        if part.content_type == FOOTNOTES:
            found.append(template.patch_xml(part.blob.decode("utf-8")))
    for name in CORE_PROPERTIES:
        value = getattr(template.docx.core_properties, name)
        if value:
            found.append(value)
    return found


def render(template: DocxTemplate, context: dict[str, Any], images: dict[str, str]) -> bytes:
    for name in SIGNATURE_FIELDS:
        png = images.get(name)
        context[name] = (
            InlineImage(template, io.BytesIO(base64.b64decode(png)), width=Mm(45)) if png else ""
        )
    template.render(context, jinja_env=sandbox_environment(), autoescape=True)
    out = io.BytesIO()
    template.save(out)
    return out.getvalue()


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    _limit(int(request["memory_bytes"]), int(request["cpu_seconds"]))
    template = DocxTemplate(io.BytesIO(base64.b64decode(request["template"])))
    try:
        if request["operation"] == "inspect":
            answer = json.dumps({"sources": sources(template)}).encode()
        else:
            answer = render(template, request["context"], request.get("images") or {})
            if len(answer) > int(request["output_bytes"]):
                print("the rendered document is larger than allowed", file=sys.stderr)
                return 3
    except MemoryError:
        print("the template needs more memory than allowed", file=sys.stderr)
        return 4
    except Exception as exc:  # the template is untrusted: any failure is its fault
        print(f"{type(exc).__name__}: {str(exc)[:300]}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
