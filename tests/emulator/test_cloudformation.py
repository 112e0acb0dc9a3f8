"""CloudFormation in the emulator: operations take time and happen in AWS's order, what AWS refuses
meanwhile is refused, failed updates and cancellations really revert the resources,
ClientRequestToken makes a retry safe, and change sets list, execute and go as AWS's do."""

from __future__ import annotations

import json
import time
import unittest
from typing import Any

from emutest import BUCKET, FUNCTION, KEY, REPO, TEMPLATE, EmulatorTestCase, params

MULTI = (REPO / "examples" / "multi" / "template.yaml").read_text()


class Operations(EmulatorTestCase):
    def test_create_is_in_progress_until_the_distribution_is_deployed(self) -> None:
        self.create_site(wait=False)
        self.assertEqual(self.status(), "CREATE_IN_PROGRESS")
        early = self.events()
        self.assertEqual(early[0], ("site", "CREATE_IN_PROGRESS", "User Initiated"))
        self.assertNotIn("CREATE_COMPLETE", [status for logical, status, _ in early if logical == "site"])
        dist = self.distribution_id()
        self.assertEqual(self.distribution(dist)[0], "InProgress")

        self.assertEqual(self.settle(), ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
        self.assertEqual(self.distribution(dist)[0], "Deployed", "deployed by the time the stack is complete")
        self.assertEqual([(logical, status) for logical, status, _ in self.events()], [
            ("site", "CREATE_IN_PROGRESS"),
            ("EdgeFunctionRole", "CREATE_IN_PROGRESS"), ("EdgeFunctionRole", "CREATE_IN_PROGRESS"),
            ("EdgeFunctionRole", "CREATE_COMPLETE"),
            ("EdgeFunction", "CREATE_IN_PROGRESS"), ("EdgeFunction", "CREATE_IN_PROGRESS"), ("EdgeFunction", "CREATE_COMPLETE"),
            ("EdgeFunctionVersion", "CREATE_IN_PROGRESS"), ("EdgeFunctionVersion", "CREATE_IN_PROGRESS"),
            ("EdgeFunctionVersion", "CREATE_COMPLETE"),
            ("Distribution", "CREATE_IN_PROGRESS"), ("Distribution", "CREATE_IN_PROGRESS"), ("Distribution", "CREATE_COMPLETE"),
            ("site", "CREATE_COMPLETE"),
        ])
        resources = self.cfn.list_stack_resources(StackName="site")["StackResourceSummaries"]
        self.assertEqual({r["LogicalResourceId"]: r["ResourceStatus"] for r in resources}, {
            "EdgeFunctionRole": "CREATE_COMPLETE", "EdgeFunction": "CREATE_COMPLETE",
            "EdgeFunctionVersion": "CREATE_COMPLETE", "Distribution": "CREATE_COMPLETE"})

    def test_an_update_keeps_the_role_and_topics_it_does_not_name(self) -> None:
        """UpdateStack: RoleARN and NotificationARNs left out keep the stack's; given, they replace them."""
        self.configure(time_scale=0)
        first, second = "arn:aws:iam::123456789012:role/cfn-one", "arn:aws:iam::123456789012:role/cfn-two"
        sns = self.boto("sns")
        topic = sns.create_topic(Name="stack-events")["TopicArn"]
        other = sns.create_topic(Name="stack-events-2")["TopicArn"]
        version = self.upload("one")
        self.cfn.create_stack(StackName="site", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                              Parameters=self.site_parameters(version, FUNCTION), RoleARN=first,
                              NotificationARNs=[topic])
        self.settle()

        def stack() -> dict[str, Any]:
            return self.cfn.describe_stacks(StackName="site")["Stacks"][0]

        self.assertEqual((stack().get("RoleARN"), stack().get("NotificationARNs")), (first, [topic]))
        object_version, arn = self.publish("two")
        self.cfn.update_stack(**self.release_request(object_version, arn))
        self.settle()
        self.assertEqual((stack().get("RoleARN"), stack().get("NotificationARNs")), (first, [topic]), "kept")
        object_version, arn = self.publish("three")
        self.cfn.update_stack(**self.release_request(object_version, arn), RoleARN=second,
                              NotificationARNs=[other])
        self.settle()
        self.assertEqual((stack().get("RoleARN"), stack().get("NotificationARNs")), (second, [other]))

    def test_time_scale_and_durations_set_how_long_an_operation_takes(self) -> None:
        self.configure(time_scale=0.01, durations={"stack_create": 20, "distribution_deploy": 40})
        started = time.monotonic()
        self.create_site()
        took = time.monotonic() - started
        self.assertGreater(took, 0.5, "(20 + 40) AWS seconds at 0.01")
        self.assertLess(took, 3.0)

        self.configure(time_scale=0)
        self.create_site("instant", wait=False)
        self.assertEqual(self.status("instant"), "CREATE_COMPLETE", "time_scale 0: no time at all")

    def test_update_is_refused_while_in_progress_and_the_stack_waits_for_the_distribution(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        change_set = self.cfn.create_change_set(
            StackName="site", ChangeSetName="before", ChangeSetType="UPDATE", UsePreviousTemplate=True,
            Capabilities=["CAPABILITY_IAM"], Parameters=self.site_parameters(self.upload("cs")))["Id"]
        object_version, v2 = self.publish("two")
        self.configure(time_scale=0.01, durations={"distribution_deploy": 100})
        self.cfn.update_stack(**self.release_request(object_version, v2))
        self.assertEqual(self.status(), "UPDATE_IN_PROGRESS")
        dist = self.distribution_id()
        self.assertEqual(self.distribution(dist), ("InProgress", [v2]))

        status, code, message = self.error_code(lambda: self.cfn.update_stack(**self.release_request(object_version, v2)))
        self.assertEqual((status, code), (400, "ValidationError"))
        self.assertRegex(message, r"^Stack:arn:aws:cloudformation:us-east-1:\d+:stack/site/\S+ is in UPDATE_IN_PROGRESS "
                                  r"state and can not be updated\.$")
        _, code, message = self.error_code(lambda: self.cfn.delete_stack(StackName="site"))
        self.assertEqual((code, message), ("ValidationError", "Stack [site] cannot be deleted while in status UPDATE_IN_PROGRESS"))
        _, code, message = self.error_code(lambda: self.cfn.create_change_set(
            StackName="site", ChangeSetName="during", ChangeSetType="UPDATE", UsePreviousTemplate=True,
            Capabilities=["CAPABILITY_IAM"], Parameters=self.site_parameters(object_version)))
        self.assertEqual(code, "ValidationError")
        self.assertIn("is in UPDATE_IN_PROGRESS state and can not be updated", message)
        _, code, message = self.error_code(lambda: self.cfn.execute_change_set(ChangeSetName=change_set))
        self.assertEqual(code, "ValidationError")
        self.assertIn("is in UPDATE_IN_PROGRESS state", message)

        seen = self.settle()
        self.assertEqual(seen[0], "UPDATE_IN_PROGRESS")
        self.assertEqual(seen[-2:], ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"])
        self.assertEqual(self.distribution(dist), ("Deployed", [v2]))
        # The change set made before the update is obsolete now.
        _, code, _ = self.error_code(lambda: self.cfn.execute_change_set(ChangeSetName=change_set))
        self.assertEqual(code, "InvalidChangeSetStatus")
        described = self.cfn.describe_change_set(ChangeSetName=change_set)
        self.assertEqual(described["ExecutionStatus"], "OBSOLETE")

    def test_a_failed_update_reverts_its_resources_with_events_in_aws_order(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        dist = self.distribution_id()
        _, [v1] = self.distribution(dist)
        _, v2 = self.publish("two")
        self.configure(time_scale=0.002)
        request = self.release_request("does-not-exist", v2)
        self.cfn.update_stack(ClientRequestToken="failing-update", **request)
        # The update had changed the association before the function failed; it is back at once
        # (moto works synchronously), and CloudFront deploys it again.
        self.assertEqual(self.distribution(dist), ("InProgress", [v1]))
        seen = self.settle()
        self.assertEqual(seen[0], "UPDATE_IN_PROGRESS")
        self.assertEqual(seen[-1], "UPDATE_ROLLBACK_COMPLETE")
        self.assertIn("UPDATE_ROLLBACK_IN_PROGRESS", seen)
        self.assertEqual(self.distribution(dist), ("Deployed", [v1]))
        stack = self.cfn.describe_stacks(StackName="site")["Stacks"][0]
        values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        self.assertEqual((values["FirstLaunch"], values["LambdaVersion"]), ("true", "NONE"))
        self.assertEqual({o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["VersionArn"], v1)

        events = self.events(token="failing-update")
        self.assertEqual([(logical, status) for logical, status, _ in events], [
            ("site", "UPDATE_IN_PROGRESS"),
            ("Distribution", "UPDATE_IN_PROGRESS"), ("Distribution", "UPDATE_COMPLETE"),
            ("EdgeFunction", "UPDATE_IN_PROGRESS"), ("EdgeFunction", "UPDATE_FAILED"),
            ("site", "UPDATE_ROLLBACK_IN_PROGRESS"),
            ("Distribution", "UPDATE_IN_PROGRESS"), ("Distribution", "UPDATE_COMPLETE"),
            ("site", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"),
            ("site", "UPDATE_ROLLBACK_COMPLETE"),
        ])
        self.assertIn("NoSuchVersion", events[4][2])
        self.assertEqual(events[5][2], "The following resource(s) failed to update: [EdgeFunction]. ")
        # Every event of the operation carries its token: the whole history is the operation's.
        self.assertEqual(len(events) + 14, len(self.events()))

    def test_a_failed_create_rolls_back_and_can_only_be_deleted(self) -> None:
        self.configure(time_scale=0.01)
        self.upload("one")
        self.cfn.create_stack(StackName="site", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                              Parameters=self.site_parameters("does-not-exist"))
        seen = self.settle()
        self.assertEqual(seen, ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"])
        self.assertEqual([(logical, status) for logical, status, _ in self.events()], [
            ("site", "CREATE_IN_PROGRESS"),
            ("EdgeFunctionRole", "CREATE_IN_PROGRESS"), ("EdgeFunctionRole", "CREATE_IN_PROGRESS"),
            ("EdgeFunctionRole", "CREATE_COMPLETE"),
            ("EdgeFunction", "CREATE_IN_PROGRESS"), ("EdgeFunction", "CREATE_FAILED"),
            ("site", "ROLLBACK_IN_PROGRESS"),
            ("EdgeFunctionRole", "DELETE_IN_PROGRESS"), ("EdgeFunctionRole", "DELETE_COMPLETE"),
            ("EdgeFunction", "DELETE_COMPLETE"),
            ("site", "ROLLBACK_COMPLETE"),
        ])
        self.assertEqual(self.iam.list_roles()["Roles"], [], "the role it had made is deleted")
        stack = self.cfn.describe_stacks(StackName="site")["Stacks"][0]
        self.assertEqual(stack["StackStatusReason"] if "StackStatusReason" in stack else "", "")
        _, code, message = self.error_code(lambda: self.cfn.update_stack(
            StackName="site", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
            Parameters=self.site_parameters("x")))
        self.assertIn("is in ROLLBACK_COMPLETE state and can not be updated", message)
        self.cfn.delete_stack(StackName="site")
        self.settle_gone("site")

    def settle_gone(self, name: str) -> None:
        def gone() -> bool:
            try:
                self.status(name)
            except self.cfn.exceptions.ClientError as error:
                return "does not exist" in str(error)
            return False

        self.until(f"stack {name} to be gone", gone)

    def test_a_stack_being_deleted_is_visible_by_name_until_the_end(self) -> None:
        self.configure(time_scale=0)
        stack_id = self.create_site()
        self.configure(time_scale=0.01, durations={"stack_delete": 100})
        self.cfn.delete_stack(StackName="site")
        self.assertEqual(self.status("site"), "DELETE_IN_PROGRESS")
        _, code, _ = self.error_code(lambda: self.cfn.create_stack(
            StackName="site", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"]))
        self.assertEqual(code, "AlreadyExistsException")
        self.cfn.delete_stack(StackName="site")  # deleting again meanwhile is fine
        self.settle_gone("site")
        self.assertEqual(self.status(stack_id), "DELETE_COMPLETE")
        summaries = self.cfn.list_stacks()["StackSummaries"]
        self.assertEqual([s["StackStatus"] for s in summaries], ["DELETE_COMPLETE"])
        deleted = [(logical, status) for logical, status, _ in self.events(stack_id)][14:]
        self.assertEqual(deleted, [("site", "DELETE_IN_PROGRESS")] + [
            (logical, status) for logical in ("Distribution", "EdgeFunctionVersion", "EdgeFunction", "EdgeFunctionRole")
            for status in ("DELETE_IN_PROGRESS", "DELETE_COMPLETE")] + [("site", "DELETE_COMPLETE")],
            "dependents first")
        self.assertEqual(self.lam.list_functions()["Functions"], [])


class Cancel(EmulatorTestCase):
    def test_cancel_is_refused_unless_an_update_is_in_progress(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        _, code, message = self.error_code(lambda: self.cfn.cancel_update_stack(StackName="site"))
        self.assertEqual((code, message), ("ValidationError", "CancelUpdateStack cannot be called from current stack status"))

    def test_a_cancelled_update_rolls_back_and_the_distribution_gets_its_version_back(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        dist = self.distribution_id()
        _, [v1] = self.distribution(dist)
        object_version, v2 = self.publish("two")
        self.configure(time_scale=0.01, durations={"distribution_deploy": 100})
        self.cfn.update_stack(ClientRequestToken="update-1", **self.release_request(object_version, v2))
        self.until("the update to reach the distribution",
                   lambda: ("Distribution", "UPDATE_IN_PROGRESS", "") in self.events(token="update-1"))
        self.assertEqual(self.distribution(dist), ("InProgress", [v2]))

        self.cfn.cancel_update_stack(StackName="site", ClientRequestToken="cancel-1")
        self.assertEqual(self.status(), "UPDATE_ROLLBACK_IN_PROGRESS")
        self.assertEqual(self.distribution(dist), ("InProgress", [v1]), "reverted, and deploying again")
        seen = self.settle()
        self.assertEqual(seen[0], "UPDATE_ROLLBACK_IN_PROGRESS")
        self.assertEqual(seen[-1], "UPDATE_ROLLBACK_COMPLETE")
        self.assertEqual(self.distribution(dist), ("Deployed", [v1]))
        values = {p["ParameterKey"]: p["ParameterValue"]
                  for p in self.cfn.describe_stacks(StackName="site")["Stacks"][0]["Parameters"]}
        self.assertEqual((values["FirstLaunch"], values["LambdaVersion"]), ("true", "NONE"))

        cancelled = self.events(token="cancel-1")
        self.assertEqual(cancelled[0], ("site", "UPDATE_ROLLBACK_IN_PROGRESS", "Stack update cancelled"))
        self.assertIn(("Distribution", "UPDATE_FAILED", "Resource update cancelled"), cancelled)
        self.assertEqual(cancelled[-2:], [("site", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", ""),
                                          ("site", "UPDATE_ROLLBACK_COMPLETE", "")])
        self.assertIn(("Distribution", "UPDATE_COMPLETE", ""), cancelled)
        # What the update had not shown before the cancellation never happened.
        self.assertNotIn(("site", "UPDATE_COMPLETE", ""), self.events(token="update-1"))
        # The function's code went back to the first upload too.
        self.assertNotEqual(self.lam.get_function(FunctionName=FUNCTION)["Configuration"]["CodeSha256"],
                            self.lam.get_function_configuration(FunctionName=v2)["CodeSha256"])


class RollbackFailed(EmulatorTestCase):
    def test_a_rollback_that_fails_leaves_update_rollback_failed_until_continued(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        first = self.s3.list_object_versions(Bucket=BUCKET)["Versions"][0]["VersionId"]
        _, v2 = self.publish("two")
        _, code, message = self.error_code(lambda: self.cfn.continue_update_rollback(StackName="site"))
        self.assertEqual((code, message), ("ValidationError", "ContinueUpdateRollback cannot be called from current stack status"))
        # The object version the function's rollback needs is gone: the rollback fails too.
        self.s3.delete_object(Bucket=BUCKET, Key=KEY, VersionId=first)
        self.cfn.update_stack(ClientRequestToken="update-1", **self.release_request("does-not-exist", v2))
        self.assertEqual(self.status(), "UPDATE_ROLLBACK_FAILED")
        self.assertEqual(self.events(token="update-1")[-2:], [
            ("EdgeFunction", "UPDATE_FAILED", self.events(token="update-1")[-2][2]),
            ("site", "UPDATE_ROLLBACK_FAILED", "The following resource(s) failed to update: [EdgeFunction]. ")])
        _, code, message = self.error_code(lambda: self.cfn.update_stack(**self.release_request("x", v2)))
        self.assertIn("is in UPDATE_ROLLBACK_FAILED state and can not be updated", message)

        self.cfn.continue_update_rollback(StackName="site", ClientRequestToken="continue-1")
        self.assertEqual(self.status(), "UPDATE_ROLLBACK_FAILED", "the function still cannot go back")
        self.cfn.continue_update_rollback(StackName="site", ClientRequestToken="continue-2", ResourcesToSkip=["EdgeFunction"])
        self.assertEqual(self.status(), "UPDATE_ROLLBACK_COMPLETE")
        self.assertEqual(self.events(token="continue-2"), [
            ("site", "UPDATE_ROLLBACK_IN_PROGRESS", "Continue update rollback initiated by user"),
            ("site", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", ""), ("site", "UPDATE_ROLLBACK_COMPLETE", "")])
        self.cfn.continue_update_rollback(StackName="site", ClientRequestToken="continue-1")  # a retry: answered
        self.assertEqual(self.status(), "UPDATE_ROLLBACK_COMPLETE")


class ReviewAndChangeSets(EmulatorTestCase):
    def test_a_stack_under_review_stays_there(self) -> None:
        self.configure(time_scale=0.02, durations={"change_set": 100})  # 2 s: in progress when looked at
        version = self.upload("one")
        created = self.cfn.create_change_set(
            StackName="review", ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=TEMPLATE,
            Capabilities=["CAPABILITY_IAM"], Parameters=self.site_parameters(version))
        change_set = self.cfn.describe_change_set(ChangeSetName=created["Id"])
        self.assertEqual((change_set["Status"], change_set["ExecutionStatus"]), ("CREATE_IN_PROGRESS", "UNAVAILABLE"))
        _, code, _ = self.error_code(lambda: self.cfn.execute_change_set(ChangeSetName=created["Id"]))
        self.assertEqual(code, "InvalidChangeSetStatus")
        self.until("the change set", lambda: self.cfn.describe_change_set(ChangeSetName=created["Id"])["Status"] == "CREATE_COMPLETE")
        time.sleep(0.1)
        self.assertEqual(self.status("review"), "REVIEW_IN_PROGRESS")
        self.assertEqual(self.cfn.describe_stacks()["Stacks"][0]["StackStatus"], "REVIEW_IN_PROGRESS")

        _, code, message = self.error_code(lambda: self.cfn.update_stack(
            StackName="review", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"],
            Parameters=self.site_parameters(version)))
        self.assertEqual(code, "ValidationError")
        self.assertIn("is in REVIEW_IN_PROGRESS state and can not be updated", message)
        _, code, _ = self.error_code(lambda: self.cfn.create_stack(
            StackName="review", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"]))
        self.assertEqual(code, "AlreadyExistsException")
        self.assertEqual(self.status("review"), "REVIEW_IN_PROGRESS")

        self.cfn.delete_stack(StackName="review")
        self.until("the stack to be gone", lambda: "review" not in [s["StackName"] for s in self.cfn.describe_stacks()["Stacks"]])
        self.assertEqual(self.lam.list_functions()["Functions"], [], "nothing was ever created")

    def test_a_change_set_without_changes_fails(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        # 2 s of real time: the describe right after the create must find it in progress, on a
        # loaded machine too.
        self.configure(time_scale=0.02, durations={"change_set": 100})
        previous = [{"ParameterKey": k, "UsePreviousValue": True}
                    for k in ("FunctionName", "ArtifactBucket", "ArtifactKey", "ArtifactObjectVersion")]
        created = self.cfn.create_change_set(StackName="site", ChangeSetName="nothing", ChangeSetType="UPDATE",
                                             UsePreviousTemplate=True, Parameters=previous,
                                             Capabilities=["CAPABILITY_IAM"])
        described = self.cfn.describe_change_set(ChangeSetName=created["Id"])
        self.assertEqual((described["Status"], described["ExecutionStatus"]), ("CREATE_IN_PROGRESS", "UNAVAILABLE"))
        self.until("the change set", lambda: self.cfn.describe_change_set(ChangeSetName=created["Id"])["Status"] != "CREATE_IN_PROGRESS")
        described = self.cfn.describe_change_set(ChangeSetName=created["Id"], IncludePropertyValues=True)
        self.assertEqual((described["Status"], described["ExecutionStatus"], described["StatusReason"], described["Changes"]), (
            "FAILED", "UNAVAILABLE",
            "The submitted information didn't contain changes. Submit different information to create a change set.", []))
        status, code, message = self.error_code(lambda: self.cfn.execute_change_set(ChangeSetName=created["Id"]))
        self.assertEqual((status, code, message), (
            400, "InvalidChangeSetStatus", f"ChangeSet [{created['Id']}] cannot be executed in its current status of [FAILED]"))
        self.assertEqual(self.status(), "CREATE_COMPLETE")

    def test_a_second_create_change_set_joins_the_stack_under_review(self) -> None:
        self.configure(time_scale=0)
        version = self.upload("one")
        request = dict(StackName="review", ChangeSetType="CREATE", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])
        first = self.cfn.create_change_set(ChangeSetName="first", Parameters=self.site_parameters("none"), **request)
        second = self.cfn.create_change_set(ChangeSetName="second", Parameters=self.site_parameters(version), **request)
        self.assertEqual(first["StackId"], second["StackId"])
        self.assertEqual([s["ChangeSetName"] for s in self.cfn.list_change_sets(StackName="review")["Summaries"]],
                         ["first", "second"])
        described = self.cfn.describe_change_set(ChangeSetName=second["Id"], IncludePropertyValues=True)
        self.assertEqual([(c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"], c["ResourceChange"]["Details"])
                          for c in described["Changes"]],
                         [("Add", logical, []) for logical in ("EdgeFunctionRole", "EdgeFunction", "EdgeFunctionVersion", "Distribution")])
        version_context = json.loads(described["Changes"][2]["ResourceChange"]["AfterContext"])
        self.assertEqual(version_context["Properties"]["FunctionName"], KNOWN_AFTER_APPLY, "the function is not made yet")
        self.cfn.execute_change_set(ChangeSetName="second", StackName="review")
        self.assertEqual(self.settle("review")[-1], "CREATE_COMPLETE")
        self.assertEqual([s["ChangeSetName"] for s in self.cfn.list_change_sets(StackName="review")["Summaries"]], ["second"])

    def test_executing_a_create_change_set_creates_the_stack_over_time(self) -> None:
        self.configure(time_scale=0.002)
        version = self.upload("one")
        created = self.cfn.create_change_set(
            StackName="site", ChangeSetName="launch", ChangeSetType="CREATE", TemplateBody=TEMPLATE,
            Capabilities=["CAPABILITY_IAM"], Parameters=self.site_parameters(version))
        self.until("the change set", lambda: self.cfn.describe_change_set(ChangeSetName=created["Id"])["ExecutionStatus"] == "AVAILABLE")
        self.cfn.execute_change_set(ChangeSetName=created["Id"], ClientRequestToken="execute-1")
        self.assertEqual(self.status(), "CREATE_IN_PROGRESS")
        self.assertEqual(self.cfn.describe_change_set(ChangeSetName=created["Id"])["ExecutionStatus"], "EXECUTE_IN_PROGRESS")
        self.assertEqual(self.settle(), ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
        self.assertEqual(self.cfn.describe_change_set(ChangeSetName=created["Id"])["ExecutionStatus"], "EXECUTE_COMPLETE")
        stack = self.cfn.describe_stacks(StackName="site")["Stacks"][0]
        self.assertIn("VersionArn", {o["OutputKey"] for o in stack.get("Outputs", [])})
        self.assertEqual(self.events(token="execute-1")[-1], ("site", "CREATE_COMPLETE", ""))
        self.assertEqual(self.events()[0][:2], ("site", "REVIEW_IN_PROGRESS"))


class ChangeSetTestCase(EmulatorTestCase):
    def resource_changes(self, change_set: str, values: bool = True) -> list[dict[str, Any]]:
        """The change set's ResourceChanges (without BeforeContext/AfterContext)."""
        described = self.cfn.describe_change_set(ChangeSetName=change_set, IncludePropertyValues=values)
        self.assertEqual(described["Status"], "CREATE_COMPLETE")
        return [{k: v for k, v in c["ResourceChange"].items() if not k.endswith("Context")} for c in described["Changes"]]

    def stack_parameter(self, key: str, name: str = "site") -> str:
        stack = self.cfn.describe_stacks(StackName=name)["Stacks"][0]
        return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}[key]

    def plan(self, name: str, **request: Any) -> str:
        """CreateChangeSet (UPDATE) with `request`; the change set's ARN."""
        return self.cfn.create_change_set(ChangeSetName=name, ChangeSetType="UPDATE", **request)["Id"]


def target(name: str, path: str, before: str | None, after: str | None, recreation: str = "Never",
           change: str = "Modify") -> dict[str, str]:
    found = {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation, "Path": path}
    if before is not None:
        found["BeforeValue"] = before
    if after is not None:
        found["AfterValue"] = after
    found["AttributeChangeType"] = change
    return found


def caused(of: dict[str, str], source: str | None = None, entity: str | None = None) -> list[dict[str, Any]]:
    """Details of one change: a direct modification (Static, or Dynamic when its new value is only
    known once applied), or through a reference: Dynamic/DirectModification and Static/`source`."""
    if source is None:
        evaluation = "Dynamic" if of.get("AfterValue") == KNOWN_AFTER_APPLY else "Static"
        return [{"Target": of, "Evaluation": evaluation, "ChangeSource": "DirectModification"}]
    return [{"Target": of, "Evaluation": "Dynamic", "ChangeSource": "DirectModification"},
            {"Target": of, "Evaluation": "Static", "ChangeSource": source, "CausingEntity": entity}]


ASSOCIATION = "/Properties/DistributionConfig/DefaultCacheBehavior/LambdaFunctionAssociations/{}/LambdaFunctionARN"
KNOWN_AFTER_APPLY = "{{changeSet:KNOWN_AFTER_APPLY}}"


class ChangeSetContents(ChangeSetTestCase):
    """What DescribeChangeSet lists: each resource the change set adds, removes or modifies, and
    why, with the property values before and after when asked (IncludePropertyValues)."""

    def test_a_release_lists_what_its_parameters_change_with_values_before_and_after(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        first_object = self.stack_parameter("ArtifactObjectVersion")
        dist = self.distribution_id()
        _, [v1] = self.distribution(dist)
        object_version, v2 = self.publish("two")
        plan = self.plan("release-2", **self.release_request(object_version, v2))

        code = target("Code", "/Properties/Code/S3ObjectVersion", first_object, object_version)
        association = target("DistributionConfig", ASSOCIATION.format(0), v1, v2)
        self.assertEqual(self.resource_changes(plan), [
            {"Action": "Modify", "LogicalResourceId": "EdgeFunction", "PhysicalResourceId": FUNCTION,
             "ResourceType": "AWS::Lambda::Function", "Replacement": "False", "Scope": ["Properties"],
             "Details": caused(code, "ParameterReference", "ArtifactObjectVersion")},
            # FirstLaunch true -> false: the Fn::If takes its other branch, a direct modification.
            {"Action": "Modify", "LogicalResourceId": "Distribution", "PhysicalResourceId": dist,
             "ResourceType": "AWS::CloudFront::Distribution", "Replacement": "False", "Scope": ["Properties"],
             "Details": caused(association)},
        ])
        described = self.cfn.describe_change_set(ChangeSetName=plan, IncludePropertyValues=True)
        contexts = [json.loads(described["Changes"][1]["ResourceChange"][k]) for k in ("BeforeContext", "AfterContext")]
        self.assertEqual([c["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]["LambdaFunctionAssociations"]
                          for c in contexts], [[{"EventType": "origin-request", "IncludeBody": "false", "LambdaFunctionARN": v}]
                                               for v in (v1, v2)])
        self.assertEqual({p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}["OriginDomainName"],
                         "example.com", "the parameters the execution will use, defaults included")

        # Without IncludePropertyValues: no Path, values or contexts, one detail per cause.
        plain = self.cfn.describe_change_set(ChangeSetName="release-2", StackName="site")["Changes"]
        self.assertNotIn("BeforeContext", plain[0]["ResourceChange"])
        short = {"Attribute": "Properties", "Name": "Code", "RequiresRecreation": "Never"}
        self.assertEqual([c["ResourceChange"]["Details"] for c in plain], [
            caused(short, "ParameterReference", "ArtifactObjectVersion"),
            caused({"Attribute": "Properties", "Name": "DistributionConfig", "RequiresRecreation": "Never"})])

        # The next release: FirstLaunch stays false and only LambdaVersion changes.
        self.cfn.execute_change_set(ChangeSetName=plan)
        self.assertEqual(self.settle()[-1], "UPDATE_COMPLETE")
        _, v3 = self.publish("three")
        plan = self.plan("release-3", **self.release_request(object_version, v3))
        association = target("DistributionConfig", ASSOCIATION.format(0), v2, v3)
        self.assertEqual(self.resource_changes(plan), [
            {"Action": "Modify", "LogicalResourceId": "Distribution", "PhysicalResourceId": dist,
             "ResourceType": "AWS::CloudFront::Distribution", "Replacement": "False", "Scope": ["Properties"],
             "Details": caused(association, "ParameterReference", "LambdaVersion")}])

    def test_a_change_that_replaces_a_resource_says_so_and_what_follows_from_it(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        first_object = self.stack_parameter("ArtifactObjectVersion")
        _, [v1] = self.distribution(self.distribution_id())
        # AWS::Lambda::Function's FunctionName: "Update requires: Replacement".
        plan = self.plan("rename", StackName="site", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                         Parameters=self.site_parameters(first_object, function="renamed"))
        function, version, distribution = self.resource_changes(plan)
        self.assertEqual({k: function[k] for k in ("LogicalResourceId", "Replacement", "PolicyAction", "Details")}, {
            "LogicalResourceId": "EdgeFunction", "Replacement": "True", "PolicyAction": "ReplaceAndDelete",
            "Details": caused(target("FunctionName", "/Properties/FunctionName", FUNCTION, "renamed", "Always"),
                              "ParameterReference", "FunctionName")})
        # The version names the replaced function (any change to a version replaces it), and the
        # distribution associates the replaced version: new values known once applied.
        self.assertEqual({k: version[k] for k in ("LogicalResourceId", "PhysicalResourceId", "Replacement", "Details")}, {
            "LogicalResourceId": "EdgeFunctionVersion", "PhysicalResourceId": v1, "Replacement": "True",
            "Details": caused(target("FunctionName", "/Properties/FunctionName", FUNCTION, KNOWN_AFTER_APPLY, "Always"),
                              "ResourceReference", "EdgeFunction")})
        self.assertEqual({k: distribution[k] for k in ("LogicalResourceId", "Replacement", "Details")}, {
            "LogicalResourceId": "Distribution", "Replacement": "False",
            "Details": caused(target("DistributionConfig", ASSOCIATION.format(0), v1, KNOWN_AFTER_APPLY),
                              "ResourceReference", "EdgeFunctionVersion")})
        self.assertNotIn("PolicyAction", distribution)

    def test_template_changes_add_remove_and_modify_resources(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        first_object = self.stack_parameter("ArtifactObjectVersion")
        dist = self.distribution_id()
        _, [v1] = self.distribution(dist)
        role = self.cfn.describe_stack_resource(StackName="site", LogicalResourceId="EdgeFunctionRole")
        role_arn = self.iam.get_role(RoleName=role["StackResourceDetail"]["PhysicalResourceId"])["Role"]["Arn"]
        edited = (TEMPLATE
                  .replace("    Type: AWS::IAM::Role\n    Properties:\n", "    Type: AWS::IAM::Role\n    Properties:\n      Path: /edge/\n")
                  .replace("  EdgeFunctionVersion:\n", "  ReleaseVersion:\n")
                  .replace("!If [FirstLaunch, !Ref EdgeFunctionVersion, !Ref LambdaVersion]", "!Ref ReleaseVersion")
                  .replace("Value: !Ref EdgeFunctionVersion", "Value: !Ref ReleaseVersion"))
        plan = self.plan("edit", StackName="site", TemplateBody=edited, Capabilities=["CAPABILITY_IAM"],
                         Parameters=self.site_parameters(first_object))
        self.assertEqual(self.resource_changes(plan), [
            # AWS::IAM::Role's Path: "Update requires: Replacement"; the function's Role follows.
            {"Action": "Modify", "LogicalResourceId": "EdgeFunctionRole", "PhysicalResourceId": role["StackResourceDetail"]["PhysicalResourceId"],
             "ResourceType": "AWS::IAM::Role", "Replacement": "True", "PolicyAction": "ReplaceAndDelete", "Scope": ["Properties"],
             "Details": caused(target("Path", "/Properties/Path", None, "/edge/", "Always", "Add"))},
            {"Action": "Modify", "LogicalResourceId": "EdgeFunction", "PhysicalResourceId": FUNCTION,
             "ResourceType": "AWS::Lambda::Function", "Replacement": "False", "Scope": ["Properties"],
             "Details": caused(target("Role", "/Properties/Role", role_arn, KNOWN_AFTER_APPLY),
                               "ResourceAttribute", "EdgeFunctionRole.Arn")},
            {"Action": "Add", "LogicalResourceId": "ReleaseVersion", "ResourceType": "AWS::Lambda::Version",
             "Scope": [], "Details": []},
            {"Action": "Modify", "LogicalResourceId": "Distribution", "PhysicalResourceId": dist,
             "ResourceType": "AWS::CloudFront::Distribution", "Replacement": "False", "Scope": ["Properties"],
             "Details": caused(target("DistributionConfig", ASSOCIATION.format(0), v1, KNOWN_AFTER_APPLY))},
            {"PolicyAction": "Delete", "Action": "Remove", "LogicalResourceId": "EdgeFunctionVersion", "PhysicalResourceId": v1,
             "ResourceType": "AWS::Lambda::Version", "Scope": [], "Details": []},
        ])

    def test_the_two_function_template_lists_each_association(self) -> None:
        self.configure(time_scale=0)
        object_version = self.upload("one")
        names = {"Viewer": "viewer-fn", "Origin": "origin-fn"}
        parameters = params(ArtifactBucket=BUCKET, **{f"{base}FunctionName": name for base, name in names.items()},
                            **{f"{base}ArtifactKey": KEY for base in names},
                            **{f"{base}ObjectVersion": object_version for base in names})
        self.cfn.create_stack(StackName="multi", TemplateBody=MULTI, Capabilities=["CAPABILITY_IAM"], Parameters=parameters)
        self.assertEqual(self.settle("multi")[-1], "CREATE_COMPLETE")
        dist = self.distribution_id()
        first = [a["LambdaFunctionARN"] for a in self.cf.get_distribution(Id=dist)["Distribution"]["DistributionConfig"][
            "DefaultCacheBehavior"]["LambdaFunctionAssociations"]["Items"]]

        def publish(base: str, marker: str) -> str:
            version = self.upload(marker)
            self.lam.update_function_code(FunctionName=names[base], S3Bucket=BUCKET, S3Key=KEY, S3ObjectVersion=version)
            return self.lam.publish_version(FunctionName=names[base])["FunctionArn"]

        second = {f"{base}Version": publish(base, f"{base}-two") for base in names}
        request = dict(StackName="multi", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"])
        plan = self.plan("both", Parameters=parameters + params(FirstLaunch="false", **second), **request)
        [distribution] = self.resource_changes(plan)
        self.assertEqual(distribution["Details"],
                         caused(target("DistributionConfig", ASSOCIATION.format(0), first[0], second["ViewerVersion"]))
                         + caused(target("DistributionConfig", ASSOCIATION.format(1), first[1], second["OriginVersion"])))
        self.cfn.execute_change_set(ChangeSetName=plan)
        self.assertEqual(self.settle("multi")[-1], "UPDATE_COMPLETE")

        third = publish("Origin", "origin-three")
        plan = self.plan("origin", Parameters=parameters + params(FirstLaunch="false", ViewerVersion=second["ViewerVersion"],
                                                                  OriginVersion=third), **request)
        [distribution] = self.resource_changes(plan)
        self.assertEqual(distribution["Details"], caused(
            target("DistributionConfig", ASSOCIATION.format(1), second["OriginVersion"], third),
            "ParameterReference", "OriginVersion"))


class ChangeSetLifecycle(ChangeSetTestCase):
    """Finding, listing, executing and deleting change sets, as CloudFormation allows it."""

    def test_found_by_arn_alone_or_by_name_with_its_stack_and_deleted_by_arn(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        object_version, v2 = self.publish("two")
        plan = self.plan("release", **self.release_request(object_version, v2))
        self.assertEqual(self.cfn.describe_change_set(ChangeSetName=plan)["ChangeSetName"], "release")
        stack_id = self.cfn.describe_stacks(StackName="site")["Stacks"][0]["StackId"]
        for stack in ("site", stack_id):
            self.assertEqual(self.cfn.describe_change_set(ChangeSetName="release", StackName=stack)["ChangeSetId"], plan)
        status, code, message = self.error_code(lambda: self.cfn.describe_change_set(ChangeSetName="release"))
        self.assertEqual((status, code, message), (
            400, "ValidationError", "StackName must be specified if ChangeSetName is not specified as an ARN."))
        status, code, message = self.error_code(lambda: self.cfn.describe_change_set(ChangeSetName="other", StackName="site"))
        self.assertEqual((status, code, message), (404, "ChangeSetNotFound", "ChangeSet [other] does not exist"))

        self.cfn.delete_change_set(ChangeSetName=plan)
        status, code, message = self.error_code(lambda: self.cfn.describe_change_set(ChangeSetName=plan))
        self.assertEqual((status, code, message), (404, "ChangeSetNotFound", f"ChangeSet [{plan}] does not exist"))
        _, code, _ = self.error_code(lambda: self.cfn.execute_change_set(ChangeSetName=plan))
        self.assertEqual(code, "ChangeSetNotFound")
        self.cfn.delete_change_set(ChangeSetName="release", StackName="site")  # a name the stack has not: fine
        _, code, _ = self.error_code(lambda: self.cfn.delete_change_set(ChangeSetName="release", StackName="nowhere"))
        self.assertEqual(code, "ValidationError")

        # Not while it is being created; and the stack's change sets go with the stack.
        self.configure(time_scale=0.002, durations={"change_set": 1000})
        computing = self.plan("computing", **self.release_request(object_version, v2))
        status, code, message = self.error_code(lambda: self.cfn.delete_change_set(ChangeSetName=computing))
        self.assertEqual((status, code, message), (
            400, "InvalidChangeSetStatus",
            "An operation on this ChangeSet is currently in progress. Please attempt this operation again later."))
        self.configure(time_scale=0)
        self.cfn.delete_stack(StackName="site")
        _, code, _ = self.error_code(lambda: self.cfn.describe_change_set(ChangeSetName=computing))
        self.assertEqual(code, "ChangeSetNotFound")

    def test_list_change_sets_lists_the_stack_named(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        self.create_site("other", function="other-fn")
        site_object = self.stack_parameter("ArtifactObjectVersion")
        other_object = self.stack_parameter("ArtifactObjectVersion", "other")
        mine = self.plan("mine", StackName="site", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                         Parameters=self.site_parameters(site_object, OriginDomainName="example.org"))
        theirs = self.plan("theirs", StackName="other", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                           Parameters=self.site_parameters(other_object, "other-fn", OriginDomainName="example.org"))
        stack_id = self.cfn.describe_stacks(StackName="other")["Stacks"][0]["StackId"]
        for stack, expected in (("site", [mine]), ("other", [theirs]), (stack_id, [theirs])):
            summaries = self.cfn.list_change_sets(StackName=stack)["Summaries"]
            self.assertEqual([s["ChangeSetId"] for s in summaries], expected)
        self.assertEqual({k: summaries[0][k] for k in ("StackName", "ChangeSetName", "Status", "ExecutionStatus")}, {
            "StackName": "other", "ChangeSetName": "theirs", "Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE"})
        _, code, _ = self.error_code(lambda: self.cfn.list_change_sets(StackName="nowhere"))
        self.assertEqual(code, "ValidationError")

    def test_executing_takes_an_update_s_time_carries_its_token_and_happens_once(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        dist = self.distribution_id()
        object_version, v2 = self.publish("two")
        plan = self.plan("release", **self.release_request(object_version, v2))
        self.configure(time_scale=0.01, durations={"distribution_deploy": 100})
        self.cfn.execute_change_set(ChangeSetName=plan, ClientRequestToken="execute-1")
        self.assertEqual(self.status(), "UPDATE_IN_PROGRESS")
        self.assertEqual(self.cfn.describe_change_set(ChangeSetName=plan)["ExecutionStatus"], "EXECUTE_IN_PROGRESS")
        self.assertEqual(self.distribution(dist), ("InProgress", [v2]))
        seen = self.settle()
        self.assertEqual(seen[0], "UPDATE_IN_PROGRESS")
        self.assertEqual(seen[-2:], ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"])
        self.assertEqual(self.distribution(dist), ("Deployed", [v2]), "the update waited for the distribution")
        described = self.cfn.describe_change_set(ChangeSetName=plan)
        self.assertEqual((described["Status"], described["ExecutionStatus"]), ("CREATE_COMPLETE", "EXECUTE_COMPLETE"))
        events = self.events(token="execute-1")
        self.assertEqual(events[0], ("site", "UPDATE_IN_PROGRESS", "User Initiated"))
        self.assertEqual(events[-1], ("site", "UPDATE_COMPLETE", ""))
        self.assertIn(("Distribution", "UPDATE_COMPLETE", ""), events)

        count = len(self.events())
        self.cfn.execute_change_set(ChangeSetName=plan, ClientRequestToken="execute-1")  # a retry: answered, nothing runs
        self.assertEqual(len(self.events()), count)
        status, code, message = self.error_code(lambda: self.cfn.execute_change_set(ChangeSetName=plan))
        self.assertEqual((status, code, message), (
            400, "InvalidChangeSetStatus", f"ChangeSet [{plan}] cannot be executed in its current execution status of [EXECUTE_COMPLETE]"))
        self.assertEqual((self.status(), len(self.events())), ("UPDATE_COMPLETE", count))

    def test_an_execution_that_fails_is_execute_failed(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        _, v2 = self.publish("two")
        plan = self.plan("broken", **self.release_request("does-not-exist", v2))
        self.cfn.execute_change_set(ChangeSetName=plan)
        self.assertEqual(self.status(), "UPDATE_ROLLBACK_COMPLETE")
        self.assertEqual(self.cfn.describe_change_set(ChangeSetName=plan)["ExecutionStatus"], "EXECUTE_FAILED")
        _, code, _ = self.error_code(lambda: self.cfn.execute_change_set(ChangeSetName=plan))
        self.assertEqual(code, "InvalidChangeSetStatus")

    def test_executing_one_deletes_the_others_and_an_update_makes_them_obsolete(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        object_version, v2 = self.publish("two")
        _, v3 = self.publish("three")
        chosen = self.plan("two", **self.release_request(object_version, v2))
        other = self.plan("three", **self.release_request(object_version, v3))
        self.cfn.execute_change_set(ChangeSetName="two", StackName="site")
        # "When you execute a change set, CloudFormation deletes all other change sets associated
        # with the stack" (ExecuteChangeSet).
        self.assertEqual([s["ChangeSetId"] for s in self.cfn.list_change_sets(StackName="site")["Summaries"]], [chosen])
        _, code, _ = self.error_code(lambda: self.cfn.execute_change_set(ChangeSetName=other))
        self.assertEqual(code, "ChangeSetNotFound")

        stale = self.plan("stale", **self.release_request(object_version, v3))
        self.assertEqual(self.cfn.describe_change_set(ChangeSetName=stale)["ExecutionStatus"], "AVAILABLE")
        self.cfn.update_stack(**self.release_request(object_version, v3))
        self.assertEqual(self.cfn.describe_change_set(ChangeSetName=stale)["ExecutionStatus"], "OBSOLETE")
        status, code, message = self.error_code(lambda: self.cfn.execute_change_set(ChangeSetName=stale))
        self.assertEqual((status, code, message), (
            400, "InvalidChangeSetStatus", f"ChangeSet [{stale}] cannot be executed in its current execution status of [OBSOLETE]"))
        self.assertEqual(self.cfn.describe_change_set(ChangeSetName=chosen)["ExecutionStatus"], "EXECUTE_COMPLETE")


class DeleteFailed(EmulatorTestCase):
    def test_fail_delete_stacks_makes_a_delete_end_delete_failed(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        self.configure(time_scale=0.01, fail_delete_stacks=["site"])
        self.cfn.delete_stack(StackName="site", ClientRequestToken="delete-1")
        self.assertEqual(self.settle(), ["DELETE_IN_PROGRESS", "DELETE_FAILED"])
        events = self.events(token="delete-1")
        self.assertEqual([(logical, status) for logical, status, _ in events], [
            ("site", "DELETE_IN_PROGRESS"), ("EdgeFunctionVersion", "DELETE_IN_PROGRESS"),
            ("EdgeFunctionVersion", "DELETE_FAILED"), ("site", "DELETE_FAILED")])
        self.assertIn("because it is a replicated function", events[2][2])
        self.assertEqual(events[3][2], "The following resource(s) failed to delete: [EdgeFunctionVersion]. ")
        self.assertEqual(len(self.lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]), 2, "nothing deleted")
        self.assertEqual(self.cfn.describe_stacks(StackName="site")["Stacks"][0]["StackStatusReason"], events[3][2])

        self.configure(fail_delete_stacks=[])
        self.cfn.delete_stack(StackName="site")
        self.until("the stack to be gone", lambda: self.cfn.describe_stacks()["Stacks"] == [])
        self.assertEqual(self.lam.list_functions()["Functions"], [])


class Tokens(EmulatorTestCase):
    def test_a_retry_with_the_same_token_is_answered_as_the_first_call(self) -> None:
        self.configure(time_scale=0.002)
        stack_id = self.create_site(token="create-1", wait=False)
        self.assertEqual(self.cfn.create_stack(**self.last_create)["StackId"], stack_id, "retried while in progress")
        self.settle()
        object_version, v2 = self.publish("two")
        request = self.release_request(object_version, v2)
        self.assertEqual(self.cfn.update_stack(ClientRequestToken="update-1", **request)["StackId"], stack_id)
        self.settle()
        count = len(self.events())
        # After the end, the same request again: no "No updates are to be performed", no new operation.
        self.assertEqual(self.cfn.update_stack(ClientRequestToken="update-1", **request)["StackId"], stack_id)
        self.assertEqual(self.status(), "UPDATE_COMPLETE")
        self.assertEqual(len(self.events()), count)
        self.assertEqual(len(self.lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]), 3)

    def test_a_token_reused_for_another_request_is_refused(self) -> None:
        self.configure(time_scale=0)
        self.create_site(token="site-token")
        self.create_site("other", token="other-token", function="other-fn")
        object_version, v2 = self.publish("two")
        self.cfn.update_stack(ClientRequestToken="update-1", **self.release_request(object_version, v2))

        for what, call in [
            ("other parameters", lambda: self.cfn.update_stack(
                ClientRequestToken="update-1", **self.release_request(object_version, v2 + "0"))),
            ("another stack", lambda: self.cfn.update_stack(
                ClientRequestToken="update-1", **self.release_request(object_version, v2, name="other"))),
            ("another action", lambda: self.cfn.delete_stack(StackName="site", ClientRequestToken="update-1")),
            ("a create with a delete's token", lambda: self.cfn.create_stack(
                StackName="third", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"], ClientRequestToken="site-token")),
        ]:
            with self.subTest(what):
                status, code, message = self.error_code(call)
                self.assertEqual((status, code), (400, "TokenAlreadyExistsException"))
                self.assertIn("update-1" if "update" in message else "site-token", message)
        self.assertEqual(self.status("site"), "UPDATE_COMPLETE")
        self.assertEqual(self.status("other"), "CREATE_COMPLETE", "the refused update changed nothing")

    def test_delete_and_cancel_retries_succeed_after_the_fact(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        object_version, v2 = self.publish("two")
        self.configure(time_scale=0.01, durations={"distribution_deploy": 100})
        self.cfn.update_stack(**self.release_request(object_version, v2))
        self.cfn.cancel_update_stack(StackName="site", ClientRequestToken="cancel-1")
        self.cfn.cancel_update_stack(StackName="site", ClientRequestToken="cancel-1")  # not in UPDATE_IN_PROGRESS any more
        self.assertEqual(self.settle()[-1], "UPDATE_ROLLBACK_COMPLETE")
        self.configure(time_scale=0)
        self.cfn.delete_stack(StackName="site", ClientRequestToken="delete-1")
        self.cfn.delete_stack(StackName="site", ClientRequestToken="delete-1")
        _, code, _ = self.error_code(lambda: self.cfn.cancel_update_stack(StackName="site", ClientRequestToken="delete-1"))
        self.assertEqual(code, "TokenAlreadyExistsException")

    def test_tokens_are_checked_and_forgotten_on_reset(self) -> None:
        self.configure(time_scale=0)
        _, code, message = self.error_code(lambda: self.cfn.create_stack(
            StackName="site", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"], ClientRequestToken="not_valid!"))
        self.assertEqual(code, "ValidationError")
        self.assertIn("clientRequestToken", message)
        self.create_site(token="token-1")
        self.setUp()  # POST /moto-api/reset
        self.configure(time_scale=0)
        self.create_site("another", token="token-1")
        self.assertEqual(self.status("another"), "CREATE_COMPLETE")


class KeptBehaviour(EmulatorTestCase):
    """Extensions that were there before the timeline, still there."""

    def test_no_updates_and_parameter_checks(self) -> None:
        self.configure(time_scale=0)
        self.create_site()
        _, code, message = self.error_code(lambda: self.cfn.update_stack(
            StackName="site", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in
                         ("FunctionName", "ArtifactBucket", "ArtifactKey", "ArtifactObjectVersion")]))
        self.assertEqual((code, message), ("ValidationError", "No updates are to be performed."))
        _, code, message = self.error_code(lambda: self.cfn.update_stack(
            StackName="site", UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"], Parameters=params(FirstLaunch="maybe") + [
                {"ParameterKey": k, "UsePreviousValue": True}
                for k in ("FunctionName", "ArtifactBucket", "ArtifactKey", "ArtifactObjectVersion")]))
        self.assertEqual(code, "ValidationError")
        self.assertIn("AllowedValues", message)
        self.assertEqual(self.status(), "CREATE_COMPLETE")


if __name__ == "__main__":
    unittest.main()
