"""Lambda: what moto 5.2.5's Lambda lacks, on moto's own backend and models."""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

lambda_models: Any = None  # moto.awslambda.models, set by install()


# --- Lambda honours S3ObjectVersion -----------------------------------------------------
# moto reads the newest object under S3Key whatever S3ObjectVersion says (CreateFunction,
# UpdateFunctionCode, and CloudFormation's Code.S3ObjectVersion), so CodeSha256 described the
# wrong bytes. It also took a missing key for empty code instead of failing as Lambda does.

def _patch_s3_object_version() -> None:
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


# --- Lambda RevisionId, PublishVersion preconditions, no duplicate versions ------------
# moto's functions have no RevisionId at all, PublishVersion ignores CodeSha256 and RevisionId,
# and any UpdateFunctionCode (even with identical bytes) makes the next PublishVersion cut a new
# number. Lambda instead: CodeSha256 that is not $LATEST's -> InvalidParameterValueException
# ("CodeSHA256 (...) is different from current CodeSHA256 in $LATEST"), RevisionId that is not
# current -> PreconditionFailedException (412), and unchanged code and configuration -> the
# latest existing version comes back. A publish that does cut a version moves $LATEST's
# RevisionId on (Lambda's revision changes with every publish), so a PublishVersion retried
# with the RevisionId read before the first attempt fails with 412; one that returns the
# existing version leaves the revision alone.

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
         fn.environment_vars, fn.layers, fn.architectures, fn.ephemeral_storage, fn._vpc_config,
         fn.tracing_config, fn.kms_key_arn],
        sort_keys=True, default=str,
    )


def _patch_versions() -> None:
    fn_cls = lambda_models.LambdaFunction
    backend_cls = lambda_models.LambdaBackend

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
        version = self._lambdas.publish_version(function_name, description)  # numbered as below
        version.code = dict(version.code)  # a shallow copy would share $LATEST's code dict
        version._revision_id = str(uuid.uuid4())
        latest._revision_id = str(uuid.uuid4())  # the revision moves on with the publish
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


# --- Lambda never hands out a version number twice ------------------------------------------
# moto numbers a new version len(versions) + 1: after a DeleteFunction of a version it hands out a
# number that exists (versions 1, 2 and 4 left: the next is 4 again, a second version 4) or one
# that existed (1 and 2 left: 3 again). Lambda's numbers only go up: the next version is one more
# than the highest the function ever published, whatever was deleted since. The highest is kept
# with moto's own entry for the function, so a function deleted and created again starts at 1, as
# a new function on Lambda does. Everything else is moto's publish: nothing changed since the
# newest version, that version comes back.

def _patch_version_numbers() -> None:
    def publish_version(self: Any, name_or_arn: str, description: str = "") -> Any:
        function = self.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
        entry = self._functions.get(function.function_name)
        if entry is None or not entry["latest"]:
            return None
        versions = entry["versions"]
        if versions and not function.code_or_config_updated:
            return versions[-1]
        function.code_or_config_updated = False
        number = max([entry.get("emulator_highest_version", 0), *(int(v.version) for v in versions)]) + 1
        version = copy.copy(entry["latest"])
        version.set_version(number)
        if description:
            version.description = description
        versions.append(version)
        self._arns[version.function_arn] = version
        entry["emulator_highest_version"] = number
        return version

    lambda_models.LambdaStorage.publish_version = publish_version


# --- Lambda@Edge: a replicated version cannot be deleted for hours -----------------------------
# moto deletes any version at once. Lambda refuses to delete a version that CloudFront has
# replicated to its edge locations: while a distribution associates it, and until CloudFront has
# removed the replicas, hours after its last association went (cloudfront.py keeps when; the
# setting durations.replica_delay says how long). DeleteFunction then fails with
# InvalidParameterValueException (400), "Lambda was unable to delete <version ARN> because it is a
# replicated function. ...", whether the version is named by Qualifier, by a version ARN or
# `name:N` as FunctionName, or is behind an alias given as Qualifier; and DeleteFunction of the
# whole function fails the same way, naming the first of its versions still replicated. Only the
# API call is refused: CloudFormation's own deletes of AWS::Lambda::Version and ::Function go on
# as before (a stack's DELETE_FAILED comes from the setting fail_delete_stacks).

def replicated_function_message(version_arn: str) -> str:
    return (f"Lambda was unable to delete {version_arn} because it is a replicated function. "
            "Please see our documentation for Deleting Lambda@Edge Functions and Replicas.")


def _delete_target(storage: Any, name_or_arn: str, qualifier: str | None) -> tuple[Any, bool]:
    """The function or version DeleteFunction would delete, as moto's del_function finds it, and
    whether it is one version (False: the whole function)."""
    is_arn = re.match(lambda_models.ARN_PARTITION_REGEX, name_or_arn)
    tail = name_or_arn.split(":function:")[-1] if is_arn else name_or_arn
    if ":" in tail:
        qualifier = tail.split(":")[-1]
    return storage.get_function_by_name_or_arn_with_qualifier(name_or_arn, qualifier), bool(qualifier)


def _check_replicas(storage: Any, name_or_arn: str, qualifier: str | None) -> None:
    from . import cloudfront

    target, one_version = _delete_target(storage, name_or_arn, qualifier)
    entry = storage._functions.get(target.function_name) or {"latest": None, "versions": []}
    if one_version:
        candidates = [] if target is entry["latest"] else [target]  # $LATEST has no replicas
    else:
        candidates = list(entry["versions"])
    for version in candidates:
        if cloudfront.replicated(version.function_arn):
            raise lambda_models.InvalidParameterValueException(replicated_function_message(version.function_arn))


# --- Lambda: a version an alias references cannot be deleted ----------------------------------
# Lambda refuses DeleteFunction of a version that an alias references ("You can't delete a version
# that an alias references", the API reference on DeleteFunction's Qualifier): 409
# ResourceConflictException, "Unable to delete version because the following aliases reference it:
# [live]", the aliases' names comma-separated in the brackets (here in name order, as ListAliases
# lists them). An alias references its FunctionVersion and every version in its RoutingConfig's
# AdditionalVersionWeights. That holds whether the version is named by Qualifier, by a version ARN
# or `name:N` as FunctionName, or is behind an alias given as Qualifier. moto 5.2.5 deletes the
# version and leaves the alias dangling, pointing at a version that no longer exists. DeleteFunction
# of the whole function is allowed and its aliases go with it, as in moto. Like the replicas, only
# the API call is refused.

def aliased_version_message(alias_names: list[str]) -> str:
    return f"Unable to delete version because the following aliases reference it: [{', '.join(alias_names)}]"


def _check_aliases(storage: Any, name_or_arn: str, qualifier: str | None) -> None:
    from moto.awslambda.exceptions import LambdaClientError

    target, one_version = _delete_target(storage, name_or_arn, qualifier)
    entry = storage._functions.get(target.function_name) or {"latest": None, "versions": []}
    if not one_version or target is entry["latest"]:
        return
    version = str(target.version)
    function_arn = storage.split_function_arn(target.function_arn)[0]
    referencing = [
        alias.name for alias in sorted(storage._aliases.get(function_arn, {}).values(), key=lambda a: a.name)
        if version == str(alias.function_version)
        or version in {str(v) for v in ((alias.routing_config or {}).get("AdditionalVersionWeights") or {})}
    ]
    if referencing:
        error = LambdaClientError("ResourceConflictException", aliased_version_message(referencing))
        error.code = 409
        raise error


# DeleteFunction checks both before moto deletes anything: replicas first, then aliases.

def _patch_delete_function() -> None:
    from moto.awslambda.responses import LambdaResponse

    original_respond = LambdaResponse.delete_function

    def respond_delete_function(self: Any) -> Any:
        name_or_arn, qualifier = unquote(self.path.rsplit("/", 1)[-1]), self._get_param("Qualifier", None)
        _check_replicas(self.backend._lambdas, name_or_arn, qualifier)
        _check_aliases(self.backend._lambdas, name_or_arn, qualifier)
        return original_respond(self)

    LambdaResponse.delete_function = respond_delete_function


# --- ListAliases takes a function ARN, and FunctionVersion -------------------------------------
# moto looks the raw path segment up as a name: a function ARN (percent-encoded, as SDKs send it)
# was "Function not found", and FunctionVersion was ignored, listing every alias. Lambda takes a
# name or an ARN and, given FunctionVersion, lists only the aliases pointing at that version.

def _patch_list_aliases() -> None:
    from moto.awslambda.responses import LambdaResponse

    def respond_list_aliases(self: Any) -> Any:
        aliases = self.backend.list_aliases(unquote(self.path.split("?")[0].rstrip("/").split("/")[-2]))
        version = self.querystring.get("FunctionVersion", [None])[0]
        found = [alias.to_json() for alias in aliases if version is None or str(alias.function_version) == version]
        return 200, {}, json.dumps({"Aliases": found})

    LambdaResponse.list_aliases = respond_list_aliases


# --- AWS::Lambda::Version: physical id and Ref are the version ARN ---------------------
# moto's version model carries only the number and no physical id, so `!Ref EdgeFunctionVersion`
# gave the logical id and DescribeStackResources/ListStackResources gave none. CloudFront
# associations need the numbered ARN, which is what CloudFormation returns.

def _patch_version_model() -> None:
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


# --- Lambda keeps DeadLetterConfig and takes Architectures on UpdateFunctionCode ---------
# moto drops DeadLetterConfig from UpdateFunctionConfiguration (and never returns it), and sets a
# function's architectures only at CreateFunction. Lambda keeps both, and the tool refuses functions
# that have a dead-letter queue or run on arm64 (Lambda@Edge allows neither): without this the
# tests could not put a function in either state.

def _patch_dlq_and_architectures() -> None:
    fn = lambda_models.LambdaFunction
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


# --- Lambda@Edge's forbidden settings can be set, so the tool's preflight can meet them -------
# Lambda@Edge refuses X-Ray active tracing, more than 512 MB of ephemeral storage, a customer
# managed KMS key, runtime management other than Auto and provisioned concurrency. moto takes
# TracingConfig, EphemeralStorage and KMSKeyArn at CreateFunction only (UpdateFunctionConfiguration
# drops them), and has no runtime management or provisioned concurrency API at all. Here they
# round-trip with Lambda's shapes: UpdateFunctionConfiguration keeps the three settings;
# Put/GetRuntimeManagementConfig (UpdateRuntimeOn Auto | FunctionUpdate | Manual, default Auto,
# Manual needs a RuntimeVersionArn); Put/Get/Delete/ListProvisionedConcurrencyConfig(s) on a
# published version or an alias, never $LATEST.

_TRACING_MODES = ("Active", "PassThrough")
_RUNTIME_UPDATE_MODES = ("Auto", "FunctionUpdate", "Manual")


def _patch_edge_settings() -> None:
    from moto.awslambda.exceptions import ValidationException

    fn_cls = lambda_models.LambdaFunction
    original_update_configuration = fn_cls.update_configuration

    def update_configuration(self: Any, updates: dict[str, Any]) -> Any:
        if "TracingConfig" in updates:
            mode = (updates["TracingConfig"] or {}).get("Mode", "PassThrough")
            if mode not in _TRACING_MODES:
                raise ValidationException(mode, "tracingConfig.mode", "Member must satisfy enum value set: [Active, PassThrough]")
            self.tracing_config = {"Mode": mode}
        if "EphemeralStorage" in updates:
            size = int((updates["EphemeralStorage"] or {}).get("Size", 512))
            if size < 512:
                raise ValidationException(str(size), "ephemeralStorage.size", "Member must have value greater than or equal to 512")
            self.ephemeral_storage = size
        if "KMSKeyArn" in updates:
            self.kms_key_arn = updates["KMSKeyArn"] or None  # "" goes back to the AWS managed key
        return original_update_configuration(self, updates)

    fn_cls.update_configuration = update_configuration


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _register_edge_apis() -> None:
    from moto.awslambda import urls
    from moto.awslambda.exceptions import (
        GenericResourcNotFound,
        InvalidParameterValueException,
        ValidationException,
    )
    from moto.awslambda.responses import LambdaResponse

    # moto's Flask app is built from this table when the first Lambda request arrives.
    urls.url_paths[r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/runtime-management-config/?$"] = LambdaResponse.dispatch
    urls.url_paths[r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/provisioned-concurrency/?$"] = LambdaResponse.dispatch

    def function_name(self: Any) -> str:
        return unquote(self.path.split("?")[0].rstrip("/").split("/")[-2])

    def qualifier(self: Any) -> str | None:
        return self.querystring.get("Qualifier", [None])[0]

    # Runtime management ----------------------------------------------------------------------

    def runtime_config(fn: Any) -> dict[str, Any]:
        return getattr(fn, "emulator_runtime_management", None) or {"UpdateRuntimeOn": "Auto"}

    def put_runtime_management_config(self: Any) -> Any:
        fn = self.backend.get_function(function_name(self), qualifier(self))
        body = json.loads(self.body or "{}")
        mode = body.get("UpdateRuntimeOn")
        if mode not in _RUNTIME_UPDATE_MODES:
            raise ValidationException(str(mode), "updateRuntimeOn", "Member must satisfy enum value set: [Auto, FunctionUpdate, Manual]")
        version_arn = body.get("RuntimeVersionArn")
        if mode == "Manual" and not version_arn:
            raise InvalidParameterValueException("RuntimeVersionArn must be specified when UpdateRuntimeOn is Manual.")
        if mode != "Manual" and version_arn:
            raise InvalidParameterValueException("RuntimeVersionArn can be specified only when UpdateRuntimeOn is Manual.")
        fn.emulator_runtime_management = {"UpdateRuntimeOn": mode, **({"RuntimeVersionArn": version_arn} if version_arn else {})}
        answer = {"UpdateRuntimeOn": mode, "FunctionArn": fn.function_arn}
        if version_arn:
            answer["RuntimeVersionArn"] = version_arn
        return 200, {}, json.dumps(answer)

    def get_runtime_management_config(self: Any) -> Any:
        fn = self.backend.get_function(function_name(self), qualifier(self))
        return 200, {}, json.dumps({**runtime_config(fn), "FunctionArn": fn.function_arn})

    # Provisioned concurrency ---------------------------------------------------------------

    def store(backend: Any) -> dict[tuple[str, str], dict[str, Any]]:
        if not hasattr(backend, "emulator_provisioned_concurrency"):
            backend.emulator_provisioned_concurrency = {}
        return backend.emulator_provisioned_concurrency

    def target(self: Any) -> tuple[Any, str]:
        name, qual = function_name(self), qualifier(self)
        if not qual:
            raise InvalidParameterValueException("Qualifier is required: a published version number or an alias name.")
        if qual == "$LATEST":
            raise InvalidParameterValueException("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        latest = self.backend.get_function(name)  # ResourceNotFoundException if there is none
        try:
            fn = self.backend.get_function(name, qual)
        except Exception:
            fn = None
        if fn is None:
            raise GenericResourcNotFound()
        return latest, qual

    def shape(config: dict[str, Any], with_arn: bool) -> dict[str, Any]:
        ready = config["Status"] == "READY"
        out = {
            "RequestedProvisionedConcurrentExecutions": config["Requested"],
            "AvailableProvisionedConcurrentExecutions": config["Requested"] if ready else 0,
            "AllocatedProvisionedConcurrentExecutions": config["Requested"] if ready else 0,
            "Status": config["Status"],
            "LastModified": config["LastModified"],
        }
        if with_arn:
            out = {"FunctionArn": config["FunctionArn"], **out}
        return out

    def put_provisioned_concurrency_config(self: Any) -> Any:
        latest, qual = target(self)
        body = json.loads(self.body or "{}")
        requested = body.get("ProvisionedConcurrentExecutions")
        if not isinstance(requested, int) or requested < 1:
            raise ValidationException(str(requested), "provisionedConcurrentExecutions", "Member must have value greater than or equal to 1")
        config = {
            "FunctionArn": f"{latest.function_arn}:{qual}",
            "Requested": requested,
            "Status": "IN_PROGRESS",
            "LastModified": _now_iso(),
        }
        store(self.backend)[(latest.function_name, qual)] = config
        answer = shape(config, with_arn=False)
        config["Status"] = "READY"  # allocation is done by the next read
        return 202, {"status": 202}, json.dumps(answer)

    def get_provisioned_concurrency_config(self: Any) -> Any:
        if "List" in self.querystring:
            return list_provisioned_concurrency_configs(self)
        latest, qual = target(self)
        config = store(self.backend).get((latest.function_name, qual))
        if config is None:
            from moto.awslambda.exceptions import LambdaClientError

            error = LambdaClientError("ProvisionedConcurrencyConfigNotFoundException",
                                      f"No Provisioned Concurrency Config found for this function: {latest.function_arn}:{qual}")
            error.code = 404
            raise error
        return 200, {}, json.dumps(shape(config, with_arn=False))

    def list_provisioned_concurrency_configs(self: Any) -> Any:
        latest = self.backend.get_function(function_name(self))
        configs = [shape(c, with_arn=True) for (name, _), c in sorted(store(self.backend).items()) if name == latest.function_name]
        return 200, {}, json.dumps({"ProvisionedConcurrencyConfigs": configs})

    def delete_provisioned_concurrency_config(self: Any) -> Any:
        latest, qual = target(self)
        store(self.backend).pop((latest.function_name, qual), None)
        return 204, {"status": 204}, ""

    LambdaResponse.put_runtime_management_config = put_runtime_management_config
    LambdaResponse.get_runtime_management_config = get_runtime_management_config
    LambdaResponse.put_provisioned_concurrency_config = put_provisioned_concurrency_config
    LambdaResponse.get_provisioned_concurrency_config = get_provisioned_concurrency_config
    LambdaResponse.list_provisioned_concurrency_configs = list_provisioned_concurrency_configs
    LambdaResponse.delete_provisioned_concurrency_config = delete_provisioned_concurrency_config


def install() -> None:
    global lambda_models
    import moto.awslambda.models as lambda_models

    _patch_s3_object_version()
    _patch_versions()
    _patch_version_numbers()
    _patch_delete_function()
    _patch_list_aliases()
    _patch_version_model()
    _patch_dlq_and_architectures()
    _patch_edge_settings()
    _register_edge_apis()
