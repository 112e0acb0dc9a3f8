"""S3: what moto 5.2.5's S3 lacks, on moto's own backend and responses."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from . import clock


# --- GetBucketVersioning answers with the real root element --------------------------
# moto renders GetBucketVersioning from botocore's model, whose output shape has no XML name, so
# the root comes out as <GetBucketVersioningResponse>. S3 answers <VersioningConfiguration>, and
# the Rust SDK checks the root element, so without this every versioning check fails to parse.

def _patch_bucket_versioning() -> None:
    from moto.s3.responses import S3Response

    def get_bucket_versioning(self: Any) -> Any:
        status = self.backend.get_bucket_versioning(self.bucket_name)
        inner = f"<Status>{status}</Status>" if status else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>'
        )
        return 200, {"Content-Type": "application/xml"}, body

    S3Response.get_bucket_versioning = get_bucket_versioning


# --- S3 enforces ExpectedBucketOwner ---------------------------------------------------
# moto ignores the `x-amz-expected-bucket-owner` header, so a bucket owned by another account
# passed the check. S3 refuses any bucket or object request whose bucket is owned by an account
# other than the one named: 403 AccessDenied. The owner is the account moto created the bucket in.

def _patch_expected_bucket_owner() -> None:
    from moto.s3.exceptions import BucketAccessDeniedError
    from moto.s3.models import s3_backends
    from moto.s3.responses import S3Response

    def enforce(handler: Any) -> Any:
        # Wraps the inner handlers, which run inside the try that renders an S3 error response.
        def wrapper(self: Any, request: Any, full_url: str) -> Any:
            expected = request.headers.get("x-amz-expected-bucket-owner")
            bucket_name = self.parse_bucket_name_from_url(request, full_url) if expected else ""
            owner = s3_backends.bucket_accounts.get(bucket_name) if bucket_name else None
            if owner is not None and owner[1] != expected.strip():
                raise BucketAccessDeniedError(bucket_name)
            return handler(self, request, full_url)

        return wrapper

    S3Response._bucket_response = enforce(S3Response._bucket_response)
    S3Response._key_response = enforce(S3Response._key_response)


# --- A missing key is 403 to a caller without s3:ListBucket ------------------------------
# S3 answers HeadObject and GetObject of a key that does not exist with 404 (NoSuchKey) only if
# the caller may list the bucket (s3:ListBucket); otherwise with 403 AccessDenied, so that the
# answer does not reveal whether the key exists. moto always answers 404. With the setting
# `s3_list_bucket: false` (control API) the emulator plays such a caller: a missing key is 403
# (HEAD without a body), an existing key answers as always.

# Query parameters that make a GET or HEAD on a key another operation than Get/HeadObject.
_SUBRESOURCES = {"acl", "tagging", "legal-hold", "retention", "attributes", "uploadId", "torrent"}


def _patch_list_bucket_permission() -> None:
    from moto.s3.exceptions import S3AccessDeniedError, S3ClientError
    from moto.s3.responses import S3Response

    def missing(self: Any, bucket_name: str, key_name: str) -> bool:
        try:
            self.backend.get_bucket(bucket_name)
        except S3ClientError:
            return False  # NoSuchBucket is told as it is
        try:
            return self.backend.head_object(bucket_name, key_name) is None
        except S3ClientError:
            return True
        except Exception:  # HeadOnDeleteMarker: the current version is a delete marker
            return True

    def deny_missing(handler: Any) -> Any:
        def wrapper(self: Any, request: Any, full_url: str) -> Any:
            method = request.method
            if method in ("GET", "HEAD") and not clock.SETTINGS.get("s3_list_bucket"):
                query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
                if "versionId" not in query and not (_SUBRESOURCES & set(query)):
                    bucket_name = self.parse_bucket_name_from_url(request, full_url)
                    key_name = self.parse_key_name()
                    if missing(self, bucket_name, key_name):
                        if method == "HEAD":
                            return 403, {}, ""
                        raise S3AccessDeniedError()
            return handler(self, request, full_url)

        return wrapper

    S3Response._key_response = deny_missing(S3Response._key_response)


def install() -> None:
    _patch_bucket_versioning()
    _patch_expected_bucket_owner()
    _patch_list_bucket_permission()
