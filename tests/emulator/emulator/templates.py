"""CloudFormation's templates: where they are read from, and the capabilities they ask for.

- TemplateURL: moto reads `http://localhost...` URLs path-style and every other host as
  `<bucket>.<anything>`, always the key's newest version. CloudFormation reads the S3 object the URL
  names: path-style (`https://s3.<region>.amazonaws.com/<bucket>/<key>`, and so an emulator's own
  address), virtual-hosted (`https://<bucket>.s3.<region>.amazonaws.com/<key>`), with `?versionId=`
  the exact object version; a URL that names no object is a ValidationError.
- Capabilities: CloudFormation refuses CreateStack/UpdateStack (and CreateChangeSet) of a template
  with IAM resources unless the call acknowledges them: `InsufficientCapabilitiesException`
  ("Requires capabilities : [CAPABILITY_IAM]"), CAPABILITY_NAMED_IAM for IAM resources with custom
  names, CAPABILITY_AUTO_EXPAND for macros (`Transform`). GetTemplateSummary lists what a template
  needs (`Capabilities`, `CapabilitiesReason`); moto checks nothing and lists none.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

# IAM resource properties that give the resource a custom name: CAPABILITY_NAMED_IAM.
_NAME_PROPERTIES = ("RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName")


def required_capabilities(template: dict[str, Any]) -> list[str]:
    needed: list[str] = []
    for resource in (template.get("Resources") or {}).values():
        kind = str(resource.get("Type", "")) if isinstance(resource, dict) else ""
        if not kind.startswith("AWS::IAM::"):
            continue
        properties = resource.get("Properties") or {}
        named = any(p in properties for p in _NAME_PROPERTIES)
        capability = "CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"
        if capability not in needed:
            needed.append(capability)
    if "CAPABILITY_NAMED_IAM" in needed and "CAPABILITY_IAM" in needed:
        needed.remove("CAPABILITY_IAM")
    if template.get("Transform"):
        needed.append("CAPABILITY_AUTO_EXPAND")
    return needed


def missing_capabilities(template: dict[str, Any], given: list[str]) -> list[str]:
    missing = []
    for capability in required_capabilities(template):
        covered = capability in given or (capability == "CAPABILITY_IAM" and "CAPABILITY_NAMED_IAM" in given)
        if not covered:
            missing.append(capability)
    return missing


def object_of_url(url: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id or None) of an S3 object URL, as CloudFormation reads it."""
    parts = urlparse(url)
    host = parts.hostname or ""
    version = parse_qs(parts.query).get("versionId", [None])[0]
    path = unquote(parts.path.lstrip("/"))
    labels = host.split(".")
    virtual_hosted = host.endswith(".amazonaws.com") and len(labels) > 3 and labels[1].startswith("s3")
    if virtual_hosted:
        return labels[0], path, version
    bucket, _, key = path.partition("/")
    return bucket, key, version


def install() -> None:
    from moto.cloudformation import responses as cfn_responses
    from moto.cloudformation.exceptions import CloudFormationError, ValidationError
    from moto.s3.models import s3_backends

    # A shape of CloudFormation's model: moto renders it with its HTTP status (400).
    class InsufficientCapabilitiesException(CloudFormationError):
        code = "InsufficientCapabilitiesException"

        def __init__(self, missing: list[str]) -> None:
            super().__init__(f"Requires capabilities : [{', '.join(missing)}]")

    response_cls = cfn_responses.CloudFormationResponse

    def get_stack_from_s3_url(self: Any, template_url: str) -> str:
        bucket, key, version = object_of_url(template_url)
        try:
            obj = s3_backends[self.current_account][self.partition].get_object(bucket, key, version)
        except Exception:
            obj = None
        if obj is None:
            raise ValidationError(message=f"TemplateURL must be a supported URL: {template_url} names no S3 object")
        return obj.value.decode("utf-8")

    response_cls._get_stack_from_s3_url = get_stack_from_s3_url

    def body_of(response: Any) -> str | None:
        body = response._get_param("TemplateBody")
        url = response._get_param("TemplateURL")
        if body:
            return body
        if url:
            return response._get_stack_from_s3_url(url)
        if response._get_param("UsePreviousTemplate") in (True, "true"):
            stack = response.cloudformation_backend.get_stack(response._get_param("StackName"))
            return stack.template
        return None

    def checked(handler: Any) -> Any:
        def wrapper(self: Any) -> Any:
            from moto.cloudformation.models import Stack

            body = body_of(self)
            if body is not None:
                given = self._get_param("Capabilities", []) or []
                missing = missing_capabilities(Stack.parse_template(body), given)
                if missing:
                    raise InsufficientCapabilitiesException(missing)
            return handler(self)

        return wrapper

    for name in ("create_stack", "update_stack", "create_change_set"):
        setattr(response_cls, name, checked(getattr(response_cls, name)))

    original_summary = cfn_responses.get_template_summary_response_from_template

    def summary(template_body: str) -> dict[str, Any]:
        from moto.cloudformation.models import Stack

        result = original_summary(template_body)
        needed = required_capabilities(Stack.parse_template(template_body))
        if needed:
            result["Capabilities"] = needed
            result["CapabilitiesReason"] = "The following resource(s) require capabilities: IAM resources"
        return result

    cfn_responses.get_template_summary_response_from_template = summary
