"""S3 in the emulator: a missing key is 403 to a caller without s3:ListBucket."""

from __future__ import annotations

import unittest

from emutest import BUCKET, EmulatorTestCase


class ListBucketPermission(EmulatorTestCase):
    def test_a_missing_key_is_404_with_list_bucket_and_403_without(self) -> None:
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_object(Bucket=BUCKET, Key="there", Body=b"x")
        self.assertEqual(self.error_code(lambda: self.s3.head_object(Bucket=BUCKET, Key="missing"))[:2], (404, "404"))
        self.assertEqual(self.error_code(lambda: self.s3.get_object(Bucket=BUCKET, Key="missing"))[:2], (404, "NoSuchKey"))

        self.configure(s3_list_bucket=False)
        self.assertEqual(self.error_code(lambda: self.s3.head_object(Bucket=BUCKET, Key="missing"))[:2], (403, "403"))
        self.assertEqual(self.error_code(lambda: self.s3.get_object(Bucket=BUCKET, Key="missing"))[:2], (403, "AccessDenied"))
        self.assertEqual(self.s3.head_object(Bucket=BUCKET, Key="there")["ContentLength"], 1)
        self.assertEqual(self.s3.get_object(Bucket=BUCKET, Key="there")["Body"].read(), b"x")
        self.assertEqual(self.error_code(lambda: self.s3.head_object(Bucket="no-such-bucket", Key="k"))[0], 404)
        # The connection is still good after a HEAD answered 403 without a body.
        self.assertEqual(self.s3.head_object(Bucket=BUCKET, Key="there")["ContentLength"], 1)

        self.setUp()  # reset: back to the default, true
        self.s3.create_bucket(Bucket=BUCKET)
        self.assertEqual(self.error_code(lambda: self.s3.head_object(Bucket=BUCKET, Key="missing"))[0], 404)


if __name__ == "__main__":
    unittest.main()
