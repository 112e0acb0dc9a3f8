"""CloudFront continuous deployment: staging distributions, continuous deployment policies, promotion.

What CloudFront does (API reference: CreateContinuousDeploymentPolicy, GetContinuousDeploymentPolicy,
GetContinuousDeploymentPolicyConfig, UpdateContinuousDeploymentPolicy, DeleteContinuousDeploymentPolicy,
ListContinuousDeploymentPolicies, ContinuousDeploymentPolicyConfig, StagingDistributionDnsNames,
TrafficConfig, ContinuousDeploymentSingleHeaderConfig, ContinuousDeploymentSingleWeightConfig,
SessionStickinessConfig, DistributionConfig, CopyDistribution, UpdateDistributionWithStagingConfig;
Developer Guide "Use CloudFront continuous deployment to safely test CDN configuration changes" and
its "Quotas and other considerations", here DG-CD; CloudFormation template reference
AWS::CloudFront::ContinuousDeploymentPolicy), and what moto 5.2.5 does instead:

- The policy API: create (201, ETag, Location), get, get config, update and delete with If-Match
  (missing: InvalidIfMatchVersion 400; stale: PreconditionFailed 412; each update a new ETag),
  list (Quantity counts every policy, MaxItems/Marker page). moto routes none of it (404).
- A policy is checked as CloudFront checks it: StagingDistributionDnsNames Quantity equal to its
  Items (InconsistentQuantities) and exactly 1, naming the domain of a staging distribution of the
  account that no other policy names (StagingDistributionInUse, 409); TrafficConfig Type SingleWeight
  with a SingleWeightConfig whose Weight is 0-0.15 and whose SessionStickinessConfig has IdleTTL and
  MaximumTTL in 300-3600 s, IdleTTL <= MaximumTTL; or SingleHeader with a SingleHeaderConfig whose
  Header starts with `aws-cf-cd-`; at most 20 policies per account (TooManyContinuousDeploymentPolicies).
  A policy attached to a primary distribution cannot be deleted (ContinuousDeploymentPolicyInUse, 409).
- DistributionConfig.Staging and .ContinuousDeploymentPolicyId: moto keeps them only when given
  (GetDistributionConfig omits them otherwise, ListDistributions' summaries always omit Staging)
  and checks nothing. CloudFront always answers both (false and ""), refuses a staging
  distribution with Aliases (DG-CD: viewers never reach a staging distribution by a CNAME) or
  with a policy of its own, a policy on a distribution with HTTP/3 (HttpVersion http3 or
  http2and3: DG-CD "HTTP/3"; a staging distribution with HTTP/3 cannot be named by a policy
  either), a policy that does not exist (NoSuchContinuousDeploymentPolicy, 404) or is attached to
  another primary (ContinuousDeploymentPolicyInUse, 409), and a change of Staging (IllegalUpdate;
  an UpdateDistribution that leaves Staging out keeps it as it was). While a policy
  is attached, primary and staging distributions may change only their cache behaviors, origins
  and origin groups, custom error responses, geographic restrictions, default root object, logging
  and comment (DG-CD "Updating primary and staging distributions"); other changes are refused with
  IllegalUpdate ("One or more fields updated are not supported for continuous deployment.", the
  text CloudFormation users report, HTTP 400).
- A policy takes effect when the primary's configuration deploys (DG-CD: "When the primary
  distribution's configuration with the updated continuous deployment policy deploys to edge
  locations, CloudFront begins sending traffic ... based on the updated traffic configuration"):
  updating a policy puts its primaries back InProgress for `distribution_deploy`, and the edge
  stand-in (edge.py) keeps routing by the policy deployed with the primary until then.
- CopyDistribution (If-Match: the primary's ETag; header Staging: true) makes a staging copy of the
  primary: new CallerReference, no Aliases, no policy, Enabled as asked (default true), InProgress.
  UpdateDistributionWithStagingConfig (If-Match "<primary ETag>,<staging ETag>") copies the staging
  configuration onto the primary, which keeps its Aliases, CallerReference and policy id, gets a new
  ETag and deploys; the policy is disabled (a new policy ETag). moto routes neither (404).
- CloudFormation: AWS::CloudFront::ContinuousDeploymentPolicy (Ref: the Id; Fn::GetAtt Id,
  LastModifiedTime), created, updated in place (every property: No interruption) and deleted
  through the API above, so that a stack gets the same checks; moto skips the type ("No Moto
  CloudFormation support"). The property shape is CloudFormation's: StagingDistributionDnsNames a
  plain list, and either TrafficConfig or the flat Type/SingleHeaderPolicyConfig/SingleWeightPolicyConfig.
  Its events and timing are every resource's (cloudformation.py); a stack whose only change is the
  policy completes without waiting for the primary's redeployment (an assumption: the reference
  does not say whether the policy's handler waits, as the distribution's does).

AWS publishes the error codes and statuses (the API reference's error lists), not their texts:
the messages below are the emulator's, in CloudFront's style. Not reproduced: session stickiness
cookies, the 20-staging-distributions quota, and CloudFront sending everything to the primary at
peak times (DG-CD).
"""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .util import as_bool, items_of, quantity_items

cf_models: Any = None  # moto.cloudfront.models, set by install()

POLICY_TYPE = "AWS::CloudFront::ContinuousDeploymentPolicy"
MAX_POLICIES = 20  # DG-CD quotas: continuous deployment policies per account
MAX_WEIGHT = 0.15  # DG-CD quotas: 15% of the traffic at most
STICKINESS_SECONDS = (300, 3600)  # SessionStickinessConfig: IdleTTL and MaximumTTL
HEADER_PREFIX = "aws-cf-cd-"  # ContinuousDeploymentSingleHeaderConfig.Header
HTTP3_VERSIONS = frozenset({"http3", "http2and3"})
# DG-CD "Updating primary and staging distributions": with a policy attached, both distributions may
# change their cache behaviors, origins (and groups), custom error responses, geographic
# restrictions, default root object, logging and comment; these may not change.
FIXED_WHILE_ATTACHED = ("Aliases", "ViewerCertificate", "PriceClass", "HttpVersion", "IsIPV6Enabled", "WebACLId", "Enabled")
_LOCATION = "https://cloudfront.amazonaws.com/2020-05-31/continuous-deployment-policy/{}"

_local = threading.local()  # `promoting`: UpdateDistributionWithStagingConfig's own update


def _error(code: str, message: str) -> Exception:
    """A CloudFront error; moto's serializer takes its HTTP status from the API model's shape."""
    from moto.cloudfront.exceptions import CloudFrontException

    return CloudFrontException(code, message)


def _invalid(message: str) -> Exception:
    return _error("InvalidArgument", message)


def _precondition_failed() -> Exception:
    return _error("PreconditionFailed",
                  "The precondition given in one or more of the request-header fields evaluated to false.")


def _check_if_match(if_match: Any, etag: str) -> None:
    from moto.cloudfront.exceptions import InvalidIfMatchVersion

    if not if_match:
        raise InvalidIfMatchVersion()
    if if_match != etag:
        raise _precondition_failed()


# --- Policies ---------------------------------------------------------------------------------

@dataclass
class Policy:
    id: str
    config: dict[str, Any]  # ContinuousDeploymentPolicyConfig in the API's shape, normalised
    etag: str
    last_modified: datetime

    @property
    def location(self) -> str:
        return _LOCATION.format(self.id)

    def api(self) -> dict[str, Any]:
        return {"Id": self.id, "LastModifiedTime": self.last_modified,
                "ContinuousDeploymentPolicyConfig": copy.deepcopy(self.config)}

    @property
    def staging_dns_names(self) -> list[str]:
        return [str(name) for name in items_of(self.config.get("StagingDistributionDnsNames"))]


def policies(backend: Any) -> dict[str, Policy]:
    """The policies of one backend (an account), in creation order; gone with moto's reset, which
    re-initialises the backend."""
    return backend.__dict__.setdefault("emulator_policies", {})


def _normalized(raw: Any) -> dict[str, Any]:
    """The policy configuration as CloudFront keeps it: booleans and numbers typed, Quantity/Items."""
    if not isinstance(raw, dict):
        raise _error("MissingBody", "This operation requires a body: ContinuousDeploymentPolicyConfig.")
    names = raw.get("StagingDistributionDnsNames")
    items = [str(name) for name in items_of(names)]
    quantity = names.get("Quantity") if isinstance(names, dict) else None
    config: dict[str, Any] = {
        "StagingDistributionDnsNames": {"Quantity": int(quantity) if quantity is not None else len(items),
                                        "Items": items},
        "Enabled": as_bool(raw.get("Enabled", False)),
    }
    traffic = raw.get("TrafficConfig")
    if isinstance(traffic, dict) and traffic:
        normal: dict[str, Any] = {"Type": traffic.get("Type")}
        header = traffic.get("SingleHeaderConfig")
        if isinstance(header, dict):
            normal["SingleHeaderConfig"] = {"Header": str(header.get("Header") or ""), "Value": str(header.get("Value") or "")}
        weight = traffic.get("SingleWeightConfig")
        if isinstance(weight, dict):
            try:
                normal["SingleWeightConfig"] = {"Weight": float(weight.get("Weight"))}
            except (TypeError, ValueError):
                raise _invalid("The Weight of a SingleWeightConfig must be a number between 0 and 0.15.") from None
            sticky = weight.get("SessionStickinessConfig")
            if isinstance(sticky, dict):
                try:
                    normal["SingleWeightConfig"]["SessionStickinessConfig"] = {
                        "IdleTTL": int(sticky.get("IdleTTL")), "MaximumTTL": int(sticky.get("MaximumTTL"))}
                except (TypeError, ValueError):
                    raise _invalid("SessionStickinessConfig takes IdleTTL and MaximumTTL in seconds (300-3600).") from None
        config["TrafficConfig"] = normal
    return config


def _check_traffic(traffic: dict[str, Any] | None) -> None:
    if traffic is None:
        return  # TrafficConfig is optional: then no request goes to the staging distribution
    kind = traffic.get("Type")
    if kind not in ("SingleWeight", "SingleHeader"):
        raise _invalid(f"The TrafficConfig Type {kind!r} is not valid: SingleWeight or SingleHeader.")
    other = "SingleHeaderConfig" if kind == "SingleWeight" else "SingleWeightConfig"
    if other in traffic:
        raise _invalid(f"A TrafficConfig of Type {kind} cannot have a {other}.")
    if kind == "SingleWeight":
        single = traffic.get("SingleWeightConfig")
        if single is None:
            raise _invalid("A TrafficConfig of Type SingleWeight requires a SingleWeightConfig.")
        if not 0 <= single["Weight"] <= MAX_WEIGHT:
            raise _invalid(f"The Weight {single['Weight']} is not valid: the weight of a staging distribution is "
                           f"between 0 and {MAX_WEIGHT}.")
        sticky = single.get("SessionStickinessConfig")
        if sticky is not None:
            low, high = STICKINESS_SECONDS
            idle, maximum = sticky["IdleTTL"], sticky["MaximumTTL"]
            if not (low <= idle <= high and low <= maximum <= high) or idle > maximum:
                raise _invalid(f"SessionStickinessConfig is not valid: IdleTTL ({idle}) and MaximumTTL ({maximum}) are "
                               f"{low}-{high} seconds, and IdleTTL is at most MaximumTTL.")
        return
    single = traffic.get("SingleHeaderConfig")
    if single is None:
        raise _invalid("A TrafficConfig of Type SingleHeader requires a SingleHeaderConfig.")
    header, value = single["Header"], single["Value"]
    if not header.lower().startswith(HEADER_PREFIX) or len(header) > 256:
        raise _invalid(f"The header {header!r} is not valid: the header of a SingleHeaderConfig starts with "
                       f"{HEADER_PREFIX} (at most 256 characters).")
    if not 1 <= len(value) <= 1783:
        raise _invalid("The Value of a SingleHeaderConfig is 1-1783 characters.")


def _check_policy(backend: Any, config: dict[str, Any], policy_id: str | None = None) -> None:
    names = config["StagingDistributionDnsNames"]
    items = names["Items"]
    if names["Quantity"] != len(items):
        raise _error("InconsistentQuantities", (
            f"The specified quantity of StagingDistributionDnsNames ({names['Quantity']}) does not match the "
            f"actual quantity supplied ({len(items)})."))
    if len(items) != 1:
        raise _invalid(f"StagingDistributionDnsNames names exactly one staging distribution (Quantity 1), not {len(items)}.")
    name = items[0]
    staging = distribution_by_domain(backend, name)
    if staging is None or not is_staging(staging):
        raise _invalid(f"The domain name {name} in StagingDistributionDnsNames is not the domain name of a staging "
                       "distribution of this account.")
    if str(getattr(staging.distribution_config, "HttpVersion", "")) in HTTP3_VERSIONS:
        raise _invalid(f"Continuous deployment is not supported for a distribution with HTTP/3: the staging distribution "
                       f"{staging.distribution_id} has HttpVersion {staging.distribution_config.HttpVersion}.")
    for other in policies(backend).values():
        if other.id != policy_id and name in other.staging_dns_names:
            raise _error("StagingDistributionInUse", (
                f"A continuous deployment policy for this staging distribution already exists: {other.id}."))
    _check_traffic(config.get("TrafficConfig"))


def distribution_by_domain(backend: Any, domain: str) -> Any:
    for dist in list(backend.distributions.values()):
        if dist.domain_name == domain:
            return dist
    return None


def is_staging(dist: Any) -> bool:
    return as_bool(getattr(dist.distribution_config, "Staging", False))


def policy_id_of(dist: Any) -> str:
    return str(getattr(dist.distribution_config, "ContinuousDeploymentPolicyId", "") or "")


def primaries_of(backend: Any, policy_id: str) -> list[Any]:
    """The distributions whose configuration attaches the policy (one, as CloudFront allows)."""
    return [d for d in list(backend.distributions.values()) if policy_id_of(d) == policy_id]


def policy_of(backend: Any, dist: Any) -> Policy | None:
    policy_id = policy_id_of(dist)
    return policies(backend).get(policy_id) if policy_id else None


def _get_policy(backend: Any, policy_id: str) -> Policy:
    policy = policies(backend).get(policy_id or "")
    if policy is None:
        raise _error("NoSuchContinuousDeploymentPolicy", f"The continuous deployment policy {policy_id} does not exist.")
    return policy


def _redeploy(dist: Any) -> None:
    from .cloudfront import _mark_deploying

    _mark_deploying(dist)


def create_policy(backend: Any, raw: Any) -> Policy:
    config = _normalized(raw)
    if len(policies(backend)) >= MAX_POLICIES:
        raise _error("TooManyContinuousDeploymentPolicies", (
            f"You have reached the maximum number of continuous deployment policies for this account ({MAX_POLICIES})."))
    _check_policy(backend, config)
    policy = Policy(str(uuid.uuid4()), config, cf_models.random_id(), datetime.now(timezone.utc))
    policies(backend)[policy.id] = policy
    return policy


def update_policy(backend: Any, policy_id: str, raw: Any, if_match: Any) -> Policy:
    policy = _get_policy(backend, policy_id)
    _check_if_match(if_match, policy.etag)
    config = _normalized(raw)
    _check_policy(backend, config, policy_id)
    policy.config = config
    policy.etag = cf_models.random_id()
    policy.last_modified = datetime.now(timezone.utc)
    for primary in primaries_of(backend, policy_id):
        _redeploy(primary)  # the policy takes effect with the primary's next deployment
    return policy


def delete_policy(backend: Any, policy_id: str, if_match: Any) -> None:
    policy = _get_policy(backend, policy_id)
    _check_if_match(if_match, policy.etag)
    attached = primaries_of(backend, policy_id)
    if attached:
        raise _error("ContinuousDeploymentPolicyInUse", (
            "You cannot delete a continuous deployment policy that is associated with a primary distribution "
            f"({attached[0].distribution_id})."))
    del policies(backend)[policy_id]


# --- Distributions: Staging and ContinuousDeploymentPolicyId ----------------------------------

def _fixed_fields(config: Any) -> dict[str, Any]:
    """What may not change while a policy is attached, comparable across API and CloudFormation."""
    found: dict[str, Any] = {}
    for name in FIXED_WHILE_ATTACHED:
        value = getattr(config, name, None)
        if name == "Aliases":
            found[name] = sorted(str(a) for a in items_of(value))
        elif name in ("IsIPV6Enabled", "Enabled"):
            found[name] = as_bool(value if value is not None else True)
        elif hasattr(value, "__dict__"):
            found[name] = {k: str(v) for k, v in vars(value).items()}
        else:
            found[name] = "" if value is None else str(value)
    return found


def _attached(backend: Any, dist: Any) -> bool:
    """Whether a continuous deployment policy ties the distribution to another one now."""
    if policy_id_of(dist):
        return True
    if not is_staging(dist):
        return False
    for primary in list(backend.distributions.values()):
        policy = policy_of(backend, primary)
        if primary is not dist and policy is not None and dist.domain_name in policy.staging_dns_names:
            return True
    return False


def check_distribution(backend: Any, config: dict[str, Any], dist_id: str | None) -> None:
    """CreateDistribution's and UpdateDistribution's checks of continuous deployment (`dist_id`
    None for a create)."""
    staging = as_bool(config.get("Staging", False))
    policy_id = str(config.get("ContinuousDeploymentPolicyId") or "")
    if staging and items_of(config.get("Aliases")):
        raise _invalid("A staging distribution cannot have alternate domain names (Aliases): viewers reach it only "
                       "through its primary distribution.")
    if staging and policy_id:
        raise _invalid("A staging distribution cannot have a continuous deployment policy (ContinuousDeploymentPolicyId).")
    current = backend.distributions.get(dist_id) if dist_id else None
    if policy_id:
        if str(config.get("HttpVersion") or "http2") in HTTP3_VERSIONS:
            raise _invalid("Continuous deployment is not supported for a distribution with HTTP/3 "
                           f"(HttpVersion {config.get('HttpVersion')}).")
        _get_policy(backend, policy_id)
        reference = config.get("CallerReference")
        for other in primaries_of(backend, policy_id):
            same = other is current or (current is None and other.distribution_config.caller_reference == reference)
            if not same:
                raise _error("ContinuousDeploymentPolicyInUse", (
                    f"The continuous deployment policy {policy_id} is associated with another primary distribution "
                    f"({other.distribution_id})."))
    if current is None:
        return
    if staging != is_staging(current):
        raise _error("IllegalUpdate", "The Staging setting of a distribution cannot be changed.")
    if getattr(_local, "promoting", False) or not _attached(backend, current):
        return
    if policy_id_of(current) and policy_id != policy_id_of(current):
        return  # the policy is being detached (or replaced): that change goes through
    new = cf_models.DistributionConfig(copy.deepcopy(config))
    if _fixed_fields(new) != _fixed_fields(current.distribution_config):
        raise _error("IllegalUpdate", "One or more fields updated are not supported for continuous deployment.")


def _patch_distributions() -> None:
    backend_cls = cf_models.CloudFrontBackend
    config_cls = cf_models.DistributionConfig
    original_config_init = config_cls.__init__
    original_create = backend_cls.create_distribution_with_tags
    original_update = backend_cls.update_distribution

    def config_init(self: Any, config: dict[str, Any]) -> None:
        # GetDistribution/GetDistributionConfig always carry both fields, as CloudFront's do.
        config["Staging"] = as_bool(config.get("Staging", False))
        config["ContinuousDeploymentPolicyId"] = str(config.get("ContinuousDeploymentPolicyId") or "")
        original_config_init(self, config)

    def create_distribution_with_tags(self: Any, distribution_config: dict[str, Any], tags: list[Any]) -> Any:
        check_distribution(self, distribution_config or {}, None)
        request = copy.deepcopy(distribution_config)
        dist, location, etag = original_create(self, distribution_config, tags)
        if getattr(dist, "emulator_config_request", None) is None:
            dist.emulator_config_request = request  # what CopyDistribution and promotion copy
        return dist, location, etag

    def update_distribution(self: Any, dist_config: dict[str, Any], _id: str, if_match: Any) -> Any:
        if dist_config and _id in self.distributions:
            if "Staging" not in dist_config:  # a client that does not know the field leaves it as it is
                dist_config["Staging"] = is_staging(self.distributions[_id])
            check_distribution(self, dist_config, _id)
        request = copy.deepcopy(dist_config)
        result = original_update(self, dist_config, _id, if_match)
        result[0].emulator_config_request = request
        return result

    config_cls.__init__ = config_init
    # ListDistributions' DistributionSummary carries Staging too (a required member of the shape):
    # moto's Distribution forwards only the fields listed here to its configuration.
    if "Staging" not in cf_models.DISTRIBUTION_CONFIG_FIELDS:
        cf_models.DISTRIBUTION_CONFIG_FIELDS.append("Staging")
    backend_cls.create_distribution_with_tags = create_distribution_with_tags
    backend_cls.update_distribution = update_distribution


# --- CopyDistribution and UpdateDistributionWithStagingConfig ------------------------------

def _request_config(dist: Any) -> dict[str, Any]:
    return copy.deepcopy(getattr(dist, "emulator_config_request", None) or {})


def copy_distribution(backend: Any, primary_id: str, staging: Any, if_match: Any, caller_reference: str,
                      enabled: Any) -> Any:
    from moto.cloudfront.exceptions import NoSuchDistribution

    primary = backend.distributions.get(primary_id)
    if primary is None:
        raise NoSuchDistribution()
    _check_if_match(if_match, primary.etag)
    if not as_bool(staging):
        raise _invalid("CopyDistribution makes a staging distribution: the Staging header must be true.")
    if is_staging(primary):
        raise _invalid(f"The distribution {primary_id} is a staging distribution: copy its primary distribution.")
    config = _request_config(primary)
    config.update({"CallerReference": caller_reference, "Staging": True, "Aliases": {"Quantity": 0},
                   "ContinuousDeploymentPolicyId": "", "Enabled": True if enabled is None else as_bool(enabled)})
    return backend.create_distribution_with_tags(config, [])


def promote(backend: Any, primary_id: str, staging_id: str, if_match: Any) -> Any:
    from moto.cloudfront.exceptions import InvalidIfMatchVersion, NoSuchDistribution

    primary, staging = backend.distributions.get(primary_id), backend.distributions.get(staging_id or "")
    if primary is None or staging is None:
        raise NoSuchDistribution()
    etags = [e.strip() for e in str(if_match or "").split(",")]
    if len(etags) != 2 or not all(etags):
        raise InvalidIfMatchVersion()
    if etags != [primary.etag, staging.etag]:
        raise _precondition_failed()
    policy = policy_of(backend, primary)
    if not is_staging(staging) or policy is None or staging.domain_name not in policy.staging_dns_names:
        raise _invalid(f"The distribution {staging_id} is not the staging distribution of the continuous deployment "
                       f"policy of {primary_id}.")
    current = _request_config(primary)
    config = _request_config(staging)
    config.update({"CallerReference": primary.distribution_config.caller_reference, "Staging": False,
                   "Aliases": current.get("Aliases") or {"Quantity": 0}, "ContinuousDeploymentPolicyId": policy.id})
    _local.promoting = True
    try:
        dist, _, etag = backend.update_distribution(config, primary_id, primary.etag)
    finally:
        _local.promoting = False
    if policy.config.get("Enabled"):  # "This action will disable the continuous deployment policy"
        backend.update_continuous_deployment_policy(policy.id, {**policy.config, "Enabled": False}, policy.etag)
    return dist, etag


# --- The API ---------------------------------------------------------------------------------

URL_PATHS = {
    "{0}/2020-05-31/continuous-deployment-policy$": "policies",
    "{0}/2020-05-31/continuous-deployment-policy/(?P<Id>[^/]+)$": "policy",
    "{0}/2020-05-31/continuous-deployment-policy/(?P<Id>[^/]+)/config$": "policy config",
    "{0}/2020-05-31/distribution/(?P<PrimaryDistributionId>[^/]+)/copy$": "copy",
    "{0}/2020-05-31/distribution/(?P<Id>[^/]+)/promote-staging-config$": "promote",
}


def _patch_api() -> None:
    import moto.cloudfront.urls as cf_urls
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult, EmptyResult

    for path in URL_PATHS:
        cf_urls.url_paths.setdefault(path, CloudFrontResponse.dispatch)

    def create_continuous_deployment_policy(self: Any) -> Any:
        policy = create_policy(self.backend, self._get_param("ContinuousDeploymentPolicyConfig"))
        return ActionResult({"ContinuousDeploymentPolicy": policy.api(), "ETag": policy.etag, "Location": policy.location})

    def get_continuous_deployment_policy(self: Any) -> Any:
        policy = _get_policy(self.backend, self._get_param("Id"))
        return ActionResult({"ContinuousDeploymentPolicy": policy.api(), "ETag": policy.etag})

    def get_continuous_deployment_policy_config(self: Any) -> Any:
        policy = _get_policy(self.backend, self._get_param("Id"))
        return ActionResult({"ContinuousDeploymentPolicyConfig": copy.deepcopy(policy.config), "ETag": policy.etag})

    def update_continuous_deployment_policy(self: Any) -> Any:
        policy = self.backend.update_continuous_deployment_policy(
            self._get_param("Id"), self._get_param("ContinuousDeploymentPolicyConfig"), self._get_param("IfMatch"))
        return ActionResult({"ContinuousDeploymentPolicy": policy.api(), "ETag": policy.etag})

    def delete_continuous_deployment_policy(self: Any) -> Any:
        delete_policy(self.backend, self._get_param("Id"), self._get_param("IfMatch"))
        return EmptyResult()

    def list_continuous_deployment_policies(self: Any) -> Any:
        every = list(policies(self.backend).values())
        try:
            max_items = int(self._get_param("MaxItems") or 100)
        except ValueError:
            raise _invalid("MaxItems must be a number.") from None
        marker = self._get_param("Marker")
        start = next((i for i, p in enumerate(every) if p.id == marker), 0) if marker else 0
        page = every[start:start + max_items]
        listing: dict[str, Any] = {"MaxItems": max_items, "Quantity": len(every),
                                   "Items": [{"ContinuousDeploymentPolicy": p.api()} for p in page]}
        if start + max_items < len(every):
            listing["NextMarker"] = every[start + max_items].id
        return ActionResult({"ContinuousDeploymentPolicyList": listing})

    def copy_distribution_response(self: Any) -> Any:
        dist, location, etag = copy_distribution(
            self.backend, self._get_param("PrimaryDistributionId"), self._get_param("Staging"),
            self._get_param("IfMatch"), self._get_param("CallerReference"), self._get_param("Enabled"))
        return ActionResult({"Distribution": dist, "ETag": etag, "Location": location})

    def update_distribution_with_staging_config(self: Any) -> Any:
        dist, etag = promote(self.backend, self._get_param("Id"), self._get_param("StagingDistributionId"),
                             self._get_param("IfMatch"))
        return ActionResult({"Distribution": dist, "ETag": etag})

    for handler in (create_continuous_deployment_policy, get_continuous_deployment_policy,
                    get_continuous_deployment_policy_config, update_continuous_deployment_policy,
                    delete_continuous_deployment_policy, list_continuous_deployment_policies,
                    update_distribution_with_staging_config):
        setattr(CloudFrontResponse, handler.__name__, handler)
    CloudFrontResponse.copy_distribution = copy_distribution_response

    # On the backend, so that the edge stand-in can see a policy change coming (edge.install).
    def backend_update_policy(self: Any, policy_id: str, raw: Any, if_match: Any) -> Policy:
        return update_policy(self, policy_id, raw, if_match)

    cf_models.CloudFrontBackend.update_continuous_deployment_policy = backend_update_policy


# --- CloudFormation AWS::CloudFront::ContinuousDeploymentPolicy ------------------------------

def policy_config_from_cfn(cfn: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's ContinuousDeploymentPolicyConfig in the API's shape: StagingDistributionDnsNames
    a plain list there; the traffic either in TrafficConfig or in the flat Type,
    SingleHeaderPolicyConfig, SingleWeightPolicyConfig (template reference)."""
    traffic = copy.deepcopy(cfn.get("TrafficConfig"))
    if not traffic and cfn.get("Type"):
        traffic = {"Type": cfn["Type"]}
        if "SingleHeaderPolicyConfig" in cfn:
            traffic["SingleHeaderConfig"] = copy.deepcopy(cfn["SingleHeaderPolicyConfig"])
        if "SingleWeightPolicyConfig" in cfn:
            traffic["SingleWeightConfig"] = copy.deepcopy(cfn["SingleWeightPolicyConfig"])
    api: dict[str, Any] = {"Enabled": as_bool(cfn.get("Enabled", False)),
                           "StagingDistributionDnsNames": quantity_items(cfn.get("StagingDistributionDnsNames"))}
    if traffic:
        api["TrafficConfig"] = traffic
    return api


def _register_policy_model() -> None:
    from moto.cloudformation import parsing as cfn_parsing
    from moto.core.common_models import CloudFormationModel
    from moto.utilities.utils import get_partition

    class CloudFormationContinuousDeploymentPolicy(CloudFormationModel):
        # moto files every model under the service named in its module path (and needs one there).
        __module__ = "moto.cloudfront.models"

        def __init__(self, backend: Any, policy_id: str) -> None:
            self.backend = backend
            self.policy_id = policy_id

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return POLICY_TYPE

        @property
        def physical_resource_id(self) -> str:
            return self.policy_id

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Id", "LastModifiedTime")

        def get_cfn_attribute(self, attribute_name: str) -> str:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            if attribute_name == "Id":
                return self.policy_id
            if attribute_name == "LastModifiedTime":
                return _get_policy(self.backend, self.policy_id).last_modified.isoformat()
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
        ) -> CloudFormationContinuousDeploymentPolicy:
            backend = cf_models.cloudfront_backends[account_id][get_partition(region_name)]
            props = cloudformation_json["Properties"]
            policy = create_policy(backend, policy_config_from_cfn(props["ContinuousDeploymentPolicyConfig"]))
            return cls(backend, policy.id)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls, original_resource: CloudFormationContinuousDeploymentPolicy, new_resource_name: str,
            cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        ) -> CloudFormationContinuousDeploymentPolicy:
            # ContinuousDeploymentPolicyConfig: "Update requires: No interruption" (same Id, new ETag).
            backend = original_resource.backend
            policy = _get_policy(backend, original_resource.policy_id)
            config = policy_config_from_cfn(cloudformation_json["Properties"]["ContinuousDeploymentPolicyConfig"])
            backend.update_continuous_deployment_policy(policy.id, config, policy.etag)
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            policy = policies(self.backend).get(self.policy_id)
            if policy is not None:
                delete_policy(self.backend, self.policy_id, policy.etag)

    for cached in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


def install() -> None:
    global cf_models
    import moto.cloudfront.models as cf_models

    _patch_distributions()
    _patch_api()
    _register_policy_model()
