"""The organisation's digital signature on a PDF: PAdES (B-B) through pyHanko, with the
organisation's certificate and private key (PEM files; `make run` creates a development
pair under var/documents/signing/).

The service holds the key; nobody else signs in the organisation's name. What is signed
is the exact PDF LibreOffice produced with the drawn signatures placed in it; its SHA-256
goes into the signing evidence beside the SHA-256 of the sealed result.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

FIELD_NAME = "OrganisationSeal"


class SigningUnavailable(RuntimeError):
    """No certificate is configured, or it cannot be loaded."""


@dataclass
class OrganisationSigner:
    signer: signers.SimpleSigner
    subject: str

    @staticmethod
    def load(key_file: Path, cert_file: Path) -> OrganisationSigner:
        try:
            signer = signers.SimpleSigner.load(str(key_file), str(cert_file), key_passphrase=None)
        except (OSError, ValueError) as exc:
            raise SigningUnavailable(f"cannot load the signing certificate: {exc}") from exc
        if signer is None or signer.signing_cert is None:
            raise SigningUnavailable(f"cannot load the signing certificate {cert_file}")
        return OrganisationSigner(signer, signer.signing_cert.subject.human_friendly)

    def seal(self, pdf: bytes, *, reason: str, location: str = "") -> bytes:
        """The PDF with the organisation's PAdES signature added (incremental update: the
        signed bytes stay exactly as they were)."""
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=reason,
            location=location or None,
        )
        out = signers.sign_pdf(writer, meta, signer=self.signer)
        return out.getvalue()
