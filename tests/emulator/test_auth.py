"""Authentication in the emulator: an unknown access key is refused in AWS's error shape."""

from __future__ import annotations

import unittest
import urllib.error
import urllib.request

from botocore.exceptions import ClientError

from emutest import EmulatorTestCase


class UnknownCredentials(EmulatorTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.assertEqual(self.reset_auth(b"0"), 200)
        # Back to moto's default, no authentication, for the tests after this one.
        self.addCleanup(lambda: self.assertEqual(self.reset_auth(b"inf"), 200))

    def reset_auth(self, count: bytes) -> int:
        # Not form-encoded (urllib's default), which moto would parse away from the body it reads.
        request = urllib.request.Request(f"{self.url}/moto-api/reset-auth", data=count, method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status

    def test_an_unknown_key_is_invalid_client_token_id_with_one_error_element(self) -> None:
        import boto3

        sts = boto3.client("sts", endpoint_url=self.url, region_name="us-east-1",
                           aws_access_key_id="AKIAUNKNOWN", aws_secret_access_key="x")
        with self.assertRaises(ClientError) as caught:
            sts.get_caller_identity()
        error = caught.exception.response
        self.assertEqual(error["ResponseMetadata"]["HTTPStatusCode"], 403)
        self.assertEqual(error["Error"]["Code"], "InvalidClientTokenId")
        self.assertEqual(error["Error"]["Message"], "The security token included in the request is invalid.")

        request = urllib.request.Request(
            self.url, data=b"Action=GetCallerIdentity&Version=2011-06-15", method="POST",
            headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN/20261202/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0",
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            urllib.request.urlopen(request, timeout=10)
            self.fail("an unknown key was accepted")
        except urllib.error.HTTPError as answer:
            body = answer.read().decode()
        self.assertIn("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>", body)
        self.assertNotIn("<Errors>", body)
        self.assertIn("<RequestId>", body)


if __name__ == "__main__":
    unittest.main()
