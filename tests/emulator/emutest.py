"""What the emulator's self-tests (test_*.py here) share: one emulator server in this process, boto3
clients on it, and the example stack of the repository.

    .venv/bin/python -m unittest discover -s tests/emulator -p 'test_*.py'

Every test starts from POST /moto-api/reset (moto's state and the emulator's settings and tokens).
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
import unittest
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TEMPLATE = (REPO / "examples" / "template.yaml").read_text()
BUCKET = "edge-artifacts"
KEY = "edge-fn.zip"
FUNCTION = "edge-fn"
ACCOUNT = "123456789012"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

_server: Any = None
_url = ""


def emulator_url() -> str:
    """The in-process emulator, started on first use and shared by every test of the run."""
    global _server, _url
    if _server is None:
        warnings.simplefilter("ignore")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto").setLevel(logging.ERROR)
        logging.getLogger("emulator").setLevel(logging.INFO if os.environ.get("EMULATOR_VERBOSE") else logging.WARNING)
        import emulator

        _server = emulator.server("127.0.0.1", 0)
        host, port = _server.get_host_and_port()
        _url = f"http://{host}:{port}"
    return _url


def http(method: str, url: str, document: Any = None) -> tuple[int, Any]:
    """A JSON request; the status and the parsed answer (or the raw text)."""
    data = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


def zipped(marker: str) -> bytes:
    """A small deterministic zip of a Node.js handler that names the release."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("index.js", (2020, 1, 1, 0, 0, 0))
        archive.writestr(info, f"exports.handler = async () => ({{ status: '200', body: '{marker}' }});\n")
    return buffer.getvalue()


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


class EmulatorTestCase(unittest.TestCase):
    """A test against the shared emulator, reset before it runs."""

    maxDiff = None

    @classmethod
    def setUpClass(cls) -> None:
        import boto3
        from botocore.config import Config

        cls.url = emulator_url()
        options = dict(endpoint_url=cls.url, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
        config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
        cls.s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}), **options)
        cls.cfn = boto3.client("cloudformation", config=config, **options)
        cls.cf = boto3.client("cloudfront", config=config, **options)
        cls.lam = boto3.client("lambda", config=config, **options)
        cls.iam = boto3.client("iam", config=config, **options)
        cls.boto = staticmethod(lambda service: boto3.client(service, config=config, **options))

    def setUp(self) -> None:
        status, _ = http("POST", f"{self.url}/moto-api/reset")
        self.assertEqual(status, 200)

    # The control API ---------------------------------------------------------------------------

    def configure(self, **settings: Any) -> dict[str, Any]:
        status, answer = http("POST", f"{self.url}/_emulator/config", settings)
        self.assertEqual(status, 200, answer)
        return answer

    def set_transition(self, transition: dict[str, Any]) -> None:
        status, _ = http("POST", f"{self.url}/moto-api/state-manager/set-transition",
                         {"model_name": "cloudfront::distribution", "transition": transition})
        self.assertIn(status, (200, 201))

    # The example stack -------------------------------------------------------------------------

    def upload(self, marker: str) -> str:
        """The function's zip as a new object version of the artifact; its version id."""
        if not any(b["Name"] == BUCKET for b in self.s3.list_buckets().get("Buckets", [])):
            self.s3.create_bucket(Bucket=BUCKET)
            self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        return self.s3.put_object(Bucket=BUCKET, Key=KEY, Body=zipped(marker))["VersionId"]

    def site_parameters(self, object_version: str, function: str = FUNCTION, **more: str) -> list[dict[str, str]]:
        return params(FunctionName=function, ArtifactBucket=BUCKET, ArtifactKey=KEY,
                      ArtifactObjectVersion=object_version, **more)

    def create_site(self, name: str = "site", token: str | None = None, wait: bool = True,
                    function: str = FUNCTION) -> str:
        """Creates the example stack (the function, version 1, a distribution associating it)."""
        version = self.upload("one")
        request: dict[str, Any] = dict(StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                       Parameters=self.site_parameters(version, function))
        if token:
            request["ClientRequestToken"] = token
        self.last_create = request
        stack_id = self.cfn.create_stack(**request)["StackId"]
        if wait:
            self.assertEqual(self.settle(name)[-1], "CREATE_COMPLETE")
        return stack_id

    def publish(self, marker: str) -> tuple[str, str]:
        """New code in $LATEST, published: (object version, version ARN)."""
        version = self.upload(marker)
        self.lam.update_function_code(FunctionName=FUNCTION, S3Bucket=BUCKET, S3Key=KEY, S3ObjectVersion=version)
        return version, self.lam.publish_version(FunctionName=FUNCTION)["FunctionArn"]

    def release_request(self, object_version: str, version_arn: str, name: str = "site",
                        function: str = FUNCTION) -> dict[str, Any]:
        """UpdateStack arguments that point the distribution at `version_arn`."""
        return dict(StackName=name, UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                    Parameters=self.site_parameters(object_version, function, FirstLaunch="false", LambdaVersion=version_arn))

    # Reading state -----------------------------------------------------------------------------

    def status(self, name: str = "site") -> str:
        return self.cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]

    def settle(self, name: str = "site", limit: float = 20.0) -> list[str]:
        """Polls the stack until no operation is in progress; every status seen, in order."""
        seen: list[str] = []
        deadline = time.monotonic() + limit
        while True:
            status = self.status(name)
            if not seen or seen[-1] != status:
                seen.append(status)
            if not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
                return seen
            self.assertLess(time.monotonic(), deadline, f"stack {name} still in progress: {seen}")
            time.sleep(0.02)

    def events(self, name: str = "site", token: str | None = None) -> list[tuple[str, str, str]]:
        """(logical id, status, reason) of the stack's visible events, oldest first."""
        found = self.cfn.describe_stack_events(StackName=name)["StackEvents"]
        return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason") or "")
                for e in reversed(found) if token is None or e.get("ClientRequestToken") == token]

    def distribution_id(self) -> str:
        items = self.cf.list_distributions()["DistributionList"].get("Items", [])
        self.assertEqual(len(items), 1)
        return items[0]["Id"]

    def distribution(self, dist_id: str) -> tuple[str, list[str]]:
        """The distribution's status and the ARNs its default cache behavior associates."""
        dist = self.cf.get_distribution(Id=dist_id)["Distribution"]
        associations = dist["DistributionConfig"]["DefaultCacheBehavior"]["LambdaFunctionAssociations"]
        return dist["Status"], [a["LambdaFunctionARN"] for a in associations.get("Items", [])]

    def until(self, what: str, check: Callable[[], Any], limit: float = 10.0) -> Any:
        deadline = time.monotonic() + limit
        while True:
            value = check()
            if value:
                return value
            self.assertLess(time.monotonic(), deadline, f"timed out waiting for {what}")
            time.sleep(0.02)

    def error_code(self, call: Callable[[], Any]) -> tuple[int, str, str]:
        """Calls, expecting an error: (HTTP status, error code, message)."""
        from botocore.exceptions import ClientError

        with self.assertRaises(ClientError) as caught:
            call()
        response = caught.exception.response
        return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Code", ""),
                response["Error"].get("Message", ""))
