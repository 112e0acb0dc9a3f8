"""Authentication: moto's refusal of unknown credentials in the shape AWS answers it."""

from __future__ import annotations

from typing import Any

# --- InvalidClientTokenId and SignatureDoesNotMatch as AWS shapes them ------------------------
# With authentication on (POST /moto-api/reset-auth with 0, or INITIAL_NO_AUTH_ACTION_COUNT=0),
# moto checks access keys against its IAM users and refuses an unknown one with
# InvalidClientTokenId (403), as AWS does (STS "GetCallerIdentity" and "Common Errors"). moto
# renders the body as <ErrorResponse><Errors><Error>, EC2's shape; STS, IAM and CloudFormation (the
# awsQuery protocol) and CloudFront (restXml) answer <ErrorResponse><Error>...</Error>
# <RequestId>...</RequestId></ErrorResponse>, and the Rust SDK reads no error code from the other
# shape, so a refused key looked like a server that is not AWS. REST-JSON services (Lambda) take the
# code from the X-Amzn-ErrorType header, which moto already sets.

_REQUEST_ID = "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE"


def _patch_auth_errors() -> None:
    from moto.core.exceptions import InvalidClientTokenIdError, SignatureDoesNotMatchError
    from xmltodict import unparse

    for cls in (InvalidClientTokenIdError, SignatureDoesNotMatchError):
        original = cls.__init__

        def __init__(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            _original(self, *args, **kwargs)
            error = {"Type": "Sender", "Code": self.error_type, "Message": self.message}
            self.description = unparse({"ErrorResponse": {"Error": error, "RequestId": _REQUEST_ID}}, full_document=True)

        cls.__init__ = __init__


def install() -> None:
    _patch_auth_errors()
