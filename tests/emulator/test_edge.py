"""Tests of edge.py, the CloudFront edge stand-in, against moto in this process.

    cd tests/emulator && ../../.venv/bin/python -m unittest test_edge -v

Distributions and functions are made through the CloudFront and Lambda APIs (boto3 against moto's
server, with the emulator's extensions installed, so associations survive as they do for the tool).
Deployment and invalidation progress are set on moto's objects, so no test waits for a clock.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import sys
import time
import unittest
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import edge  # noqa: E402

ACCOUNT = "123456789012"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
AMPLIFY = "2e54312d-136d-493c-8eb9-b001f22f67d2"  # all query strings in the key, default TTL 2 s

server: Any = None
clients: dict[str, Any] = {}


def setUpModule() -> None:
    global server
    # The emulator's extensions: associations are kept, an update goes back to InProgress. They
    # move from launcher.py into the `emulator` package; either one serves.
    try:
        from emulator import install  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        from launcher import install
    install()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    import boto3

    for service in ("cloudfront", "lambda", "iam"):
        clients[service] = boto3.client(
            service, endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )


def tearDownModule() -> None:
    from moto.moto_api import state_manager

    edge.reset()
    state_manager.unset_transition("cloudfront::distribution")
    server.stop()


def code(release: str | None = None, status: int | None = None, index_js: str | None = None) -> bytes:
    marker: dict[str, Any] = {} if release is None else {"release": release}
    if status is not None:
        marker["status"] = status
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.js", index_js or "exports.handler = async (e) => e.Records[0].cf.request;\n")
        if marker:
            archive.writestr("release.json", json.dumps(marker))
    return buffer.getvalue()


def response_of(url: str, path: str, method: str = "GET",
                headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        connection.request(method, path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.headers, answer.read().decode()
    finally:
        connection.close()


class EdgeTest(unittest.TestCase):
    def setUp(self) -> None:
        from moto.moto_api import state_manager
        from moto.moto_api._internal.models import moto_api_backend

        edge.reset()
        moto_api_backend.reset()
        # Distributions stay as they are until a test deploys them (see deploy()).
        state_manager.set_transition("cloudfront::distribution", {"progression": "manual", "times": 10**9})
        self.role = clients["iam"].create_role(RoleName="edge", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    # --- Building blocks -------------------------------------------------------------------

    def publish(self, name: str, **code_args: Any) -> str:
        """Uploads the code to function `name` (made on first use) and publishes a version: its ARN."""
        lam = clients["lambda"]
        try:
            lam.update_function_code(FunctionName=name, ZipFile=code(**code_args))
        except lam.exceptions.ResourceNotFoundException:
            lam.create_function(FunctionName=name, Runtime="nodejs20.x", Role=self.role,
                                Handler="index.handler", Code={"ZipFile": code(**code_args)})
        return str(lam.publish_version(FunctionName=name)["FunctionArn"])

    @staticmethod
    def behavior(associations: dict[str, str] | None = None, policy: str | None = CACHING_OPTIMIZED,
                 pattern: str | None = None, **extra: Any) -> dict[str, Any]:
        items = [{"EventType": event, "LambdaFunctionARN": arn} for event, arn in (associations or {}).items()]
        config: dict[str, Any] = {
            "TargetOriginId": "origin", "ViewerProtocolPolicy": "redirect-to-https",
            "LambdaFunctionAssociations": {"Quantity": len(items), "Items": items}, **extra,
        }
        if policy:
            config["CachePolicyId"] = policy
        if pattern is not None:
            config["PathPattern"] = pattern
        return config

    @staticmethod
    def distribution_config(default: dict[str, Any], behaviors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "CallerReference": str(uuid.uuid4()), "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "origin", "DomainName": "origin.example.com",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
            }]},
            "DefaultCacheBehavior": default,
            "CacheBehaviors": {"Quantity": len(behaviors or []), "Items": behaviors or []},
        }

    def create(self, default: dict[str, Any], behaviors: list[dict[str, Any]] | None = None) -> tuple[str, str]:
        """A deployed distribution and its edge's URL."""
        dist_id = clients["cloudfront"].create_distribution(
            DistributionConfig=self.distribution_config(default, behaviors))["Distribution"]["Id"]
        self.deploy(dist_id)
        return dist_id, edge.start_edge(dist_id)

    def update(self, dist_id: str, default: dict[str, Any], behaviors: list[dict[str, Any]] | None = None) -> None:
        cf = clients["cloudfront"]
        current = cf.get_distribution_config(Id=dist_id)
        config = self.distribution_config(default, behaviors)
        config["CallerReference"] = current["DistributionConfig"]["CallerReference"]
        cf.update_distribution(Id=dist_id, IfMatch=current["ETag"], DistributionConfig=config)
        self.assertEqual(self.moto_distribution(dist_id).status, "InProgress")

    @staticmethod
    def moto_distribution(dist_id: str) -> Any:
        from moto.cloudfront.models import cloudfront_backends

        return cloudfront_backends[ACCOUNT]["aws"].distributions[dist_id]

    def deploy(self, dist_id: str) -> None:
        self.moto_distribution(dist_id).status = "Deployed"

    def invalidate(self, dist_id: str, *paths: str, completed: bool) -> Any:
        from moto.cloudfront.models import cloudfront_backends

        batch = {"Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": str(uuid.uuid4())}
        created = clients["cloudfront"].create_invalidation(DistributionId=dist_id, InvalidationBatch=batch)
        inv_id = created["Invalidation"]["Id"]
        invalidation = next(i for i in cloudfront_backends[ACCOUNT]["aws"].invalidations[dist_id] if i.id == inv_id)
        self.set_completed(invalidation, completed)
        return invalidation

    @staticmethod
    def set_completed(invalidation: Any, completed: bool) -> None:
        # moto marks an invalidation COMPLETED at once; the emulator may make that time-based with a
        # `completed_at`. Both are set, so that the edge reads the same state either way.
        for name, value in (("status", "Completed" if completed else "InProgress"),
                            ("completed_at", time.time() - 0.001 if completed else time.time() + 3600)):
            try:
                setattr(invalidation, name, value)
            except AttributeError:  # a read-only property
                pass

    def assertServed(self, url: str, path: str, release: str | None, cache: str,
                     headers: dict[str, str] | None = None, status: int = 200) -> Any:
        got_status, got, body = response_of(url, path, headers=headers)
        self.assertEqual((got_status, got.get("X-Edge-Release"), got.get("X-Cache")),
                         (status, release, f"{cache} from cloudfront"), f"GET {path}: {body}")
        return got

    # --- Caching ---------------------------------------------------------------------------

    def test_second_request_is_a_hit_and_no_cache_does_not_bypass(self) -> None:
        v1 = self.publish("site", release="release-1")
        _, url = self.create(self.behavior({"origin-request": v1}))
        got = self.assertServed(url, "/", "release-1", "Miss")
        self.assertEqual(got.get("X-Edge-Function-Version"), v1)
        self.assertEqual(got.get("Content-Type"), "text/html")
        self.assertEqual(got.get("X-Edge-Distribution"), next(iter(edge._edges)), "the distribution that answered")
        got = self.assertServed(url, "/", "release-1", "Hit", {"Cache-Control": "no-cache", "Pragma": "no-cache"})
        self.assertEqual(got.get("X-Edge-Function-Version"), v1)
        self.assertIsNotNone(got.get("Age"))
        status, _, body = response_of(url, "/")
        self.assertEqual((status, body), (200, "<h1>Hello from release-1</h1>"))
        status, head, body = response_of(url, "/", method="HEAD")
        self.assertEqual((status, head.get("X-Cache"), body), (200, "Hit from cloudfront", ""))

    def test_caching_optimized_leaves_the_query_string_out_of_the_key(self) -> None:
        v1 = self.publish("site", release="release-1")
        dist_id, url = self.create(self.behavior({"origin-request": v1}))
        self.assertServed(url, "/index.html?cb=1", "release-1", "Miss")
        v2 = self.publish("site", release="release-2")
        self.update(dist_id, self.behavior({"origin-request": v2}))
        self.deploy(dist_id)
        # A cache-busting parameter does not reach the new version: same key, still release 1.
        self.assertServed(url, "/index.html?cb=2", "release-1", "Hit")
        # A path never requested is a miss, served by the deployed version.
        self.assertServed(url, "/other.html?cb=2", "release-2", "Miss")

    def test_all_query_strings_policy_keys_on_the_query_string_until_the_ttl_ends(self) -> None:
        v1 = self.publish("site", release="release-1")
        _, url = self.create(self.behavior({"origin-request": v1}, policy=AMPLIFY))
        self.assertServed(url, "/?v=1", "release-1", "Miss")
        self.assertServed(url, "/?v=2", "release-1", "Miss")
        self.assertServed(url, "/?v=1", "release-1", "Hit")
        time.sleep(2.1)  # Managed-Amplify's default TTL is 2 s
        self.assertServed(url, "/?v=1", "release-1", "Miss")

    def test_legacy_forwarded_values_key_on_the_listed_query_strings(self) -> None:
        v1 = self.publish("site", release="release-1")
        forwarded = {"QueryString": True, "Cookies": {"Forward": "none"},
                     "QueryStringCacheKeys": {"Quantity": 1, "Items": ["lang"]}}
        _, url = self.create(self.behavior({"origin-request": v1}, policy=None, ForwardedValues=forwarded,
                                           MinTTL=0, DefaultTTL=3600, MaxTTL=86400))
        self.assertServed(url, "/?lang=en&cb=1", "release-1", "Miss")
        self.assertServed(url, "/?lang=en&cb=2", "release-1", "Hit")
        self.assertServed(url, "/?lang=fr&cb=2", "release-1", "Miss")

    def test_caching_disabled_never_caches(self) -> None:
        v1 = self.publish("site", release="release-1")
        _, url = self.create(self.behavior({"origin-request": v1}, policy=CACHING_DISABLED))
        for _ in range(3):
            self.assertServed(url, "/", "release-1", "Miss")

    def test_a_broken_release_answers_its_status_and_the_error_is_cached_briefly(self) -> None:
        broken = self.publish("site", release="broken", status=502)
        _, url = self.create(self.behavior({"origin-request": broken}))
        self.assertServed(url, "/", "broken", "Miss", status=502)
        self.assertServed(url, "/", "broken", "Hit", status=502)  # error caching: 10 s by default
        entry = next(iter(edge._edges.values())).cache["/"]
        self.assertAlmostEqual(entry.expires_at - entry.stored_at, edge.ERROR_CACHING_TTL)

    # --- Deployment ------------------------------------------------------------------------

    def test_a_new_version_is_not_served_until_the_distribution_is_deployed(self) -> None:
        v1 = self.publish("site", release="release-1")
        dist_id, url = self.create(self.behavior({"origin-request": v1}))
        self.assertServed(url, "/cached", "release-1", "Miss")
        v2 = self.publish("site", release="release-2")
        self.update(dist_id, self.behavior({"origin-request": v2}))
        self.assertServed(url, "/a", "release-1", "Miss")  # InProgress: the edges run the old version
        self.deploy(dist_id)
        got = self.assertServed(url, "/b", "release-2", "Miss")
        self.assertEqual(got.get("X-Edge-Function-Version"), v2)
        self.assertServed(url, "/cached", "release-1", "Hit")  # deployed, but cached: still the old one

    def test_a_configuration_deployed_while_no_edge_request_came_is_remembered(self) -> None:
        v1 = self.publish("site", release="release-1")
        dist_id, url = self.create(self.behavior({"origin-request": v1}))
        v2 = self.publish("site", release="release-2")
        self.update(dist_id, self.behavior({"origin-request": v2}))
        self.deploy(dist_id)
        v3 = self.publish("site", release="release-3")
        self.update(dist_id, self.behavior({"origin-request": v3}))  # release 2 was live until now
        self.assertServed(url, "/", "release-2", "Miss")

    def test_an_edge_started_during_the_first_deployment_serves_the_current_configuration(self) -> None:
        v1 = self.publish("site", release="release-1")
        cf = clients["cloudfront"]
        dist_id = cf.create_distribution(DistributionConfig=self.distribution_config(
            self.behavior({"origin-request": v1})))["Distribution"]["Id"]
        self.assertServed(edge.start_edge(dist_id), "/", "release-1", "Miss")

    # --- Invalidations ---------------------------------------------------------------------

    def released(self) -> tuple[str, str]:
        """A distribution whose /index.html and /app.js were cached by release 1, now on release 2."""
        v1 = self.publish("site", release="release-1")
        dist_id, url = self.create(self.behavior({"origin-request": v1}))
        for path in ("/index.html", "/app.js"):
            self.assertServed(url, path, "release-1", "Miss")
        v2 = self.publish("site", release="release-2")
        self.update(dist_id, self.behavior({"origin-request": v2}))
        self.deploy(dist_id)
        return dist_id, url

    def test_a_completed_invalidation_of_the_path_makes_the_next_request_a_miss(self) -> None:
        dist_id, url = self.released()
        self.invalidate(dist_id, "/index.html", completed=True)
        self.assertServed(url, "/index.html?cb=3", "release-2", "Miss")
        self.assertServed(url, "/index.html", "release-2", "Hit")  # cached after the invalidation: stays
        self.assertServed(url, "/app.js", "release-1", "Hit")  # not in the invalidation

    def test_a_completed_wildcard_invalidation_clears_everything(self) -> None:
        dist_id, url = self.released()
        self.invalidate(dist_id, "/*", completed=True)
        self.assertServed(url, "/index.html", "release-2", "Miss")
        self.assertServed(url, "/app.js", "release-2", "Miss")

    def test_an_invalidation_still_in_progress_leaves_the_cache_alone(self) -> None:
        dist_id, url = self.released()
        invalidation = self.invalidate(dist_id, "/*", completed=False)
        self.assertServed(url, "/index.html", "release-1", "Hit")
        self.set_completed(invalidation, True)
        self.assertServed(url, "/index.html", "release-2", "Miss")

    def test_invalidation_paths(self) -> None:
        covers = edge._invalidation_covers
        self.assertTrue(covers("/*", "/a/b"))
        self.assertTrue(covers("/images/*", "/images/a.png"))
        self.assertTrue(covers("images/*", "/images/a.png"))
        self.assertFalse(covers("/images/*", "/img/a.png"))
        self.assertFalse(covers("/index.html", "/index.htm"))
        self.assertFalse(covers("/Index.html", "/index.html"))  # case-sensitive

    def test_where_the_key_has_query_strings_an_invalidation_names_them(self) -> None:
        v1 = self.publish("site", release="release-1")
        forwarded = {"QueryString": True, "Cookies": {"Forward": "none"}}
        legacy: dict[str, Any] = {"policy": None, "ForwardedValues": forwarded, "MinTTL": 0, "DefaultTTL": 3600, "MaxTTL": 86400}
        dist_id, url = self.create(self.behavior({"origin-request": v1}, **legacy))
        for query in ("", "?v=1", "?v=2"):
            self.assertServed(url, "/index.html" + query, "release-1", "Miss")
        v2 = self.publish("site", release="release-2")
        self.update(dist_id, self.behavior({"origin-request": v2}, **legacy))
        self.deploy(dist_id)
        self.invalidate(dist_id, "/index.html", "/index.html?v=1", completed=True)
        self.assertServed(url, "/index.html", "release-2", "Miss")
        self.assertServed(url, "/index.html?v=1", "release-2", "Miss")
        self.assertServed(url, "/index.html?v=2", "release-1", "Hit")
        self.invalidate(dist_id, "/index.html*", completed=True)
        self.assertServed(url, "/index.html?v=2", "release-2", "Miss")

    # --- Functions and behaviors -----------------------------------------------------------

    def test_a_viewer_request_function_runs_on_every_request(self) -> None:
        v1 = self.publish("viewer", release="release-1")
        dist_id, url = self.create(self.behavior({"viewer-request": v1}))
        status, _, body = response_of(url, "/")
        self.assertEqual((status, body), (200, "<h1>origin</h1>"))
        v2 = self.publish("viewer", release="release-2")
        self.update(dist_id, self.behavior({"viewer-request": v2}))
        self.deploy(dist_id)
        got = self.assertServed(url, "/", "release-2", "Hit")  # the body is cached, the function is not
        self.assertEqual(got.get("X-Edge-Function-Version"), v2)

    def test_the_first_matching_path_pattern_chooses_the_behavior(self) -> None:
        api = self.publish("api", release="api-1")
        site = self.publish("site", release="site-1")
        _, url = self.create(self.behavior({"origin-request": site}), [
            self.behavior({"origin-request": api}, pattern="/api/*"),
            self.behavior(policy=CACHING_DISABLED, pattern="*.jpg"),
            self.behavior({"origin-request": site}, pattern="/api/v?/*"),  # shadowed by /api/*
        ])
        self.assertServed(url, "/api/v1/users", "api-1", "Miss")
        status, got, body = response_of(url, "/images/cat.jpg")
        self.assertEqual((status, got.get("X-Edge-Release"), body), (200, None, "<h1>origin</h1>"))
        self.assertServed(url, "/API/x", "site-1", "Miss")  # patterns are case-sensitive
        self.assertServed(url, "/index.html", "site-1", "Miss")

    def test_path_patterns(self) -> None:
        matches = edge.path_pattern_matches
        self.assertTrue(matches("images/*.jpg", "/images/a/b.jpg"))
        self.assertTrue(matches("/v?/x", "/v1/x"))
        self.assertFalse(matches("/v?/x", "/v10/x"))
        self.assertFalse(matches("/images/*", "/static/images/a"))
        self.assertTrue(matches("*", "/"))
        self.assertFalse(matches("/a[b]", "/ab"))  # brackets are literal, unlike fnmatch

    def test_the_release_constant_in_index_js_when_there_is_no_release_json(self) -> None:
        v1 = self.publish("site", index_js="'use strict';\nconst RELEASE = 'release-7';\n")
        _, url = self.create(self.behavior({"origin-request": v1}))
        self.assertServed(url, "/", "release-7", "Miss")

    def test_an_association_cloudfront_would_refuse_is_a_502(self) -> None:
        v1 = self.publish("site", release="release-1")
        for arn in (v1.rsplit(":", 1)[0] + ":$LATEST", v1.rsplit(":", 1)[0] + ":9", v1.rsplit(":", 1)[0]):
            with self.subTest(arn=arn):
                edge.reset()
                _, url = self.create(self.behavior({"origin-request": arn}))
                status, got, body = response_of(url, "/")
                self.assertEqual(status, 502)
                self.assertIn("LambdaFunctionAssociation", body)
                self.assertIsNone(got.get("X-Edge-Release"))
                self.assertEqual(response_of(url, "/")[0], 502)  # and not cached as a success

    def test_a_deleted_distribution_is_a_404(self) -> None:
        v1 = self.publish("site", release="release-1")
        dist_id, url = self.create(self.behavior({"origin-request": v1}))
        cf = clients["cloudfront"]
        cf.delete_distribution(Id=dist_id, IfMatch=cf.get_distribution(Id=dist_id)["ETag"])
        status, _, body = response_of(url, "/")
        self.assertEqual(status, 404)
        self.assertIn("The request could not be satisfied", body)

    # --- The edge itself -------------------------------------------------------------------

    def test_log_lists_every_request(self) -> None:
        v1 = self.publish("site", release="release-1")
        dist_id, url = self.create(self.behavior({"origin-request": v1}))
        response_of(url, "/a?cb=1")
        response_of(url, "/a?cb=2")
        status, _, body = response_of(url, "/_edge/log")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), [
            {"path": "/a", "query": "cb=1", "cache": "Miss", "status": 200, "release": "release-1", "version": v1,
             "distribution": dist_id},
            {"path": "/a", "query": "cb=2", "cache": "Hit", "status": 200, "release": "release-1", "version": v1,
             "distribution": dist_id},
        ])

    def test_concurrent_requests_share_one_cache(self) -> None:
        v1 = self.publish("site", release="release-1")
        _, url = self.create(self.behavior({"origin-request": v1}))
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda i: response_of(url, f"/?cb={i}")[1].get("X-Cache"), range(32)))
        self.assertEqual(sorted(answers), ["Hit from cloudfront"] * 31 + ["Miss from cloudfront"])

    def test_one_edge_per_distribution_until_reset(self) -> None:
        v1 = self.publish("site", release="release-1")
        dist_id, url = self.create(self.behavior({"origin-request": v1}))
        self.assertEqual(edge.start_edge(dist_id), url)
        with self.assertRaises(KeyError):
            edge.start_edge("E0000000000000")
        edge.reset()
        with self.assertRaises(OSError):
            response_of(url, "/")
        new_url = edge.start_edge(dist_id)
        self.assertServed(new_url, "/", "release-1", "Miss")  # a new edge starts with an empty cache


if __name__ == "__main__":
    unittest.main()
