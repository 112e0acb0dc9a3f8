"""CloudWatch in the Smithy RPC v2 CBOR protocol (emulator/cbor.py), as the AWS SDK for Rust calls it:
requests built with cbor2 and signed with botocore's SigV4 signer, and a botocore client whose model
keeps only the smithy-rpc-v2-cbor protocol (botocore's own CBOR serializer and parser)."""

from __future__ import annotations

import copy
import gzip
import json
import shutil
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cbor2

from emutest import EmulatorTestCase

SERVICE_PATH = "/service/GraniteServiceVersion20100801/operation/"
NAMESPACE = "AWS/CloudFront"
METRIC = "5xxErrorRate"
DIMENSIONS = [{"Name": "DistributionId", "Value": "E2EXAMPLE"}, {"Name": "Region", "Value": "Global"}]


class Answer:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def document(self) -> Any:
        return cbor2.loads(self.body) if self.body else None


class CborCase(EmulatorTestCase):
    def call(self, operation: str, document: Any = None, *, raw: bytes | None = None, key: str = "testing",
             secret: str = "testing", compress: bool = False, headers: dict[str, str] | None = None) -> Answer:
        """An RPC v2 CBOR request as the SDKs send it, signed with SigV4 for CloudWatch ("monitoring")."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        body = raw if raw is not None else cbor2.dumps(document if document is not None else {})
        sent = {"smithy-protocol": "rpc-v2-cbor", "Accept": "application/cbor", "x-amzn-query-mode": "true"}
        if body:
            sent["Content-Type"] = "application/cbor"
        if compress:
            body = gzip.compress(body)
            sent["Content-Encoding"] = "gzip"
        sent.update(headers or {})
        url = self.url + SERVICE_PATH + operation
        request = AWSRequest("POST", url, data=body, headers=sent)
        SigV4Auth(Credentials(key, secret), "monitoring", "us-east-1").add_auth(request)
        prepared = urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method="POST")
        try:
            with urllib.request.urlopen(prepared, timeout=10) as answer:
                return Answer(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read())

    def put(self, value: float, at: float, dimensions: list[dict[str, str]] = DIMENSIONS) -> Answer:
        return self.call("PutMetricData", {"Namespace": NAMESPACE, "MetricData": [{
            "MetricName": METRIC, "Dimensions": dimensions, "Value": value, "Unit": "Percent",
            "Timestamp": cbor2.CBORTag(1, at)}]})

    def statistics(self, start: float, end: float, period: int = 60,
                   dimensions: list[dict[str, str]] = DIMENSIONS) -> Answer:
        return self.call("GetMetricStatistics", {
            "Namespace": NAMESPACE, "MetricName": METRIC, "Dimensions": dimensions,
            "StartTime": cbor2.CBORTag(1, start), "EndTime": cbor2.CBORTag(1, end), "Period": period,
            "Statistics": ["Average", "Maximum", "SampleCount"]})

    def assert_cbor_error(self, answer: Answer, status: int, shape: str | None, query_code: str) -> dict[str, Any]:
        self.assertEqual(answer.status, status, answer.body)
        self.assertEqual(answer.headers.get("smithy-protocol"), "rpc-v2-cbor")
        self.assertEqual(answer.headers.get("Content-Type"), "application/cbor")
        self.assertIsNone(answer.headers.get("X-Amzn-ErrorType"))  # the spec: SHOULD NOT
        self.assertEqual(answer.headers.get("x-amzn-query-error"), f"{query_code};Sender")
        document = answer.document
        self.assertEqual(document["__type"], f"com.amazonaws.cloudwatch#{shape}" if shape else query_code)
        self.assertIsInstance(document.get("message"), str)
        return document


class PutAndGet(CborCase):
    def test_put_metric_data_answers_200_without_a_body(self) -> None:
        answer = self.put(2.5, time.time())
        self.assertEqual(answer.status, 200, answer.body)
        self.assertEqual(answer.body, b"")  # PutMetricData has no output: no body, no Content-Type
        self.assertIsNone(answer.headers.get("Content-Type"))
        self.assertEqual(answer.headers.get("smithy-protocol"), "rpc-v2-cbor")

    def test_get_metric_statistics_answers_datapoints_with_tag_1_timestamps(self) -> None:
        now = time.time()
        self.assertEqual(self.put(2.0, now - 30).status, 200)
        self.assertEqual(self.put(4.0, now - 30).status, 200)
        answer = self.statistics(now - 600, now + 60)
        self.assertEqual(answer.status, 200, answer.body)
        self.assertEqual(answer.headers.get("Content-Type"), "application/cbor")
        self.assertEqual(answer.headers.get("smithy-protocol"), "rpc-v2-cbor")
        document = answer.document
        self.assertEqual(document["Label"], METRIC)
        [point] = document["Datapoints"]
        # cbor2 reads tag 1 (epoch seconds) as a datetime: anything else would come back a number.
        self.assertIsInstance(point["Timestamp"], datetime)
        start = (int(now - 600) // 60) * 60  # CloudWatch's periods start at StartTime rounded to the minute
        self.assertEqual((point["Timestamp"].timestamp() - start) % 60, 0)
        self.assertLessEqual(abs(point["Timestamp"].timestamp() - (now - 30)), 60)
        self.assertEqual((point["Average"], point["Maximum"], point["SampleCount"]), (3.0, 4.0, 2.0))
        for statistic in ("Average", "Maximum", "SampleCount"):  # doubles are CBOR floats, even whole ones
            self.assertIsInstance(point[statistic], float)
        self.assertEqual(point["Unit"], "Percent")
        self.assertIn(b"\xc1", answer.body)

    def test_dimensions_match_exactly_in_cbor_too(self) -> None:
        now = time.time()
        self.assertEqual(self.put(1.0, now - 30).status, 200)
        subset = self.statistics(now - 600, now + 60, dimensions=DIMENSIONS[:1])
        self.assertEqual(subset.status, 200, subset.body)
        self.assertEqual(subset.document["Datapoints"], [])  # cloudwatch.py: the dimension set, exactly
        reordered = self.statistics(now - 600, now + 60, dimensions=list(reversed(DIMENSIONS)))
        self.assertEqual(len(reordered.document["Datapoints"]), 1)

    def test_list_metrics_with_an_empty_body_and_get_metric_data(self) -> None:
        now = time.time()
        self.assertEqual(self.put(1.0, now - 30).status, 200)
        listed = self.call("ListMetrics", raw=b"")  # an empty body is an empty input structure
        self.assertEqual(listed.status, 200, listed.body)
        self.assertEqual([(m["Namespace"], m["MetricName"]) for m in listed.document["Metrics"]], [(NAMESPACE, METRIC)])
        data = self.call("GetMetricData", {
            "MetricDataQueries": [{"Id": "rate", "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": METRIC, "Dimensions": DIMENSIONS},
                "Period": 60, "Stat": "Maximum"}}],
            "StartTime": cbor2.CBORTag(1, now - 600), "EndTime": cbor2.CBORTag(1, now + 60)})
        self.assertEqual(data.status, 200, data.body)
        [result] = data.document["MetricDataResults"]
        self.assertEqual(result["Values"], [1.0])
        self.assertIsInstance(result["Timestamps"][0], datetime)

    def test_a_gzip_compressed_request_is_read(self) -> None:
        now = time.time()
        answer = self.call("PutMetricData", {"Namespace": NAMESPACE, "MetricData": [{
            "MetricName": METRIC, "Dimensions": DIMENSIONS, "Value": 7.0,
            "Timestamp": cbor2.CBORTag(1, now)}]}, compress=True)
        self.assertEqual(answer.status, 200, answer.body)
        self.assertEqual(self.statistics(now - 600, now + 60).document["Datapoints"][0]["Maximum"], 7.0)

    def test_the_json_protocol_still_answers(self) -> None:
        import boto3

        cw = boto3.client("cloudwatch", endpoint_url=self.url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        now = time.time()
        self.assertEqual(self.put(5.0, now - 30).status, 200)
        found = cw.get_metric_statistics(Namespace=NAMESPACE, MetricName=METRIC, Dimensions=DIMENSIONS,
                                         StartTime=datetime.fromtimestamp(now - 600, timezone.utc),
                                         EndTime=datetime.fromtimestamp(now + 60, timezone.utc),
                                         Period=60, Statistics=["Maximum"])
        self.assertEqual([p["Maximum"] for p in found["Datapoints"]], [5.0])


class Errors(CborCase):
    def test_period_7_is_invalid_parameter_value(self) -> None:
        now = time.time()
        answer = self.statistics(now - 600, now, period=7)
        document = self.assert_cbor_error(answer, 400, "InvalidParameterValueException", "InvalidParameterValue")
        self.assertIn("Period", document["message"])

    def test_too_many_datapoints_is_invalid_parameter_combination(self) -> None:
        now = time.time()
        answer = self.statistics(now - 2 * 86400, now, period=60)
        self.assert_cbor_error(answer, 400, "InvalidParameterCombinationException", "InvalidParameterCombination")

    def test_an_unknown_dashboard_is_resource_not_found_404(self) -> None:
        answer = self.call("GetDashboard", {"DashboardName": "missing"})
        self.assert_cbor_error(answer, 404, "DashboardNotFoundError", "ResourceNotFound")

    def test_malformed_cbor_unknown_operations_and_other_services(self) -> None:
        malformed = self.call("GetMetricStatistics", raw=b"\xff\x00")
        self.assertEqual((malformed.status, malformed.document["__type"]), (400, "SerializationException"))
        self.assertEqual(malformed.headers.get("smithy-protocol"), "rpc-v2-cbor")
        unknown = self.call("NoSuchOperation", {})
        self.assertEqual((unknown.status, unknown.document["__type"]), (400, "UnknownOperationException"))
        # Without Smithy-Protocol the request is not RPC v2 CBOR: moto's, which has no such path.
        plain = self.call("ListMetrics", {}, headers={"smithy-protocol": "other"})
        self.assertEqual(plain.status, 404)


class Authentication(CborCase):
    """With moto's authentication on, the signature is checked against the CBOR request as sent."""

    def setUp(self) -> None:
        super().setUp()
        self.iam.create_user(UserName="metrics")
        self.iam.put_user_policy(UserName="metrics", PolicyName="all", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = self.iam.create_access_key(UserName="metrics")["AccessKey"]
        self.key, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        self.assertEqual(self.reset_auth(b"0"), 200)
        self.addCleanup(lambda: self.assertEqual(self.reset_auth(b"inf"), 200))

    def reset_auth(self, count: bytes) -> int:
        request = urllib.request.Request(f"{self.url}/moto-api/reset-auth", data=count, method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status

    def test_a_valid_signature_passes_and_a_wrong_one_is_refused(self) -> None:
        now = time.time()
        unknown = self.put(1.0, now)  # "testing" is no IAM user's key
        self.assert_cbor_error(unknown, 403, None, "InvalidClientTokenId")

        answer = self.call("PutMetricData", {"Namespace": NAMESPACE, "MetricData": [{
            "MetricName": METRIC, "Dimensions": DIMENSIONS, "Value": 1.0}]}, key=self.key, secret=self.secret)
        self.assertEqual(answer.status, 200, answer.body)
        compressed = self.call("ListMetrics", {}, key=self.key, secret=self.secret, compress=True)
        self.assertEqual(compressed.status, 200, compressed.body)

        wrong = self.call("ListMetrics", {}, key=self.key, secret="not-the-secret")
        self.assert_cbor_error(wrong, 403, None, "SignatureDoesNotMatch")


class BotocoreCborClient(EmulatorTestCase):
    """botocore 1.44.8 speaks smithy-rpc-v2-cbor itself; given a CloudWatch model that lists only
    that protocol, its client sends what the SDK for Rust sends, and parses the answers strictly."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        import botocore.session
        from botocore.config import Config

        model = copy.deepcopy(botocore.session.get_session().get_component("data_loader")
                              .load_service_model("cloudwatch", "service-2"))
        model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
        cls.models = tempfile.mkdtemp(prefix="cbor-model-")
        folder = Path(cls.models, "cloudwatch", model["metadata"]["apiVersion"])
        folder.mkdir(parents=True)
        (folder / "service-2.json").write_text(json.dumps(model))
        session = botocore.session.get_session()  # its loader has cached nothing yet
        session.get_component("data_loader").search_paths.insert(0, cls.models)
        cls.cw = session.create_client("cloudwatch", endpoint_url=cls.url, region_name="us-east-1",
                                       aws_access_key_id="testing", aws_secret_access_key="testing",
                                       config=Config(retries={"max_attempts": 1}))
        cls.sent: list[tuple[str, str]] = []
        cls.cw.meta.events.register("before-send.cloudwatch", cls._record)

    @classmethod
    def _record(cls, request: Any, **_: Any) -> None:
        cls.sent.append((request.url, request.headers.get("smithy-protocol", b"")))

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.models, ignore_errors=True)
        super().tearDownClass()

    def test_put_then_get_statistics_through_botocore_in_cbor(self) -> None:
        now = datetime.now(timezone.utc)
        self.cw.put_metric_data(Namespace=NAMESPACE, MetricData=[{
            "MetricName": METRIC, "Dimensions": DIMENSIONS, "Value": 12.5, "Timestamp": now}])
        found = self.cw.get_metric_statistics(
            Namespace=NAMESPACE, MetricName=METRIC, Dimensions=DIMENSIONS,
            StartTime=datetime.fromtimestamp(now.timestamp() - 600, timezone.utc),
            EndTime=datetime.fromtimestamp(now.timestamp() + 60, timezone.utc), Period=60, Statistics=["Average"])
        [point] = found["Datapoints"]
        self.assertEqual(point["Average"], 12.5)
        self.assertIsInstance(point["Timestamp"], datetime)
        url, protocol = self.sent[-1]
        self.assertTrue(url.endswith(SERVICE_PATH + "GetMetricStatistics"), url)
        self.assertIn(protocol, ("rpc-v2-cbor", b"rpc-v2-cbor"))

    def test_errors_carry_the_query_compatible_code(self) -> None:
        from botocore.exceptions import ClientError

        with self.assertRaises(ClientError) as caught:
            self.cw.get_metric_statistics(Namespace=NAMESPACE, MetricName=METRIC, Dimensions=DIMENSIONS,
                                          StartTime=datetime.fromtimestamp(time.time() - 600, timezone.utc),
                                          EndTime=datetime.now(timezone.utc), Period=7, Statistics=["Average"])
        error = caught.exception.response
        self.assertEqual(error["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(error["Error"]["Code"], "InvalidParameterValue")
        self.assertIn("Period", error["Error"]["Message"])
        self.assertEqual(type(caught.exception).__name__, "InvalidParameterValueException")
        self.assertTrue(self.sent[-1][0].endswith(SERVICE_PATH + "GetMetricStatistics"), self.sent[-1])


if __name__ == "__main__":
    unittest.main()
