"""What a change set lists: CloudFormation's `Changes`, worked out from the stack and the request.

moto 5.2.5 lists a resource only when its template text changed or it `Ref`s a changed parameter
directly, with nothing but its Action, logical id and type; a change that reaches a resource
through a Condition (`!If [FirstLaunch, ...]`) is missed, and the execution's parameters are not
looked at at all (ChangeSet.diff passes none), so a release whose template stays the same lists no
change. CloudFormation (API reference: Change, ResourceChange, ResourceChangeDetail,
ResourceTargetDefinition; user guide: "Example change sets for CloudFormation stacks") resolves
both the stack as deployed and the stack as the change set would make it, and lists per resource:

- `Add` / `Remove` (a resource that appears or goes, by template or by its Condition): Scope and
  Details empty; PhysicalResourceId for a removal, with PolicyAction Delete (Retain, Snapshot per
  DeletionPolicy).
- `Modify`: PhysicalResourceId, Scope (the attributes changed: Properties, Tags, Metadata),
  Replacement (`True` if any changed property requires recreation Always, `Conditional` if one
  requires it Conditionally, else `False`; PolicyAction ReplaceAndDelete when replaced), and
  Details. A property whose value changes because a parameter it references changed gets two
  details with the same Target: `Dynamic`/`DirectModification` and `Static`/`ParameterReference`
  with the parameter as CausingEntity; likewise `ResourceReference` (Ref) or `ResourceAttribute`
  (Fn::GetAtt, "Logical.Attribute") for a resource that is being replaced or added, whose new
  value is "{{changeSet:KNOWN_AFTER_APPLY}}". A change made by editing the template, or by a
  Condition that now selects the other branch of an Fn::If, is one `Static`/`DirectModification`
  detail. A resource that references a resource that is only modified (not replaced) is not
  listed: its Ref and attributes stay.
- Target: Attribute (`Properties`, or `Tags` for the Tags property, `Metadata`), Name (the
  top-level property, for Properties), RequiresRecreation (`Never`/`Conditionally`/`Always`,
  per the property's "Update requires" in the resource type's reference page, table below).
- DescribeChangeSet with IncludePropertyValues=true: one detail per changed leaf of the property,
  whose Target also carries Path (`/Properties/DistributionConfig/DefaultCacheBehavior/
  LambdaFunctionAssociations/0/LambdaFunctionARN`), BeforeValue, AfterValue (text: strings as
  they are, numbers and booleans as text, objects and lists as compact JSON) and
  AttributeChangeType (Add/Remove/Modify); a JSON-typed property (a policy document) is one value.
  Each change also carries BeforeContext/AfterContext (the resource's resolved Properties as
  JSON, every scalar as text). Without it, no values and one detail per (Target, cause).

This module is pure: `plan()` takes the two templates, their parameter values and what the
deployed resources answer to Ref/Fn::GetAtt, and returns the ResourceChange structures (with
values); `view()` renders them as DescribeChangeSet does, with or without values.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

KNOWN_AFTER_APPLY = "{{changeSet:KNOWN_AFTER_APPLY}}"
_MISSING = object()  # a key or list item that is not there
_NO_VALUE = object()  # AWS::NoValue: the key is dropped

# Update behaviours ("Update requires" in the CloudFormation template reference) of the resource
# types the example templates use: (behaviour of a property not named, {property: behaviour}).
#   AWS::CloudFront::Distribution: DistributionConfig and Tags, No interruption (nothing replaces it)
#   AWS::CloudFront::ContinuousDeploymentPolicy: ContinuousDeploymentPolicyConfig, No interruption
#   AWS::Lambda::Function: FunctionName Replacement; every other property No interruption
#   AWS::Lambda::Version: CodeSha256, Description, FunctionName, ProvisionedConcurrencyConfig,
#       RuntimePolicy Replacement ("Updates are not supported for this property"); only
#       FunctionScalingConfig No interruption
#   AWS::IAM::Role: RoleName and Path Replacement; the others No interruption
# Another type: its name property (BucketName, ...) Always, as for every custom-named resource,
# the others Never.
RECREATION: dict[str, tuple[str, dict[str, str]]] = {
    "AWS::CloudFront::Distribution": ("Never", {}),
    "AWS::CloudFront::ContinuousDeploymentPolicy": ("Never", {}),
    "AWS::Lambda::Function": ("Never", {"FunctionName": "Always"}),
    "AWS::Lambda::Version": ("Always", {"FunctionScalingConfig": "Never"}),
    "AWS::IAM::Role": ("Never", {"RoleName": "Always", "Path": "Always"}),
}

# Properties of type Json: compared, and shown, as one value (CloudFormation gives Path
# /Properties/PolicyDocument with the whole document before and after).
JSON_PROPERTIES: dict[str, list[tuple[str, ...]]] = {
    "AWS::IAM::Role": [("AssumeRolePolicyDocument",), ("Policies", "*", "PolicyDocument")],
    "AWS::IAM::Policy": [("PolicyDocument",)],
    "AWS::IAM::ManagedPolicy": [("PolicyDocument",)],
    "AWS::Lambda::Version": [("Policy",)],
}

_WORST = {"Never": 0, "Conditionally": 1, "Always": 2}
_REPLACEMENT = {"Never": "False", "Conditionally": "Conditional", "Always": "True"}
_REPLACE_POLICY = {"Delete": "ReplaceAndDelete", "Retain": "ReplaceAndRetain", "Snapshot": "ReplaceAndSnapshot"}
_DELETE_POLICY = {"Delete": "Delete", "Retain": "Retain", "RetainExceptOnCreate": "Retain", "Snapshot": "Snapshot"}


def requires_recreation(resource_type: str, prop: str) -> str:
    default, named = RECREATION.get(resource_type, ("Never", {}))
    if resource_type not in RECREATION and prop == _name_property(resource_type):
        return "Always"
    return named.get(prop, default)


def _name_property(resource_type: str) -> str | None:
    try:
        from moto.cloudformation.parsing import resource_name_property_from_type
    except ImportError:  # pragma: no cover - the module is pure without moto
        return None
    try:
        return resource_name_property_from_type(resource_type)
    except Exception:
        return None


# --- Resolving a template -----------------------------------------------------------------

def _intrinsic(node: Any) -> str | None:
    if isinstance(node, dict) and len(node) == 1:
        key = next(iter(node))
        if key == "Ref" or key == "Condition" or key.startswith("Fn::"):
            return key
    return None


@dataclass
class Scope:
    """One side of the comparison: a template, its parameter values, the stack's pseudo
    parameters, and what its resources answer to Ref and Fn::GetAtt."""

    template: dict[str, Any]
    parameters: dict[str, str]
    pseudo: dict[str, Any]
    ref: Callable[[str], Any]
    attribute: Callable[[str, str], Any]
    _conditions: dict[str, bool] = field(default_factory=dict)

    def resources(self) -> dict[str, dict[str, Any]]:
        """The template's resources that exist here (their Condition true), in template order."""
        found = {}
        for logical_id, body in (self.template.get("Resources") or {}).items():
            if not isinstance(body, dict):
                continue
            condition = body.get("Condition")
            if condition is None or self.condition(condition):
                found[logical_id] = body
        return found

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            body = (self.template.get("Conditions") or {}).get(name)
            self._conditions[name] = bool(self.resolve(body)) if body is not None else False
        return self._conditions[name]

    def resolve(self, node: Any) -> Any:
        kind = _intrinsic(node)
        if kind is not None:
            return self._function(kind, node[kind])
        if isinstance(node, dict):
            resolved = {k: self.resolve(v) for k, v in node.items()}
            return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
        if isinstance(node, list):
            return [v for v in (self.resolve(v) for v in node) if v is not _NO_VALUE]
        return node

    def _name(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.pseudo:
            return self.pseudo[name]
        return self.ref(name)

    def _function(self, kind: str, args: Any) -> Any:
        if kind == "Ref":
            return self._name(args)
        if kind == "Condition":
            return self.condition(args)
        if kind == "Fn::GetAtt":
            logical_id, attr = args.split(".", 1) if isinstance(args, str) else (args[0], args[1])
            return self.attribute(logical_id, self.resolve(attr))
        if kind == "Fn::If":
            name, yes, no = args
            return self.resolve(yes if self.condition(name) else no)
        if kind == "Fn::Equals":
            left, right = (self.resolve(a) for a in args)
            return _text(left) == _text(right)
        if kind == "Fn::And":
            return all(bool(self.resolve(a)) for a in args)
        if kind == "Fn::Or":
            return any(bool(self.resolve(a)) for a in args)
        if kind == "Fn::Not":
            return not bool(self.resolve(args[0]))
        if kind == "Fn::Sub":
            return self._sub(args)
        if kind == "Fn::Join":
            separator, items = args
            values = self.resolve(items)
            if not isinstance(values, list):
                return KNOWN_AFTER_APPLY
            return separator.join(_text(v) for v in values)
        if kind == "Fn::Select":
            index, items = self.resolve(args[0]), self.resolve(args[1])
            try:
                return items[int(index)]
            except (TypeError, ValueError, IndexError, KeyError):
                return KNOWN_AFTER_APPLY
        if kind == "Fn::Split":
            separator, value = args[0], self.resolve(args[1])
            return value.split(separator) if isinstance(value, str) else KNOWN_AFTER_APPLY
        if kind == "Fn::FindInMap":
            mapping, first, second = args[0], self.resolve(args[1]), self.resolve(args[2])
            try:
                return (self.template.get("Mappings") or {})[mapping][first][second]
            except (KeyError, TypeError):
                return KNOWN_AFTER_APPLY
        if kind == "Fn::Base64":
            value = self.resolve(args)
            return base64.b64encode(_text(value).encode()).decode() if KNOWN_AFTER_APPLY not in _text(value) else value
        if kind == "Fn::GetAZs":
            region = self.resolve(args) or self.pseudo.get("AWS::Region", "us-east-1")
            return [f"{region}{az}" for az in "abc"]
        # Fn::ImportValue, Fn::Cidr, Fn::Transform, ...: not known before the change set runs
        return KNOWN_AFTER_APPLY

    def _sub(self, args: Any) -> str:
        text, variables = (args[0], args[1]) if isinstance(args, list) else (args, {})

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(self.resolve(variables[name]))
            if "." in name:  # ${Logical.Attribute}; parameter names have no dot
                logical_id, attr = name.split(".", 1)
                return _text(self.attribute(logical_id, attr))
            return _text(self._name(name))

        return re.sub(r"\$\{([^}]*)\}", one, text)


def _text(value: Any) -> str:
    """A scalar as CloudFormation writes it in a change set."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(_texts(value), separators=(",", ":"))
    return str(value)


def _texts(value: Any) -> Any:
    """Every scalar of a structure as text (CloudFormation compares and shows them so)."""
    if isinstance(value, dict):
        return {k: _texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_texts(v) for v in value]
    return _text(value)


# --- What caused a value to change ---------------------------------------------------------

DIRECT = ("DirectModification", None)


class _Causes:
    """The references in a template expression through which its value changed."""

    def __init__(self, before: Scope, after: Scope, changed_parameters: set[str], unknown: set[str]) -> None:
        self.before, self.after = before, after
        self.changed_parameters, self.unknown = changed_parameters, unknown

    def at(self, node: Any, path: tuple[str, ...]) -> list[tuple[str, str | None]]:
        """Causes of the change at `path` below `node` (the same expression in both templates):
        descends plain structure and the Fn::If branch both sides take."""
        while True:
            kind = _intrinsic(node)
            if kind == "Fn::If":
                name, yes, no = node[kind]
                taken = self.after.condition(name)
                if self.before.condition(name) != taken:
                    return [DIRECT]
                node = yes if taken else no
                continue
            if kind is not None or not path:
                return self.of(node)
            key, path = path[0], path[1:]
            if isinstance(node, dict):
                node = node.get(key, _MISSING)
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                node = _MISSING
            if node is _MISSING:
                return [DIRECT]

    def of(self, node: Any) -> list[tuple[str, str | None]]:
        found: list[tuple[str, str | None]] = []

        def add(cause: tuple[str, str | None]) -> None:
            if cause not in found:
                found.append(cause)

        def name(ref: str) -> None:
            if ref in self.changed_parameters:
                add(("ParameterReference", ref))
            elif ref in self.unknown:
                add(("ResourceReference", ref))

        def attribute(logical_id: str, attr: str) -> None:
            if logical_id in self.unknown:
                add(("ResourceAttribute", f"{logical_id}.{attr}"))

        def walk(item: Any) -> None:
            kind = _intrinsic(item)
            if kind == "Ref":
                name(item[kind])
            elif kind == "Fn::GetAtt":
                args = item[kind]
                logical_id, attr = args.split(".", 1) if isinstance(args, str) else (args[0], args[1])
                attribute(logical_id, _text(attr))
            elif kind == "Fn::If":
                condition, yes, no = item[kind]
                taken = self.after.condition(condition)
                if self.before.condition(condition) != taken:
                    add(DIRECT)
                walk(yes if taken else no)
            elif kind == "Fn::Sub":
                args = item[kind]
                text, variables = (args[0], args[1]) if isinstance(args, list) else (args, {})
                for ref in re.findall(r"\$\{([^}!][^}]*)\}", text):
                    if ref in variables:
                        continue
                    if "." in ref:
                        attribute(*ref.split(".", 1))
                    else:
                        name(ref)
                walk(variables)
            elif isinstance(item, dict):
                for value in item.values():
                    walk(value)
            elif isinstance(item, list):
                for value in item:
                    walk(value)

        walk(node)
        return [DIRECT] if not found or DIRECT in found else found


def _plain(node: Any, path: tuple[str, ...]) -> Any:
    """The template expression at `path`, or the intrinsic function above it."""
    for key in path:
        if _intrinsic(node) is not None:
            return node
        if isinstance(node, dict):
            node = node.get(key, _MISSING)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _MISSING
    return node


# --- Comparing resolved properties -----------------------------------------------------------

@dataclass
class Difference:
    path: tuple[str, ...]
    kind: str  # Add, Remove, Modify
    before: Any
    after: Any


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(p == "*" or p == k for k, p in zip(path, pattern))


def differences(before: Any, after: Any, json_paths: list[tuple[str, ...]], path: tuple[str, ...] = ()) -> list[Difference]:
    if before == after:
        return []
    if before is _MISSING:
        return [Difference(path, "Add", _MISSING, after)]
    if after is _MISSING:
        return [Difference(path, "Remove", before, _MISSING)]
    if path and any(_matches(path, p) for p in json_paths):
        return [Difference(path, "Modify", before, after)]
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in list(after) + [k for k in before if k not in after]:
            found += differences(before.get(key, _MISSING), after.get(key, _MISSING), json_paths, path + (key,))
        return found
    if isinstance(before, list) and isinstance(after, list):
        found = []
        for i in range(max(len(before), len(after))):
            found += differences(before[i] if i < len(before) else _MISSING, after[i] if i < len(after) else _MISSING,
                                 json_paths, path + (str(i),))
        return found
    return [Difference(path, "Modify", before, after)]


# --- The plan -----------------------------------------------------------------------------

@dataclass
class Side:
    """What `plan` needs of one side: the template, the parameter values, and (for the deployed
    side) the physical ids and attributes of its resources."""

    template: dict[str, Any]
    parameters: dict[str, str]


def plan(before: Side, after: Side, pseudo: dict[str, Any], live_ref: Callable[[str], Any],
         live_attribute: Callable[[str, str], Any]) -> list[dict[str, Any]]:
    """The ResourceChange structures (with property values) of a change set that takes the stack
    from `before` (as deployed: `live_ref`/`live_attribute` answer for its resources) to `after`."""
    old = Scope(before.template or {}, before.parameters, pseudo, live_ref, live_attribute)
    old_resources = old.resources()
    changed_parameters = {k for k in set(before.parameters) | set(after.parameters)
                          if before.parameters.get(k) != after.parameters.get(k)}
    unknown: set[str] = set()
    for _ in range(len((after.template or {}).get("Resources") or {}) + 2):
        new = _after_scope(after, pseudo, live_ref, live_attribute, old_resources, unknown)
        changes = _changes(old, new, old_resources, changed_parameters, unknown, live_ref)
        replaced = {c["LogicalResourceId"] for c in changes
                    if c["Action"] == "Add" or (c["Action"] == "Modify" and c.get("Replacement") != "False")}
        if replaced == unknown:
            return changes
        unknown = replaced
    return changes


def _after_scope(after: Side, pseudo: dict[str, Any], live_ref: Callable[[str], Any],
                 live_attribute: Callable[[str, str], Any], old_resources: dict[str, Any], unknown: set[str]) -> Scope:
    def ref(logical_id: str) -> Any:
        return KNOWN_AFTER_APPLY if logical_id in unknown or logical_id not in old_resources else live_ref(logical_id)

    def attribute(logical_id: str, attr: str) -> Any:
        if logical_id in unknown or logical_id not in old_resources:
            return KNOWN_AFTER_APPLY
        return live_attribute(logical_id, attr)

    return Scope(after.template or {}, after.parameters, pseudo, ref, attribute)


def _context(body: dict[str, Any], scope: Scope) -> str:
    context: dict[str, Any] = {"Properties": _texts(scope.resolve(body.get("Properties") or {}))}
    for key in ("Metadata", "UpdateReplacePolicy", "DeletionPolicy"):
        if key in body:
            context[key] = _texts(scope.resolve(body[key]))
    return json.dumps(context, separators=(",", ":"))


def _changes(old: Scope, new: Scope, old_resources: dict[str, Any], changed_parameters: set[str],
             unknown: set[str], live_ref: Callable[[str], Any]) -> list[dict[str, Any]]:
    new_resources = new.resources()
    causes = _Causes(old, new, changed_parameters, unknown)
    changes: list[dict[str, Any]] = []
    for logical_id, body in new_resources.items():
        resource_type = body.get("Type", "")
        if logical_id not in old_resources:
            changes.append({"Action": "Add", "LogicalResourceId": logical_id, "ResourceType": resource_type,
                            "Scope": [], "Details": [], "AfterContext": _context(body, new)})
            continue
        old_body = old_resources[logical_id]
        details = _details(resource_type, old_body, body, old, new, causes)
        if not details:
            continue
        worst = max((_WORST[d["Target"]["RequiresRecreation"]] for d in details), default=0)
        replacement = _REPLACEMENT[[k for k, v in _WORST.items() if v == worst][0]]
        change: dict[str, Any] = {"Action": "Modify", "LogicalResourceId": logical_id,
                                  "PhysicalResourceId": _text(live_ref(logical_id)), "ResourceType": resource_type,
                                  "Replacement": replacement}
        if replacement == "True":
            change["PolicyAction"] = _REPLACE_POLICY.get(body.get("UpdateReplacePolicy", "Delete"), "ReplaceAndDelete")
        change["Scope"] = list(dict.fromkeys(d["Target"]["Attribute"] for d in details))
        change["Details"] = details
        change["BeforeContext"] = _context(old_body, old)
        change["AfterContext"] = _context(body, new)
        changes.append(change)
    for logical_id, body in old_resources.items():
        if logical_id in new_resources:
            continue
        changes.append({"PolicyAction": _DELETE_POLICY.get(body.get("DeletionPolicy", "Delete"), "Delete"), "Action": "Remove",
                        "LogicalResourceId": logical_id, "PhysicalResourceId": _text(live_ref(logical_id)),
                        "ResourceType": body.get("Type", ""), "Scope": [], "Details": [],
                        "BeforeContext": _context(body, old)})
    return changes


def _details(resource_type: str, old_body: dict[str, Any], new_body: dict[str, Any], old: Scope, new: Scope,
             causes: _Causes) -> list[dict[str, Any]]:
    json_paths = JSON_PROPERTIES.get(resource_type, [])
    before = _texts(old.resolve(old_body.get("Properties") or {}))
    after = _texts(new.resolve(new_body.get("Properties") or {}))
    details: list[dict[str, Any]] = []
    for diff in differences(before, after, json_paths):
        prop = diff.path[0]
        target: dict[str, Any] = {"Attribute": "Tags" if prop == "Tags" else "Properties"}
        if prop != "Tags":
            target["Name"] = prop
        target["RequiresRecreation"] = requires_recreation(resource_type, prop)
        target["Path"] = "/Properties/" + "/".join(diff.path)
        if diff.before is not _MISSING:
            target["BeforeValue"] = _text(diff.before)
        if diff.after is not _MISSING:
            target["AfterValue"] = _text(diff.after)
        target["AttributeChangeType"] = diff.kind
        old_expr = _plain(old_body.get("Properties") or {}, diff.path)
        new_expr = _plain(new_body.get("Properties") or {}, diff.path)
        found = [DIRECT] if old_expr != new_expr else causes.at(new_body.get("Properties") or {}, diff.path)
        if found == [DIRECT]:
            unknown_after = KNOWN_AFTER_APPLY in target.get("AfterValue", "")
            details.append({"Target": target, "Evaluation": "Dynamic" if unknown_after else "Static",
                            "ChangeSource": "DirectModification"})
            continue
        details.append({"Target": target, "Evaluation": "Dynamic", "ChangeSource": "DirectModification"})
        for source, entity in found:
            details.append({"Target": dict(target), "Evaluation": "Static", "ChangeSource": source,
                            "CausingEntity": entity})
    old_meta, new_meta = old.resolve(old_body.get("Metadata")), new.resolve(new_body.get("Metadata"))
    if _texts(old_meta) != _texts(new_meta):
        target = {"Attribute": "Metadata", "RequiresRecreation": "Never", "Path": "/Metadata"}
        if old_meta is not None:
            target["BeforeValue"] = _text(old_meta)
        if new_meta is not None:
            target["AfterValue"] = _text(new_meta)
        target["AttributeChangeType"] = "Modify" if old_meta is not None and new_meta is not None else (
            "Add" if old_meta is None else "Remove")
        details.append({"Target": target, "Evaluation": "Static", "ChangeSource": "DirectModification"})
    return details


# --- DescribeChangeSet's rendering ----------------------------------------------------------

_VALUE_KEYS = ("Path", "BeforeValue", "AfterValue", "AttributeChangeType")


def view(changes: list[dict[str, Any]], include_property_values: bool) -> list[dict[str, Any]]:
    """The changes as DescribeChangeSet answers them: with IncludePropertyValues, as planned; without,
    no Path/values/contexts, and one detail per (Target, Evaluation, ChangeSource, CausingEntity),
    the Dynamic ones first (as the user guide's examples list them)."""
    if include_property_values:
        return json.loads(json.dumps(changes))
    shown = []
    for change in changes:
        change = {k: v for k, v in change.items() if k not in ("BeforeContext", "AfterContext")}
        details, seen = [], set()
        for detail in change.get("Details", []):
            target = {k: v for k, v in detail["Target"].items() if k not in _VALUE_KEYS}
            slim = {**detail, "Target": target}
            key = json.dumps(slim, sort_keys=True)
            if key not in seen:
                seen.add(key)
                details.append(slim)
        change["Details"] = sorted(details, key=lambda d: d["Evaluation"] != "Dynamic")
        shown.append(json.loads(json.dumps(change)))
    return shown
