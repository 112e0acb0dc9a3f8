"""CloudFront: what moto 5.2.5's CloudFront lacks, on moto's own backend and models."""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import datetime, timezone
from typing import Any

from . import clock
from .util import as_bool, items_of, lambda_association, quantity_items

cf_models: Any = None  # moto.cloudfront.models, set by install()

DISTRIBUTION_MODEL = "cloudfront::distribution"
# The default transition of distributions: InProgress for `distribution_deploy` (scaled) after
# each create or update, then Deployed. A transition set through
# /moto-api/state-manager/set-transition takes precedence, as moto's state manager intends.
CLOCK_TRANSITION = {"progression": "emulator-clock", "duration": "distribution_deploy"}


# --- CloudFront keeps LambdaFunctionAssociations --------------------------------------------
# moto's cache behaviours hard-code `{"Quantity": 0}` for LambdaFunctionAssociations (and
# FunctionAssociations), so an association made through CreateDistribution, UpdateDistribution
# or CloudFormation vanished. Keeping the parsed value is enough: moto's serializer already
# renders `{Quantity, Items}` in the XML shape of the real API.

def _patch_associations() -> None:
    original_init = cf_models.DefaultCacheBehaviour.__init__

    def __init__(self: Any, config: dict[str, Any]) -> None:
        original_init(self, config)
        self.lambda_function_associations = quantity_items(
            [lambda_association(i) for i in items_of(config.get("LambdaFunctionAssociations"))]
        )
        self.function_associations = quantity_items(items_of(config.get("FunctionAssociations")))

    # CacheBehaviour calls super().__init__, so patching the base covers both kinds of behaviour.
    cf_models.DefaultCacheBehaviour.__init__ = __init__


# --- Distributions take the time CloudFront takes to deploy ---------------------------------
# moto's distributions are Deployed at once (its default transition is "immediate"). CloudFront
# deploys every create and update for minutes, which is what the tool waits on: here a
# distribution is InProgress for `distribution_deploy` × time_scale after each change. When
# CloudFormation makes the change, it reports the resource complete only once the distribution is
# deployed, so the stack's timeline sets the moment instead (cloudformation.py, `deployed_by`).

def _mark_deploying(dist: Any) -> None:
    dist.status = "InProgress"
    dist._time_progressed = datetime.now()  # the state manager's clock, for explicit transitions
    dist._tick = 0
    dist.emulator_deployed_at = clock.now() + clock.seconds("distribution_deploy")


def _patch_distribution_clock() -> None:
    from moto.moto_api import state_manager
    from moto.moto_api._internal.managed_state_model import ManagedState

    managed_status = ManagedState.status

    def get_status(self: Any) -> str | None:
        transition = state_manager.get_transition(DISTRIBUTION_MODEL)
        if transition.get("progression") != CLOCK_TRANSITION["progression"]:
            return managed_status.fget(self)
        if self._status == "InProgress" and clock.now() >= getattr(self, "emulator_deployed_at", 0.0):
            self._status = "Deployed"
        return self._status

    def set_status(self: Any, value: str) -> None:
        self._status = value

    cf_models.Distribution.status = property(get_status, set_status)
    state_manager.register_default_transition(DISTRIBUTION_MODEL, dict(CLOCK_TRANSITION))

    original_init = cf_models.Distribution.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.emulator_deployed_at = clock.now() + clock.seconds("distribution_deploy")
        self.last_modified_time = datetime.now(timezone.utc)
        self.emulator_invalidations: list[Any] = []

    cf_models.Distribution.__init__ = __init__

    # GetDistribution's InProgressInvalidationBatches counts this distribution's invalidations
    # still in progress (moto always says 0).
    def in_progress_batches(self: Any) -> int:
        return sum(1 for inv in getattr(self, "emulator_invalidations", []) if inv.status == "InProgress")

    cf_models.Distribution.in_progress_invalidation_batches = property(in_progress_batches, lambda self, value: None)


# --- UpdateDistribution: new ETag, If-Match, back to InProgress ----------------------------
# moto's UpdateDistribution keeps the old ETag, accepts any If-Match value, and leaves a
# Deployed distribution Deployed. The real API hands out a new ETag per change, refuses a stale
# If-Match (PreconditionFailed, 412) and redeploys, which is what the tool waits on; so an update
# restarts the distribution's state-manager clock like a create does. CloudFormation updates come
# through here too (the AWS::CloudFront::Distribution model below, with the current ETag), so
# both paths behave alike under /moto-api/state-manager/set-transition. A missing If-Match is
# refused by moto itself (InvalidIfMatchVersion, 400), as CloudFront does, for UpdateDistribution
# and DeleteDistribution alike.

def _patch_update() -> None:
    from moto.cloudfront.exceptions import CloudFrontException

    class PreconditionFailed(CloudFrontException):
        def __init__(self) -> None:
            super().__init__(
                "PreconditionFailed",
                "The precondition given in one or more of the request-header fields evaluated to false.",
            )

    backend_cls = cf_models.CloudFrontBackend
    original_update = backend_cls.update_distribution
    original_delete = backend_cls.delete_distribution

    def _check_if_match(self: Any, dist_id: str, if_match: Any) -> None:
        dist = self.distributions.get(dist_id)
        if dist is not None and if_match and if_match != dist.etag:
            raise PreconditionFailed()

    def update_distribution(self: Any, dist_config: dict[str, Any], _id: str, if_match: Any) -> Any:
        _check_if_match(self, _id, if_match)
        dist, location, _ = original_update(self, dist_config, _id, if_match)
        dist.etag = cf_models.random_id()
        dist.last_modified_time = datetime.now(timezone.utc)
        _mark_deploying(dist)
        return dist, location, dist.etag

    def delete_distribution(self: Any, distribution_id: str, if_match: Any) -> None:
        _check_if_match(self, distribution_id, if_match)
        original_delete(self, distribution_id, if_match)

    backend_cls.update_distribution = update_distribution
    backend_cls.delete_distribution = delete_distribution


# --- CallerReference: a retried create returns what the first one made ----------------------
# moto refuses every CreateDistribution whose CallerReference was used before and makes a new
# invalidation for every CreateInvalidation. CloudFront treats the reference as the request's
# identity: the same reference with the same DistributionConfig returns the existing
# distribution (DistributionAlreadyExists, 409, only when the config differs); the same
# reference on the same distribution with the same paths returns the earlier invalidation
# (201, no new one), and with other paths fails with InvalidationBatchAlreadyExists (409).

class InvalidationBatchAlreadyExists(Exception):
    def __init__(self, reference: str, invalidation_id: str) -> None:
        super().__init__(
            f"The caller reference {reference} that you are using to create an invalidation batch is "
            f"associated with another invalidation batch ({invalidation_id})."
        )


def _same_paths(a: list[str], b: list[str]) -> bool:
    return sorted(a) == sorted(b)


def _patch_caller_references() -> None:
    from moto.cloudfront.exceptions import CloudFrontException, DistributionAlreadyExists
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult

    backend_cls = cf_models.CloudFrontBackend
    original_create = backend_cls.create_distribution_with_tags
    original_invalidation = backend_cls.create_invalidation

    def create_distribution_with_tags(self: Any, distribution_config: dict[str, Any], tags: list[Any]) -> Any:
        reference = (distribution_config or {}).get("CallerReference")
        existing = self._distribution_with_caller_reference(reference) if reference else None
        if existing is not None:
            if getattr(existing, "emulator_request_config", None) == distribution_config:
                return existing, existing.location, existing.etag
            raise DistributionAlreadyExists(existing.distribution_id)
        request = copy.deepcopy(distribution_config)  # moto's model takes parts of the dict it is given
        dist, location, etag = original_create(self, distribution_config, tags)
        dist.emulator_request_config = request
        return dist, location, etag

    def create_invalidation(self: Any, dist_id: str, paths: list[str], caller_ref: str) -> Any:
        paths = list(paths or [])
        for earlier in self.invalidations.get(dist_id) or []:
            if caller_ref and earlier.caller_ref == caller_ref:
                if _same_paths(earlier.paths, paths):
                    return earlier
                raise InvalidationBatchAlreadyExists(caller_ref, earlier.id)
        invalidation = original_invalidation(self, dist_id, paths, caller_ref)
        dist = self.distributions.get(dist_id)
        if dist is not None:
            dist.emulator_invalidations = [*getattr(dist, "emulator_invalidations", []), invalidation]
        return invalidation

    backend_cls.create_distribution_with_tags = create_distribution_with_tags
    backend_cls.create_invalidation = create_invalidation

    original_respond = CloudFrontResponse.create_invalidation

    def respond_create_invalidation(self: Any) -> Any:
        try:
            return original_respond(self)
        except InvalidationBatchAlreadyExists as error:
            # Not in botocore's model, so moto would answer 400: CloudFront answers 409.
            failure = CloudFrontException("InvalidationBatchAlreadyExists", str(error))
            _, headers, body = self.serialized(ActionResult(failure))
            return body, {**headers, "status": 409}

    CloudFrontResponse.create_invalidation = respond_create_invalidation


# --- Invalidations take time: InProgress, then Completed -------------------------------------
# moto's invalidations say "COMPLETED" at once. CloudFront's are InProgress for a while, then
# "Completed" (that case). Each invalidation records `create_time` (moto's, naive UTC) and
# `completed_at` (naive UTC, create_time + `invalidation` × time_scale), so that the edge
# stand-in (edge.py) can tell whether a cached object was invalidated yet.

def _patch_invalidations() -> None:
    from moto.core.utils import utcnow

    inv_cls = cf_models.Invalidation
    original_init = inv_cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.completed_at = clock.later(self.create_time, clock.seconds("invalidation"))

    def get_status(self: Any) -> str:
        completed_at = getattr(self, "completed_at", None)
        return "Completed" if completed_at is None or utcnow() >= completed_at else "InProgress"

    inv_cls.__init__ = __init__
    inv_cls.status = property(get_status, lambda self, value: None)


# --- Lambda@Edge replicas outlive their association -----------------------------------------
# CloudFront copies every Lambda version a distribution associates to its edge locations, and
# removes those replicas hours after the version's last association is gone (a distribution
# updated to another version, or deleted); until then Lambda refuses to delete the version
# (awslambda.py). moto has no replicas: any version could be deleted at once. Here the versions
# associated now are read from the distributions themselves, and every association that
# UpdateDistribution or DeleteDistribution removes records when it went. CloudFormation's changes
# to a distribution (the model below, and its rollbacks) come through the same two calls, so both
# paths count. A version is still replicated while a distribution associates it, and for
# `replica_delay` × time_scale after its last association went.

_released: dict[str, float] = {}  # version ARN -> when its last association went (clock.now())
_released_lock = threading.Lock()


def associated_arns(dist: Any) -> set[str]:
    """The Lambda version ARNs a distribution associates, in any of its cache behaviors."""
    config = dist.distribution_config
    behaviors = [getattr(config, "DefaultCacheBehavior", None), *items_of(getattr(config, "CacheBehaviors", None))]
    return {
        association["LambdaFunctionARN"]
        for behavior in behaviors if behavior is not None
        for association in items_of(getattr(behavior, "lambda_function_associations", None))
        if isinstance(association, dict) and association.get("LambdaFunctionARN")
    }


def _distributions() -> list[Any]:
    backends = cf_models.cloudfront_backends
    return [dist for account in list(backends.keys()) for partition in list(backends[account].keys())
            for dist in list(backends[account][partition].distributions.values())]


def replicated(version_arn: str) -> bool:
    """Whether Lambda@Edge replicas of this version exist: a distribution associates it, or did
    less than `replica_delay` (scaled) ago."""
    if any(version_arn in associated_arns(dist) for dist in _distributions()):
        return True
    with _released_lock:
        released = _released.get(version_arn)
    return released is not None and clock.now() < released + clock.seconds("replica_delay")


def _release(arns: set[str]) -> None:
    at = clock.now()
    with _released_lock:
        for arn in arns:
            _released[arn] = at


def _patch_replicas() -> None:
    backend_cls = cf_models.CloudFrontBackend
    original_update = backend_cls.update_distribution
    original_delete = backend_cls.delete_distribution

    def update_distribution(self: Any, dist_config: dict[str, Any], _id: str, if_match: Any) -> Any:
        before = associated_arns(self.distributions[_id]) if _id in self.distributions else set()
        result = original_update(self, dist_config, _id, if_match)
        _release(before - associated_arns(result[0]))
        return result

    def delete_distribution(self: Any, distribution_id: str, if_match: Any) -> None:
        dist = self.distributions.get(distribution_id)
        before = associated_arns(dist) if dist is not None else set()
        original_delete(self, distribution_id, if_match)
        _release(before)

    backend_cls.update_distribution = update_distribution
    backend_cls.delete_distribution = delete_distribution


# --- CloudFormation AWS::CloudFront::Distribution -------------------------------------------
# moto has no CloudFormation model for distributions: it logs "No Moto CloudFormation support"
# and creates nothing, so Ref and GetAtt resolve to nothing. This model drives moto's CloudFront
# backend instead, translating CloudFormation's property shape into the API's (DistributionConfig
# in the template reference), Staging and ContinuousDeploymentPolicyId included: a staging
# distribution and its primary are two such resources, and go through continuous.py's checks.

def _behavior_from_cfn(cfn: dict[str, Any]) -> dict[str, Any]:
    api = {k: v for k, v in cfn.items() if k != "CachedMethods"}
    if "AllowedMethods" in cfn:
        api["AllowedMethods"] = {
            **quantity_items(cfn["AllowedMethods"]),
            "CachedMethods": quantity_items(cfn.get("CachedMethods", ["GET", "HEAD"])),
        }
    for key in ("TrustedSigners", "TrustedKeyGroups"):
        if key in cfn:
            api[key] = {"Enabled": bool(cfn[key]), **quantity_items(cfn[key])}
    if "LambdaFunctionAssociations" in cfn:
        api["LambdaFunctionAssociations"] = quantity_items(
            [lambda_association(a) for a in cfn["LambdaFunctionAssociations"]]
        )
    if "FunctionAssociations" in cfn:
        api["FunctionAssociations"] = quantity_items(cfn["FunctionAssociations"])
    if "ForwardedValues" in cfn:
        forwarded = dict(cfn["ForwardedValues"])
        cookies = dict(forwarded.get("Cookies") or {"Forward": "none"})
        if "WhitelistedNames" in cookies:
            cookies["WhitelistedNames"] = quantity_items(cookies["WhitelistedNames"])
        forwarded["Cookies"] = cookies
        for key in ("Headers", "QueryStringCacheKeys"):
            if key in forwarded:
                forwarded[key] = quantity_items(forwarded[key])
        api["ForwardedValues"] = forwarded
    return api


def _origin_from_cfn(cfn: dict[str, Any]) -> dict[str, Any]:
    api = {k: v for k, v in cfn.items() if k != "OriginCustomHeaders"}
    api["CustomHeaders"] = quantity_items(cfn.get("OriginCustomHeaders"))
    if "CustomOriginConfig" in cfn:
        custom = {"HTTPPort": 80, "HTTPSPort": 443, **cfn["CustomOriginConfig"]}
        custom["OriginSslProtocols"] = quantity_items(custom.pop("OriginSSLProtocols", ["TLSv1.2"]))
        api["CustomOriginConfig"] = custom
    if "S3OriginConfig" in cfn:
        api["S3OriginConfig"] = {"OriginAccessIdentity": "", **cfn["S3OriginConfig"]}
    return api


_VIEWER_CERTIFICATE_NAMES = {
    "AcmCertificateArn": "ACMCertificateArn",
    "IamCertificateId": "IAMCertificateId",
    "SslSupportMethod": "SSLSupportMethod",
}


def distribution_config_from_cfn(cfn: dict[str, Any], caller_reference: str) -> dict[str, Any]:
    renamed = {"CNAMEs", "IPV6Enabled", "Origins", "CacheBehaviors", "CustomErrorResponses"}
    api = {k: copy.deepcopy(v) for k, v in cfn.items() if k not in renamed}
    api["CallerReference"] = caller_reference
    api["Comment"] = cfn.get("Comment", "")
    api["Enabled"] = as_bool(cfn.get("Enabled", True))
    api["Aliases"] = quantity_items(cfn.get("Aliases") or cfn.get("CNAMEs"))
    api["Origins"] = quantity_items([_origin_from_cfn(o) for o in cfn.get("Origins", [])])
    api["DefaultCacheBehavior"] = _behavior_from_cfn(cfn["DefaultCacheBehavior"])
    api["CacheBehaviors"] = quantity_items([_behavior_from_cfn(b) for b in cfn.get("CacheBehaviors", [])])
    api["CustomErrorResponses"] = quantity_items(cfn.get("CustomErrorResponses"))
    if "IPV6Enabled" in cfn:
        api["IsIPV6Enabled"] = as_bool(cfn["IPV6Enabled"])
    if "Restrictions" in cfn:
        geo = cfn["Restrictions"].get("GeoRestriction", {})
        api["Restrictions"] = {
            "GeoRestriction": {"RestrictionType": geo.get("RestrictionType", "none"), **quantity_items(geo.get("Locations"))}
        }
    if "ViewerCertificate" in cfn:
        api["ViewerCertificate"] = {_VIEWER_CERTIFICATE_NAMES.get(k, k): v for k, v in cfn["ViewerCertificate"].items()}
    if "Logging" in cfn:
        api["Logging"] = {"Enabled": True, "IncludeCookies": False, "Prefix": "", **cfn["Logging"]}
    # Continuous deployment (continuous.py): a template's `Staging: true` makes a staging
    # distribution, and its absence a standard one (CloudFormation sends false, so a template that
    # drops it from a staging distribution is refused as an illegal update);
    # `ContinuousDeploymentPolicyId: !Ref Policy` attaches a policy to a primary, its absence none.
    api["Staging"] = as_bool(cfn.get("Staging", False))
    api["ContinuousDeploymentPolicyId"] = str(cfn.get("ContinuousDeploymentPolicyId") or "")
    return api


def _register_distribution_model() -> None:
    from moto.cloudformation import parsing as cfn_parsing
    from moto.core.common_models import CloudFormationModel
    from moto.utilities.utils import get_partition

    def backend_for(account_id: str, region_name: str) -> Any:
        return cf_models.cloudfront_backends[account_id][get_partition(region_name)]

    class CloudFormationDistribution(CloudFormationModel):
        # moto files every model under the service named in its module path (and needs one there).
        __module__ = "moto.cloudfront.models"

        def __init__(self, backend: Any, distribution_id: str, caller_reference: str) -> None:
            self.backend = backend
            self.distribution_id = distribution_id
            self.caller_reference = caller_reference

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudFront::Distribution"

        @property
        def physical_resource_id(self) -> str:
            return self.distribution_id

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("DomainName", "Id")

        def get_cfn_attribute(self, attribute_name: str) -> str:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            if attribute_name == "Id":
                return self.distribution_id
            if attribute_name == "DomainName":
                return self.backend.distributions[self.distribution_id].domain_name
            raise UnformattedGetAttTemplateException()

        def deployed_by(self, at: float) -> None:
            """CloudFormation's timeline: the change it just made is deployed at `at`."""
            dist = self.backend.distributions.get(self.distribution_id)
            if dist is not None:
                dist.emulator_deployed_at = at  # under an explicit transition, the state manager's clock rules

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
        ) -> CloudFormationDistribution:
            props = cloudformation_json["Properties"]
            caller_reference = str(uuid.uuid4())
            backend = backend_for(account_id, region_name)
            config = distribution_config_from_cfn(props["DistributionConfig"], caller_reference)
            dist, _, _ = backend.create_distribution(config, props.get("Tags", []))
            return cls(backend, dist.distribution_id, caller_reference)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls, original_resource: CloudFormationDistribution, new_resource_name: str,
            cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        ) -> CloudFormationDistribution:
            # Every DistributionConfig change is an in-place update on AWS: same id, new ETag.
            props = cloudformation_json["Properties"]
            config = distribution_config_from_cfn(props["DistributionConfig"], original_resource.caller_reference)
            backend = original_resource.backend
            dist = backend.distributions[original_resource.distribution_id]
            backend.update_distribution(config, original_resource.distribution_id, dist.etag)
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            dist = self.backend.distributions.get(self.distribution_id)
            if dist is not None:
                self.backend.delete_distribution(self.distribution_id, dist.etag)

    # moto lists CloudFormation models once and caches the list; drop it in case it is built.
    for cached in (cfn_parsing.get_model_list, cfn_parsing.get_model_map, cfn_parsing.get_name_type_map):
        cached.cache_clear()


def _reset() -> None:
    from moto.moto_api import state_manager

    state_manager.register_default_transition(DISTRIBUTION_MODEL, dict(CLOCK_TRANSITION))
    with _released_lock:
        _released.clear()


def install() -> None:
    global cf_models
    import moto.cloudfront.models as cf_models

    _patch_associations()
    _patch_distribution_clock()
    _patch_update()
    _patch_caller_references()
    _patch_invalidations()
    _patch_replicas()  # after _patch_update: a refused update or delete releases nothing
    _register_distribution_model()
    clock.on_reset(_reset)
