"""Drawn signatures arrive as PNG images from a screen or a signing tablet: checked from
their header before anything decodes them."""

from __future__ import annotations

import struct

from casework_common.errors import FieldError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 1024 * 1024
MAX_SIDE = 4000


def png_errors(field: str, data: bytes) -> list[FieldError]:
    if not data:
        return [FieldError(field, "is required (a PNG image of the drawn signature)")]
    if len(data) > MAX_PNG_BYTES:
        return [FieldError(field, f"is larger than {MAX_PNG_BYTES} bytes")]
    if not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR" or len(data) < 33:
        return [FieldError(field, "is not a PNG image")]
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        return [FieldError(field, f"must be between 1 and {MAX_SIDE} pixels on each side")]
    return []
