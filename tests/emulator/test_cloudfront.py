"""CloudFront in the emulator: deployments take time, If-Match is required and checked, a
CallerReference makes a retry safe, and invalidations go InProgress then Completed."""

from __future__ import annotations

import copy
import time
import unittest
from typing import Any

from emutest import EmulatorTestCase

ARN = "arn:aws:lambda:us-east-1:123456789012:function:edge-fn:1"


def distribution_config(reference: str, comment: str = "test", arn: str = ARN) -> dict[str, Any]:
    return {
        "CallerReference": reference,
        "Comment": comment,
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "origin", "DomainName": "origin.example.org",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
        }]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin", "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            "LambdaFunctionAssociations": {"Quantity": 1, "Items": [
                {"LambdaFunctionARN": arn, "EventType": "origin-request", "IncludeBody": False}]},
        },
    }


class Distributions(EmulatorTestCase):
    def test_a_distribution_deploys_for_distribution_deploy_times_time_scale(self) -> None:
        self.configure(time_scale=0.01, durations={"distribution_deploy": 30})
        started = time.monotonic()
        created = self.cf.create_distribution(DistributionConfig=distribution_config("ref-1"))
        dist_id = created["Distribution"]["Id"]
        self.assertEqual(created["Distribution"]["Status"], "InProgress")
        self.until("Deployed", lambda: self.distribution(dist_id)[0] == "Deployed")
        self.assertGreater(time.monotonic() - started, 0.3, "30 AWS seconds at 0.01")
        self.assertEqual(self.distribution(dist_id), ("Deployed", [ARN]), "the association is kept")

    def test_update_requires_a_current_if_match_and_redeploys(self) -> None:
        self.configure(time_scale=0)
        created = self.cf.create_distribution(DistributionConfig=distribution_config("ref-1"))
        dist_id, etag = created["Distribution"]["Id"], created["ETag"]
        config = distribution_config("ref-1", arn=ARN[:-1] + "2")

        status, code, message = self.error_code(lambda: self.cf.update_distribution(Id=dist_id, DistributionConfig=config))
        self.assertEqual((status, code), (400, "InvalidIfMatchVersion"))
        self.assertEqual(message, "The If-Match version is missing or not valid for the resource.")
        status, code, _ = self.error_code(lambda: self.cf.update_distribution(Id=dist_id, DistributionConfig=config, IfMatch="stale"))
        self.assertEqual((status, code), (412, "PreconditionFailed"))
        self.assertEqual(self.distribution(dist_id)[1], [ARN], "a refused update changes nothing")

        self.configure(time_scale=0.01)
        updated = self.cf.update_distribution(Id=dist_id, DistributionConfig=config, IfMatch=etag)
        self.assertNotEqual(updated["ETag"], etag)
        self.assertEqual(self.distribution(dist_id), ("InProgress", [ARN[:-1] + "2"]))
        status, code, _ = self.error_code(lambda: self.cf.delete_distribution(Id=dist_id))
        self.assertEqual((status, code), (400, "InvalidIfMatchVersion"))
        status, code, _ = self.error_code(lambda: self.cf.delete_distribution(Id=dist_id, IfMatch=etag))
        self.assertEqual((status, code), (412, "PreconditionFailed"))
        self.until("Deployed", lambda: self.distribution(dist_id)[0] == "Deployed")

    def test_an_explicit_transition_wins_over_the_clock(self) -> None:
        self.configure(time_scale=0)
        self.set_transition({"progression": "time", "seconds": 0.5})
        dist_id = self.cf.create_distribution(DistributionConfig=distribution_config("ref-1"))["Distribution"]["Id"]
        time.sleep(0.2)
        self.assertEqual(self.distribution(dist_id)[0], "InProgress", "held by the explicit transition")
        self.until("Deployed", lambda: self.distribution(dist_id)[0] == "Deployed", limit=5)
        from emutest import http

        http("POST", f"{self.url}/moto-api/state-manager/unset-transition", {"model_name": "cloudfront::distribution"})

    def test_caller_reference_returns_the_same_distribution_or_refuses_another_config(self) -> None:
        self.configure(time_scale=0)
        config = distribution_config("ref-1")
        first = self.cf.create_distribution(DistributionConfig=config)
        again = self.cf.create_distribution(DistributionConfig=copy.deepcopy(config))
        self.assertEqual(again["Distribution"]["Id"], first["Distribution"]["Id"])
        self.assertEqual(again["ResponseMetadata"]["HTTPStatusCode"], 201)
        self.assertEqual(len(self.cf.list_distributions()["DistributionList"]["Items"]), 1)
        status, code, _ = self.error_code(lambda: self.cf.create_distribution(
            DistributionConfig=distribution_config("ref-1", comment="another")))
        self.assertEqual((status, code), (409, "DistributionAlreadyExists"))


class Invalidations(EmulatorTestCase):
    def test_an_invalidation_is_in_progress_then_completed(self) -> None:
        self.configure(time_scale=0)
        dist_id = self.cf.create_distribution(DistributionConfig=distribution_config("ref-1"))["Distribution"]["Id"]
        self.configure(time_scale=0.01, durations={"invalidation": 20})
        batch = {"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "inv-1"}
        created = self.cf.create_invalidation(DistributionId=dist_id, InvalidationBatch=batch)["Invalidation"]
        self.assertEqual(created["Status"], "InProgress")
        self.assertEqual(self.cf.get_distribution(Id=dist_id)["Distribution"]["InProgressInvalidationBatches"], 1)
        self.until("Completed", lambda: self.cf.get_invalidation(
            DistributionId=dist_id, Id=created["Id"])["Invalidation"]["Status"] == "Completed")
        self.assertEqual(self.cf.get_distribution(Id=dist_id)["Distribution"]["InProgressInvalidationBatches"], 0)

        from moto.cloudfront.models import cloudfront_backends

        model = cloudfront_backends["123456789012"]["aws"].invalidations[dist_id][0]
        self.assertAlmostEqual((model.completed_at - model.create_time).total_seconds(), 0.2, places=3)

    def test_caller_reference_returns_the_earlier_invalidation_or_refuses_other_paths(self) -> None:
        self.configure(time_scale=0)
        dist_id = self.cf.create_distribution(DistributionConfig=distribution_config("ref-1"))["Distribution"]["Id"]
        batch = {"Paths": {"Quantity": 2, "Items": ["/*", "/index.html"]}, "CallerReference": "inv-1"}
        first = self.cf.create_invalidation(DistributionId=dist_id, InvalidationBatch=batch)
        again = self.cf.create_invalidation(DistributionId=dist_id, InvalidationBatch=batch)
        self.assertEqual(again["ResponseMetadata"]["HTTPStatusCode"], 201)
        self.assertEqual(again["Invalidation"]["Id"], first["Invalidation"]["Id"])
        self.assertEqual(self.cf.list_invalidations(DistributionId=dist_id)["InvalidationList"]["Quantity"], 1)
        other = {"Paths": {"Quantity": 1, "Items": ["/other"]}, "CallerReference": "inv-1"}
        status, code, message = self.error_code(lambda: self.cf.create_invalidation(DistributionId=dist_id, InvalidationBatch=other))
        self.assertEqual((status, code), (409, "InvalidationBatchAlreadyExists"))
        self.assertIn("inv-1", message)
        self.assertEqual(self.cf.list_invalidations(DistributionId=dist_id)["InvalidationList"]["Quantity"], 1)


if __name__ == "__main__":
    unittest.main()
