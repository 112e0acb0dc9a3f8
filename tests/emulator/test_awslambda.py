"""Lambda in the emulator: a publish moves the revision on, and the settings Lambda@Edge forbids can
be set and read back with Lambda's shapes."""

from __future__ import annotations

import json
import unittest

from emutest import FUNCTION, EmulatorTestCase, zipped

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
