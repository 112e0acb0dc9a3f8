#!/usr/bin/env python3
"""Local AWS emulator for lambda-edge-deploy's tests: moto's server plus what moto 5.2.5 lacks.

    python tests/emulator/launcher.py [--host 127.0.0.1] [--port 0] [--exit-on-stdin-eof] [--verbose]

Prints exactly one line, `LISTENING http://HOST:PORT`, to stdout once it serves; all else goes to
stderr. With --exit-on-stdin-eof it exits when stdin closes, so a test process that dies takes its
emulator with it; otherwise it serves until SIGINT or SIGTERM.

Every extension below works on moto's own backends and models: moto stays the single source of
state, and the patches only fill the gaps between moto and the real services that the tool meets.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
import warnings
from datetime import datetime, timezone
from typing import Any

from child_process import BudgetedStream, wait_for_stdin_eof

STARTED = time.monotonic()
log = logging.getLogger("emulator")


# --- Output discipline --------------------------------------------------------------------
# The parent reads one line from stdout and may never read stderr. A pipe nobody drains fills
# after 64 KiB and then blocks the writer, which here would be a request thread: so stderr gets
# a fixed budget, and werkzeug's one-line-per-request log is off unless asked for.

def _configure_output(verbose: bool) -> None:
    if not verbose:
        sys.stderr = BudgetedStream(sys.__stderr__, 32 * 1024, "emulator")  # type: ignore[assignment]
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    log.setLevel(logging.INFO if verbose else logging.WARNING)  # tests inherit this stderr: stay quiet
    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.ERROR)
    # "No Moto CloudFormation support for X" and friends: expected here, and noise in a test log.
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")


# moto is imported after the argument parsing so that --help stays instant; these are filled in
# by _import_moto().
cf_models: Any = None  # moto.cloudfront.models
lambda_models: Any = None  # moto.awslambda.models
cfn_models: Any = None  # moto.cloudformation.models
cfn_parsing: Any = None  # moto.cloudformation.parsing
cfn_responses: Any = None  # moto.cloudformation.responses


def _import_moto() -> None:
    global cf_models, lambda_models, cfn_models, cfn_parsing, cfn_responses
    import moto.awslambda.models as lambda_models
    import moto.cloudformation.models as cfn_models
    import moto.cloudformation.parsing as cfn_parsing
    import moto.cloudformation.responses as cfn_responses
    import moto.cloudfront.models as cf_models


def _quantity_items(items: list[Any] | None) -> dict[str, Any]:
    """CloudFormation says `[a, b]` where the CloudFront API says `{Quantity: 2, Items: [a, b]}`."""
    items = list(items or [])
    return {"Quantity": len(items), "Items": items} if items else {"Quantity": 0}


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


# --- 1. CloudFront keeps LambdaFunctionAssociations --------------------------------------
# moto's cache behaviours hard-code `{"Quantity": 0}` for LambdaFunctionAssociations (and
# FunctionAssociations), so an association made through CreateDistribution, UpdateDistribution
# or CloudFormation vanished. Keeping the parsed value is enough: moto's serializer already
# renders `{Quantity, Items}` in the XML shape of the real API.

def _lambda_association(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "LambdaFunctionARN": item["LambdaFunctionARN"],
        "EventType": item["EventType"],
        "IncludeBody": _as_bool(item.get("IncludeBody", False)),
    }


def _items_of(value: Any) -> list[Any]:
    if not value:
        return []
    items = value.get("Items") if isinstance(value, dict) else value
    if isinstance(items, dict):  # a lone XML member can come back unwrapped
        items = [items]
    return list(items or [])


def _patch_cloudfront_associations() -> None:
    original_init = cf_models.DefaultCacheBehaviour.__init__

    def __init__(self: Any, config: dict[str, Any]) -> None:
        original_init(self, config)
        self.lambda_function_associations = _quantity_items(
            [_lambda_association(i) for i in _items_of(config.get("LambdaFunctionAssociations"))]
        )
        self.function_associations = _quantity_items(_items_of(config.get("FunctionAssociations")))

    # CacheBehaviour calls super().__init__, so patching the base covers both kinds of behaviour.
    cf_models.DefaultCacheBehaviour.__init__ = __init__


# --- 2. CloudFront UpdateDistribution: new ETag, If-Match, back to InProgress -------------
# moto's UpdateDistribution keeps the old ETag, accepts any If-Match value, and leaves a
# Deployed distribution Deployed. The real API hands out a new ETag per change, refuses a stale
# If-Match (PreconditionFailed, 412) and redeploys, which is what the tool waits on; so an update
# restarts the distribution's state-manager clock like a create does. CloudFormation updates come
# through here too (section 3), so both paths behave alike under
# /moto-api/state-manager/set-transition.

def _patch_cloudfront_update() -> None:
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
        dist.status = "InProgress"
        dist._time_progressed = datetime.now()
        dist._tick = 0
        return dist, location, dist.etag

    def delete_distribution(self: Any, distribution_id: str, if_match: Any) -> None:
        _check_if_match(self, distribution_id, if_match)
        original_delete(self, distribution_id, if_match)

    backend_cls.update_distribution = update_distribution
    backend_cls.delete_distribution = delete_distribution


# --- 3. CloudFormation AWS::CloudFront::Distribution ---------------------------------------
# moto has no CloudFormation model for distributions: it logs "No Moto CloudFormation support"
# and creates nothing, so Ref and GetAtt resolve to nothing. This model drives moto's CloudFront
# backend instead, translating CloudFormation's property shape into the API's.

def _behavior_from_cfn(cfn: dict[str, Any]) -> dict[str, Any]:
    api = {k: v for k, v in cfn.items() if k != "CachedMethods"}
    if "AllowedMethods" in cfn:
        api["AllowedMethods"] = {
            **_quantity_items(cfn["AllowedMethods"]),
            "CachedMethods": _quantity_items(cfn.get("CachedMethods", ["GET", "HEAD"])),
        }
    for key in ("TrustedSigners", "TrustedKeyGroups"):
        if key in cfn:
            api[key] = {"Enabled": bool(cfn[key]), **_quantity_items(cfn[key])}
    if "LambdaFunctionAssociations" in cfn:
        api["LambdaFunctionAssociations"] = _quantity_items(
            [_lambda_association(a) for a in cfn["LambdaFunctionAssociations"]]
        )
    if "FunctionAssociations" in cfn:
        api["FunctionAssociations"] = _quantity_items(cfn["FunctionAssociations"])
    if "ForwardedValues" in cfn:
        forwarded = dict(cfn["ForwardedValues"])
        cookies = dict(forwarded.get("Cookies") or {"Forward": "none"})
        if "WhitelistedNames" in cookies:
            cookies["WhitelistedNames"] = _quantity_items(cookies["WhitelistedNames"])
        forwarded["Cookies"] = cookies
        for key in ("Headers", "QueryStringCacheKeys"):
            if key in forwarded:
                forwarded[key] = _quantity_items(forwarded[key])
        api["ForwardedValues"] = forwarded
    return api


def _origin_from_cfn(cfn: dict[str, Any]) -> dict[str, Any]:
    api = {k: v for k, v in cfn.items() if k != "OriginCustomHeaders"}
    api["CustomHeaders"] = _quantity_items(cfn.get("OriginCustomHeaders"))
    if "CustomOriginConfig" in cfn:
        custom = {"HTTPPort": 80, "HTTPSPort": 443, **cfn["CustomOriginConfig"]}
        custom["OriginSslProtocols"] = _quantity_items(custom.pop("OriginSSLProtocols", ["TLSv1.2"]))
        api["CustomOriginConfig"] = custom
    if "S3OriginConfig" in cfn:
        api["S3OriginConfig"] = {"OriginAccessIdentity": "", **cfn["S3OriginConfig"]}
    return api


_VIEWER_CERTIFICATE_NAMES = {
    "AcmCertificateArn": "ACMCertificateArn",
    "IamCertificateId": "IAMCertificateId",
    "SslSupportMethod": "SSLSupportMethod",
}


def _distribution_config_from_cfn(cfn: dict[str, Any], caller_reference: str) -> dict[str, Any]:
    renamed = {"CNAMEs", "IPV6Enabled", "Origins", "CacheBehaviors", "CustomErrorResponses"}
    api = {k: copy.deepcopy(v) for k, v in cfn.items() if k not in renamed}
    api["CallerReference"] = caller_reference
    api["Comment"] = cfn.get("Comment", "")
    api["Enabled"] = _as_bool(cfn.get("Enabled", True))
    api["Aliases"] = _quantity_items(cfn.get("Aliases") or cfn.get("CNAMEs"))
    api["Origins"] = _quantity_items([_origin_from_cfn(o) for o in cfn.get("Origins", [])])
    api["DefaultCacheBehavior"] = _behavior_from_cfn(cfn["DefaultCacheBehavior"])
    api["CacheBehaviors"] = _quantity_items([_behavior_from_cfn(b) for b in cfn.get("CacheBehaviors", [])])
    api["CustomErrorResponses"] = _quantity_items(cfn.get("CustomErrorResponses"))
    if "IPV6Enabled" in cfn:
        api["IsIPV6Enabled"] = _as_bool(cfn["IPV6Enabled"])
    if "Restrictions" in cfn:
        geo = cfn["Restrictions"].get("GeoRestriction", {})
        api["Restrictions"] = {
            "GeoRestriction": {"RestrictionType": geo.get("RestrictionType", "none"), **_quantity_items(geo.get("Locations"))}
        }
    if "ViewerCertificate" in cfn:
        api["ViewerCertificate"] = {_VIEWER_CERTIFICATE_NAMES.get(k, k): v for k, v in cfn["ViewerCertificate"].items()}
    if "Logging" in cfn:
        api["Logging"] = {"Enabled": True, "IncludeCookies": False, "Prefix": "", **cfn["Logging"]}
    return api


def _register_distribution_model() -> None:
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

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
        ) -> CloudFormationDistribution:
            props = cloudformation_json["Properties"]
            caller_reference = str(uuid.uuid4())
            backend = backend_for(account_id, region_name)
            config = _distribution_config_from_cfn(props["DistributionConfig"], caller_reference)
            dist, _, _ = backend.create_distribution(config, props.get("Tags", []))
            return cls(backend, dist.distribution_id, caller_reference)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls, original_resource: CloudFormationDistribution, new_resource_name: str,
            cloudformation_json: dict[str, Any], account_id: str, region_name: str,
        ) -> CloudFormationDistribution:
            # Every DistributionConfig change is an in-place update on AWS: same id, new ETag.
            props = cloudformation_json["Properties"]
            config = _distribution_config_from_cfn(props["DistributionConfig"], original_resource.caller_reference)
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


# --- 4. Lambda honours S3ObjectVersion --------------------------------------------------
# moto reads the newest object under S3Key whatever S3ObjectVersion says (CreateFunction,
# UpdateFunctionCode, and CloudFormation's Code.S3ObjectVersion), so CodeSha256 described the
# wrong bytes. It also took a missing key for empty code instead of failing as Lambda does.

def _patch_lambda_s3_object_version() -> None:
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    fn_cls = lambda_models.LambdaFunction
    original_set_code = fn_cls._set_function_code

    def _set_function_code(self: Any, spec: dict[str, Any]) -> None:
        from_update = spec is not self.code
        if from_update and spec.get("DryRun"):
            return original_set_code(self, spec)
        key = None
        if "S3Bucket" in spec and "S3Key" in spec and "ZipFile" not in spec:
            version = spec.get("S3ObjectVersion") or None
            try:
                key = s3_backends[self.account_id][self.partition].get_object(spec["S3Bucket"], spec["S3Key"], version)
            except MissingBucket:
                if lambda_models.do_validate_s3():
                    raise lambda_models.InvalidParameterValueException(
                        "Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                        "S3 Error Message: The specified bucket does not exist"
                    )
            if key is None and lambda_models.do_validate_s3():
                what = ("NoSuchVersion", "version") if version else ("NoSuchKey", "key")
                raise lambda_models.InvalidParameterValueException(
                    f"Error occurred while GetObject. S3 Error Code: {what[0]}. "
                    f"S3 Error Message: The specified {what[1]} does not exist."
                )
        original_set_code(self, spec)
        if key is not None:
            self.code_bytes, self.code_size, self.code_sha_256, self.code_digest = lambda_models._s3_content(key)
        if from_update:
            self.code.pop("S3ObjectVersion", None)
            if key is not None and spec.get("S3ObjectVersion"):
                self.code["S3ObjectVersion"] = spec["S3ObjectVersion"]

    fn_cls._set_function_code = _set_function_code


# --- 5. Lambda RevisionId, PublishVersion preconditions, no duplicate versions ------------
# moto's functions have no RevisionId at all, PublishVersion ignores CodeSha256 and RevisionId,
# and any UpdateFunctionCode (even with identical bytes) makes the next PublishVersion cut a new
# number. Lambda instead: CodeSha256 that is not $LATEST's -> InvalidParameterValueException
# ("CodeSHA256 (...) is different from current CodeSHA256 in $LATEST"), RevisionId that is not
# current -> PreconditionFailedException (412), and unchanged code and configuration -> the
# latest existing version comes back.

_REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def _revision(fn: Any) -> str:
    if not getattr(fn, "_revision_id", None):
        fn._revision_id = str(uuid.uuid4())
    return fn._revision_id


def _check_revision(fn: Any, expected: str | None) -> None:
    from moto.awslambda.exceptions import PreconditionFailedException

    if expected and expected != _revision(fn):
        raise PreconditionFailedException(_REVISION_MISMATCH)


def _published_fingerprint(fn: Any) -> str:
    # What a version freezes besides its description (which each publish may set anew).
    return json.dumps(
        [fn.code_sha_256, fn.handler, fn.run_time, fn.role, fn.memory_size, fn.timeout,
         fn.environment_vars, fn.layers, fn.architectures, fn.ephemeral_storage, fn._vpc_config],
        sort_keys=True, default=str,
    )


def _patch_lambda_versions() -> None:
    fn_cls = lambda_models.LambdaFunction
    backend_cls = lambda_models.LambdaBackend
    storage_publish = lambda_models.LambdaStorage.publish_version

    original_get_configuration = fn_cls.get_configuration
    original_update_code = fn_cls.update_function_code
    original_update_configuration = fn_cls.update_configuration

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = original_get_configuration(self, on_create)
        config["RevisionId"] = _revision(self)
        return config

    def update_function_code(self: Any, spec: dict[str, Any]) -> Any:
        result = original_update_code(self, spec)
        if not spec.get("DryRun"):
            self._revision_id = str(uuid.uuid4())
            result["RevisionId"] = self._revision_id
        return result

    def update_configuration(self: Any, updates: dict[str, Any]) -> Any:
        result = original_update_configuration(self, updates)
        self._revision_id = str(uuid.uuid4())
        result["RevisionId"] = self._revision_id
        return result

    fn_cls.get_configuration = get_configuration
    fn_cls.update_function_code = update_function_code
    fn_cls.update_configuration = update_configuration

    def publish_version(self: Any, function_name: str, description: str = "",
                        code_sha256: str | None = None, revision_id: str | None = None) -> Any:
        latest = self._lambdas.get_function_by_name_or_arn_forbid_qualifier(function_name)
        if code_sha256 is not None and code_sha256 != latest.code_sha_256:
            raise lambda_models.InvalidParameterValueException(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha_256}). Please try again with the CodeSHA256 in $LATEST."
            )
        _check_revision(latest, revision_id)
        versions = self._lambdas._functions[latest.function_name]["versions"]
        if versions and _published_fingerprint(versions[-1]) == _published_fingerprint(latest):
            return versions[-1]
        latest.code_or_config_updated = True  # moto's own publish only checks this flag
        version = storage_publish(self._lambdas, function_name, description)
        version.code = dict(version.code)  # a shallow copy would share $LATEST's code dict
        version._revision_id = str(uuid.uuid4())
        return version

    original_backend_update_code = backend_cls.update_function_code
    original_backend_update_configuration = backend_cls.update_function_configuration

    def backend_update_function_code(self: Any, function_name: str, qualifier: str, body: dict[str, Any]) -> Any:
        _check_revision(self.get_function(function_name, qualifier), body.get("RevisionId"))
        return original_backend_update_code(self, function_name, qualifier, body)

    def backend_update_function_configuration(self: Any, function_name: str, qualifier: str, body: dict[str, Any]) -> Any:
        _check_revision(self.get_function(function_name, qualifier), body.get("RevisionId"))
        return original_backend_update_configuration(self, function_name, qualifier, body)

    backend_cls.publish_version = publish_version
    backend_cls.update_function_code = backend_update_function_code
    backend_cls.update_function_configuration = backend_update_function_configuration

    from urllib.parse import unquote

    from moto.awslambda.responses import LambdaResponse

    def respond_publish_version(self: Any) -> Any:
        fn = self.backend.publish_version(
            unquote(self.path.split("/")[-2]),
            self._get_param("Description") or "",
            code_sha256=self._get_param("CodeSha256"),
            revision_id=self._get_param("RevisionId"),
        )
        return 201, {"status": 201}, json.dumps(fn.get_configuration())

    def respond_list_versions_by_function(self: Any) -> Any:
        # moto looks the raw path segment up as a name: an ARN (percent-encoded, as SDKs send
        # it) matched nothing and the answer was silently empty. Lambda takes a name or an ARN,
        # and an unknown function is ResourceNotFoundException.
        latest = self.backend._lambdas.get_function_by_name_or_arn_forbid_qualifier(unquote(self.path.split("/")[-2]))
        versions = self.backend.list_versions_by_function(latest.function_name)
        return 200, {}, json.dumps({"Versions": [fn.get_configuration() for fn in versions]})

    LambdaResponse.publish_version = respond_publish_version
    LambdaResponse.list_versions_by_function = respond_list_versions_by_function


# --- 6. AWS::Lambda::Version: physical id and Ref are the version ARN ---------------------
# moto's version model carries only the number and no physical id, so `!Ref EdgeFunctionVersion`
# gave the logical id and DescribeStackResources/ListStackResources gave none. CloudFront
# associations need the numbered ARN, which is what CloudFormation returns.

def _patch_lambda_version_model() -> None:
    version_cls = lambda_models.LambdaVersion

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        props = cloudformation_json["Properties"]
        backend = lambda_models.lambda_backends[account_id][region_name]
        fn = backend.publish_version(props["FunctionName"], props.get("Description", ""), code_sha256=props.get("CodeSha256"))
        version = cls({"Version": fn.version})
        version.function_name, version.version_arn, version.backend = fn.function_name, fn.function_arn, backend
        return version

    def get_cfn_attribute(self: Any, attribute_name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Version":
            return str(self.version)
        raise UnformattedGetAttTemplateException()

    def delete(self: Any, account_id: str, region_name: str) -> None:
        try:
            self.backend.delete_function(self.function_name, str(self.version))
        except Exception:  # the function (and with it every version) may already be gone
            pass

    version_cls.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    version_cls.physical_resource_id = property(lambda self: self.version_arn)
    version_cls.has_cfn_attr = classmethod(lambda cls, attr: attr == "Version")
    version_cls.get_cfn_attribute = get_cfn_attribute
    version_cls.delete = delete


# --- 7. Stack events carry the operation's ClientRequestToken ----------------------------
# moto accepts ClientRequestToken on CreateStack/UpdateStack/DeleteStack but every event has
# it empty. CloudFormation stamps each event with the token of the operation that caused it,
# which is how a client picks out the events of its own operation.

_operation = threading.local()  # werkzeug serves each request on its own thread


def _patch_event_tokens() -> None:
    response_cls = cfn_responses.CloudFormationResponse

    def with_token(handler: Any) -> Any:
        def wrapper(self: Any) -> Any:
            _operation.token = self._get_param("ClientRequestToken")
            try:
                return handler(self)
            finally:
                _operation.token = None

        return wrapper

    for name in ("create_stack", "update_stack", "delete_stack", "execute_change_set"):
        setattr(response_cls, name, with_token(getattr(response_cls, name)))

    original_event_init = cfn_models.Event.__init__

    def event_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_event_init(self, *args, **kwargs)
        self.client_request_token = getattr(_operation, "token", None)

    cfn_models.Event.__init__ = event_init


# --- 8. UpdateStack parameters and "No updates are to be performed." ----------------------
# moto resolves UsePreviousValue from the parameters given explicitly at the previous operation,
# so a parameter that took its Default then (OriginDomainName here) fails with a KeyError (500).
# Its "nothing changed" check only fires when every parameter is passed explicitly and the
# template text is byte-identical, and it never fires with UsePreviousTemplate or no Parameters.
# And it only updates resources that `Ref` a changed parameter, missing those that change through
# a Condition (`!If [FirstLaunch, ...]`). Here previous values include defaults, the check
# compares the parsed template and the effective parameter values (CloudFormation's
# "ValidationError: No updates are to be performed."), and Conditions count.

def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return "" if value is None else str(value)


def _effective_parameters(template: dict[str, Any], given: dict[str, Any]) -> dict[str, str]:
    """The value of each template parameter: given, else its Default (absent if neither)."""
    slots = template.get("Parameters") or {}
    return {
        key: _text(given[key]) if key in given else _text(slot["Default"])
        for key, slot in slots.items()
        if key in given or "Default" in slot
    }


def _requested_parameters(stack: Any, incoming: list[dict[str, Any]]) -> dict[str, str]:
    from moto.cloudformation.exceptions import ValidationError

    previous = _effective_parameters(stack.template_dict, stack.parameters)
    requested = {}
    for param in incoming or []:
        key = param["ParameterKey"]
        if param.get("UsePreviousValue"):
            if key not in previous:
                raise ValidationError(
                    message=f"Invalid input for parameter key {key}. Cannot specify usePreviousValue "
                    "as true for a parameter key not in the previous template"
                )
            requested[key] = previous[key]
        elif "ParameterValue" in param:
            requested[key] = param["ParameterValue"]
    return requested


def _conditions_used(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if "Fn::If" in node and isinstance(node["Fn::If"], list) and node["Fn::If"]:
            found.add(node["Fn::If"][0])
        if isinstance(node.get("Condition"), str):
            found.add(node["Condition"])
        for value in node.values():
            found |= _conditions_used(value)
    elif isinstance(node, list):
        for value in node:
            found |= _conditions_used(value)
    return found


def _patch_update_stack() -> None:
    from moto.cloudformation.exceptions import ValidationError

    backend_cls = cfn_models.CloudFormationBackend
    original_resolve = backend_cls._resolve_update_parameters

    def _resolve_update_parameters(self: Any, instance: Any, incoming_params: list[dict[str, Any]]) -> dict[str, str]:
        if not isinstance(instance, cfn_models.Stack):
            return original_resolve(self, instance, incoming_params)
        return _requested_parameters(instance, incoming_params)

    def _validate_different_update(self: Any, incoming_params: Any, stack_body: str, old_stack: Any) -> None:
        self._validate_status(old_stack)  # a ROLLBACK_COMPLETE stack says so before anything else
        if not stack_body:
            raise ValidationError(message="Either Template URL or Template Body must be specified.")
        new_template = cfn_models.Stack.parse_template(stack_body)
        requested = _requested_parameters(old_stack, incoming_params)
        _validate_parameters(new_template, requested)  # before moto starts changing the stack
        new_values = _effective_parameters(new_template, requested)
        old_values = _effective_parameters(old_stack.template_dict, old_stack.parameters)
        tags = {t["Key"]: t["Value"] for t in self._get_param("Tags", [])}
        if new_template == old_stack.template_dict and new_values == old_values and (not tags or tags == old_stack.tags):
            raise ValidationError(old_stack.name, message="No updates are to be performed.")

    backend_cls._resolve_update_parameters = _resolve_update_parameters
    cfn_responses.CloudFormationResponse._validate_different_update = _validate_different_update

    original_diff = cfn_parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self: Any, other_template: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        diff = original_diff(self, other_template, None)
        if not parameters:
            return diff
        before = _effective_parameters(self._template, self.input_parameters)
        after = _effective_parameters(other_template, parameters)
        changed = {key for key in after if before.get(key) != after[key]}
        conditions = other_template.get("Conditions") or {}
        touched = {name for name, body in conditions.items() if set(cfn_parsing.get_references_from_template(body)) & changed}
        while True:  # conditions that build on touched conditions
            more = {name for name, body in conditions.items() if name not in touched and _conditions_used(body) & touched}
            if not more:
                break
            touched |= more
        old, new = self._resource_json_map, other_template["Resources"]
        for name, resource in new.items():
            if name in old and resource == old[name] and name not in diff["Modify"]:
                refs = set(cfn_parsing.get_references_from_template(resource))
                if refs & changed or _conditions_used(resource) & touched:
                    diff["Modify"].append(name)
        return diff

    cfn_parsing.ResourceMap.build_resource_diff = build_resource_diff


# --- 9. Parameter values are checked as CloudFormation checks them -----------------------
# moto ignores AllowedValues, AllowedPattern and MinLength/MaxLength, accepts parameters the
# template does not declare, and on UpdateStack discovers a missing value only half-way through
# the update, leaving the stack changed. CloudFormation refuses the call up front with a
# ValidationError: e.g. FirstLaunch=yes, or an empty ArtifactObjectVersion.

def _validate_parameters(template: dict[str, Any], given: dict[str, Any]) -> None:
    import re

    from moto.cloudformation.exceptions import ValidationError

    slots = template.get("Parameters") or {}
    unknown = [key for key in given if key not in slots]
    if unknown:
        raise ValidationError(message=f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    values = _effective_parameters(template, given)
    missing = [key for key in slots if key not in values]
    if missing:
        raise ValidationError(message=f"Parameters: [{', '.join(missing)}] must have values")
    for key, slot in slots.items():
        if slot.get("Type", "String") != "String":
            continue
        value = values[key]
        if "AllowedValues" in slot and value not in [_text(v) for v in slot["AllowedValues"]]:
            raise ValidationError(message=f"Parameter '{key}' must be one of AllowedValues")
        if "AllowedPattern" in slot and not re.fullmatch(slot["AllowedPattern"], value):
            raise ValidationError(message=f"Parameter '{key}' must match pattern {slot['AllowedPattern']}")
        if "MinLength" in slot and len(value) < int(slot["MinLength"]):
            raise ValidationError(message=f"Parameter '{key}' must contain at least {slot['MinLength']} characters")
        if "MaxLength" in slot and len(value) > int(slot["MaxLength"]):
            raise ValidationError(message=f"Parameter '{key}' must contain at most {slot['MaxLength']} characters")


def _patch_parameter_validation() -> None:
    # CreateStack resolves its parameters while building the stack, before moto stores it;
    # UpdateStack is checked in _validate_different_update (section 8), before anything changes.
    original_init = cfn_models.Stack.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        template = kwargs.get("template")
        parameters = kwargs.get("parameters")
        if isinstance(template, str) and template and parameters is not None:
            _validate_parameters(cfn_models.Stack.parse_template(template), parameters)
        original_init(self, *args, **kwargs)

    cfn_models.Stack.__init__ = __init__


# --- 10. Failed stack operations roll back instead of failing the API call -----------------
# When a resource fails, moto raises out of CreateStack/UpdateStack: the call answers with an
# error and the stack stays CREATE_IN_PROGRESS (or keeps the new template) for ever. On AWS the
# call succeeds and the stack ends ROLLBACK_COMPLETE (a first launch, which can then only be
# deleted) or UPDATE_ROLLBACK_COMPLETE, with a *_FAILED event naming the resource and the reason.
# moto cannot undo resource changes already applied by a failed update; template, parameters
# and outputs are restored.

def _patch_rollbacks() -> None:
    stack_cls = cfn_models.Stack

    def remember_failure(original: Any) -> Any:
        def wrapper(logical_id: str, resource_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            try:
                return original(logical_id, resource_json, *args, **kwargs)
            except Exception as error:
                if not hasattr(error, "emulator_logical_id"):
                    error.emulator_logical_id = logical_id  # type: ignore[attr-defined]
                    error.emulator_resource_type = resource_json.get("Type")  # type: ignore[attr-defined]
                raise

        return wrapper

    cfn_parsing.parse_and_create_resource = remember_failure(cfn_parsing.parse_and_create_resource)
    cfn_parsing.parse_and_update_resource = remember_failure(cfn_parsing.parse_and_update_resource)

    def resource_failed(stack: Any, error: Exception, status: str) -> None:
        logical_id = getattr(error, "emulator_logical_id", None)
        if logical_id:
            event = cfn_models.Event(
                stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
                physical_resource_id="", resource_type=getattr(error, "emulator_resource_type", ""),
                resource_status=status, resource_status_reason=getattr(error, "message", None) or str(error),
                resource_properties=None,
            )
            stack.events.append(event)
        log.info("stack %s: %s %s: %s", stack.name, logical_id, status, error)

    original_create = stack_cls.create_resources
    original_update = stack_cls.update

    def create_resources(self: Any) -> None:
        try:
            original_create(self)
        except Exception as error:
            if not hasattr(error, "emulator_logical_id"):
                raise  # not a resource failure: the call itself fails, as before
            resource_failed(self, error, "CREATE_FAILED")
            self._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=(
                f"The following resource(s) failed to create: [{getattr(error, 'emulator_logical_id', '')}]. "
                "Rollback requested by user."))
            try:
                self.resource_map.delete()
            except Exception:
                pass
            self._add_stack_event("ROLLBACK_COMPLETE")
            self.status = "ROLLBACK_COMPLETE"

    def update(self: Any, template: str, role_arn: str | None = None,
               parameters: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> None:
        saved_template, saved_parameters = self.template, self.parameters
        saved_input = self.resource_map.input_parameters
        saved_resources_json, saved_map_template = self.resource_map._resource_json_map, self.resource_map._template
        try:
            original_update(self, template, role_arn, parameters, tags)
        except Exception as error:
            if not hasattr(error, "emulator_logical_id"):
                raise
            resource_failed(self, error, "UPDATE_FAILED")
            self._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=(
                f"The following resource(s) failed to update: [{getattr(error, 'emulator_logical_id', '')}]."))
            self.template, self.parameters = saved_template, saved_parameters
            self._parse_template()
            resource_map = self.resource_map
            resource_map._template, resource_map._resource_json_map = saved_map_template, saved_resources_json
            resource_map.input_parameters = saved_input
            resource_map.load_parameters()
            resource_map.load_conditions()
            self.output_map = self._create_output_map()
            self._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            self.status = "UPDATE_ROLLBACK_COMPLETE"

    stack_cls.create_resources = create_resources
    stack_cls.update = update


# --- 11. A stack whose resources are gone does not bring them back ------------------------
# moto resolves a stack's resources lazily, on first access: after DeleteStack (or a rollback)
# the next DescribeStacks by stack id evaluates the Outputs again, which quietly re-creates the
# deleted distribution and function. On AWS such a stack has no outputs and no resources.

def _patch_deleted_stacks() -> None:
    original_delete = cfn_parsing.ResourceMap.delete
    original_outputs = cfn_models.Stack.outputs

    def delete(self: Any) -> None:
        original_delete(self)
        self._resource_json_map = {}

    def outputs(self: Any) -> Any:
        if self.status in ("DELETE_COMPLETE", "ROLLBACK_COMPLETE"):
            return None
        return original_outputs.fget(self)

    cfn_parsing.ResourceMap.delete = delete
    cfn_models.Stack.outputs = property(outputs)


# --- 12. GetBucketVersioning answers with the real root element --------------------------
# moto renders GetBucketVersioning from botocore's model, whose output shape has no XML name, so
# the root comes out as <GetBucketVersioningResponse>. S3 answers <VersioningConfiguration>, and
# the Rust SDK checks the root element, so without this every versioning check fails to parse.

def _patch_bucket_versioning() -> None:
    from moto.s3.responses import S3Response

    def get_bucket_versioning(self: Any) -> Any:
        status = self.backend.get_bucket_versioning(self.bucket_name)
        inner = f"<Status>{status}</Status>" if status else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>'
        )
        return 200, {"Content-Type": "application/xml"}, body

    S3Response.get_bucket_versioning = get_bucket_versioning


# --- 13. S3 enforces ExpectedBucketOwner ---------------------------------------------------
# moto ignores the `x-amz-expected-bucket-owner` header, so a bucket owned by another account
# passed the check. S3 refuses any bucket or object request whose bucket is owned by an account
# other than the one named: 403 AccessDenied. The owner is the account moto created the bucket in.

def _patch_expected_bucket_owner() -> None:
    from moto.s3.exceptions import BucketAccessDeniedError
    from moto.s3.models import s3_backends
    from moto.s3.responses import S3Response

    def enforce(handler: Any) -> Any:
        # Wraps the inner handlers, which run inside the try that renders an S3 error response.
        def wrapper(self: Any, request: Any, full_url: str) -> Any:
            expected = request.headers.get("x-amz-expected-bucket-owner")
            bucket_name = self.parse_bucket_name_from_url(request, full_url) if expected else ""
            owner = s3_backends.bucket_accounts.get(bucket_name) if bucket_name else None
            if owner is not None and owner[1] != expected.strip():
                raise BucketAccessDeniedError(bucket_name)
            return handler(self, request, full_url)

        return wrapper

    S3Response._bucket_response = enforce(S3Response._bucket_response)
    S3Response._key_response = enforce(S3Response._key_response)


# --- 14. Lambda keeps DeadLetterConfig and takes Architectures on UpdateFunctionCode ---------
# moto drops DeadLetterConfig from UpdateFunctionConfiguration (and never returns it), and sets a
# function's architectures only at CreateFunction. Lambda keeps both, and the tool refuses functions
# that have a dead-letter queue or run on arm64 (Lambda@Edge allows neither): without this the
# tests could not put a function in either state.

def _patch_lambda_dlq_and_architectures() -> None:
    from moto.awslambda import models

    fn = models.LambdaFunction
    update_configuration, get_configuration = fn.update_configuration, fn.get_configuration
    update_function_code = fn.update_function_code

    def update_configuration_keeping_dlq(self: Any, updates: dict[str, Any]) -> Any:
        if "DeadLetterConfig" in updates:
            self.dead_letter_config = updates["DeadLetterConfig"] or {}
        return update_configuration(self, updates)

    def get_configuration_with_dlq(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = get_configuration(self, *args, **kwargs)
        dlq = getattr(self, "dead_letter_config", None)
        if dlq and dlq.get("TargetArn"):
            config["DeadLetterConfig"] = {"TargetArn": dlq["TargetArn"]}
        return config

    def update_function_code_with_architectures(self: Any, spec: dict[str, Any]) -> Any:
        if spec.get("Architectures"):
            self.architectures = spec["Architectures"]
        return update_function_code(self, spec)

    fn.update_configuration = update_configuration_keeping_dlq
    fn.get_configuration = get_configuration_with_dlq
    fn.update_function_code = update_function_code_with_architectures


MOTO_VERSION = "5.2.5"  # the release whose internals the sections above were written against


def install() -> None:
    """Import moto and apply every extension, once per process."""
    _import_moto()
    import moto

    if moto.__version__ != MOTO_VERSION:
        log.warning("moto %s found, the patches were written for %s", moto.__version__, MOTO_VERSION)
    _patch_cloudfront_associations()
    _patch_cloudfront_update()
    _register_distribution_model()
    _patch_lambda_s3_object_version()
    _patch_lambda_versions()
    _patch_lambda_version_model()
    _patch_event_tokens()
    _patch_update_stack()
    _patch_parameter_validation()
    _patch_rollbacks()
    _patch_deleted_stacks()
    _patch_bucket_versioning()
    _patch_expected_bucket_owner()
    _patch_lambda_dlq_and_architectures()


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr, unbounded")
    args = parser.parse_args(argv)

    _configure_output(args.verbose)
    if args.port and not _port_free(args.host, args.port):
        # ThreadedMotoServer.start() would wait for ever on a server thread that died binding.
        log.error("cannot listen on %s:%s: address in use", args.host, args.port)
        return 1
    install()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        sys.stdout.write(f"LISTENING http://{host}:{port}\n")
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    sys.stdout = sys.stderr  # nothing else may reach the parent's stdout pipe
    log.info("serving on %s:%s after %.2fs", host, port, time.monotonic() - STARTED)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        threading.Thread(target=wait_for_stdin_eof, args=(stop,), daemon=True).start()
    while not stop.wait(0.2):
        pass

    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(5.0)  # requests still in flight do not hold the exit up
    log.info("stopped")
    logging.shutdown()
    # Request threads are daemons that may still be inside moto: skip the interpreter's
    # finalization rather than let it trip over them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
