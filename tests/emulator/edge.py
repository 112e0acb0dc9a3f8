"""A stand-in for a CloudFront distribution's edge, that caches as CloudFront does.

    url = start_edge(distribution_id)   # http://127.0.0.1:PORT: one server per distribution and process
    reset()                             # stops every edge and forgets every cache (for /moto-api/reset)
    install()                           # optional, at the emulator's start-up: see its docstring

The tool's last step requests the site "at the edge" and matches what comes back. On CloudFront that
check is easily fooled: the cache key of the example template's policy (Managed-CachingOptimized)
leaves query strings out, a viewer's `Cache-Control: no-cache` does not bypass the cache, and an
origin-request function runs only on a miss. So a cached path answers from the old release for a
day unless it is invalidated. This edge reproduces that, reading moto's CloudFront and Lambda
backends in-process (moto stays the single source of state): the deployed configuration, the
associated Lambda versions' code, and the invalidations.

Every answer made by a function version says which one made it: `X-Edge-Release` (the code's release
marker: `release` from a `release.json` in the zip, else `const RELEASE = '...'` in `index.js`) and
`X-Edge-Function-Version` (the version ARN). `X-Cache` says `Hit from cloudfront` or `Miss from
cloudfront` as CloudFront does. `X-Edge-Distribution` names the distribution whose configuration
answered: the primary's own id, or its staging distribution's under continuous deployment (below).
`GET /_edge/log` on the edge's own port lists every request served.

Continuous deployment (DG "Use CloudFront continuous deployment to safely test CDN configuration
changes", here DG-CD): viewers send every request to the primary distribution, never to a staging
distribution directly (start_edge refuses one), and CloudFront routes some of them to the staging
distribution named by the primary's continuous deployment policy, as the policy was when the
primary's configuration last deployed. With the policy enabled: SingleHeader sends the requests
whose header (named case-insensitively) has exactly the policy's value; SingleWeight sends a share
equal to the weight, deterministically: of the requests this edge has routed by weight, the n-th
goes to staging when floor(n × weight) > floor((n - 1) × weight) (0.1: the 10th, 20th, ...). A
disabled policy, no TrafficConfig, or a staging distribution that is gone sends everything to the
primary. The staging distribution answers from its own deployed configuration (its associated
versions) and its own cache: "The primary and staging distributions don't share a cache". Not
reproduced: session stickiness (its cookie) and CloudFront sending everything to the primary at
peak times.

Sources, cited where used: pages of the CloudFront Developer Guide (DG) and API reference, and the
project's notes in ../shared/reference from the repository root (aws-semantics.md, lambda-edge.md).
"""

from __future__ import annotations

import copy
import io
import json
import math
import re
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union
from urllib.parse import parse_qsl, urlsplit

# --- Cache policies: what goes in the cache key, and for how long ---------------------------

QueryStrings = Union[str, frozenset[str]]  # "none", "all", or the names that go in the key


@dataclass(frozen=True)
class CachePolicy:
    name: str
    default_ttl: int  # seconds; our stand-in origin sends no Cache-Control, so this is the TTL
    query_strings: QueryStrings = "none"
    headers: tuple[str, ...] = ()
    cookies: QueryStrings = "none"


_ORIGIN_HEADERS = ("Host", "Origin", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")

# DG "Use managed cache policies". The accept-encoding normalisation they add to the key is left
# out (our origin never compresses). Note Elemental-MediaPackage keys on four named query strings,
# not all of them, and the two UseOriginCacheControlHeaders policies have a default TTL of 0: with
# an origin that sends no Cache-Control (ours), nothing is kept.
MANAGED_CACHE_POLICIES: dict[str, CachePolicy] = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": CachePolicy("Managed-CachingOptimized", 86400),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": CachePolicy("Managed-CachingOptimizedForUncompressedObjects", 86400),
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": CachePolicy("Managed-CachingDisabled", 0),
    "08627262-05a9-4f76-9ded-b50ca2e3a84f": CachePolicy(
        "Managed-Elemental-MediaPackage", 86400,
        frozenset({"aws.manifestfilter", "start", "end", "m"}), ("Origin",),
    ),
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": CachePolicy(
        "Managed-UseOriginCacheControlHeaders", 0, "none", _ORIGIN_HEADERS, "all"),
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": CachePolicy(
        "Managed-UseOriginCacheControlHeaders-QueryStrings", 0, "all", _ORIGIN_HEADERS, "all"),
    "2e54312d-136d-493c-8eb9-b001f22f67d2": CachePolicy(
        "Managed-Amplify", 2, "all", ("Authorization", "CloudFront-Viewer-Country", "Host"), "all"),
}
# moto cannot create cache policies, so any other id is unknown here: keyed like CachingOptimized.
UNKNOWN_CACHE_POLICY = CachePolicy("unknown cache policy", 86400)
LEGACY_DEFAULT_TTL = 86400  # API reference "CacheBehavior": DefaultTTL defaults to one day

# DG "How CloudFront processes HTTP 4xx and 5xx status codes from your origin": these codes are
# cached 10 s unless a custom error response sets ErrorCachingMinTTL; others are cached like a 200.
ERROR_CACHING_CODES = frozenset({400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504})
ERROR_CACHING_TTL = 10


def _items(value: Any) -> list[Any]:
    """The `Items` of a CloudFront `{Quantity, Items}` (a lone XML member may come unwrapped)."""
    items = value.get("Items") if isinstance(value, dict) else value
    if isinstance(items, (dict, str)):
        items = [items]
    return list(items or [])


def _legacy_policy(behavior: Any) -> CachePolicy:
    # A behavior with no cache policy uses the legacy ForwardedValues (API reference
    # "ForwardedValues"): QueryString true keys on every query string, or only on
    # QueryStringCacheKeys when listed; forwarded headers and cookies are keyed too.
    forwarded: dict[str, Any] = getattr(getattr(behavior, "forwarded_values", None), "__dict__", {})
    query: QueryStrings = "none"
    if str(forwarded.get("QueryString", False)).lower() == "true":
        names = _items(forwarded.get("QueryStringCacheKeys"))
        query = frozenset(names) if names else "all"
    headers = tuple(_items(forwarded.get("Headers")))
    cookie_config = forwarded.get("Cookies") or {}
    forward = cookie_config.get("Forward", "none")
    cookies: QueryStrings = (
        frozenset(_items(cookie_config.get("WhitelistedNames"))) if forward == "whitelist" else forward
    )
    # moto stores an absent DefaultTTL (and MaxTTL) as 0, so 0/0 means "not given": one day,
    # or MinTTL when that is longer (API reference). An explicit DefaultTTL 0 beside a MaxTTL
    # is kept: nothing cached.
    ttl = int(getattr(behavior, "default_ttl", 0) or 0)
    if not ttl and not int(getattr(behavior, "max_ttl", 0) or 0):
        ttl = max(LEGACY_DEFAULT_TTL, int(getattr(behavior, "min_ttl", 0) or 0))
    if "*" in headers:  # DG: forwarding all headers means CloudFront does not cache
        ttl = 0
    return CachePolicy("legacy ForwardedValues", ttl, query, headers, cookies)


def cache_policy(behavior: Any) -> CachePolicy:
    policy_id = getattr(behavior, "cache_policy_id", "") or ""
    if policy_id:
        return MANAGED_CACHE_POLICIES.get(policy_id, UNKNOWN_CACHE_POLICY)
    return _legacy_policy(behavior)


def _select(pairs: list[tuple[str, str]], which: QueryStrings) -> list[tuple[str, str]]:
    if which == "all":
        return pairs
    if isinstance(which, frozenset):
        return [(k, v) for k, v in pairs if k in which]
    return []


def cached_url(policy: CachePolicy, path: str, query: str) -> str:
    """The path plus the query strings the policy keys on: what an invalidation path names."""
    if policy.query_strings == "all":
        return f"{path}?{query}" if query else path  # the string as the viewer sent it
    kept = _select(parse_qsl(query, keep_blank_values=True), policy.query_strings)
    return path + ("?" + "&".join(f"{k}={v}" for k, v in kept) if kept else "")


def cache_key(policy: CachePolicy, path: str, query: str, headers: Any) -> str:
    """The cached URL, plus the headers and cookies the policy keys on. Nothing else counts: a
    viewer's Cache-Control or Pragma neither bypasses the cache nor changes the key (DG "Understand
    cache policies"; aws-semantics.md, "CloudFront caching and the check at the edge")."""
    key = cached_url(policy, path, query)
    for name in policy.headers:
        key += f"\n{name.lower()}: {headers.get(name, '')}"
    cookies = []
    for cookie in (headers.get("Cookie") or "").split(";"):
        name, _, value = cookie.strip().partition("=")
        if name:
            cookies.append((name, value))
    for name, value in _select(cookies, policy.cookies):
        key += f"\ncookie {name}={value}"
    return key


# --- Cache behaviors: which one serves a path ----------------------------------------------

@lru_cache(maxsize=256)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    # DG "Cache behavior settings", Path pattern: `*` matches any run of characters (slashes
    # included), `?` exactly one, case-sensitive, against the whole path; the leading `/` may be
    # left out of the pattern.
    if not pattern.startswith("/"):
        pattern = "/" + pattern
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def path_pattern_matches(pattern: str, path: str) -> bool:
    return _pattern_regex(pattern).fullmatch(path) is not None


def select_behavior(config: Any, path: str) -> Any:
    """The first cache behavior, in order, whose pattern matches; else the default behavior."""
    for behavior in _items(getattr(config, "CacheBehaviors", None)):
        if path_pattern_matches(getattr(behavior, "path_pattern", ""), path):
            return behavior
    return config.DefaultCacheBehavior


# --- Lambda@Edge: what a numbered version answers --------------------------------------------

# lambda-edge.md: CloudFront associates a numbered version of a function in us-east-1, never
# $LATEST or an alias.
_VERSION_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":function:(?P<name>[A-Za-z0-9_-]+):(?P<version>\d+)"
)
_RELEASE_CONSTANT = re.compile(r"""const\s+RELEASE\s*=\s*(['"])(?P<release>[^'"]*)\1""")


class FunctionError(Exception):
    """An association the edge cannot run. CloudFront refuses most of these at UpdateDistribution
    (InvalidLambdaFunctionAssociation); moto does not, so the edge answers as for a function that
    fails: 502, `X-Cache: LambdaValidationError from cloudfront`, and nothing cached."""

    def __init__(self, arn: str, reason: str) -> None:
        super().__init__(f"LambdaFunctionAssociation {arn} is not valid: {reason}")
        self.arn = arn


@dataclass(frozen=True)
class EdgeFunction:
    arn: str
    release: str | None  # None: the code carries no release marker
    status: int


def load_function(arn: str) -> EdgeFunction:
    """Reads the version's code from moto's Lambda backend, as the replica at the edge would run it."""
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import lambda_backends

    match = _VERSION_ARN.fullmatch(arn)
    if match is None:
        raise FunctionError(arn, "CloudFront takes a numbered version ARN, never $LATEST or an alias")
    if match["region"] != "us-east-1":
        raise FunctionError(arn, "Lambda@Edge functions live in us-east-1")
    try:
        fn = lambda_backends[match["account"]][match["region"]].get_function(match["name"], match["version"])
    except UnknownFunctionException:
        raise FunctionError(arn, "the function version does not exist") from None
    try:
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
            names = set(archive.namelist())
            marker = json.loads(archive.read("release.json")) if "release.json" in names else {}
            source = archive.read("index.js").decode("utf-8", "replace") if "index.js" in names else ""
    except (zipfile.BadZipFile, ValueError) as error:
        raise FunctionError(arn, f"its code cannot be read ({error})") from None
    release = marker.get("release")
    if release is None and (constant := _RELEASE_CONSTANT.search(source)):
        release = constant["release"]
    return EdgeFunction(arn, None if release is None else str(release), int(marker.get("status", 200)))


def _associations(behavior: Any) -> dict[str, str]:
    """Event type -> version ARN (at most one association per event type and behavior)."""
    associations = _items(getattr(behavior, "lambda_function_associations", None))
    return {a["EventType"]: a["LambdaFunctionARN"] for a in associations}


# --- Responses --------------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    release: str | None = None
    version: str | None = None

    def stamped(self, fn: EdgeFunction) -> Response:
        """The response as left by `fn`, the last function to run on it."""
        headers = {k: v for k, v in self.headers.items() if k not in ("X-Edge-Release", "X-Edge-Function-Version")}
        if fn.release is not None:
            headers["X-Edge-Release"] = fn.release
        headers["X-Edge-Function-Version"] = fn.arn
        status = fn.status if fn.status != 200 else self.status
        return Response(status, headers, self.body, fn.release, fn.arn)


def _page(fn: EdgeFunction) -> Response:
    body = f"<h1>Hello from {fn.release or '(no release marker)'}</h1>".encode()
    return Response(200, {"Content-Type": "text/html"}, body).stamped(fn)


def _error_page(status: int, message: str, x_cache: str) -> Response:
    # The shape of CloudFront's own error pages ("The request could not be satisfied.").
    body = (
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\">\n"
        "<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n"
        f"<H1>{status} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n"
        f"{message}\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n"
        "<PRE>\nGenerated by cloudfront (CloudFront)\n</PRE>\n"
        "</BODY></HTML>\n"
    )
    return Response(status, {"Content-Type": "text/html", "X-Cache": x_cache}, body.encode())


def _function_error(error: FunctionError) -> Response:
    return _error_page(
        502,
        "The Lambda function associated with the CloudFront distribution is invalid or doesn't have the "
        f"required permissions. {error}",
        "LambdaValidationError from cloudfront",
    )


# --- What the edge knows of moto -------------------------------------------------------------

def _find_distribution(distribution_id: str) -> tuple[Any, Any] | None:
    """(distribution, its backend), in whichever account holds it."""
    from moto.cloudfront.models import cloudfront_backends

    for by_partition in list(cloudfront_backends.values()):
        for backend in list(by_partition.values()):
            dist = backend.distributions.get(distribution_id)
            if dist is not None:
                return dist, backend
    return None


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        # moto's timestamps are naive UTC (moto.core.utils.utcnow)
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return float(value)


def _completed(invalidation: Any, now: float) -> bool:
    completed_at = getattr(invalidation, "completed_at", None)
    if completed_at is not None:
        return _epoch(completed_at) <= now
    return str(getattr(invalidation, "status", "")) in ("Completed", "COMPLETED")


def _invalidation_covers(invalidation_path: str, url: str) -> bool:
    """Whether an invalidation path names a cached URL (path and keyed query strings).

    DG "Invalidate files": a file's path, or a path ending in the `*` wildcard (`/*` is everything);
    case-sensitive. DG "What you need to know when invalidating files": where the cache keys on
    query strings, an invalidation names them (`/a.jpg?p=1`) or uses the wildcard (`/a.jpg*`); the
    variants of a file by header or cookie all go together.
    """
    if not invalidation_path.startswith("/"):
        invalidation_path = "/" + invalidation_path
    if invalidation_path.endswith("*"):
        return url.startswith(invalidation_path[:-1])
    return url == invalidation_path


@dataclass(frozen=True)
class Serving:
    """What the edges run for a distribution: its configuration, and (a primary's) continuous
    deployment policy configuration as it deployed with it (DG-CD: a policy change takes effect
    when the primary's configuration deploys)."""

    config: Any
    policy: dict[str, Any] | None


def _policy_config(backend: Any, config: Any) -> dict[str, Any] | None:
    """A copy of the configuration of the policy `config` attaches (the emulator's continuous.py
    keeps policies on moto's backend), or None."""
    policy_id = getattr(config, "ContinuousDeploymentPolicyId", "") or ""
    policy = getattr(backend, "__dict__", {}).get("emulator_policies", {}).get(policy_id) if policy_id else None
    return copy.deepcopy(policy.config) if policy is not None else None


# What each distribution last had while Deployed. DG "Update a distribution": a change takes
# minutes to reach the edges, and the status is Deployed once it has; until then this edge serves
# the previous configuration (the strict case: real edges switch one by one).
_deployed_configs: dict[str, Serving] = {}
_deployed_lock = threading.Lock()
_installed = False


def _serving(distribution_id: str, dist: Any, backend: Any) -> Serving:
    with _deployed_lock:
        config = dist.distribution_config
        if dist.status == "Deployed":  # a moto ManagedState: reading it lets time advance it
            _deployed_configs[distribution_id] = Serving(config, _policy_config(backend, config))
        found = _deployed_configs.get(distribution_id)
        # Never seen Deployed: the current configuration is all there is.
        return found if found is not None else Serving(config, _policy_config(backend, config))


def install() -> None:
    """Remembers, at each UpdateDistribution (and each UpdateContinuousDeploymentPolicy, which
    redeploys the primaries that attach the policy), what was being served if it was Deployed.

    moto's status only moves when read, so without this a configuration that was deployed while no
    edge request came would be missed: a release between two checks. UpdateDistribution replaces
    `distribution_config` with a new object (moto's update_distribution), so keeping the old one by
    reference is a snapshot; a policy's configuration is copied. Idempotent; start_edge() calls
    it, and the emulator may call it at start-up so that updates before the first edge are seen too.
    """
    global _installed
    from moto.cloudfront.models import CloudFrontBackend

    with _deployed_lock:
        if _installed:
            return
        _installed = True
    original = CloudFrontBackend.update_distribution

    def update_distribution(self: Any, *args: Any, **kwargs: Any) -> Any:
        dist_id = kwargs.get("_id", args[1] if len(args) > 1 else None)
        if isinstance(dist_id, str) and dist_id in self.distributions:
            _serving(dist_id, self.distributions[dist_id], self)
        return original(self, *args, **kwargs)

    CloudFrontBackend.update_distribution = update_distribution  # type: ignore[method-assign]

    original_policy_update = getattr(CloudFrontBackend, "update_continuous_deployment_policy", None)
    if original_policy_update is not None:
        def update_continuous_deployment_policy(self: Any, policy_id: str, *args: Any, **kwargs: Any) -> Any:
            for dist_id, dist in list(self.distributions.items()):
                if getattr(dist.distribution_config, "ContinuousDeploymentPolicyId", "") == policy_id:
                    _serving(dist_id, dist, self)
            return original_policy_update(self, policy_id, *args, **kwargs)

        CloudFrontBackend.update_continuous_deployment_policy = (  # type: ignore[attr-defined]
            update_continuous_deployment_policy)


def _is_staging(dist: Any) -> bool:
    return str(getattr(dist.distribution_config, "Staging", False)).lower() == "true"


def _staging_of(policy: dict[str, Any] | None, backend: Any) -> Any:
    """The staging distribution the policy names, if it still exists."""
    names = _items((policy or {}).get("StagingDistributionDnsNames"))
    for dist in list(backend.distributions.values()) if names else []:
        if dist.domain_name == names[0] and _is_staging(dist):
            return dist
    return None


# --- The edge ---------------------------------------------------------------------------------

@dataclass
class CacheEntry:
    response: Response
    url: str  # path and keyed query strings, for invalidations
    stored_at: float
    expires_at: float


class Edge:
    def __init__(self, distribution_id: str) -> None:
        self.distribution_id = distribution_id
        self.lock = threading.Lock()  # guards caches, log and counter; requests arrive on many threads
        self.cache: dict[str, CacheEntry] = {}  # the primary's; a staging distribution has its own
        self.caches: dict[str, dict[str, CacheEntry]] = {distribution_id: self.cache}
        self.weighted = 0  # requests routed by a SingleWeight policy so far
        self.log: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05},  # reset() stops it promptly
            name=f"edge-{distribution_id}", daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def serve(self, method: str, target: str, headers: Any) -> Response:
        url = urlsplit(target)
        path, query = url.path or "/", url.query
        with self.lock:
            response, cache, served = self._route(method, path, query, headers)
            response = Response(response.status, {**response.headers, "X-Edge-Distribution": served}, response.body,
                                response.release, response.version)
            self.log.append({
                "path": path, "query": query, "cache": cache, "status": response.status,
                "release": response.release, "version": response.version, "distribution": served,
            })
        return response

    def _route(self, method: str, path: str, query: str, headers: Any) -> tuple[Response, str, str]:
        """The answer, Hit/Miss, and the id of the distribution that answered (DG-CD routing)."""
        found = _find_distribution(self.distribution_id)
        if found is None:
            message = f"The distribution {self.distribution_id} does not exist."
            return _error_page(404, message, "Error from cloudfront"), "Miss", self.distribution_id
        dist, backend = found
        serving = _serving(self.distribution_id, dist, backend)
        staging = self._to_staging(serving.policy, backend, headers)
        if staging is not None:
            dist, serving = staging, _serving(staging.distribution_id, staging, backend)
        response, cache = self._serve(dist.distribution_id, dist, backend, serving.config,
                                      method, path, query, headers)
        return response, cache, dist.distribution_id

    def _to_staging(self, policy: dict[str, Any] | None, backend: Any, headers: Any) -> Any:
        """The staging distribution that answers this request, or None for the primary."""
        if not policy or not policy.get("Enabled"):
            return None
        staging = _staging_of(policy, backend)
        traffic = policy.get("TrafficConfig") or {}
        if staging is None:
            return None
        if traffic.get("Type") == "SingleHeader":
            single = traffic.get("SingleHeaderConfig") or {}
            value = headers.get(single.get("Header") or "") if single.get("Header") else None
            return staging if value is not None and value == single.get("Value") else None
        if traffic.get("Type") == "SingleWeight":
            weight = Fraction(str((traffic.get("SingleWeightConfig") or {}).get("Weight", 0)))
            self.weighted += 1
            n = self.weighted
            return staging if math.floor(n * weight) > math.floor((n - 1) * weight) else None
        return None

    def _serve(self, dist_id: str, dist: Any, backend: Any, config: Any, method: str, path: str, query: str,
               headers: Any) -> tuple[Response, str]:
        behavior = select_behavior(config, path)
        allowed = getattr(getattr(behavior, "allowed_methods", None), "items", None) or ["GET", "HEAD"]
        if method not in allowed:
            return _error_page(403, "This distribution is not configured to allow the HTTP request method that was "
                               "used for this request.", "Error from cloudfront"), "Miss"
        functions = _associations(behavior)

        # DG "CloudFront events that can trigger a Lambda@Edge function": viewer-request runs on
        # every request, before the cache is looked at; a response it generates goes straight back
        # (DG "Generate HTTP responses in request triggers")
        viewer_fn = None
        if "viewer-request" in functions:
            try:
                viewer_fn = load_function(functions["viewer-request"])
            except FunctionError as error:
                return _function_error(error), "Miss"
            if viewer_fn.status != 200:
                generated = _page(viewer_fn)
                generated.headers["X-Cache"] = "LambdaGeneratedResponse from cloudfront"
                return generated, "Miss"

        policy = cache_policy(behavior)
        key = cache_key(policy, path, query, headers)
        cacheable = method in ("GET", "HEAD")  # DG: CloudFront caches GET and HEAD responses only
        now = time.time()
        cache = self.caches.setdefault(dist_id, {})  # DG-CD: primary and staging don't share a cache
        entry = cache.get(key) if cacheable else None
        if entry is not None and (entry.expires_at <= now or self._invalidated(dist_id, entry, backend, now)):
            del cache[key]
            entry = None
        if entry is not None:
            response = Response(entry.response.status, dict(entry.response.headers), entry.response.body,
                                entry.response.release, entry.response.version)
            response.headers.update({"X-Cache": "Hit from cloudfront", "Age": str(int(now - entry.stored_at))})
            outcome = "Hit"
        else:
            try:
                response = self._origin(functions)
            except FunctionError as error:  # not cached: the next request tries again
                return _function_error(error), "Miss"
            ttl = self._ttl(policy, response.status, dist)
            if cacheable and ttl > 0:
                cache[key] = CacheEntry(response, cached_url(policy, path, query), now, now + ttl)
            outcome = "Miss"

        if viewer_fn is not None:
            response = response.stamped(viewer_fn)
        # DG "Restrictions on edge functions": no viewer-response function when the origin
        # answered 400 or more.
        if "viewer-response" in functions and response.status < 400:
            try:
                response = response.stamped(load_function(functions["viewer-response"]))
            except FunctionError as error:
                return _function_error(error), outcome
        return response, outcome

    @staticmethod
    def _origin(functions: dict[str, str]) -> Response:
        """A miss: origin-request runs, the origin answers, then origin-response (same DG page).

        The stand-in origin answers `<h1>origin</h1>`; with an origin-request function, the page
        says which release handled the request, as the example function's origin would.
        """
        response = Response(200, {"Content-Type": "text/html"}, b"<h1>origin</h1>")
        if "origin-request" in functions:
            response = _page(load_function(functions["origin-request"]))
        if "origin-response" in functions:
            response = response.stamped(load_function(functions["origin-response"]))
        response.headers["X-Cache"] = "Miss from cloudfront"
        return response

    @staticmethod
    def _ttl(policy: CachePolicy, status: int, dist: Any) -> int:
        if policy.default_ttl <= 0:
            return 0  # CachingDisabled (or a TTL of 0): CloudFront keeps nothing
        if status in ERROR_CACHING_CODES:
            for custom in _items(getattr(dist.distribution_config, "CustomErrorResponses", None)):
                if int(custom.get("ErrorCode", 0)) == status and custom.get("ErrorCachingMinTTL") is not None:
                    return int(custom["ErrorCachingMinTTL"])
            return ERROR_CACHING_TTL
        return policy.default_ttl

    @staticmethod
    def _invalidated(dist_id: str, entry: CacheEntry, backend: Any, now: float) -> bool:
        # An invalidation removes what was cached before it was created, once it has completed.
        for invalidation in list(backend.invalidations.get(dist_id, [])):
            if (
                _epoch(invalidation.create_time) > entry.stored_at
                and _completed(invalidation, now)
                and any(_invalidation_covers(p, entry.url) for p in _items(invalidation.paths))
            ):
                return True
        return False

    def log_json(self) -> bytes:
        with self.lock:
            return json.dumps(self.log).encode()


def _handler_for(edge: Edge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "CloudFront"
        sys_version = ""

        def _answer(self) -> None:
            if self.path == "/_edge/log" and self.command == "GET":
                response = Response(200, {"Content-Type": "application/json"}, edge.log_json())
            else:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)  # keep the connection usable
                response = edge.serve(self.command, self.path, self.headers)
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the emulator's stderr has a budget; /_edge/log has every request

    return Handler


_edges: dict[str, Edge] = {}
_edges_lock = threading.Lock()


class StagingDistributionError(ValueError):
    """start_edge was asked for a staging distribution, which viewers never reach directly."""


def start_edge(distribution_id: str) -> str:
    """Starts the edge of a distribution (once per process) and returns its base URL.

    Raises KeyError if moto has no such distribution, so that a caller can answer 404, and
    StagingDistributionError (a ValueError) for a staging distribution.
    """
    install()
    with _edges_lock:
        if distribution_id in _edges:
            return _edges[distribution_id].url
        found = _find_distribution(distribution_id)
        if found is None:
            raise KeyError(f"no distribution {distribution_id}")
        if _is_staging(found[0]):
            raise StagingDistributionError(
                f"{distribution_id} is a staging distribution: viewers cannot send requests to it directly "
                "(DG-CD); start the edge of its primary distribution, which routes requests to it by the "
                "continuous deployment policy")
        _serving(distribution_id, found[0], found[1])  # if it is Deployed now, that is what edges serve
        edge = _edges[distribution_id] = Edge(distribution_id)
        return edge.url


def reset() -> None:
    """Stops every edge and forgets every cache and deployed configuration."""
    with _edges_lock:
        edges = list(_edges.values())
        _edges.clear()
    for edge in edges:
        edge.stop()
    with _deployed_lock:
        _deployed_configs.clear()
