"""Factories of Word templates and drawn signatures for documents' tests and bench."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Sequence

from docx import Document

CONTRACT_PARAGRAPHS = (
    "Zmluva o poskytovaní sociálnej služby / Договор {{ contract.contract_id }}",
    "{{ organisation.name }}, {{ centre.name }}",
    "Klient: {{ client.full_name }}, narodený {{ client.date_of_birth }}",
    "Adresa: {{ client.address }}",
    "{% if contract.valid_until %}Platí do {{ contract.valid_until }}."
    "{% else %}Na dobu neurčitú.{% endif %}",
    "Podpis klienta: {{ client_signature }}   Podpis pracovníka: {{ worker_signature }}",
)


def create_template_docx(
    paragraphs: Sequence[str] = CONTRACT_PARAGRAPHS, *, goals_table: bool = True
) -> bytes:
    """A .docx template as an organisation would write it in Word: paragraphs with
    placeholders and, unless told otherwise, a goals table with a row loop."""
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if goals_table:
        table = document.add_table(rows=3, cols=2)
        table.rows[0].cells[0].text = "{%tr for goal in goals %}"
        table.rows[1].cells[0].text = "{{ goal.description }}"
        table.rows[1].cells[1].text = "{{ goal.deadline }}"
        table.rows[2].cells[0].text = "{%tr endfor %}"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def create_zip_bomb(inflated_bytes: int = 200 * 1024 * 1024) -> bytes:
    """A zip that looks like a .docx and inflates to `inflated_bytes` of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        chunk = b"\0" * (1024 * 1024)
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(inflated_bytes // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def create_signature_png(width: int = 120, height: int = 40, seed: int = 1) -> bytes:
    """A drawn signature: a black scribble on white, as a tablet's canvas exports it."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            ink = abs((x * seed) % height - y) < 2 or abs((x * 3 + seed) % height - y) < 1
            row += b"\x00\x00\x00" if ink else b"\xff\xff\xff"
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
