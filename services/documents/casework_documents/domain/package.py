"""Is an upload a Word document, and a safe one to open? Checked from the zip's central
directory before a single member is inflated: a zip bomb is refused by its declared sizes
and ratios, and the inflated bytes are counted again while reading, since a declared size
can lie."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from casework_common.errors import FieldError, InvalidArgument

DOCX_CONTENT_TYPE = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
)


@dataclass(frozen=True)
class PackageLimits:
    upload_bytes: int = 10 * 1024 * 1024
    members: int = 1000
    inflated_bytes: int = 60 * 1024 * 1024
    member_bytes: int = 30 * 1024 * 1024
    # Word's XML compresses well (~10-20x); 100x on a member larger than a few kB is a bomb.
    ratio: float = 100.0
    ratio_floor_bytes: int = 64 * 1024


LIMITS = PackageLimits()


def _refuse(description: str) -> InvalidArgument:
    return InvalidArgument([FieldError("content", description)])


def check_docx(content: bytes, limits: PackageLimits = LIMITS) -> None:
    """Raises InvalidArgument (field `content`) unless `content` is a .docx within limits."""
    if not content:
        raise _refuse("is empty")
    if len(content) > limits.upload_bytes:
        raise _refuse(f"is larger than {limits.upload_bytes} bytes")
    if not content.startswith(b"PK\x03\x04"):
        raise _refuse("is not a .docx (Word) document")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise _refuse(f"is not a .docx (Word) document: {exc}") from None
    if len(infos) > limits.members:
        raise _refuse(f"has more than {limits.members} parts")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise _refuse("is encrypted")
        if info.file_size > limits.member_bytes:
            raise _refuse(
                f"part {info.filename!r} inflates beyond {limits.member_bytes} bytes (a zip bomb?)"
            )
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.ratio * max(
            info.compress_size, 1
        ):
            raise _refuse(f"part {info.filename!r} is compressed suspiciously well (a zip bomb?)")
        total += info.file_size
    if total > limits.inflated_bytes:
        raise _refuse(f"inflates beyond {limits.inflated_bytes} bytes (a zip bomb?)")
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or "word/document.xml" not in names:
        raise _refuse("is not a .docx (Word) document: no word/document.xml")
    try:
        types = _read_bounded(archive, "[Content_Types].xml", limits.member_bytes)
        _read_bounded(archive, "word/document.xml", limits.member_bytes)
    except (zipfile.BadZipFile, ValueError, EOFError, RuntimeError) as exc:
        raise _refuse(f"is not a readable .docx: {exc}") from None
    if DOCX_CONTENT_TYPE.encode() not in types:
        raise _refuse("is not a .docx (Word) document (a macro-enabled or other Office file?)")


def _read_bounded(archive: zipfile.ZipFile, name: str, most: int) -> bytes:
    with archive.open(name) as member:
        data = member.read(most + 1)
    if len(data) > most:
        raise ValueError(f"part {name!r} inflates beyond its declared size")
    return data
