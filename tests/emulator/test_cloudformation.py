"""CloudFormation in the emulator: operations take time and happen in AWS's order, what AWS refuses
meanwhile is refused, failed updates and cancellations really revert the resources, and
ClientRequestToken makes a retry safe."""

from __future__ import annotations

import time
import unittest

from emutest import BUCKET, FUNCTION, KEY, TEMPLATE, EmulatorTestCase, params


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
        self.configure(time_scale=0.002, durations={"change_set": 100})
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
        previous = [{"ParameterKey": k, "UsePreviousValue": True}
                    for k in ("FunctionName", "ArtifactBucket", "ArtifactKey", "ArtifactObjectVersion")]
        created = self.cfn.create_change_set(StackName="site", ChangeSetName="nothing", ChangeSetType="UPDATE",
                                             UsePreviousTemplate=True, Parameters=previous,
                                             Capabilities=["CAPABILITY_IAM"])
        described = self.cfn.describe_change_set(ChangeSetName=created["Id"])
        self.assertEqual((described["Status"], described["ExecutionStatus"]), ("FAILED", "UNAVAILABLE"))
        self.assertIn("didn't contain changes", described["StatusReason"])

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
