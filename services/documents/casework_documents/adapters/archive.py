"""The archive of generated and signed documents: one S3 bucket (MinIO in production)
with versioning and object lock in compliance mode, through the `minio` SDK.

Every object is written once under a key of its own (`<organisation>/<client>/<document>/
v<version>.<format>`), with a compliance-mode retention chosen per document type, and its
SHA-256 is recorded by the caller at write time. A read fetches the key's current version
and checks it against the recorded digest: anything written over it later (a new version
by someone holding storage credentials, or bytes changed on the server's disk) makes the
read fail as tampered, it is never served as the document.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED
from minio.error import S3Error
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig

from casework_common.config import Settings


class TamperedObject(Exception):
    """The stored bytes are not the ones recorded at write time."""


class ObjectLocked(Exception):
    """Object lock refused a delete or an overwrite."""


class ArchiveUnavailable(Exception):
    """The object store could not be reached or answered with an error."""


@dataclass(frozen=True)
class VerifiedRead:
    data: bytes
    version_id: str


@dataclass(frozen=True)
class StoredObject:
    key: str
    version_id: str
    sha256: str
    size: int


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def client_for(settings: Settings) -> Minio:
    endpoint = urlparse(settings.s3_endpoint)
    return Minio(
        endpoint.netloc,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=endpoint.scheme == "https",
        region="us-east-1",
        # A call waits for an archive that is down a few seconds, not minutes.
        http_client=urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            maxsize=10,
            retries=urllib3.Retry(
                total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        ),
    )


class Archive:
    def __init__(self, client: Minio, bucket: str) -> None:
        self._client = client
        self._bucket = bucket
        self._ready = False

    def ensure_bucket(self) -> None:
        """Creates the bucket with object lock (which turns versioning on) when missing.
        A bucket that exists without object lock is refused: documents written there
        could be deleted."""
        if self._ready:
            return
        try:
            if not self._client.bucket_exists(self._bucket):
                self._client.make_bucket(self._bucket, object_lock=True)
            self._client.get_object_lock_config(self._bucket)
            versioning = self._client.get_bucket_versioning(self._bucket)
            if versioning.status != ENABLED:
                self._client.set_bucket_versioning(self._bucket, VersioningConfig(ENABLED))
        except S3Error as exc:
            raise ArchiveUnavailable(
                f"bucket {self._bucket} has no object lock or cannot be prepared: {exc.code}"
            ) from exc
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ArchiveUnavailable(f"the archive cannot be reached: {exc}") from exc
        self._ready = True

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str],
        retain_until: datetime,
    ) -> StoredObject:
        """Write `data` once under compliance-mode retention. The SHA-256 goes with the
        PUT as the S3 checksum (the server refuses bytes that do not match it, and
        object lock demands a checksum anyway) and as metadata."""
        self.ensure_bucket()
        digest = hashlib.sha256(data)
        try:
            result = self._client.put_object(
                self._bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=content_type,
                # x-amz-* go out as headers; the rest become x-amz-meta-* metadata.
                metadata={
                    **metadata,
                    "sha256": digest.hexdigest(),
                    "x-amz-sdk-checksum-algorithm": "SHA256",
                    "x-amz-checksum-sha256": base64.b64encode(digest.digest()).decode(),
                },
                retention=Retention(COMPLIANCE, retain_until),
            )
        except S3Error as exc:
            raise ArchiveUnavailable(f"cannot store {key}: {exc.code}") from exc
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ArchiveUnavailable(f"cannot store {key}: {exc}") from exc
        return StoredObject(key, result.version_id or "", digest.hexdigest(), len(data))

    def read_verified(self, key: str, expected_sha256: str) -> VerifiedRead:
        """The object's current bytes and version, only when they are the ones recorded:
        anything written over the key later, or bytes changed on the server's disk, is
        reported as tampered and never served."""
        self.ensure_bucket()
        try:
            response = self._client.get_object(self._bucket, key)
            try:
                data = response.read()
                version_id = response.headers.get("x-amz-version-id", "") or ""
            finally:
                response.close()
                response.release_conn()
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchVersion"):
                raise TamperedObject(f"{key} is missing from the archive") from exc
            raise ArchiveUnavailable(f"cannot read {key}: {exc.code}") from exc
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            raise ArchiveUnavailable(f"cannot read {key}: {exc}") from exc
        if sha256_of(data) != expected_sha256:
            raise TamperedObject(f"{key} does not match the SHA-256 recorded when it was written")
        return VerifiedRead(data, version_id)

    def presigned_url(self, key: str, version_id: str, expires: timedelta) -> str:
        """A link to exactly the version just verified, valid for `expires`."""
        return self._client.presigned_get_object(
            self._bucket, key, expires=expires, version_id=version_id or None
        )

    def delete(self, key: str, version_id: str) -> None:
        """Deletes one version; object lock refuses it while the retention runs."""
        try:
            self._client.remove_object(self._bucket, key, version_id=version_id or None)
        except S3Error as exc:
            if exc.code in ("AccessDenied", "InvalidRequest", "ObjectLocked"):
                raise ObjectLocked(f"{key} is retained: {exc.code}") from exc
            raise ArchiveUnavailable(f"cannot delete {key}: {exc.code}") from exc
