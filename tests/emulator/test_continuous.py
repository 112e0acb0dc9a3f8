"""CloudFront continuous deployment in the emulator: the policy API and what CloudFront refuses,
staging distributions, CopyDistribution and promotion, the staged-release template through
CloudFormation, the edge stand-in's routing to the staging distribution, the history of
associations on the control API, and CloudWatch's answer for a distribution's 5xxErrorRate."""

from __future__ import annotations

import copy
import io
import json
import time
import unittest
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from emutest import BUCKET, FUNCTION, HERE, KEY, EmulatorTestCase, http

STAGED = (HERE / "fixtures" / "staged.yaml").read_text()
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
HEADER = "aws-cf-cd-canary"


def distribution_config(arn: str | None = None, **extra: Any) -> dict[str, Any]:
    items = [{"LambdaFunctionARN": arn, "EventType": "origin-request", "IncludeBody": False}] if arn else []
    return {
        "CallerReference": str(uuid.uuid4()), "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "origin", "DomainName": "origin.example.org",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
        }]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin", "ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": CACHING_OPTIMIZED,
            "LambdaFunctionAssociations": {"Quantity": len(items), "Items": items},
        },
        **extra,
    }


def header_policy(domain: str, enabled: bool = True, value: str = "1") -> dict[str, Any]:
    return {"StagingDistributionDnsNames": {"Quantity": 1, "Items": [domain]}, "Enabled": enabled,
            "TrafficConfig": {"Type": "SingleHeader", "SingleHeaderConfig": {"Header": HEADER, "Value": value}}}


def weight_policy(domain: str, weight: float, enabled: bool = True, **sticky: int) -> dict[str, Any]:
    single: dict[str, Any] = {"Weight": weight}
    if sticky:
        single["SessionStickinessConfig"] = sticky
    return {"StagingDistributionDnsNames": {"Quantity": 1, "Items": [domain]}, "Enabled": enabled,
            "TrafficConfig": {"Type": "SingleWeight", "SingleWeightConfig": single}}


def released(marker: str) -> bytes:
    """A zip whose code names its release (`const RELEASE`), as the edge stand-in reads it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("index.js", (2020, 1, 1, 0, 0, 0))
        archive.writestr(info, f"const RELEASE = '{marker}';\nexports.handler = async (e) => e.Records[0].cf.request;\n")
    return buffer.getvalue()


def get(url: str, path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, Any]:
    import http.client

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        answer = connection.getresponse()
        answer.read()
        return answer.status, answer.headers
    finally:
        connection.close()


class ContinuousTestCase(EmulatorTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.configure(time_scale=0)  # everything deployed at once unless a test says otherwise

    def staging(self, arn: str | None = None, **extra: Any) -> dict[str, Any]:
        return self.cf.create_distribution(DistributionConfig=distribution_config(arn, Staging=True, **extra))["Distribution"]

    def primary(self, policy_id: str, arn: str | None = None, **extra: Any) -> dict[str, Any]:
        return self.cf.create_distribution(
            DistributionConfig=distribution_config(arn, ContinuousDeploymentPolicyId=policy_id, **extra))["Distribution"]

    def policy(self, config: dict[str, Any]) -> dict[str, Any]:
        return self.cf.create_continuous_deployment_policy(ContinuousDeploymentPolicyConfig=config)

    def update(self, dist_id: str, change: Any) -> dict[str, Any]:
        current = self.cf.get_distribution_config(Id=dist_id)
        config = copy.deepcopy(current["DistributionConfig"])
        change(config)
        return self.cf.update_distribution(Id=dist_id, IfMatch=current["ETag"], DistributionConfig=config)

    def function_version(self, marker: str) -> str:
        """A version of the function `edge-fn` whose code says `marker`: its ARN."""
        try:
            self.lam.update_function_code(FunctionName=FUNCTION, ZipFile=released(marker))
        except self.lam.exceptions.ResourceNotFoundException:
            role = self.iam.create_role(RoleName="edge", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            self.lam.create_function(FunctionName=FUNCTION, Runtime="nodejs20.x", Role=role, Handler="index.handler",
                                     Code={"ZipFile": released(marker)})
        return str(self.lam.publish_version(FunctionName=FUNCTION)["FunctionArn"])

    def edge(self, dist_id: str) -> str:
        status, answer = http("POST", f"{self.url}/_emulator/edge", {"DistributionId": dist_id})
        self.assertEqual(status, 200, answer)
        return str(answer["Url"])

    def served(self, url: str, path: str = "/", headers: dict[str, str] | None = None) -> tuple[str | None, str | None]:
        """(X-Edge-Distribution, X-Edge-Release) of one request."""
        status, got = get(url, path, headers)
        self.assertEqual(status, 200)
        return got.get("X-Edge-Distribution"), got.get("X-Edge-Release")

    def history(self, dist_id: str) -> list[list[str]]:
        status, answer = http("GET", f"{self.url}/_emulator/associations?DistributionId={dist_id}")
        self.assertEqual(status, 200, answer)
        return [[a["LambdaFunctionARN"] for a in entry["Associations"]] + (["(deleted)"] if entry.get("Deleted") else [])
                for entry in answer["History"]]


class Policies(ContinuousTestCase):
    def test_create_get_list_update_delete_with_etags(self) -> None:
        staging = self.staging()
        created = self.policy(header_policy(staging["DomainName"], enabled=False))
        self.assertEqual(created["ResponseMetadata"]["HTTPStatusCode"], 201)
        policy_id, etag = created["ContinuousDeploymentPolicy"]["Id"], created["ETag"]
        self.assertTrue(created["Location"].endswith(f"/2020-05-31/continuous-deployment-policy/{policy_id}"))
        got = self.cf.get_continuous_deployment_policy(Id=policy_id)
        self.assertEqual((got["ETag"], got["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]),
                         (etag, header_policy(staging["DomainName"], enabled=False)))
        self.assertIn("LastModifiedTime", got["ContinuousDeploymentPolicy"])
        config = self.cf.get_continuous_deployment_policy_config(Id=policy_id)
        self.assertEqual(config["ContinuousDeploymentPolicyConfig"], header_policy(staging["DomainName"], enabled=False))
        listed = self.cf.list_continuous_deployment_policies()["ContinuousDeploymentPolicyList"]
        self.assertEqual((listed["Quantity"], [i["ContinuousDeploymentPolicy"]["Id"] for i in listed["Items"]]), (1, [policy_id]))

        enabled = header_policy(staging["DomainName"])
        status, code, message = self.error_code(lambda: self.cf.update_continuous_deployment_policy(
            Id=policy_id, ContinuousDeploymentPolicyConfig=enabled))
        self.assertEqual((status, code, message), (400, "InvalidIfMatchVersion",
                                                    "The If-Match version is missing or not valid for the resource."))
        status, code, _ = self.error_code(lambda: self.cf.update_continuous_deployment_policy(
            Id=policy_id, ContinuousDeploymentPolicyConfig=enabled, IfMatch="stale"))
        self.assertEqual((status, code), (412, "PreconditionFailed"))
        updated = self.cf.update_continuous_deployment_policy(Id=policy_id, ContinuousDeploymentPolicyConfig=enabled, IfMatch=etag)
        self.assertNotEqual(updated["ETag"], etag)
        self.assertTrue(updated["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]["Enabled"])

        status, code, _ = self.error_code(lambda: self.cf.delete_continuous_deployment_policy(Id=policy_id, IfMatch=etag))
        self.assertEqual((status, code), (412, "PreconditionFailed"))
        deleted = self.cf.delete_continuous_deployment_policy(Id=policy_id, IfMatch=updated["ETag"])
        self.assertEqual(deleted["ResponseMetadata"]["HTTPStatusCode"], 204)
        status, code, _ = self.error_code(lambda: self.cf.get_continuous_deployment_policy(Id=policy_id))
        self.assertEqual((status, code), (404, "NoSuchContinuousDeploymentPolicy"))

    def test_what_cloudfront_refuses_in_a_policy(self) -> None:
        staging = self.staging()["DomainName"]
        primary = self.cf.create_distribution(DistributionConfig=distribution_config())["Distribution"]["DomainName"]
        header = header_policy(staging)
        cases: list[tuple[str, dict[str, Any], int, str, str]] = [
            ("weight above 0.15", weight_policy(staging, 0.16), 400, "InvalidArgument", "between 0 and 0.15"),
            ("negative weight", weight_policy(staging, -0.01), 400, "InvalidArgument", "between 0 and 0.15"),
            ("idle TTL under 300", weight_policy(staging, 0.1, IdleTTL=299, MaximumTTL=600), 400, "InvalidArgument", "300-3600"),
            ("maximum TTL over 3600", weight_policy(staging, 0.1, IdleTTL=300, MaximumTTL=3601), 400, "InvalidArgument", "300-3600"),
            ("idle TTL over the maximum", weight_policy(staging, 0.1, IdleTTL=900, MaximumTTL=600), 400, "InvalidArgument",
             "IdleTTL is at most MaximumTTL"),
            ("header without the prefix", {**header, "TrafficConfig": {"Type": "SingleHeader", "SingleHeaderConfig": {
                "Header": "x-canary", "Value": "1"}}}, 400, "InvalidArgument", "aws-cf-cd-"),
            ("type without its configuration", {**header, "TrafficConfig": {"Type": "SingleWeight", "SingleHeaderConfig": {
                "Header": HEADER, "Value": "1"}}}, 400, "InvalidArgument", "SingleWeight"),
            ("two staging domain names", {**header, "StagingDistributionDnsNames": {"Quantity": 2, "Items": [staging, staging]}},
             400, "InvalidArgument", "exactly one"),
            ("quantity and items disagree", {**header, "StagingDistributionDnsNames": {"Quantity": 2, "Items": [staging]}},
             400, "InconsistentQuantities", "(2) does not match the actual quantity supplied (1)"),
            ("not a staging distribution", header_policy(primary), 400, "InvalidArgument", "not the domain name of a staging"),
            ("no such distribution", header_policy("d000000000000.cloudfront.net"), 400, "InvalidArgument",
             "not the domain name of a staging"),
        ]
        for name, config, status, code, text in cases:
            with self.subTest(name):
                got = self.error_code(lambda: self.policy(config))
                self.assertEqual(got[:2], (status, code), got)
                self.assertIn(text, got[2])
        self.assertEqual(self.cf.list_continuous_deployment_policies()["ContinuousDeploymentPolicyList"]["Quantity"], 0)

        self.policy(weight_policy(staging, 0.15, IdleTTL=300, MaximumTTL=3600))  # the limits themselves are allowed
        status, code, message = self.error_code(lambda: self.policy(header))
        self.assertEqual((status, code), (409, "StagingDistributionInUse"))
        self.assertIn("A continuous deployment policy for this staging distribution already exists", message)

    def test_twenty_policies_per_account(self) -> None:
        for _ in range(20):
            self.policy(header_policy(self.staging()["DomainName"]))
        extra = self.staging()["DomainName"]
        status, code, _ = self.error_code(lambda: self.policy(header_policy(extra)))
        self.assertEqual((status, code), (400, "TooManyContinuousDeploymentPolicies"))


class Distributions(ContinuousTestCase):
    def test_get_distribution_and_its_config_carry_staging_and_the_policy_id(self) -> None:
        plain = self.cf.create_distribution(DistributionConfig=distribution_config())["Distribution"]
        config = self.cf.get_distribution_config(Id=plain["Id"])["DistributionConfig"]
        self.assertEqual((config["Staging"], config["ContinuousDeploymentPolicyId"]), (False, ""))
        staging = self.staging()
        policy_id = self.policy(header_policy(staging["DomainName"]))["ContinuousDeploymentPolicy"]["Id"]
        primary = self.primary(policy_id)
        got = self.cf.get_distribution(Id=primary["Id"])["Distribution"]["DistributionConfig"]
        self.assertEqual((got["Staging"], got["ContinuousDeploymentPolicyId"]), (False, policy_id))
        got = self.cf.get_distribution_config(Id=staging["Id"])["DistributionConfig"]
        self.assertEqual((got["Staging"], got["ContinuousDeploymentPolicyId"]), (True, ""))
        listed = self.cf.list_distributions()["DistributionList"]["Items"]
        self.assertEqual({d["Id"]: d["Staging"] for d in listed}, {plain["Id"]: False, staging["Id"]: True, primary["Id"]: False})

    def test_what_cloudfront_refuses_of_staging_and_primary_distributions(self) -> None:
        aliases = {"Quantity": 1, "Items": ["www.example.org"]}
        status, code, message = self.error_code(lambda: self.staging(Aliases=aliases))
        self.assertEqual((status, code), (400, "InvalidArgument"))
        self.assertIn("cannot have alternate domain names (Aliases)", message)
        status, code, _ = self.error_code(lambda: self.primary("no-such-policy"))
        self.assertEqual((status, code), (404, "NoSuchContinuousDeploymentPolicy"))

        staging = self.staging()
        policy = self.policy(header_policy(staging["DomainName"]))
        policy_id = policy["ContinuousDeploymentPolicy"]["Id"]
        status, code, _ = self.error_code(lambda: self.staging(ContinuousDeploymentPolicyId=policy_id))
        self.assertEqual((status, code), (400, "InvalidArgument"))
        for version in ("http3", "http2and3"):
            with self.subTest(version):
                status, code, message = self.error_code(lambda: self.primary(policy_id, HttpVersion=version))
                self.assertEqual((status, code), (400, "InvalidArgument"))
                self.assertIn("HTTP/3", message)
        primary = self.primary(policy_id, Aliases=aliases)
        status, code, _ = self.error_code(lambda: self.primary(policy_id))
        self.assertEqual((status, code), (409, "ContinuousDeploymentPolicyInUse"))
        status, code, message = self.error_code(lambda: self.cf.delete_continuous_deployment_policy(
            Id=policy_id, IfMatch=policy["ETag"]))
        self.assertEqual((status, code), (409, "ContinuousDeploymentPolicyInUse"))
        self.assertIn("associated with a primary distribution", message)

        def set_staging(config: dict[str, Any]) -> None:
            config["Staging"] = False

        status, code, _ = self.error_code(lambda: self.update(staging["Id"], set_staging))
        self.assertEqual((status, code), (400, "IllegalUpdate"))

        # While the policy is attached, both may change their cache behaviors, not the rest.
        def price_class(config: dict[str, Any]) -> None:
            config["PriceClass"] = "PriceClass_200"

        for dist_id in (primary["Id"], staging["Id"]):
            status, code, message = self.error_code(lambda: self.update(dist_id, price_class))
            self.assertEqual((status, code, message), (
                400, "IllegalUpdate", "One or more fields updated are not supported for continuous deployment."))
        arn = "arn:aws:lambda:us-east-1:123456789012:function:edge-fn:2"

        def associate(config: dict[str, Any]) -> None:
            config["DefaultCacheBehavior"]["LambdaFunctionAssociations"] = {"Quantity": 1, "Items": [
                {"LambdaFunctionARN": arn, "EventType": "origin-request", "IncludeBody": False}]}
            config["Comment"] = "candidate"

        self.update(staging["Id"], associate)
        self.update(primary["Id"], associate)

        def detach(config: dict[str, Any]) -> None:
            config["ContinuousDeploymentPolicyId"] = ""

        self.update(primary["Id"], detach)
        self.update(primary["Id"], price_class)  # detached: anything goes
        self.cf.delete_continuous_deployment_policy(Id=policy_id, IfMatch=policy["ETag"])

    def test_a_policy_change_deploys_with_the_primary(self) -> None:
        staging = self.staging()
        policy = self.policy(header_policy(staging["DomainName"], enabled=False))
        primary = self.primary(policy["ContinuousDeploymentPolicy"]["Id"])
        self.assertEqual(self.distribution(primary["Id"])[0], "Deployed")
        self.configure(time_scale=0.01, durations={"distribution_deploy": 30})
        self.cf.update_continuous_deployment_policy(Id=policy["ContinuousDeploymentPolicy"]["Id"], IfMatch=policy["ETag"],
                                                    ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"]))
        self.assertEqual(self.distribution(primary["Id"])[0], "InProgress", "the primary deploys the new policy")
        self.assertEqual(self.distribution(staging["Id"])[0], "Deployed")
        self.until("Deployed", lambda: self.distribution(primary["Id"])[0] == "Deployed")


class CopyAndPromote(ContinuousTestCase):
    def test_copy_distribution_makes_a_staging_copy_and_promotion_copies_it_back(self) -> None:
        v1 = "arn:aws:lambda:us-east-1:123456789012:function:edge-fn:1"
        v2 = v1[:-1] + "2"
        created = self.cf.create_distribution(DistributionConfig=distribution_config(
            v1, Aliases={"Quantity": 1, "Items": ["www.example.org"]}))
        primary_id, primary_etag = created["Distribution"]["Id"], created["ETag"]
        copy_request = dict(PrimaryDistributionId=primary_id, Staging=True, CallerReference="copy-1")
        status, code, _ = self.error_code(lambda: self.cf.copy_distribution(**copy_request))
        self.assertEqual((status, code), (400, "InvalidIfMatchVersion"))
        status, code, _ = self.error_code(lambda: self.cf.copy_distribution(**copy_request, IfMatch="stale"))
        self.assertEqual((status, code), (412, "PreconditionFailed"))
        self.configure(time_scale=0.01)
        copied = self.cf.copy_distribution(**copy_request, IfMatch=primary_etag)
        self.assertEqual(copied["ResponseMetadata"]["HTTPStatusCode"], 201)
        staging = copied["Distribution"]
        self.assertEqual(staging["Status"], "InProgress")
        config = staging["DistributionConfig"]
        self.assertEqual((config["Staging"], config["Aliases"]["Quantity"], config["CallerReference"],
                          config["ContinuousDeploymentPolicyId"]), (True, 0, "copy-1", ""))
        self.assertEqual(self.distribution(staging["Id"])[1], [v1], "the primary's associations")
        self.configure(time_scale=0)

        policy = self.policy(header_policy(staging["DomainName"]))
        policy_id = policy["ContinuousDeploymentPolicy"]["Id"]
        self.update(primary_id, lambda c: c.update(ContinuousDeploymentPolicyId=policy_id))
        self.update(staging["Id"], lambda c: c["DefaultCacheBehavior"].update(LambdaFunctionAssociations={
            "Quantity": 1, "Items": [{"LambdaFunctionARN": v2, "EventType": "origin-request", "IncludeBody": False}]}))

        primary_etag = self.cf.get_distribution(Id=primary_id)["ETag"]
        staging_etag = self.cf.get_distribution(Id=staging["Id"])["ETag"]
        promote = dict(Id=primary_id, StagingDistributionId=staging["Id"])
        status, code, _ = self.error_code(lambda: self.cf.update_distribution_with_staging_config(**promote, IfMatch=primary_etag))
        self.assertEqual((status, code), (400, "InvalidIfMatchVersion"))
        status, code, _ = self.error_code(lambda: self.cf.update_distribution_with_staging_config(
            **promote, IfMatch=f"{staging_etag},{primary_etag}"))
        self.assertEqual((status, code), (412, "PreconditionFailed"))
        self.configure(time_scale=0.01)
        promoted = self.cf.update_distribution_with_staging_config(**promote, IfMatch=f"{primary_etag}, {staging_etag}")
        self.assertNotEqual(promoted["ETag"], primary_etag)
        self.assertEqual(promoted["Distribution"]["Status"], "InProgress")
        config = promoted["Distribution"]["DistributionConfig"]
        self.assertEqual((config["Aliases"]["Items"], config["ContinuousDeploymentPolicyId"], config["Staging"]),
                         (["www.example.org"], policy_id, False), "the primary keeps its aliases and policy")
        self.assertEqual(self.distribution(primary_id)[1], [v2], "the staging configuration, promoted")
        got = self.cf.get_continuous_deployment_policy(Id=policy_id)
        self.assertFalse(got["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]["Enabled"], "disabled")
        self.assertNotEqual(got["ETag"], policy["ETag"])
        self.assertEqual(self.history(primary_id), [[v1], [v2]])


class EdgeRouting(ContinuousTestCase):
    def canary(self, config: Any) -> tuple[str, str, str, str, str]:
        """Primary on release one, staging on release two, the policy made of the staging domain
        by `config`: (edge URL, primary id, staging id, policy id, policy ETag)."""
        v1, v2 = self.function_version("one"), self.function_version("two")
        staging = self.staging(v2)
        policy = self.policy(config(staging["DomainName"]))
        primary = self.primary(policy["ContinuousDeploymentPolicy"]["Id"], v1)
        return (self.edge(primary["Id"]), primary["Id"], staging["Id"], policy["ContinuousDeploymentPolicy"]["Id"],
                policy["ETag"])

    def test_the_header_and_its_value_go_to_staging_which_has_its_own_cache(self) -> None:
        url, primary, staging, _, _ = self.canary(header_policy)
        self.assertEqual(self.served(url), (primary, "one"))
        self.assertEqual(self.served(url, headers={HEADER: "1"}), (staging, "two"))
        self.assertEqual(self.served(url, headers={"AWS-CF-CD-Canary": "1"}), (staging, "two"), "a header's name has no case")
        self.assertEqual(self.served(url, headers={HEADER: "2"}), (primary, "one"), "another value")
        status, got = get(url, "/", {HEADER: "1"})
        self.assertEqual((got["X-Cache"], got["X-Edge-Distribution"]), ("Hit from cloudfront", staging))
        status, got = get(url, "/other", {HEADER: "1"})
        self.assertEqual((got["X-Cache"], got["X-Edge-Release"]), ("Miss from cloudfront", "two"))
        status, got = get(url, "/other")
        self.assertEqual((got["X-Cache"], got["X-Edge-Release"]), ("Miss from cloudfront", "one"), "not the staging cache")
        log = json.loads(get_body(url, "/_edge/log"))
        self.assertEqual([entry["distribution"] for entry in log], [primary, staging, staging, primary, staging, staging, primary])

        status, answer = http("POST", f"{self.url}/_emulator/edge", {"DistributionId": staging})
        self.assertEqual(status, 400, "viewers never reach a staging distribution directly")
        self.assertIn("staging distribution", answer["Error"])

    def test_a_weight_sends_that_share_of_requests_deterministically(self) -> None:
        url, primary, staging, _, _ = self.canary(lambda domain: weight_policy(domain, 0.1))
        seen = [self.served(url, f"/{i}")[0] for i in range(1, 31)]
        self.assertEqual([i for i, served in enumerate(seen, 1) if served == staging], [10, 20, 30])
        self.assertEqual(seen.count(primary), 27)

    def test_a_disabled_policy_sends_everything_to_the_primary_and_a_change_waits_for_the_deployment(self) -> None:
        url, primary, staging, policy_id, etag = self.canary(lambda domain: header_policy(domain, enabled=False))
        self.assertEqual(self.served(url, headers={HEADER: "1"}), (primary, "one"))
        domain = self.cf.get_distribution(Id=staging)["Distribution"]["DomainName"]
        self.configure(time_scale=0.01, durations={"distribution_deploy": 30})
        self.cf.update_continuous_deployment_policy(Id=policy_id, IfMatch=etag, ContinuousDeploymentPolicyConfig=header_policy(domain))
        self.assertEqual(self.served(url, "/a", {HEADER: "1"}), (primary, "one"), "the primary is still deploying the policy")
        self.until("the policy deployed", lambda: self.served(url, "/b", {HEADER: "1"}) == (staging, "two"))


def get_body(url: str, path: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url + path, timeout=5) as answer:
        return str(answer.read().decode())


class StagedStack(ContinuousTestCase):
    """The staged-release template (fixtures/staged.yaml) through CloudFormation."""

    def upload_release(self, marker: str) -> str:
        if not any(b["Name"] == BUCKET for b in self.s3.list_buckets().get("Buckets", [])):
            self.s3.create_bucket(Bucket=BUCKET)
            self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        return str(self.s3.put_object(Bucket=BUCKET, Key=KEY, Body=released(marker))["VersionId"])

    def stack_parameters(self, object_version: str, **more: str) -> list[dict[str, str]]:
        values = {"FunctionName": FUNCTION, "ArtifactBucket": BUCKET, "ArtifactKey": KEY,
                  "ArtifactObjectVersion": object_version, **more}
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]

    def outputs(self) -> dict[str, str]:
        stack = self.cfn.describe_stacks(StackName="staged")["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def update_stack(self, object_version: str, **values: str) -> None:
        self.cfn.update_stack(StackName="staged", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                              Parameters=self.stack_parameters(object_version, **values))
        self.assertEqual(self.settle("staged")[-1], "UPDATE_COMPLETE", self.events("staged"))

    def policy_config(self, policy_id: str) -> dict[str, Any]:
        return dict(self.cf.get_continuous_deployment_policy_config(Id=policy_id)["ContinuousDeploymentPolicyConfig"])

    def test_the_staged_template_launches_releases_a_candidate_and_promotes_it(self) -> None:
        self.configure(time_scale=0.001)
        object_version = self.upload_release("one")
        self.cfn.create_stack(StackName="staged", TemplateBody=STAGED, Capabilities=["CAPABILITY_IAM"],
                              Parameters=self.stack_parameters(object_version))
        self.assertEqual(self.settle("staged")[-1], "CREATE_COMPLETE", self.events("staged"))
        created = [logical for logical, status, _ in self.events("staged") if status == "CREATE_COMPLETE"]
        self.assertEqual(created, ["EdgeFunctionRole", "EdgeFunction", "EdgeFunctionVersion", "StagingDistribution",
                                   "CanaryPolicy", "Distribution", "staged"])
        out = self.outputs()
        primary, staging, policy_id, v1 = (out["DistributionId"], out["StagingDistributionId"],
                                           out["ContinuousDeploymentPolicyId"], out["VersionArn"])
        self.assertEqual(self.distribution(primary), ("Deployed", [v1]))
        self.assertEqual(self.distribution(staging), ("Deployed", [v1]))
        primary_config = self.cf.get_distribution_config(Id=primary)["DistributionConfig"]
        staging_config = self.cf.get_distribution_config(Id=staging)["DistributionConfig"]
        self.assertEqual((primary_config["ContinuousDeploymentPolicyId"], primary_config["Staging"]), (policy_id, False))
        self.assertEqual((staging_config["ContinuousDeploymentPolicyId"], staging_config["Staging"]), ("", True))
        self.assertEqual(self.policy_config(policy_id), {
            "StagingDistributionDnsNames": {"Quantity": 1, "Items": [out["StagingDistributionDomainName"]]},
            "Enabled": False,
            "TrafficConfig": {"Type": "SingleHeader", "SingleHeaderConfig": {"Header": HEADER, "Value": "1"}}})

        # A candidate on the staging distribution, reached with the header.
        object_version = self.upload_release("two")
        self.lam.update_function_code(FunctionName=FUNCTION, S3Bucket=BUCKET, S3Key=KEY, S3ObjectVersion=object_version)
        v2 = self.lam.publish_version(FunctionName=FUNCTION)["FunctionArn"]
        self.update_stack(object_version, FirstLaunch="false", LambdaVersion=v1, CandidateVersion=v2, CanaryEnabled="true")
        self.assertEqual(self.distribution(primary)[1], [v1])
        self.assertEqual(self.distribution(staging)[1], [v2])
        self.assertTrue(self.policy_config(policy_id)["Enabled"])
        self.assertEqual(self.outputs()["ContinuousDeploymentPolicyId"], policy_id, "updated in place")
        url = self.edge(primary)
        self.assertEqual(self.served(url, headers={HEADER: "1"}), (staging, "two"))
        self.assertEqual(self.served(url), (primary, "one"))

        # The same candidate by weight, through a change set.
        change_set = self.cfn.create_change_set(
            StackName="staged", ChangeSetName="weight", ChangeSetType="UPDATE", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
            Parameters=self.stack_parameters(object_version, FirstLaunch="false", LambdaVersion=v1, CandidateVersion=v2,
                                             CanaryEnabled="true", CanaryMode="weight", CanaryWeight="0.1"))["Id"]
        self.until("change set", lambda: self.cfn.describe_change_set(ChangeSetName=change_set)["Status"] == "CREATE_COMPLETE")
        changes = self.cfn.describe_change_set(ChangeSetName=change_set)["Changes"]
        self.assertEqual([(c["ResourceChange"]["LogicalResourceId"], c["ResourceChange"]["Action"],
                           c["ResourceChange"]["Replacement"]) for c in changes], [("CanaryPolicy", "Modify", "False")])
        self.cfn.execute_change_set(ChangeSetName=change_set)
        self.assertEqual(self.settle("staged")[-1], "UPDATE_COMPLETE")
        self.assertEqual(self.policy_config(policy_id)["TrafficConfig"],
                         {"Type": "SingleWeight", "SingleWeightConfig": {"Weight": 0.1}})
        self.until("the weighted policy deployed", lambda: self.distribution(primary)[0] == "Deployed")
        seen = [self.served(url, f"/w{i}")[0] for i in range(10)]
        self.assertEqual(seen.count(staging), 1)

        # Promotion through the stack: the primary takes the candidate, the canary stops.
        self.update_stack(object_version, FirstLaunch="false", LambdaVersion=v2, CandidateVersion="NONE",
                          CanaryEnabled="false")
        self.assertEqual(self.distribution(primary)[1], [v2])
        self.assertEqual(self.distribution(staging)[1], [v2])
        self.until("promoted", lambda: self.served(url, "/p", {HEADER: "1"}) == (primary, "two"))
        self.assertEqual(self.history(primary), [[v1], [v2]])
        self.assertEqual(self.history(staging), [[v1], [v2]])

        stack_id = self.cfn.describe_stacks(StackName="staged")["Stacks"][0]["StackId"]
        self.cfn.delete_stack(StackName="staged")
        self.assertEqual(self.settle(stack_id)[-1], "DELETE_COMPLETE")
        deleted = [logical for logical, status, _ in self.events(stack_id) if status == "DELETE_COMPLETE"]
        self.assertEqual(deleted[:3], ["Distribution", "CanaryPolicy", "StagingDistribution"], "dependents first")
        self.assertEqual(self.cf.list_continuous_deployment_policies()["ContinuousDeploymentPolicyList"]["Quantity"], 0)
        self.assertEqual(self.history(primary), [[v1], [v2], ["(deleted)"]])

    def test_an_update_that_removes_continuous_deployment_detaches_before_it_deletes(self) -> None:
        object_version = self.upload_release("one")
        self.cfn.create_stack(StackName="staged", TemplateBody=STAGED, Capabilities=["CAPABILITY_IAM"],
                              Parameters=self.stack_parameters(object_version))
        self.assertEqual(self.settle("staged")[-1], "CREATE_COMPLETE")
        out = self.outputs()
        import yaml  # cfn-lint's dependency, in the venv

        template = yaml.load(STAGED, Loader=_cfn_loader(yaml))
        for logical_id in ("CanaryPolicy", "StagingDistribution"):
            del template["Resources"][logical_id]
        for key in ("StagingDistributionId", "StagingDistributionDomainName", "ContinuousDeploymentPolicyId"):
            del template["Outputs"][key]
        del template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["ContinuousDeploymentPolicyId"]
        del template["Parameters"]["CandidateVersion"], template["Conditions"]["NoCandidate"]
        self.cfn.update_stack(StackName="staged", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"],
                              Parameters=[p for p in self.stack_parameters(object_version)])
        self.assertEqual(self.settle("staged")[-1], "UPDATE_COMPLETE", self.events("staged"))
        events = [(logical, status) for logical, status, _ in self.events("staged")]
        update = events[events.index(("staged", "UPDATE_IN_PROGRESS")):]
        self.assertLess(update.index(("Distribution", "UPDATE_COMPLETE")), update.index(("CanaryPolicy", "DELETE_COMPLETE")),
                        "CloudFormation deletes in the cleanup phase, after the primary let go of the policy")
        self.assertEqual(self.cf.list_continuous_deployment_policies()["ContinuousDeploymentPolicyList"]["Quantity"], 0)
        self.assertEqual([d["Id"] for d in self.cf.list_distributions()["DistributionList"]["Items"]], [out["DistributionId"]])

    def test_a_policy_cloudfront_refuses_rolls_the_launch_back(self) -> None:
        object_version = self.upload_release("one")
        template = STAGED.replace("Header: aws-cf-cd-canary", "Header: x-canary")
        self.cfn.create_stack(StackName="staged", TemplateBody=template, Capabilities=["CAPABILITY_IAM"],
                              Parameters=self.stack_parameters(object_version))
        self.assertEqual(self.settle("staged")[-1], "ROLLBACK_COMPLETE")
        failed = [(logical, reason) for logical, status, reason in self.events("staged") if status == "CREATE_FAILED"]
        self.assertEqual([logical for logical, _ in failed], ["CanaryPolicy"])
        self.assertIn("aws-cf-cd-", failed[0][1])
        self.assertEqual(self.cf.list_distributions()["DistributionList"].get("Quantity"), 0)

        status, code, message = self.error_code(lambda: self.cfn.create_stack(
            StackName="weighty", TemplateBody=STAGED, Capabilities=["CAPABILITY_IAM"],
            Parameters=self.stack_parameters(object_version, CanaryMode="weight", CanaryWeight="0.5")))
        self.assertEqual((status, code, message), (400, "ValidationError",
                                                    "Parameter 'CanaryWeight' must be a number not greater than 0.15"))


def _cfn_loader(yaml: Any) -> Any:
    """A YAML loader that reads CloudFormation's short forms (!Ref, !If, ...) as their long forms."""

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: Any, suffix: str, node: Any) -> Any:
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    Loader.add_multi_constructor("!", construct)
    return Loader


class AssociationHistory(ContinuousTestCase):
    def test_every_change_of_associations_is_recorded_with_its_time_and_reset_forgets(self) -> None:
        v1 = "arn:aws:lambda:us-east-1:123456789012:function:edge-fn:1"
        v2, v3 = v1[:-1] + "2", v1[:-1] + "3"
        started = time.time()
        created = self.cf.create_distribution(DistributionConfig=distribution_config(v1))["Distribution"]
        dist_id = created["Id"]

        def associate(arn: str, comment: str = "") -> Any:
            def change(config: dict[str, Any]) -> None:
                config["Comment"] = comment
                config["DefaultCacheBehavior"]["LambdaFunctionAssociations"] = {"Quantity": 1, "Items": [
                    {"LambdaFunctionARN": arn, "EventType": "origin-request", "IncludeBody": False}]}
                config["CacheBehaviors"] = {"Quantity": 1, "Items": [{
                    **config["DefaultCacheBehavior"], "PathPattern": "/api/*",
                    "LambdaFunctionAssociations": {"Quantity": 1, "Items": [
                        {"LambdaFunctionARN": v3, "EventType": "viewer-request", "IncludeBody": False}]}}]}
            return change

        self.update(dist_id, associate(v2))
        self.update(dist_id, associate(v2, "same associations, another comment"))
        self.update(dist_id, associate(v1))
        status, answer = http("GET", f"{self.url}/_emulator/associations?DistributionId={dist_id}")
        self.assertEqual(status, 200)
        history = answer["History"]
        self.assertEqual([entry["Associations"] for entry in history], [
            [{"EventType": "origin-request", "LambdaFunctionARN": v1}],
            [{"EventType": "origin-request", "LambdaFunctionARN": v2},
             {"EventType": "viewer-request", "LambdaFunctionARN": v3, "PathPattern": "/api/*"}],
            [{"EventType": "origin-request", "LambdaFunctionARN": v1},
             {"EventType": "viewer-request", "LambdaFunctionARN": v3, "PathPattern": "/api/*"}],
        ])
        times = [entry["At"] for entry in history]
        self.assertEqual(times, sorted(times))
        self.assertTrue(started <= times[0] <= time.time())

        self.cf.delete_distribution(Id=dist_id, IfMatch=self.cf.get_distribution(Id=dist_id)["ETag"])
        self.assertEqual(self.history(dist_id)[-1], ["(deleted)"], "kept after the distribution is gone")
        self.assertEqual(http("GET", f"{self.url}/_emulator/associations?DistributionId=E000000000000")[0], 404)
        self.assertEqual(http("GET", f"{self.url}/_emulator/associations")[0], 400)
        self.assertEqual(http("POST", f"{self.url}/_emulator/associations?DistributionId={dist_id}")[0], 405)
        http("POST", f"{self.url}/moto-api/reset")
        self.assertEqual(http("GET", f"{self.url}/_emulator/associations?DistributionId={dist_id}")[0], 404)


class ErrorRate(EmulatorTestCase):
    """CloudWatch's answer for a distribution's 5xxErrorRate, as a tool would ask over the last minutes."""

    DIMENSIONS = [{"Name": "DistributionId", "Value": "E2EXAMPLE"}, {"Name": "Region", "Value": "Global"}]

    def setUp(self) -> None:
        super().setUp()
        import boto3

        self.cw = boto3.client("cloudwatch", endpoint_url=self.url, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        self.now = datetime.now(timezone.utc).replace(second=30, microsecond=0)
        points = [(1, 2.0), (2, 4.0), (3, 6.0), (20, 90.0)]  # minutes ago, percent; the last is out of the window
        self.cw.put_metric_data(Namespace="AWS/CloudFront", MetricData=[
            {"MetricName": "5xxErrorRate", "Dimensions": self.DIMENSIONS, "Timestamp": self.now - timedelta(minutes=m),
             "Value": v, "Unit": "Percent"} for m, v in points])
        # Same name and dimensions elsewhere, and the distribution's other metric set: neither counts.
        self.cw.put_metric_data(Namespace="Custom/Edge", MetricData=[
            {"MetricName": "5xxErrorRate", "Dimensions": self.DIMENSIONS, "Timestamp": self.now - timedelta(minutes=1), "Value": 100.0}])
        self.cw.put_metric_data(Namespace="AWS/CloudFront", MetricData=[
            {"MetricName": "5xxErrorRate", "Dimensions": self.DIMENSIONS[:1], "Timestamp": self.now - timedelta(minutes=1),
             "Value": 50.0, "Unit": "Percent"}])

    def test_get_metric_statistics_averages_the_last_minutes(self) -> None:
        start, end = self.now - timedelta(minutes=10), self.now
        answer = self.cw.get_metric_statistics(
            Namespace="AWS/CloudFront", MetricName="5xxErrorRate", Dimensions=list(reversed(self.DIMENSIONS)),
            StartTime=start, EndTime=end, Period=600, Statistics=["Average", "Maximum", "SampleCount"])
        self.assertEqual([(p["Average"], p["Maximum"], p["SampleCount"], p["Unit"]) for p in answer["Datapoints"]],
                         [(4.0, 6.0, 3.0, "Percent")])
        self.assertEqual(answer["Datapoints"][0]["Timestamp"], start.replace(second=0))
        per_minute = self.cw.get_metric_statistics(
            Namespace="AWS/CloudFront", MetricName="5xxErrorRate", Dimensions=self.DIMENSIONS,
            StartTime=start, EndTime=end, Period=60, Statistics=["Average"])["Datapoints"]
        self.assertEqual(sorted((p["Timestamp"], p["Average"]) for p in per_minute), [
            (self.now.replace(second=0) - timedelta(minutes=m), v) for m, v in ((3, 6.0), (2, 4.0), (1, 2.0))])
        only_the_id = self.cw.get_metric_statistics(
            Namespace="AWS/CloudFront", MetricName="5xxErrorRate", Dimensions=self.DIMENSIONS[:1],
            StartTime=start, EndTime=end, Period=600, Statistics=["Average"])["Datapoints"]
        self.assertEqual([p["Average"] for p in only_the_id], [50.0], "the dimension set must match exactly")
        status, code, _ = self.error_code(lambda: self.cw.get_metric_statistics(
            Namespace="AWS/CloudFront", MetricName="5xxErrorRate", Dimensions=self.DIMENSIONS,
            StartTime=start, EndTime=end, Period=90, Statistics=["Average"]))
        self.assertEqual((status, code), (400, "InvalidParameterValue"))

    def test_get_metric_data_averages_the_last_minutes(self) -> None:
        start, end = self.now - timedelta(minutes=10), self.now
        answer = self.cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
            {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "AWS/CloudFront", "MetricName": "5xxErrorRate",
                                                       "Dimensions": list(reversed(self.DIMENSIONS))},
                                            "Period": 600, "Stat": "Average"}},
            {"Id": "perminute", "MetricStat": {"Metric": {"Namespace": "AWS/CloudFront", "MetricName": "5xxErrorRate",
                                                          "Dimensions": self.DIMENSIONS},
                                               "Period": 60, "Stat": "Maximum"}},
        ])["MetricDataResults"]
        self.assertEqual([(r["Id"], r["Values"]) for r in answer], [("errors", [4.0]), ("perminute", [2.0, 4.0, 6.0])],
                         "newest first, as CloudWatch's default ScanBy (TimestampDescending)")
        self.assertEqual(answer[0]["Timestamps"], [start.replace(second=0)])
        metrics = self.cw.list_metrics(Namespace="AWS/CloudFront", MetricName="5xxErrorRate")["Metrics"]
        self.assertEqual(len(metrics), 2, "each metric once: with Region=Global and without")


class Fixture(unittest.TestCase):
    def test_the_staged_template_passes_cfn_lint(self) -> None:
        import subprocess
        import sys
        from pathlib import Path

        cfn_lint = Path(sys.executable).parent / "cfn-lint"
        if not cfn_lint.exists():
            self.skipTest(f"cfn-lint is not installed beside {sys.executable} (scripts/setup-emulator installs it)")
        linted = subprocess.run([str(cfn_lint), str(HERE / "fixtures" / "staged.yaml")], capture_output=True, text=True,
                                timeout=120)
        self.assertEqual(linted.returncode, 0, linted.stdout + linted.stderr)


if __name__ == "__main__":
    unittest.main()
