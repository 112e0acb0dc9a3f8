"""Lambda in the emulator: a publish moves the revision on, version numbers are never handed out
twice, a replicated Lambda@Edge version cannot be deleted for a while, aliases list by name or ARN,
a version an alias references cannot be deleted, and the settings Lambda@Edge forbids can be set and
read back with Lambda's shapes."""

from __future__ import annotations

import json
import time
import unittest

from emutest import ACCOUNT, FUNCTION, EmulatorTestCase, http, zipped
from test_cloudfront import distribution_config

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}}]})


class LambdaTestCase(EmulatorTestCase):
    def make_function(self, **more: object) -> dict:
        role = self.iam.create_role(RoleName="edge-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        return self.lam.create_function(FunctionName=FUNCTION, Runtime="nodejs20.x", Handler="index.handler",
                                        Role=role, Code={"ZipFile": zipped("one")}, **more)


class Revisions(LambdaTestCase):
    def test_publishing_a_version_moves_the_revision_on(self) -> None:
        self.make_function()
        before = self.lam.get_function_configuration(FunctionName=FUNCTION)["RevisionId"]
        published = self.lam.publish_version(FunctionName=FUNCTION, RevisionId=before)
        self.assertEqual(published["Version"], "1")
        after = self.lam.get_function_configuration(FunctionName=FUNCTION)["RevisionId"]
        self.assertNotEqual(after, before)

        # A retry whose first answer was lost, with the revision read before it: refused.
        status, code, _ = self.error_code(lambda: self.lam.publish_version(FunctionName=FUNCTION, RevisionId=before))
        self.assertEqual((status, code), (412, "PreconditionFailedException"))
        # Nothing changed since: the existing version comes back, and the revision stays.
        again = self.lam.publish_version(FunctionName=FUNCTION, RevisionId=after)
        self.assertEqual(again["Version"], "1")
        self.assertEqual(self.lam.get_function_configuration(FunctionName=FUNCTION)["RevisionId"], after)


class VersionNumbers(LambdaTestCase):
    def publish_code(self, marker: str) -> str:
        self.lam.update_function_code(FunctionName=FUNCTION, ZipFile=zipped(marker))
        return self.lam.publish_version(FunctionName=FUNCTION)["Version"]

    def versions(self) -> list[str]:
        return [v["Version"] for v in self.lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]]

    def test_a_new_version_is_one_more_than_the_highest_ever_published(self) -> None:
        self.make_function()
        self.assertEqual([self.publish_code(m) for m in ("one", "two", "three", "four")], ["1", "2", "3", "4"])
        self.lam.delete_function(FunctionName=FUNCTION, Qualifier="4")  # the highest, by Qualifier
        self.lam.delete_function(FunctionName=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}:2")  # by ARN
        self.assertEqual(self.versions(), ["$LATEST", "1", "3"], "each delete took just its version")
        # moto numbered it len(versions) + 1: 3, a second version 3.
        self.assertEqual(self.publish_code("five"), "5")
        self.lam.delete_function(FunctionName=FUNCTION, Qualifier="5")
        self.assertEqual(self.publish_code("six"), "6", "4 and 5 are never handed out again")
        self.assertEqual(self.versions(), ["$LATEST", "1", "3", "6"])

        # A function deleted and created again is a new function: it starts at 1.
        self.lam.delete_function(FunctionName=FUNCTION)
        self.iam.delete_role(RoleName="edge-role")
        self.make_function()
        self.assertEqual(self.publish_code("again"), "1")


class Aliases(LambdaTestCase):
    def test_list_aliases_by_name_or_arn_and_by_version(self) -> None:
        arn = self.make_function()["FunctionArn"]
        one = self.lam.publish_version(FunctionName=FUNCTION)["Version"]
        self.lam.update_function_code(FunctionName=FUNCTION, ZipFile=zipped("two"))
        two = self.lam.publish_version(FunctionName=FUNCTION)["Version"]
        self.lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion=one)
        self.lam.create_alias(FunctionName=FUNCTION, Name="next", FunctionVersion=two)

        def names(**by: str) -> list[str]:
            return [a["Name"] for a in self.lam.list_aliases(**by)["Aliases"]]

        self.assertEqual(names(FunctionName=FUNCTION), ["live", "next"])
        self.assertEqual(names(FunctionName=arn), ["live", "next"], "moto: Function not found for an ARN")
        self.assertEqual(names(FunctionName=FUNCTION, FunctionVersion=two), ["next"], "moto listed both")
        self.assertEqual(names(FunctionName=arn, FunctionVersion="7"), [])


ALIASED = "Unable to delete version because the following aliases reference it: [{}]"


class AliasedVersions(LambdaTestCase):
    """DeleteFunction of a version an alias references: refused with 409, as Lambda does. moto
    deleted it and left the alias pointing at nothing."""

    def three_versions(self) -> str:
        arn = self.make_function()["FunctionArn"]
        for marker in ("one", "two", "three"):
            self.lam.update_function_code(FunctionName=FUNCTION, ZipFile=zipped(marker))
            self.lam.publish_version(FunctionName=FUNCTION)
        return arn

    def refused(self, **request: str) -> str:
        """DeleteFunction, expecting the aliased-version refusal; its message."""
        status, code, message = self.error_code(lambda: self.lam.delete_function(**request))
        self.assertEqual((status, code), (409, "ResourceConflictException"), message)
        return message

    def versions(self) -> list[str]:
        return [v["Version"] for v in self.lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]]

    def test_a_version_an_alias_references_cannot_be_deleted(self) -> None:
        arn = self.three_versions()
        self.lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
        self.assertEqual(self.refused(FunctionName=FUNCTION, Qualifier="1"), ALIASED.format("live"))
        self.assertEqual(self.refused(FunctionName=f"{arn}:1"), ALIASED.format("live"), "a version ARN too")
        self.assertEqual(self.refused(FunctionName=f"{FUNCTION}:1"), ALIASED.format("live"), "name:N too")
        self.assertEqual(self.refused(FunctionName=FUNCTION, Qualifier="live"), ALIASED.format("live"),
                         "moto's alias as Qualifier, for the version it points at")
        self.lam.create_alias(FunctionName=FUNCTION, Name="canary", FunctionVersion="1")
        self.assertEqual(self.refused(FunctionName=FUNCTION, Qualifier="1"), ALIASED.format("canary, live"))
        self.assertEqual(self.versions(), ["$LATEST", "1", "2", "3"], "nothing deleted")
        self.assertEqual(self.lam.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"], "1")
        self.lam.delete_function(FunctionName=FUNCTION, Qualifier="2")  # no alias: deleted at once
        self.assertEqual(self.versions(), ["$LATEST", "1", "3"])

    def test_a_weighted_alias_references_its_additional_version_too(self) -> None:
        arn = self.three_versions()
        self.lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="2",
                              RoutingConfig={"AdditionalVersionWeights": {"3": 0.1}})
        self.assertEqual(self.refused(FunctionName=FUNCTION, Qualifier="3"), ALIASED.format("live"))
        self.assertEqual(self.refused(FunctionName=f"{arn}:3"), ALIASED.format("live"))
        self.assertEqual(self.refused(FunctionName=FUNCTION, Qualifier="2"), ALIASED.format("live"))
        # The weights gone, version 3 is free; version 2 is still the alias's own.
        self.lam.update_alias(FunctionName=FUNCTION, Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
        self.lam.delete_function(FunctionName=FUNCTION, Qualifier="3")
        self.refused(FunctionName=FUNCTION, Qualifier="2")
        self.assertEqual(self.versions(), ["$LATEST", "1", "2"])

    def test_deletable_once_the_alias_is_deleted_or_moved(self) -> None:
        arn = self.three_versions()
        self.lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
        self.lam.create_alias(FunctionName=FUNCTION, Name="next", FunctionVersion="2")
        self.lam.update_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="3")
        self.lam.delete_function(FunctionName=FUNCTION, Qualifier="1")
        self.assertEqual(self.refused(FunctionName=f"{arn}:3"), ALIASED.format("live"), "the version it moved to")
        self.lam.delete_alias(FunctionName=FUNCTION, Name="next")
        self.lam.delete_function(FunctionName=f"{arn}:2")
        self.assertEqual(self.versions(), ["$LATEST", "3"])

    def test_the_whole_function_is_deleted_with_its_aliases(self) -> None:
        self.three_versions()
        self.lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1",
                              RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
        self.lam.delete_function(FunctionName=FUNCTION)
        self.assertEqual(self.lam.list_functions()["Functions"], [])
        # A function created again under the name has none of them.
        self.iam.delete_role(RoleName="edge-role")
        self.make_function()
        self.assertEqual(self.lam.list_aliases(FunctionName=FUNCTION)["Aliases"], [])


REPLICATED = ("Lambda was unable to delete {} because it is a replicated function. "
              "Please see our documentation for Deleting Lambda@Edge Functions and Replicas.")


class Replicas(LambdaTestCase):
    """DeleteFunction of a Lambda@Edge version that CloudFront has replicated: refused while a
    distribution associates it and for `replica_delay` after its last association went."""

    def two_versions(self) -> None:
        self.configure(time_scale=0.01)  # replica_delay: 10800 AWS seconds, 108 s here
        self.make_function()
        self.v1 = self.lam.publish_version(FunctionName=FUNCTION)["FunctionArn"]
        self.lam.update_function_code(FunctionName=FUNCTION, ZipFile=zipped("two"))
        self.v2 = self.lam.publish_version(FunctionName=FUNCTION)["FunctionArn"]

    def distribute(self, arn: str) -> tuple[str, str]:
        created = self.cf.create_distribution(DistributionConfig=distribution_config("ref-1", arn=arn))
        return created["Distribution"]["Id"], created["ETag"]

    def refused(self, **request: str) -> str:
        """DeleteFunction, expecting the replicated-function refusal; its message."""
        status, code, message = self.error_code(lambda: self.lam.delete_function(**request))
        self.assertEqual((status, code), (400, "InvalidParameterValueException"), message)
        return message

    def deletable(self, version: str) -> bool:
        try:
            self.lam.delete_function(FunctionName=FUNCTION, Qualifier=version)
        except self.lam.exceptions.InvalidParameterValueException:
            return False
        return True

    def test_a_version_a_distribution_associates_cannot_be_deleted(self) -> None:
        self.two_versions()
        self.distribute(self.v1)
        self.assertEqual(self.refused(FunctionName=FUNCTION, Qualifier="1"), REPLICATED.format(self.v1))
        self.assertEqual(self.refused(FunctionName=self.v1), REPLICATED.format(self.v1), "a version ARN too")
        self.assertEqual(self.refused(FunctionName=f"{FUNCTION}:1"), REPLICATED.format(self.v1), "name:N too")
        # moto's DeleteFunction takes an alias as Qualifier for the version it points at.
        self.lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
        self.assertEqual(self.refused(FunctionName=FUNCTION, Qualifier="live"), REPLICATED.format(self.v1))
        versions = self.lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]
        self.assertIn(self.v1, [v["FunctionArn"] for v in versions], "nothing deleted")
        self.lam.delete_function(FunctionName=FUNCTION, Qualifier="2")  # never associated: deleted at once

    def test_refused_after_the_association_went_until_replica_delay_has_passed(self) -> None:
        self.two_versions()
        dist_id, etag = self.distribute(self.v1)
        self.cf.update_distribution(Id=dist_id, IfMatch=etag,
                                    DistributionConfig=distribution_config("ref-1", arn=self.v2))
        self.assertEqual(self.refused(FunctionName=FUNCTION, Qualifier="1"), REPLICATED.format(self.v1),
                         "replicas outlive the association")
        self.refused(FunctionName=FUNCTION, Qualifier="2")  # associated now

        # replica_delay is read at each DeleteFunction: 40 AWS seconds at 0.01 from the update on.
        self.configure(durations={"replica_delay": 40})
        self.until("version 1 to be deletable", lambda: self.deletable("1"))
        self.assertEqual([v["Version"] for v in self.lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]],
                         ["$LATEST", "2"])

        # A deleted distribution releases its versions the same way.
        etag = self.cf.get_distribution(Id=dist_id)["ETag"]
        self.cf.delete_distribution(Id=dist_id, IfMatch=etag)
        deleted = time.monotonic()
        self.refused(FunctionName=FUNCTION, Qualifier="2")
        self.until("version 2 to be deletable", lambda: self.deletable("2"))
        self.assertGreater(time.monotonic() - deleted, 0.3, "40 AWS seconds at 0.01")

    def test_a_stack_update_that_moves_the_association_releases_the_version_it_left(self) -> None:
        self.configure(time_scale=0)
        self.create_site()  # the function, version 1 and a distribution associating it, by CloudFormation
        v1 = self.distribution(self.distribution_id())[1][0]
        object_version, v2 = self.publish("two")
        self.configure(time_scale=0.01, durations={"distribution_deploy": 0})
        self.cfn.update_stack(**self.release_request(object_version, v2))
        self.assertEqual(self.distribution(self.distribution_id())[1], [v2])
        self.assertEqual(self.refused(FunctionName=v1), REPLICATED.format(v1))
        self.configure(durations={"replica_delay": 0})
        self.lam.delete_function(FunctionName=v1)
        self.refused(FunctionName=v2)

    def test_the_whole_function_is_refused_while_a_version_is_replicated(self) -> None:
        self.two_versions()
        dist_id, etag = self.distribute(self.v2)
        self.assertEqual(self.refused(FunctionName=FUNCTION), REPLICATED.format(self.v2), "names the replicated version")
        self.assertEqual(self.lam.get_function(FunctionName=FUNCTION)["Configuration"]["FunctionName"], FUNCTION)
        self.cf.update_distribution(Id=dist_id, IfMatch=etag,
                                    DistributionConfig=distribution_config("ref-1", arn=self.v1))
        self.assertEqual(self.refused(FunctionName=FUNCTION), REPLICATED.format(self.v1), "the first still replicated")
        self.configure(durations={"replica_delay": 0})
        self.assertEqual(self.refused(FunctionName=FUNCTION), REPLICATED.format(self.v1), "version 1 is associated now")
        self.cf.delete_distribution(Id=dist_id, IfMatch=self.cf.get_distribution(Id=dist_id)["ETag"])
        self.lam.delete_function(FunctionName=FUNCTION)
        self.assertEqual(self.lam.list_functions()["Functions"], [])

    def test_reset_forgets_when_associations_went(self) -> None:
        self.two_versions()
        dist_id, etag = self.distribute(self.v1)
        self.cf.delete_distribution(Id=dist_id, IfMatch=etag)
        self.refused(FunctionName=self.v1)
        self.assertEqual(http("POST", f"{self.url}/moto-api/reset")[0], 200)
        self.configure(time_scale=0.01)
        self.make_function()
        self.assertEqual(self.lam.publish_version(FunctionName=FUNCTION)["FunctionArn"], self.v1, "the same ARN again")
        self.lam.delete_function(FunctionName=self.v1)  # 108 s of replicas, had the reset kept them


class EdgeForbiddenSettings(LambdaTestCase):
    def test_tracing_ephemeral_storage_and_kms_key_round_trip(self) -> None:
        key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        created = self.make_function(TracingConfig={"Mode": "Active"}, EphemeralStorage={"Size": 1024}, KMSKeyArn=key)
        self.assertEqual((created["TracingConfig"], created["EphemeralStorage"], created["KMSKeyArn"]),
                         ({"Mode": "Active"}, {"Size": 1024}, key))
        updated = self.lam.update_function_configuration(
            FunctionName=FUNCTION, TracingConfig={"Mode": "PassThrough"}, EphemeralStorage={"Size": 512}, KMSKeyArn="")
        self.assertEqual((updated["TracingConfig"], updated["EphemeralStorage"]), ({"Mode": "PassThrough"}, {"Size": 512}))
        self.assertIsNone(updated.get("KMSKeyArn"))
        self.lam.update_function_configuration(FunctionName=FUNCTION, TracingConfig={"Mode": "Active"},
                                               EphemeralStorage={"Size": 2048}, KMSKeyArn=key)
        read = self.lam.get_function_configuration(FunctionName=FUNCTION)
        self.assertEqual((read["TracingConfig"], read["EphemeralStorage"], read["KMSKeyArn"]),
                         ({"Mode": "Active"}, {"Size": 2048}, key))
        self.assertNotEqual(read["RevisionId"], created["RevisionId"])
        # A version freezes them.
        version = self.lam.publish_version(FunctionName=FUNCTION)["FunctionArn"]
        self.assertEqual(self.lam.get_function_configuration(FunctionName=version)["TracingConfig"], {"Mode": "Active"})

    def test_runtime_management_config(self) -> None:
        self.make_function()
        got = self.lam.get_runtime_management_config(FunctionName=FUNCTION)
        self.assertEqual(got["UpdateRuntimeOn"], "Auto")
        self.assertTrue(got["FunctionArn"].endswith(f":function:{FUNCTION}"))
        put = self.lam.put_runtime_management_config(FunctionName=FUNCTION, UpdateRuntimeOn="FunctionUpdate")
        self.assertEqual(put["UpdateRuntimeOn"], "FunctionUpdate")
        self.assertEqual(self.lam.get_runtime_management_config(FunctionName=FUNCTION)["UpdateRuntimeOn"], "FunctionUpdate")
        runtime = "arn:aws:lambda:us-east-1::runtime:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        self.lam.put_runtime_management_config(FunctionName=FUNCTION, UpdateRuntimeOn="Manual", RuntimeVersionArn=runtime)
        got = self.lam.get_runtime_management_config(FunctionName=FUNCTION)
        self.assertEqual((got["UpdateRuntimeOn"], got["RuntimeVersionArn"]), ("Manual", runtime))
        _, code, _ = self.error_code(lambda: self.lam.put_runtime_management_config(FunctionName=FUNCTION, UpdateRuntimeOn="Manual"))
        self.assertEqual(code, "InvalidParameterValueException")

    def test_provisioned_concurrency_on_a_version_or_alias_only(self) -> None:
        self.make_function()
        version = self.lam.publish_version(FunctionName=FUNCTION)["Version"]
        self.lam.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion=version)
        _, code, _ = self.error_code(lambda: self.lam.put_provisioned_concurrency_config(
            FunctionName=FUNCTION, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1))
        self.assertEqual(code, "InvalidParameterValueException")
        put = self.lam.put_provisioned_concurrency_config(FunctionName=FUNCTION, Qualifier=version,
                                                          ProvisionedConcurrentExecutions=2)
        self.assertEqual(put["ResponseMetadata"]["HTTPStatusCode"], 202)
        self.assertEqual((put["RequestedProvisionedConcurrentExecutions"], put["Status"]), (2, "IN_PROGRESS"))
        self.lam.put_provisioned_concurrency_config(FunctionName=FUNCTION, Qualifier="live", ProvisionedConcurrentExecutions=1)
        got = self.lam.get_provisioned_concurrency_config(FunctionName=FUNCTION, Qualifier=version)
        self.assertEqual((got["Status"], got["AllocatedProvisionedConcurrentExecutions"]), ("READY", 2))
        listed = self.lam.list_provisioned_concurrency_configs(FunctionName=FUNCTION)["ProvisionedConcurrencyConfigs"]
        self.assertEqual(sorted(c["FunctionArn"].rsplit(":", 1)[1] for c in listed), sorted([version, "live"]))
        self.lam.delete_provisioned_concurrency_config(FunctionName=FUNCTION, Qualifier="live")
        self.assertEqual(len(self.lam.list_provisioned_concurrency_configs(FunctionName=FUNCTION)["ProvisionedConcurrencyConfigs"]), 1)
        status, code, _ = self.error_code(lambda: self.lam.get_provisioned_concurrency_config(FunctionName=FUNCTION, Qualifier="live"))
        self.assertEqual((status, code), (404, "ProvisionedConcurrencyConfigNotFoundException"))


if __name__ == "__main__":
    unittest.main()
