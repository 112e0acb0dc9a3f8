"""CloudFormation's templates in the emulator: a TemplateURL names an exact S3 object (path-style or
virtual-hosted, with its versionId), and a template with IAM resources needs its capabilities."""

from __future__ import annotations

import unittest

from emutest import BUCKET, TEMPLATE, EmulatorTestCase

NAMED = TEMPLATE.replace("    Type: AWS::IAM::Role\n    Properties:\n", "    Type: AWS::IAM::Role\n    Properties:\n      RoleName: edge\n")


class TemplateUrls(EmulatorTestCase):
    def put_template(self, body: str) -> str:
        self.upload("one")  # the bucket, versioned
        return self.s3.put_object(Bucket=BUCKET, Key="templates/site.yaml", Body=body.encode())["VersionId"]

    def parameter_names(self, url: str) -> list[str]:
        return [p["ParameterKey"] for p in self.cfn.get_template_summary(TemplateURL=url)["Parameters"]]

    def test_a_path_style_url_on_any_host_names_the_object_and_its_version(self) -> None:
        first = self.put_template(TEMPLATE)
        self.put_template(TEMPLATE.replace("  OriginDomainName:", "  Extra:\n    Type: String\n    Default: x\n  OriginDomainName:"))
        for host in (self.url, "https://s3.us-east-1.amazonaws.com"):
            latest = self.parameter_names(f"{host}/{BUCKET}/templates/site.yaml")
            self.assertIn("Extra", latest, host)
            pinned = self.parameter_names(f"{host}/{BUCKET}/templates/site.yaml?versionId={first}")
            self.assertNotIn("Extra", pinned, host)

    def test_a_virtual_hosted_url_names_the_bucket_in_its_host(self) -> None:
        first = self.put_template(TEMPLATE)
        url = f"https://{BUCKET}.s3.us-east-1.amazonaws.com/templates/site.yaml?versionId={first}"
        self.assertIn("LambdaVersion", self.parameter_names(url))

    def test_a_url_that_names_no_object_is_a_validation_error(self) -> None:
        self.put_template(TEMPLATE)
        status, code, message = self.error_code(
            lambda: self.cfn.get_template_summary(TemplateURL=f"{self.url}/{BUCKET}/templates/missing.yaml"))
        self.assertEqual((status, code), (400, "ValidationError"))
        self.assertIn("names no S3 object", message)


class Capabilities(EmulatorTestCase):
    def test_the_summary_lists_what_the_template_needs(self) -> None:
        self.assertEqual(self.cfn.get_template_summary(TemplateBody=TEMPLATE)["Capabilities"], ["CAPABILITY_IAM"])
        self.assertEqual(self.cfn.get_template_summary(TemplateBody=NAMED)["Capabilities"], ["CAPABILITY_NAMED_IAM"])

    def test_create_and_update_are_refused_without_the_capabilities(self) -> None:
        version = self.upload("one")
        request = dict(StackName="site", TemplateBody=NAMED, Parameters=self.site_parameters(version))
        status, code, message = self.error_code(lambda: self.cfn.create_stack(**request, Capabilities=["CAPABILITY_IAM"]))
        self.assertEqual((status, code), (400, "InsufficientCapabilitiesException"))
        self.assertEqual(message, "Requires capabilities : [CAPABILITY_NAMED_IAM]")
        self.assertEqual(self.cfn.list_stacks()["StackSummaries"], [], "nothing was created")

        self.create_site()
        release = dict(StackName="site", UsePreviousTemplate=True, Parameters=self.site_parameters(version, FirstLaunch="false"))
        status, code, _ = self.error_code(lambda: self.cfn.update_stack(**release))
        self.assertEqual((status, code), (400, "InsufficientCapabilitiesException"))
        self.assertEqual(self.status(), "CREATE_COMPLETE")
        self.cfn.update_stack(**release, Capabilities=["CAPABILITY_NAMED_IAM"])  # NAMED covers IAM


if __name__ == "__main__":
    unittest.main()
