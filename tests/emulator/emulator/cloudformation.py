"""CloudFormation: what moto 5.2.5's CloudFormation lacks, on moto's own backend and models.

moto completes every stack operation inside the API call. CloudFormation answers at once and then
works for minutes: the stack is *_IN_PROGRESS, its events appear one by one, and what it refuses
meanwhile is part of its API. Here moto still does the work inside the call (so its resources are
the single source of state), and the operation is then played out on a timeline: its events get
timestamps spread from the call to the operation's end (`clock.py` durations × time_scale), and
every read (DescribeStacks, ListStacks, DescribeStackEvents, ListStackResources,
DescribeStackResources) shows the state as of now.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import changesets, clock
from .awslambda import replicated_function_message

log = logging.getLogger("emulator")

cfn_models: Any = None  # moto.cloudformation.models
cfn_parsing: Any = None  # moto.cloudformation.parsing
cfn_responses: Any = None  # moto.cloudformation.responses

STACK_TYPE = "AWS::CloudFormation::Stack"
DISTRIBUTION_TYPE = "AWS::CloudFront::Distribution"
# The statuses UpdateStack (and an UPDATE change set) accepts.
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}

# One CloudFormation operation at a time changes moto's state (werkzeug serves each request on its
# own thread); reads go without it.
_lock = threading.RLock()
_local = threading.local()


# --- Operations and their timelines ----------------------------------------------------------

@dataclass
class Action:
    """One resource handled by moto during an operation."""

    logical_id: str
    resource_type: str
    kind: str  # CREATE, UPDATE or DELETE
    ok: bool
    reason: str = ""
    physical_id: str = ""
    resource: Any = None
    phase: int = 0  # 0: the operation itself; 1: its rollback


@dataclass
class Spec:
    """One event to be: what it says, and whether a distribution deploys before it."""

    logical_id: str
    physical_id: str
    resource_type: str
    status: str
    reason: str | None = None
    resource: Any = None

    @property
    def deploys(self) -> bool:
        return (
            self.resource_type == DISTRIBUTION_TYPE
            and self.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
            and hasattr(self.resource, "deployed_by")
        )


@dataclass
class Operation:
    kind: str  # CREATE, UPDATE, DELETE, CANCEL, CONTINUE (an executed change set is CREATE or UPDATE)
    token: str | None
    start: float = field(default_factory=clock.now)
    end: float = 0.0
    stack: Any = None
    actions: list[Action] = field(default_factory=list)
    phase: int = 0
    failure: Action | None = None  # the resource that made the operation fail
    revert_failure: Action | None = None  # the resource that made its rollback fail
    previous: dict[str, Any] | None = None  # for an update: what a rollback goes back to
    cancelled: Operation | None = None  # for CANCEL: the update it cancels
    change_set: Any = None
    final_status: str = ""

    def bind(self, stack: Any) -> None:
        if self.stack is None:
            self.stack = stack

    def record(self, action: Action) -> None:
        action.phase = self.phase
        self.actions.append(action)

    def in_flight(self) -> bool:
        return clock.now() < self.end


def current() -> Operation | None:
    return getattr(_local, "op", None)


class _running:
    """Makes `op` the operation moto's work on this thread is recorded into."""

    def __init__(self, op: Operation) -> None:
        self.op = op

    def __enter__(self) -> Operation:
        self.saved = current()
        _local.op = self.op
        return self.op

    def __exit__(self, *exc: Any) -> None:
        _local.op = self.saved


def _message(error: Exception) -> str:
    return getattr(error, "message", None) or str(error)


def _handler_reason(error: Exception) -> str:
    # How CloudFormation reports what a resource handler said.
    return (
        f'Resource handler returned message: "{_message(error)}" '
        f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: InvalidRequest)"
    )


def _at(event: Any) -> float:
    at = getattr(event, "emulator_at", None)
    return at if at is not None else clock.epoch(event.timestamp)


def _is_stack_event(stack: Any, event: Any) -> bool:
    return event.resource_type == STACK_TYPE and event.logical_resource_id == stack.name


def visible_events(stack: Any) -> list[Any]:
    now = clock.now()
    return [e for e in stack.events if _at(e) <= now]


def _stack_op(stack: Any) -> Operation | None:
    return stack.__dict__.get("emulator_op")


def _deleting(stack: Any) -> bool:
    op = _stack_op(stack)
    return op is not None and op.kind == "DELETE" and op.in_flight()


# --- Stack status as of now -----------------------------------------------------------------
# The stack's status is that of its newest stack-level event whose time has come, until the
# operation's end; then the operation's final status. StackStatusReason likewise.

def _patch_stack_status() -> None:
    stack_cls = cfn_models.Stack

    def newest_stack_event(self: Any) -> Any:
        now = clock.now()
        for event in reversed(self.events):
            if _is_stack_event(self, event) and _at(event) <= now:
                return event
        return None

    def get_status(self: Any) -> str:
        final = self.__dict__.get("_emulator_status")
        op = _stack_op(self)
        if op is not None and op.in_flight():
            event = newest_stack_event(self)
            if event is not None:
                return event.resource_status
        return final

    def set_status(self: Any, value: str) -> None:
        self.__dict__["_emulator_status"] = value

    def get_status_reason(self: Any) -> str | None:
        event = newest_stack_event(self)
        if event is None or event.resource_status != self.status:
            return None
        return event.resource_status_reason or None

    stack_cls.status = property(get_status, set_status)
    stack_cls.status_reason = property(get_status_reason)

    # --- Stack events carry the operation's ClientRequestToken ----------------------------
    # moto accepts ClientRequestToken on CreateStack/UpdateStack/DeleteStack but every event has
    # it empty. CloudFormation stamps each event with the token of the operation that caused it,
    # which is how a client picks out the events of its own operation. (Every event moto makes
    # during an operation belongs to it, and is replaced by the operation's timeline.)
    original_event_init = cfn_models.Event.__init__

    def event_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_event_init(self, *args, **kwargs)
        op = current()
        self.emulator_op = op
        self.client_request_token = op.token if op is not None else None

    cfn_models.Event.__init__ = event_init


def _spec(stack: Any, status: str, reason: str | None = None) -> Spec:
    return Spec(stack.name, stack.stack_id, STACK_TYPE, status, reason)


def _resource_specs(action: Action) -> list[Spec]:
    def spec(status: str, reason: str | None = None, physical: str | None = None) -> Spec:
        return Spec(action.logical_id, action.physical_id if physical is None else physical,
                    action.resource_type, status, reason, action.resource)

    if action.kind == "CREATE":
        if not action.ok:
            return [spec("CREATE_IN_PROGRESS", physical=""), spec("CREATE_FAILED", action.reason, physical="")]
        return [spec("CREATE_IN_PROGRESS", physical=""), spec("CREATE_IN_PROGRESS", "Resource creation Initiated"),
                spec("CREATE_COMPLETE")]
    return [spec(f"{action.kind}_IN_PROGRESS"),
            spec(f"{action.kind}_COMPLETE") if action.ok else spec(f"{action.kind}_FAILED", action.reason)]


def _last_outcomes(actions: list[Action]) -> list[Action]:
    """Each resource's final outcome per kind, in the order the outcomes came (moto retries a
    resource whose dependency is not there yet, and goes on with the others after a failure)."""
    last: dict[tuple[str, str], Action] = {}
    for action in actions:
        last.pop((action.logical_id, action.kind), None)
        last[(action.logical_id, action.kind)] = action
    return list(last.values())


def _changed_ids(actions: list[Action]) -> set[str]:
    return {a.logical_id for a in actions if a.ok}


def _update_phase(actions: list[Action]) -> tuple[list[Spec], list[Spec]]:
    """Events of an update's (or rollback's) resources: creates and updates, then deletes, which
    CloudFormation does in the cleanup phase."""
    work, cleanup = [], []
    for action in actions:
        (cleanup if action.kind == "DELETE" and action.ok else work).extend(_resource_specs(action))
    return work, cleanup


def _dependents_first(stack: Any, actions: list[Action]) -> list[Action]:
    """Deletions in the reverse of the order the resources were created in, as CloudFormation
    deletes dependents before what they depend on (moto deletes in no particular order)."""
    created = [e.logical_resource_id for e in stack.events if e.resource_status == "CREATE_COMPLETE"]
    rank = {logical_id: i for i, logical_id in enumerate(created)}
    deletes = sorted((a for a in actions if a.kind == "DELETE"), key=lambda a: -rank.get(a.logical_id, -1))
    others = iter(a for a in actions if a.kind != "DELETE")
    deletes_iter = iter(deletes)
    return [next(deletes_iter) if a.kind == "DELETE" else next(others) for a in actions]


def _compose(op: Operation) -> list[Spec]:
    stack = op.stack
    forward = _dependents_first(stack, _last_outcomes([a for a in op.actions if a.phase == 0]))
    rollback = _dependents_first(stack, _last_outcomes([a for a in op.actions if a.phase == 1]))
    failed = op.failure
    # A failed resource's outcome goes last in its phase: CloudFormation stops there.
    if failed is not None:
        forward = [a for a in forward if a.ok] + [failed]
    specs: list[Spec] = []

    if op.kind == "CREATE":
        specs.append(_spec(stack, "CREATE_IN_PROGRESS", "User Initiated"))
        for action in forward:
            specs += _resource_specs(action)
        if failed is None:
            specs.append(_spec(stack, "CREATE_COMPLETE"))
            return specs
        specs.append(_spec(stack, "ROLLBACK_IN_PROGRESS", (
            f"The following resource(s) failed to create: [{failed.logical_id}]. Rollback requested by user.")))
        for action in rollback:
            specs += _resource_specs(action)
        specs.append(Spec(failed.logical_id, "", failed.resource_type, "DELETE_COMPLETE"))
        specs.append(_spec(stack, "ROLLBACK_COMPLETE"))
        return specs

    if op.kind == "DELETE":
        specs.append(_spec(stack, "DELETE_IN_PROGRESS", "User Initiated"))
        for action in forward:
            specs += _resource_specs(action)
        if failed is None:
            specs.append(_spec(stack, "DELETE_COMPLETE"))
        else:
            specs.append(_spec(stack, "DELETE_FAILED", f"The following resource(s) failed to delete: [{failed.logical_id}]. "))
        return specs

    if op.kind == "UPDATE":
        specs.append(_spec(stack, "UPDATE_IN_PROGRESS", "User Initiated"))
        work, cleanup = _update_phase(forward)
        specs += work
        if failed is None:
            specs.append(_spec(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"))
            specs += cleanup
            specs.append(_spec(stack, "UPDATE_COMPLETE"))
            return specs
        specs.append(_spec(stack, "UPDATE_ROLLBACK_IN_PROGRESS", (
            f"The following resource(s) failed to {failed.kind.lower()}: [{failed.logical_id}]. ")))
        return specs + _rollback_tail(op, stack, rollback, _changed_ids(forward))

    if op.kind == "CANCEL":
        specs.append(_spec(stack, "UPDATE_ROLLBACK_IN_PROGRESS", "Stack update cancelled"))
        # Resources the update had started on and not finished when it was cancelled.
        started: dict[str, Any] = {}
        for event in stack.events:
            if not _is_stack_event(stack, event) and getattr(event, "emulator_composed_by", None) is op.cancelled:
                started[event.logical_resource_id] = event
        for logical_id, event in started.items():
            if event.resource_status.endswith("_IN_PROGRESS"):
                verb = event.resource_status.split("_")[0]
                specs.append(Spec(logical_id, event.physical_resource_id, event.resource_type, f"{verb}_FAILED",
                                  f"Resource {'creation' if verb == 'CREATE' else verb.lower()} cancelled"))
        changed = _changed_ids([a for a in op.cancelled.actions if a.phase == 0]) if op.cancelled else set()
        return specs + _rollback_tail(op, stack, rollback, changed)

    if op.kind == "CONTINUE":
        specs.append(_spec(stack, "UPDATE_ROLLBACK_IN_PROGRESS", "Continue update rollback initiated by user"))
        return specs + _rollback_tail(op, stack, rollback, {a.logical_id for a in rollback})

    raise AssertionError(f"unknown operation {op.kind}")


def _rollback_tail(op: Operation, stack: Any, rollback: list[Action], changed: set[str]) -> list[Spec]:
    """An update's rollback: the resources it had changed go back, then cleanup."""
    reverted = [a for a in rollback if a.logical_id in changed or not a.ok]
    work, cleanup = _update_phase(reverted)
    if op.revert_failure is not None:
        failed = op.revert_failure
        return work + [_spec(stack, "UPDATE_ROLLBACK_FAILED", (
            f"The following resource(s) failed to update: [{failed.logical_id}]. "))]
    return work + [_spec(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")] + cleanup + [
        _spec(stack, "UPDATE_ROLLBACK_COMPLETE")]


_BASE_DURATION = {"CREATE": "stack_create", "UPDATE": "stack_update", "DELETE": "stack_delete",
                  "CANCEL": "stack_rollback", "CONTINUE": "stack_rollback"}


def _schedule(op: Operation, specs: list[Spec]) -> list[float]:
    """When each event happens: the operation's base duration (plus a rollback's) spread evenly
    over its events, and a distribution's deployment before the event that reports it complete
    (CloudFormation waits for CloudFront)."""
    base = clock.aws_seconds(_BASE_DURATION[op.kind])
    if op.failure is not None and op.kind in ("CREATE", "UPDATE"):
        base += clock.aws_seconds("stack_rollback")
    gap = base / (len(specs) - 1) if len(specs) > 1 else 0.0
    deploy, scale = clock.aws_seconds("distribution_deploy"), clock.scale()
    times, at = [op.start], op.start
    for spec in specs[1:]:
        at += (gap + (deploy if spec.deploys else 0.0)) * scale
        times.append(at)
    return times


def _finish(op: Operation) -> None:
    """Plays the operation out: its events on the timeline, the stack's final status at its end."""
    stack = op.stack
    specs = _compose(op)
    times = _schedule(op, specs)
    events = []
    for spec, at in zip(specs, times):
        event = cfn_models.Event(
            stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=spec.logical_id,
            physical_resource_id=spec.physical_id, resource_type=spec.resource_type,
            resource_status=spec.status, resource_status_reason=spec.reason, resource_properties=None,
        )
        event.timestamp = clock.utc(at)
        event.emulator_at = at
        event.emulator_op = None
        event.emulator_composed_by = op
        event.client_request_token = op.token
        events.append(event)
        if spec.deploys:
            spec.resource.deployed_by(at)
    stack.events = [e for e in stack.events if getattr(e, "emulator_op", None) is not op] + events
    op.end = times[-1]
    op.final_status = specs[-1].status
    stack.status = op.final_status
    stack.__dict__["emulator_op"] = op
    log.info("stack %s: %s until +%.2fs, then %s", stack.name, op.kind, op.end - op.start, op.final_status)
    # A change set made before the stack changed can no longer be executed.
    backend = _backend_of(stack)
    for change_set in backend.change_sets.values() if backend else []:
        if change_set.stack_id == stack.stack_id and change_set is not op.change_set:
            if change_set.__dict__.get("_emulator_execution_status") == "AVAILABLE":
                change_set.execution_status = "OBSOLETE"


def _backend_of(stack: Any) -> Any:
    try:
        return cfn_models.cloudformation_backends[stack.account_id][stack.region_name]
    except KeyError:
        return None


# --- Resources are recorded as moto handles them -------------------------------------------
# moto makes no resource events at all. Each resource moto creates, updates or deletes during an
# operation is recorded (with its outcome) so that the timeline can tell it in AWS's order.

def _patch_resource_recording() -> None:
    def recorded(original: Any, kind: str) -> Any:
        def wrapper(logical_id: str, resource_json: dict[str, Any], resources_map: Any, *args: Any, **kwargs: Any) -> Any:
            op = current()
            ours = op is not None and (op.stack is None or resources_map.stack_id == op.stack.stack_id)
            try:
                resource = original(logical_id, resource_json, resources_map, *args, **kwargs)
            except Exception as error:
                if not hasattr(error, "emulator_logical_id"):  # the innermost resource failed
                    error.emulator_logical_id = logical_id  # type: ignore[attr-defined]
                    error.emulator_resource_type = resource_json.get("Type")  # type: ignore[attr-defined]
                    if ours:
                        op.record(Action(logical_id, resource_json.get("Type", ""), kind, False, _handler_reason(error)))
                raise
            if ours and resource is not None:
                physical = getattr(resource, "physical_resource_id", "") or ""
                op.record(Action(logical_id, resource_json.get("Type", ""), kind, True,
                                 physical_id=str(physical), resource=resource))
            return resource

        return wrapper

    cfn_parsing.parse_and_create_resource = recorded(cfn_parsing.parse_and_create_resource, "CREATE")
    cfn_parsing.parse_and_update_resource = recorded(cfn_parsing.parse_and_update_resource, "UPDATE")

    original_delete_resource = cfn_parsing.ResourceMap._delete_resource

    def _delete_resource(self: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
        op = current()
        logical_id = getattr(parsed_resource, "logical_resource_id", None)
        ours = op is not None and logical_id and (op.stack is None or self.stack_id == op.stack.stack_id)
        physical = str(getattr(parsed_resource, "physical_resource_id", "") or "")
        try:
            original_delete_resource(self, parsed_resource, resource_json)
        except Exception as error:
            if not hasattr(error, "emulator_logical_id"):
                error.emulator_logical_id = logical_id  # type: ignore[attr-defined]
                error.emulator_resource_type = resource_json.get("Type")  # type: ignore[attr-defined]
            if ours:
                op.record(Action(logical_id, resource_json.get("Type", ""), "DELETE", False, _handler_reason(error), physical))
            raise
        if ours:
            op.record(Action(logical_id, resource_json.get("Type", ""), "DELETE", True, physical_id=physical))

    cfn_parsing.ResourceMap._delete_resource = _delete_resource


# --- Failed stack operations roll back instead of failing the API call ---------------------
# When a resource fails, moto raises out of CreateStack/UpdateStack: the call answers with an
# error and the stack stays CREATE_IN_PROGRESS (or keeps the new template) for ever. On AWS the
# call succeeds and the stack ends ROLLBACK_COMPLETE (a first launch, which can then only be
# deleted) or UPDATE_ROLLBACK_COMPLETE, with a *_FAILED event naming the resource and the reason.
# A failed update really reverts its resources: the previous template and parameters are applied
# again through moto's own update, so that, say, a distribution whose association the update
# had already changed gets its previous version ARN back (and deploys again). Events come in
# AWS's order: UPDATE_IN_PROGRESS, the resources', the failed one's UPDATE_FAILED,
# UPDATE_ROLLBACK_IN_PROGRESS ("The following resource(s) failed to update: [X]."), the reverted
# resources' UPDATE_IN_PROGRESS/UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS,
# UPDATE_ROLLBACK_COMPLETE. A failed create: ROLLBACK_IN_PROGRESS, resources DELETE_COMPLETE,
# ROLLBACK_COMPLETE. A revert that fails too leaves UPDATE_ROLLBACK_FAILED (ContinueUpdateRollback
# tries again).

def _failure(error: Exception, op: Operation | None) -> Action:
    """The recorded failure of `error`'s resource (or one made up from the error)."""
    logical_id = getattr(error, "emulator_logical_id", "")
    if op is not None:
        for action in reversed(op.actions):
            if not action.ok and action.logical_id == logical_id:
                return action
    return Action(logical_id, getattr(error, "emulator_resource_type", "") or "", "UPDATE", False, _handler_reason(error))


def _previous_state(stack: Any) -> dict[str, Any]:
    parameters = dict(stack.parameters or {})
    if not parameters:
        # moto keeps the parameters given, and skips an empty dict when updating: go back to the
        # effective values (the defaults) explicitly.
        parameters = _effective_parameters(stack.template_dict or {}, {})
    return {"template": stack.template, "parameters": parameters, "role_arn": stack.role_arn,
            "tags": dict(stack.tags or {})}


def revert(stack: Any, previous: dict[str, Any], op: Operation | None) -> None:
    """Applies `previous` again through moto's update; the stack ends UPDATE_ROLLBACK_COMPLETE,
    or UPDATE_ROLLBACK_FAILED if a resource cannot go back."""
    if op is not None:
        op.phase = 1
    try:
        _original_update(stack, previous["template"], previous["role_arn"], previous["parameters"], previous["tags"])
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    except Exception as error:
        if not hasattr(error, "emulator_logical_id"):
            raise
        failure = _failure(error, op)
        if op is not None:
            op.revert_failure = failure
        stack.template, stack.parameters = previous["template"], previous["parameters"]
        stack._parse_template()
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack.__dict__["emulator_revert_failed"] = [failure.logical_id]
    stack.__dict__["emulator_previous"] = previous


def continue_rollback(stack: Any, op: Operation, skip: set[str]) -> None:
    """ContinueUpdateRollback: the resources whose rollback failed are tried again, but those in
    ResourcesToSkip; the stack ends UPDATE_ROLLBACK_COMPLETE, or UPDATE_ROLLBACK_FAILED again."""
    op.phase = 1
    resource_map = stack.resource_map
    for logical_id in stack.__dict__.get("emulator_revert_failed", []):
        resource_json = resource_map._resource_json_map.get(logical_id)
        if logical_id in skip or resource_json is None:
            continue
        try:
            resource = cfn_parsing.parse_and_update_resource(
                logical_id, resource_json, resource_map, resource_map._account_id, resource_map._region_name)
        except Exception as error:
            op.revert_failure = _failure(error, op)
            stack.status = "UPDATE_ROLLBACK_FAILED"
            return
        if resource is not None:
            resource_map._parsed_resources[logical_id] = resource
    stack.__dict__["emulator_revert_failed"] = []
    stack.status = "UPDATE_ROLLBACK_COMPLETE"


_original_update: Any = None


def _patch_rollbacks() -> None:
    global _original_update
    stack_cls = cfn_models.Stack
    original_create = stack_cls.create_resources
    _original_update = stack_cls.update

    def create_resources(self: Any) -> None:
        op = current()
        if op is not None:
            op.bind(self)
        try:
            original_create(self)
        except Exception as error:
            if not hasattr(error, "emulator_logical_id"):
                raise  # not a resource failure: the call itself fails, as before
            log.info("stack %s: %s failed to create: %s", self.name, error.emulator_logical_id, error)  # type: ignore[attr-defined]
            if op is not None:
                op.failure = _failure(error, op)
                op.phase = 1
            try:
                self.resource_map.delete()
            except Exception:
                pass
            self.status = "ROLLBACK_COMPLETE"

    def update(self: Any, template: str, role_arn: str | None = None,
               parameters: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> None:
        op = current()
        previous = _previous_state(self)
        if op is not None:
            op.bind(self)
            op.previous = previous
        try:
            # UpdateStack, RoleARN: "If you don't specify a value, CloudFormation uses the role that
            # was previously associated with the stack" (moto cleared it).
            _original_update(self, template, role_arn or getattr(self, "role_arn", None), parameters, tags)
        except Exception as error:
            if not hasattr(error, "emulator_logical_id"):
                raise
            log.info("stack %s: %s failed to update: %s", self.name, error.emulator_logical_id, error)  # type: ignore[attr-defined]
            if op is not None:
                op.failure = _failure(error, op)
            revert(self, previous, op)

    stack_cls.create_resources = create_resources
    stack_cls.update = update


# --- A stack whose resources are gone does not bring them back ------------------------
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
        final = self.__dict__.get("_emulator_status")
        if final in ("DELETE_COMPLETE", "ROLLBACK_COMPLETE") or self.status in ("DELETE_COMPLETE", "ROLLBACK_COMPLETE"):
            return None
        try:
            return original_outputs.fget(self)
        except KeyError:
            # Outputs naming resources that are gone (a failed delete of a rolled-back stack).
            return None

    cfn_parsing.ResourceMap.delete = delete
    cfn_models.Stack.outputs = property(outputs)


# --- UpdateStack parameters and "No updates are to be performed." ----------------------
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


def _not_updatable(stack: Any) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(stack.stack_id, message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


def _patch_update_stack() -> None:
    from moto.cloudformation.exceptions import ValidationError

    backend_cls = cfn_models.CloudFormationBackend
    original_resolve = backend_cls._resolve_update_parameters

    def _resolve_update_parameters(self: Any, instance: Any, incoming_params: list[dict[str, Any]]) -> dict[str, str]:
        if not isinstance(instance, cfn_models.Stack):
            return original_resolve(self, instance, incoming_params)
        return _requested_parameters(instance, incoming_params)

    def _validate_status(self: Any, stack: Any) -> None:
        # UpdateStack and UPDATE change sets only on a stack at rest in a good state: not during
        # an operation (*_IN_PROGRESS, REVIEW_IN_PROGRESS included), not ROLLBACK_COMPLETE, not
        # *_FAILED. moto refused ROLLBACK_COMPLETE only.
        if stack.status not in UPDATABLE:
            raise _not_updatable(stack)

    def _validate_different_update(self: Any, incoming_params: Any, stack_body: str, old_stack: Any) -> None:
        self._validate_status(old_stack)  # a stack that cannot be updated says so before anything else
        if not stack_body:
            raise ValidationError(message="Either Template URL or Template Body must be specified.")
        new_template = cfn_models.Stack.parse_template(stack_body)
        requested = _requested_parameters(old_stack, incoming_params)
        _validate_parameters(new_template, requested)  # before moto starts changing the stack
        new_values = _effective_parameters(new_template, requested)
        old_values = _effective_parameters(old_stack.template_dict, old_stack.parameters)
        tags = {t["Key"]: t["Value"] for t in self._get_param("Tags", [])}
        if new_template == old_stack.template_dict and new_values == old_values and (not tags or tags == old_stack.tags):
            if getattr(self, "emulator_change_set", False):
                self.emulator_no_changes = True  # a change set is made, and FAILED (below)
                return
            raise ValidationError(old_stack.name, message="No updates are to be performed.")

    backend_cls._resolve_update_parameters = _resolve_update_parameters
    cfn_responses.CloudFormationResponse._validate_status = _validate_status
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


# --- An update deletes what it removes last, in the cleanup phase ------------------------
# moto's update deletes the resources a template drops first, then adds, then modifies; a delete
# that fails is retried a few times and then fails the update. CloudFormation creates and updates
# first and deletes what was removed in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (User Guide, "Update
# behaviors of stack resources"; the events above are told in that order already): so a
# ContinuousDeploymentPolicy the template drops is deleted after the primary distribution's update
# has detached it, where moto's order made CloudFront refuse (ContinuousDeploymentPolicyInUse) and
# the update roll back.

def _patch_update_order() -> None:
    def attempts(names: list[str], step: Any) -> None:
        """`step` for each name, again for those that failed (a dependency not there yet), as moto
        retries; the last failure is raised if some never succeed."""
        pending, last_exception = list(names), None
        for _ in range(cfn_parsing.MAX_UPDATE_ATTEMPTS - 1):
            for name in list(pending):
                try:
                    step(name)
                except Exception as error:
                    last_exception = error
                else:
                    pending.remove(name)
            if not pending:
                return
        if last_exception is not None:
            raise last_exception

    def update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        # moto's ResourceMap.update, with the removals moved to the end.
        diff = self.build_resource_diff(template, parameters)
        old_json = dict(self._resource_json_map)
        self._template = template
        if parameters:
            self.input_parameters = parameters
        self.load_mapping()
        self.load_parameters()
        self.load_conditions()
        self._resource_json_map = template["Resources"]
        for name in diff["Add"]:
            _ = self[name]  # moto creates a resource on first access

        def modify(name: str) -> None:
            self._parsed_resources[name] = cfn_parsing.parse_and_update_resource(
                name, self._resource_json_map[name], self, account_id=self._account_id, region_name=self._region_name)

        def remove(name: str) -> None:
            if name in self._parsed_resources:
                self._delete_resource(self._parsed_resources[name], old_json[name])

        attempts(diff["Modify"], modify)
        attempts([name for name in diff["Remove"] if name in old_json], remove)

    cfn_parsing.ResourceMap.update = update


# --- Parameter values are checked as CloudFormation checks them -----------------------
# moto ignores AllowedValues, AllowedPattern, MinLength/MaxLength and a Number's MinValue/MaxValue
# (and takes text for a Number), accepts parameters the template does not declare, and on
# UpdateStack discovers a missing value only half-way through the update, leaving the stack
# changed. CloudFormation refuses the call up front with a ValidationError: e.g. FirstLaunch=yes,
# an empty ArtifactObjectVersion, or CanaryWeight=0.5 where MaxValue is 0.15 ("Parameter
# 'CanaryWeight' must be a number not greater than 0.15").

def _validate_parameters(template: dict[str, Any], given: dict[str, Any]) -> None:
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
        if slot.get("Type", "String") == "Number":
            _validate_number(key, slot, values[key])
            continue
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


def _validate_number(key: str, slot: dict[str, Any], value: str) -> None:
    from moto.cloudformation.exceptions import ValidationError

    try:
        number = float(value)
    except ValueError:
        raise ValidationError(message=f"Parameter '{key}' must be a number") from None
    if "MinValue" in slot and number < float(slot["MinValue"]):
        raise ValidationError(message=f"Parameter '{key}' must be a number not less than {_text(slot['MinValue'])}")
    if "MaxValue" in slot and number > float(slot["MaxValue"]):
        raise ValidationError(message=f"Parameter '{key}' must be a number not greater than {_text(slot['MaxValue'])}")
    if "AllowedValues" in slot and number not in [float(v) for v in slot["AllowedValues"]]:
        raise ValidationError(message=f"Parameter '{key}' must be one of AllowedValues")


def _patch_parameter_validation() -> None:
    # CreateStack resolves its parameters while building the stack, before moto stores it;
    # UpdateStack is checked in _validate_different_update (above), before anything changes.
    original_init = cfn_models.Stack.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        template = kwargs.get("template")
        parameters = kwargs.get("parameters")
        if isinstance(template, str) and template and parameters is not None:
            _validate_parameters(cfn_models.Stack.parse_template(template), parameters)
        original_init(self, *args, **kwargs)

    cfn_models.Stack.__init__ = __init__


# --- Reads show the state as of now ----------------------------------------------------
# A stack being deleted stays visible by name (DELETE_IN_PROGRESS) until its deletion ends; only
# the events whose time has come are listed; each resource's status is that of its newest event.

def _resource_status(stack: Any, logical_id: str) -> str | None:
    now = clock.now()
    for event in reversed(stack.events):
        if event.logical_resource_id == logical_id and not _is_stack_event(stack, event) and _at(event) <= now:
            return event.resource_status
    return None


def _patch_reads() -> None:
    from moto.cloudformation.exceptions import ValidationError

    backend_cls = cfn_models.CloudFormationBackend
    original_get_stack = backend_cls.get_stack
    original_describe = backend_cls.describe_stacks

    def deleting_named(self: Any, name: str) -> Any:
        for stack in self.deleted_stacks.values():
            if stack.name == name and _deleting(stack):
                return stack
        return None

    def get_stack(self: Any, name_or_stack_id: str) -> Any:
        try:
            return original_get_stack(self, name_or_stack_id)
        except ValidationError:
            stack = deleting_named(self, name_or_stack_id)
            if stack is None:
                raise
            return stack

    def describe_stacks(self: Any, name_or_stack_id: str) -> list[Any]:
        if not name_or_stack_id:
            return list(self.stacks.values()) + [s for s in self.deleted_stacks.values() if _deleting(s)]
        try:
            return original_describe(self, name_or_stack_id)
        except ValidationError:
            stack = deleting_named(self, name_or_stack_id)
            if stack is None:
                raise
            return [stack]

    def describe_stack_events(self: Any, stack_name: str) -> list[Any]:
        return visible_events(self.get_stack(stack_name))

    backend_cls.get_stack = get_stack
    backend_cls.describe_stacks = describe_stacks
    backend_cls.describe_stack_events = describe_stack_events

    response_cls = cfn_responses.CloudFormationResponse
    from moto.core.responses import ActionResult

    def list_stack_resources(self: Any) -> Any:
        stack, resources = self.cloudformation_backend.list_stack_resources(self._get_param("StackName"))
        op = _stack_op(stack)
        in_flight = op is not None and op.in_flight()
        rows, seen = [], set()
        for resource in resources:
            if resource is None:
                continue
            logical_id = getattr(resource, "logical_resource_id", "")
            status = _resource_status(stack, logical_id)
            if status is None:
                if in_flight and op.kind == "CREATE":
                    continue  # not started yet
                status = "CREATE_COMPLETE"
            seen.add(logical_id)
            rows.append({
                "ResourceStatus": status,
                "LogicalResourceId": logical_id,
                "LastUpdatedTimestamp": stack.creation_time,
                "PhysicalResourceId": getattr(resource, "physical_resource_id", ""),
                "ResourceType": getattr(resource, "cf_resource_type", ""),
            })
        if in_flight:  # resources the operation deleted, until their deletion shows
            for action in op.actions:
                if action.kind == "DELETE" and action.ok and action.logical_id not in seen:
                    status = _resource_status(stack, action.logical_id)
                    if status == "DELETE_COMPLETE":
                        continue
                    seen.add(action.logical_id)
                    rows.append({
                        "ResourceStatus": status or "CREATE_COMPLETE",
                        "LogicalResourceId": action.logical_id,
                        "LastUpdatedTimestamp": stack.creation_time,
                        "PhysicalResourceId": action.physical_id,
                        "ResourceType": action.resource_type,
                    })
        return ActionResult({"StackResourceSummaries": rows})

    response_cls.list_stack_resources = list_stack_resources

    dto_cls = cfn_responses.StackResourceDTO
    original_dto_init = dto_cls.__init__

    def dto_init(self: Any, stack: Any, resource: Any) -> None:
        original_dto_init(self, stack, resource)
        self.resource_status = _resource_status(stack, self.logical_resource_id) or "CREATE_COMPLETE"

    dto_cls.__init__ = dto_init


# --- Change sets take time; REVIEW_IN_PROGRESS stays ---------------------------------------
# moto's change sets are CREATE_COMPLETE at once and its ExecuteChangeSet skips rollbacks and
# leaves a CREATE-type stack without its template's parameters and outputs. CloudFormation
# computes a change set for a while (CREATE_IN_PROGRESS, ExecutionStatus UNAVAILABLE, then
# CREATE_COMPLETE/AVAILABLE after `change_set`), refuses to execute it before
# (InvalidChangeSetStatus), executes it as the matching stack operation (EXECUTE_IN_PROGRESS,
# then EXECUTE_COMPLETE or EXECUTE_FAILED; the stack's events carry ExecuteChangeSet's
# ClientRequestToken and the update waits for the distribution it changes, as UpdateStack's),
# and refuses to execute it again (InvalidChangeSetStatus, HTTP 400: "ChangeSet [arn] cannot be
# executed in its current execution status of [EXECUTE_COMPLETE]"; moto ran it twice).
# ExecuteChangeSet "deletes all other change sets associated with the stack because they aren't
# valid for the updated stack" (API reference, ExecuteChangeSet); an UpdateStack leaves them
# ExecutionStatus OBSOLETE ("the stack was already updated", DescribeChangeSet), which cannot be
# executed; moto did neither. DeleteStack takes the stack's change sets with it.
# A stack made by a CREATE change set stays REVIEW_IN_PROGRESS until one is executed; a second
# CREATE change set on it is allowed, on any other existing stack it is refused.
#
# Finding a change set (DescribeChangeSet, ExecuteChangeSet, DeleteChangeSet): by its ARN alone,
# or by name with StackName (name or id); a name without StackName is a ValidationError
# ("StackName must be specified if ChangeSetName is not specified as an ARN."), one that is not
# there ChangeSetNotFound (HTTP 404, "ChangeSet [x] does not exist"). moto looked names up across
# all stacks, answered a missing one with "Stack with id x does not exist", and failed with a 500
# on a DeleteChangeSet by a name it did not know. DeleteChangeSet of a name the stack does not
# have succeeds (its API reference lists no ChangeSetNotFound), and is refused while the change
# set is being created or executed (InvalidChangeSetStatus, "An operation on this ChangeSet is
# currently in progress. Please attempt this operation again later.").
# ListChangeSets lists the change sets of StackName only (moto listed every stack's).
#
# What a change set lists (DescribeChangeSet's Changes, with or without IncludePropertyValues)
# is changesets.py's plan of the stack as it was when the change set was created, shown once the
# change set is CREATE_COMPLETE. Parameters are the values the execution will use, defaults
# included.

_IN_PROGRESS_MESSAGE = "An operation on this ChangeSet is currently in progress. Please attempt this operation again later."


def _pseudo_parameters(stack: Any) -> dict[str, Any]:
    return {"AWS::StackName": stack.name, "AWS::StackId": stack.stack_id, "AWS::Region": stack.region_name,
            "AWS::AccountId": stack.account_id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": list(getattr(stack, "notification_arns", None) or [])}


def _plan_change_set(stack: Any, change_set: Any) -> list[dict[str, Any]]:
    """The Changes of `change_set` against `stack` as it is now (its resources as deployed)."""
    parsed = stack.resource_map._parsed_resources if stack.template_dict else {}

    def live_ref(logical_id: str) -> Any:
        resource = parsed.get(logical_id)
        return getattr(resource, "physical_resource_id", None) or changesets.KNOWN_AFTER_APPLY

    def live_attribute(logical_id: str, attribute: str) -> Any:
        resource = parsed.get(logical_id)
        try:
            return resource.get_cfn_attribute(attribute)
        except Exception:
            return changesets.KNOWN_AFTER_APPLY

    old_template = stack.template_dict or {}
    new_template = change_set.template_dict or {}
    before = changesets.Side(old_template, _effective_parameters(old_template, stack.parameters or {}))
    after = changesets.Side(new_template, _effective_parameters(new_template, change_set.parameters or {}))
    try:
        return changesets.plan(before, after, _pseudo_parameters(stack), live_ref, live_attribute)
    except Exception:  # a template the planner cannot read: moto's own list, Action and ids only
        log.exception("change set %s: planning its changes failed", change_set.change_set_name)
        return [{"Action": c.action, "LogicalResourceId": c.logical_resource_id, "ResourceType": c.resource_type,
                 "Scope": [], "Details": []} for c in change_set.changes]


class _Described:
    """A change set as DescribeChangeSet answers it: moto's model, with the emulator's Changes
    (as asked: with or without property values), the effective Parameters, Capabilities and
    Tags in the API's shape."""

    def __init__(self, change_set: Any, include_property_values: bool) -> None:
        self._change_set = change_set
        ready = change_set.status == "CREATE_COMPLETE"
        self.changes = changesets.view(change_set.__dict__.get("emulator_changes") or [], include_property_values) if ready else []
        template = change_set.template_dict or {}
        self.parameters = _effective_parameters(template, change_set.parameters or {})
        self.capabilities = change_set.__dict__.get("emulator_capabilities") or []
        self.tags = [{"Key": k, "Value": v} for k, v in (change_set.tags or {}).items()]
        self.include_nested_stacks = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._change_set, name)


def _patch_change_sets() -> None:
    from moto.cloudformation.exceptions import CloudFormationError, ValidationError
    from moto.core.responses import ActionResult, EmptyResult

    class InvalidChangeSetStatus(CloudFormationError):
        code = "InvalidChangeSetStatus"

    class ChangeSetNotFound(CloudFormationError):
        code = "ChangeSetNotFound"  # ChangeSetNotFoundException in the API model: HTTP 404

    cs_cls = cfn_models.ChangeSet
    original_init = cs_cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.emulator_ready_at = clock.now() + clock.seconds("change_set")

    def ready(self: Any) -> bool:
        return clock.now() >= getattr(self, "emulator_ready_at", 0.0)

    def get_status(self: Any) -> str | None:
        final = self.__dict__.get("_emulator_status")
        return final if ready(self) or final is None else "CREATE_IN_PROGRESS"

    def get_execution_status(self: Any) -> str | None:
        final = self.__dict__.get("_emulator_execution_status")
        if final is None:
            return None
        if not ready(self):
            return "UNAVAILABLE"
        op = self.__dict__.get("emulator_op")
        if op is not None:
            if op.in_flight():
                return "EXECUTE_IN_PROGRESS"
            return "EXECUTE_FAILED" if op.failure is not None else "EXECUTE_COMPLETE"
        return final

    cs_cls.__init__ = __init__
    cs_cls.status = property(get_status, lambda self, v: self.__dict__.__setitem__("_emulator_status", v))
    cs_cls.execution_status = property(
        get_execution_status, lambda self, v: self.__dict__.__setitem__("_emulator_execution_status", v))

    backend_cls = cfn_models.CloudFormationBackend
    original_create = backend_cls.create_change_set

    def create_change_set(self: Any, stack_name: str, change_set_name: str, template: str, parameters: dict[str, str],
                          description: str, change_set_type: str, *args: Any, **kwargs: Any) -> tuple[str, str]:
        if change_set_type != "UPDATE":
            existing = next((s for s in self.stacks.values() if s.name == stack_name), None)
            if existing is None:
                existing = next((s for s in self.deleted_stacks.values() if s.name == stack_name and _deleting(s)), None)
            if existing is not None and existing.status != "REVIEW_IN_PROGRESS":
                raise ValidationError(message=(
                    f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{change_set_name}]."))
            if existing is not None:
                # Another change set for the stack under review: moto would make a second stack
                # (and its UPDATE path fails on the template-less stack).
                from moto.cloudformation.utils import generate_changeset_id

                change_set_id = generate_changeset_id(change_set_name, self.region_name, self.account_id)
                change_set = cfn_models.ChangeSet(
                    change_set_type=change_set_type, change_set_id=change_set_id, change_set_name=change_set_name,
                    stack=existing, template=template, parameters=parameters, description=description, **kwargs)
                change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
                change_set.emulator_changes = _plan_change_set(existing, change_set)
                self.change_sets[change_set_id] = change_set
                return change_set_id, existing.stack_id
        else:
            stack = next((s for s in self.stacks.values() if s.name == stack_name), None)
            if stack is not None and stack.status not in UPDATABLE:
                raise _not_updatable(stack)
        change_set_id, stack_id = original_create(self, stack_name, change_set_name, template, parameters, description,
                                                  change_set_type, *args, **kwargs)
        change_set = self.change_sets[change_set_id]
        change_set.emulator_changes = _plan_change_set(change_set.stack, change_set)
        return change_set_id, stack_id

    def find_change_set(self: Any, change_set_name: str, stack_name: str | None) -> Any:
        if (change_set_name or "").startswith("arn:"):
            if change_set_name in self.change_sets:
                return self.change_sets[change_set_name]
            raise ChangeSetNotFound(f"ChangeSet [{change_set_name}] does not exist")
        if not stack_name:
            raise ValidationError(message="StackName must be specified if ChangeSetName is not specified as an ARN.")
        for change_set in self.change_sets.values():
            if change_set.change_set_name == change_set_name and stack_name in (change_set.stack_name, change_set.stack_id):
                return change_set
        raise ChangeSetNotFound(f"ChangeSet [{change_set_name}] does not exist")

    def forget_change_sets(self: Any, stack_id: str, keep: Any = None) -> None:
        for change_set_id, change_set in list(self.change_sets.items()):
            if change_set.stack_id == stack_id and change_set is not keep:
                del self.change_sets[change_set_id]

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = find_change_set(self, change_set_name, stack_name)
        stack = self.stacks.get(change_set.stack_id)
        if stack is None:
            raise ValidationError(change_set.stack_id)
        status = stack.status
        if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            raise _not_updatable(stack)
        if change_set.status != "CREATE_COMPLETE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of [{change_set.status}]")
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current execution status of "
                f"[{change_set.execution_status}]")
        forget_change_sets(self, stack.stack_id, keep=change_set)
        op = current()
        if op is not None:
            op.bind(stack)
            op.change_set = change_set
            change_set.__dict__["emulator_op"] = op
        if change_set.change_set_type == "CREATE":
            if op is not None:
                op.kind = "CREATE"
            stack.template = change_set.template
            stack._parse_template()
            stack.description = stack.template_dict.get("Description")
            stack.parameters = dict(change_set.parameters or {})
            stack.resource_map = stack._create_resource_map()
            stack.output_map = stack._create_output_map()
            stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
            stack.create_resources()
        else:
            if op is not None:
                op.kind = "UPDATE"
            stack.update(change_set.template, change_set.role_arn, parameters=dict(change_set.parameters or {}),
                         tags=change_set.tags or None)
        change_set.execution_status = "EXECUTE_COMPLETE"

    backend_cls.create_change_set = create_change_set
    backend_cls.execute_change_set = execute_change_set
    backend_cls.emulator_find_change_set = find_change_set
    backend_cls.emulator_forget_change_sets = forget_change_sets

    # An UPDATE change set that changes nothing is made, and FAILED: "The submitted information
    # didn't contain changes." (UpdateStack's "No updates are to be performed." is for UpdateStack.)
    response_cls = cfn_responses.CloudFormationResponse
    original_respond = response_cls.create_change_set

    def respond_create_change_set(self: Any) -> Any:
        self.emulator_change_set, self.emulator_no_changes = True, False
        with _lock:
            result = original_respond(self)
        change_set = self.cloudformation_backend.change_sets[result.result["Id"]]
        change_set.emulator_capabilities = list(self._get_param("Capabilities", []) or [])
        if self.emulator_no_changes:
            change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
            change_set.status_reason = (
                "The submitted information didn't contain changes. Submit different information to create a change set.")
            change_set.emulator_changes = []
        return result

    def describe_change_set(self: Any) -> Any:
        change_set = self.cloudformation_backend.emulator_find_change_set(
            self._get_param("ChangeSetName"), self._get_param("StackName"))
        return ActionResult(_Described(change_set, bool(self._get_bool_param("IncludePropertyValues", False))))

    def list_change_sets(self: Any) -> Any:
        name = self._get_param("StackName")
        if not name:
            raise ValidationError(message=(
                "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: "
                "Member must not be null"))
        stack = self.cloudformation_backend.get_stack(name)
        summaries = [c for c in self.cloudformation_backend.change_sets.values() if c.stack_id == stack.stack_id]
        return ActionResult({"Summaries": summaries})

    def delete_change_set(self: Any) -> Any:
        backend = self.cloudformation_backend
        name, stack_name = self._get_param("ChangeSetName"), self._get_param("StackName")
        with _lock:
            try:
                change_set = backend.emulator_find_change_set(name, stack_name)
            except ChangeSetNotFound:
                if name.startswith("arn:"):
                    raise
                backend.get_stack(stack_name)  # a stack that does not exist is a ValidationError
                return EmptyResult()
            if change_set.status == "CREATE_IN_PROGRESS" or change_set.execution_status == "EXECUTE_IN_PROGRESS":
                raise InvalidChangeSetStatus(_IN_PROGRESS_MESSAGE)
            del backend.change_sets[change_set.change_set_id]
        return EmptyResult()

    response_cls.create_change_set = respond_create_change_set
    response_cls.describe_change_set = describe_change_set
    response_cls.list_change_sets = list_change_sets
    response_cls.delete_change_set = delete_change_set


# --- Idempotency: ClientRequestToken -----------------------------------------------------
# CloudFormation takes a ClientRequestToken on CreateStack, UpdateStack, DeleteStack,
# ExecuteChangeSet, CancelUpdateStack and ContinueUpdateRollback so that a retried request is
# recognised: the same token again with the same action, stack and request is answered as the
# first call was (CreateStack/UpdateStack: the StackId) and does nothing more, even after the
# operation has ended; the same token for a different action, stack or request is refused with
# TokenAlreadyExistsException (400). Tokens are scoped to the account and region and kept until
# /moto-api/reset. moto ignored the token altogether.

@dataclass
class TokenUse:
    action: str
    refs: set[str]
    request: str
    result: dict[str, Any] | None


_tokens: dict[tuple[str, str, str], TokenUse] = {}
_TOKEN_PATTERN = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
_NOT_PART_OF_THE_REQUEST = {"Action", "Version", "ClientRequestToken", "StackName"}


def _patch_tokens_errors() -> Any:
    from moto.cloudformation.exceptions import CloudFormationError

    class TokenAlreadyExistsException(CloudFormationError):
        code = "TokenAlreadyExistsException"

    return TokenAlreadyExistsException


TokenAlreadyExistsException: Any = None


def _token(response: Any) -> str | None:
    from moto.cloudformation.exceptions import ValidationError

    token = response._get_param("ClientRequestToken")
    if token is None or token == "":
        return None
    if len(token) > 128 or not _TOKEN_PATTERN.fullmatch(token):
        raise ValidationError(message=(
            f"1 validation error detected: Value '{token}' at 'clientRequestToken' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [a-zA-Z0-9][-a-zA-Z0-9]*"))
    return token


def _request_fingerprint(response: Any) -> str:
    """The request's parameters but the token and the stack (compared on their own)."""
    parsed = getattr(response, "params", None) if response.automated_parameter_parsing else None
    fields = parsed if isinstance(parsed, dict) else (response.querystring or {})
    fields = {k: v for k, v in fields.items() if k not in _NOT_PART_OF_THE_REQUEST}
    return json.dumps(fields, sort_keys=True, default=str)


def _stack_ids(response: Any, ref: str | None) -> set[str]:
    """What `ref` (a stack name or id) names: itself, and the stack's id and name if it exists."""
    refs = {ref} if ref else set()
    if ref:
        try:
            stack = response.cloudformation_backend.get_stack(ref)
        except Exception:
            stack = None
        if stack is not None:
            refs |= {stack.stack_id, stack.name}
    return refs


def _replay(response: Any, action: str, ref: str | None) -> Any:
    """The first call's answer if this is a retry of it; raises if the token was used otherwise."""
    from moto.core.responses import ActionResult, EmptyResult

    token = _token(response)
    if token is None:
        return None
    use = _tokens.get((response.current_account, response.region, token))
    if use is None:
        return None
    given = _stack_ids(response, ref)
    same_stack = bool(given & use.refs) if given or use.refs else True
    if use.action == action and same_stack and use.request == _request_fingerprint(response):
        log.info("%s with token %s is a retry: answered as the first call", action, token)
        return ActionResult(dict(use.result)) if use.result else EmptyResult()
    raise TokenAlreadyExistsException(
        f"Another {use.action} request with the client request token {token} was already submitted "
        f"(stack {sorted(use.refs)[0] if use.refs else '-'}); use a new token for a different request.")


def _remember(response: Any, action: str, refs: set[str], result: dict[str, Any] | None) -> None:
    token = _token(response)
    if token is not None:
        _tokens[(response.current_account, response.region, token)] = TokenUse(
            action, set(refs), _request_fingerprint(response), result)


# --- The API calls: each is one operation on the timeline -----------------------------------

def _patch_operations() -> None:
    from moto.cloudformation.exceptions import AlreadyExistsException, CloudFormationError, ValidationError
    from moto.core.responses import EmptyResult

    response_cls = cfn_responses.CloudFormationResponse
    original_create = response_cls.create_stack
    original_update = response_cls.update_stack
    original_execute = response_cls.execute_change_set

    def run(response: Any, op: Operation, handler: Any) -> Any:
        try:
            with _running(op):
                result = handler(response)
        except Exception:
            if op.stack is not None:  # the call failed: nothing of it stays on the timeline
                op.stack.events = [e for e in op.stack.events if getattr(e, "emulator_op", None) is not op]
            raise
        if op.stack is not None:
            _finish(op)
        return result

    def create_stack(self: Any) -> Any:
        name = self._get_param("StackName")
        with _lock:
            replay = _replay(self, "CreateStack", name)
            if replay is not None:
                return replay
            backend = self.cloudformation_backend
            if any(s.name == name and _deleting(s) for s in backend.deleted_stacks.values()):
                raise AlreadyExistsException(f"Stack [{name}] already exists")
            op = Operation("CREATE", _token(self))
            result = run(self, op, original_create)
            stack_id = result.result["StackId"]
            _remember(self, "CreateStack", {name, stack_id}, {"StackId": stack_id})
            return result

    def update_stack(self: Any) -> Any:
        ref = self._get_param("StackName")
        with _lock:
            replay = _replay(self, "UpdateStack", ref)
            if replay is not None:
                return replay
            op = Operation("UPDATE", _token(self))
            result = run(self, op, original_update)
            stack_id = result.result["StackId"]
            # UpdateStack, NotificationARNs: the topics given replace the stack's (an empty list
            # removes them); not given, they stay. moto's UpdateStack ignored them.
            topics = self._get_param("NotificationARNs", None)
            if topics is not None:
                self.cloudformation_backend.get_stack(stack_id).notification_arns = topics
            _remember(self, "UpdateStack", _stack_ids(self, ref) | {stack_id}, {"StackId": stack_id})
            return result

    def delete_stack(self: Any) -> Any:
        ref = self._get_param("StackName")
        with _lock:
            replay = _replay(self, "DeleteStack", ref)
            if replay is not None:
                return replay
            backend = self.cloudformation_backend
            refs = _stack_ids(self, ref)
            try:
                stack = backend.get_stack(ref)
            except ValidationError:
                stack = None  # deleting a stack that does not exist succeeds
            if stack is not None and stack.status not in ("DELETE_COMPLETE", "DELETE_IN_PROGRESS"):
                status = stack.status
                if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
                    raise ValidationError(message=f"Stack [{stack.name}] cannot be deleted while in status {status}")
                op = Operation("DELETE", _token(self))
                op.bind(stack)
                with _running(op):
                    if stack.name in clock.SETTINGS.get("fail_delete_stacks"):
                        _fail_delete(stack, op)
                    else:
                        backend.delete_stack(stack.stack_id)
                _finish(op)
                if op.failure is None:  # the stack's change sets go with it
                    backend.emulator_forget_change_sets(stack.stack_id)
            _remember(self, "DeleteStack", refs, None)
            return EmptyResult()

    def execute_change_set(self: Any) -> Any:
        with _lock:
            backend = self.cloudformation_backend
            try:
                change_set = backend.emulator_find_change_set(self._get_param("ChangeSetName"), self._get_param("StackName"))
                ref = change_set.stack_id
            except CloudFormationError:  # ChangeSetNotFound, or a name without StackName
                ref = self._get_param("StackName")
            replay = _replay(self, "ExecuteChangeSet", ref)
            if replay is not None:
                return replay
            op = Operation("UPDATE", _token(self))
            result = run(self, op, original_execute)
            _remember(self, "ExecuteChangeSet", _stack_ids(self, ref), None)
            return result

    def cancel_update_stack(self: Any) -> Any:
        ref = self._get_param("StackName")
        with _lock:
            replay = _replay(self, "CancelUpdateStack", ref)
            if replay is not None:
                return replay
            stack = self.cloudformation_backend.get_stack(ref)
            if stack.status != "UPDATE_IN_PROGRESS":
                raise ValidationError(message="CancelUpdateStack cannot be called from current stack status")
            update = _stack_op(stack)
            now = clock.now()
            op = Operation("CANCEL", _token(self), start=now)
            op.bind(stack)
            op.cancelled = update
            # What the update showed stays; what it had not shown yet never happens.
            stack.events = [e for e in stack.events if _at(e) <= now]
            with _running(op):
                if update.failure is None:
                    revert(stack, update.previous or _previous_state(stack), op)
                else:  # moto already rolled it back: tell that rollback as the cancellation's
                    op.actions = [Action(**{**a.__dict__}) for a in update.actions if a.phase == 1]
                    op.revert_failure = update.revert_failure
            _finish(op)
            _remember(self, "CancelUpdateStack", _stack_ids(self, ref), None)
            return EmptyResult()

    def continue_update_rollback(self: Any) -> Any:
        ref = self._get_param("StackName")
        with _lock:
            replay = _replay(self, "ContinueUpdateRollback", ref)
            if replay is not None:
                return replay
            stack = self.cloudformation_backend.get_stack(ref)
            if stack.status != "UPDATE_ROLLBACK_FAILED":
                raise ValidationError(message="ContinueUpdateRollback cannot be called from current stack status")
            op = Operation("CONTINUE", _token(self))
            op.bind(stack)
            with _running(op):
                continue_rollback(stack, op, set(self._get_param("ResourcesToSkip") or []))
            _finish(op)
            _remember(self, "ContinueUpdateRollback", _stack_ids(self, ref), None)
            return EmptyResult()

    response_cls.create_stack = create_stack
    response_cls.update_stack = update_stack
    response_cls.delete_stack = delete_stack
    response_cls.execute_change_set = execute_change_set
    response_cls.cancel_update_stack = cancel_update_stack
    response_cls.continue_update_rollback = continue_update_rollback

    # A resource that fails to delete leaves the stack DELETE_FAILED, where moto raised out of the
    # call and lost the stack (it had already taken it off its list of stacks).
    backend_cls = cfn_models.CloudFormationBackend
    original_delete_stack = backend_cls.delete_stack

    def backend_delete_stack(self: Any, name_or_stack_id: str) -> None:
        stack = self.stacks.get(name_or_stack_id)
        try:
            original_delete_stack(self, name_or_stack_id)
        except Exception as error:
            if stack is None or not hasattr(error, "emulator_logical_id"):
                raise
            self.deleted_stacks.pop(stack.stack_id, None)
            self.stacks[stack.stack_id] = stack
            op = current()
            if op is not None:
                op.failure = _failure(error, op)
            stack.status = "DELETE_FAILED"

    backend_cls.delete_stack = backend_delete_stack


# --- DELETE_FAILED on demand ---------------------------------------------------------------
# A stack named in the setting `fail_delete_stacks` cannot be deleted: DeleteStack answers, the
# stack goes DELETE_IN_PROGRESS, one resource fails to delete (its AWS::Lambda::Version if it has
# one, with the message Lambda gives for a replicated Lambda@Edge version, else its last
# resource) and the stack ends DELETE_FAILED with nothing deleted. Once the name is taken out of
# the setting, DeleteStack deletes it.

def _fail_delete(stack: Any, op: Operation) -> None:
    resources = [r for r in stack.resource_map._parsed_resources.values()
                 if hasattr(r, "logical_resource_id") and hasattr(r, "cf_resource_type")]
    victim = next((r for r in resources if r.cf_resource_type == "AWS::Lambda::Version"), None)
    if victim is None and resources:
        victim = resources[-1]
    if victim is None:
        logical_id, resource_type, physical = stack.name, STACK_TYPE, stack.stack_id
    else:
        logical_id, resource_type = victim.logical_resource_id, victim.cf_resource_type
        physical = str(getattr(victim, "physical_resource_id", "") or "")
    if resource_type == "AWS::Lambda::Version":
        message = replicated_function_message(physical)
    else:
        message = f"The resource {physical or logical_id} could not be deleted (emulator setting fail_delete_stacks)."
    failure = Action(logical_id, resource_type, "DELETE", False, _handler_reason(Exception(message)), physical)
    if victim is not None:
        op.record(failure)
    op.failure = failure
    stack.status = "DELETE_FAILED"


def _reset() -> None:
    _tokens.clear()


def install() -> None:
    global cfn_models, cfn_parsing, cfn_responses, TokenAlreadyExistsException
    import moto.cloudformation.models as cfn_models
    import moto.cloudformation.parsing as cfn_parsing
    import moto.cloudformation.responses as cfn_responses

    TokenAlreadyExistsException = _patch_tokens_errors()
    _patch_stack_status()
    _patch_resource_recording()
    _patch_update_stack()
    _patch_update_order()
    _patch_parameter_validation()
    _patch_rollbacks()
    _patch_deleted_stacks()
    _patch_reads()
    _patch_change_sets()
    _patch_operations()
    _patch_outputs()
    clock.on_reset(_reset)


def _patch_outputs() -> None:
    """DescribeStacks lists the Outputs it can: a stack whose resources are gone (ROLLBACK_COMPLETE,
    a failed delete) lists none of theirs. moto evaluated every Output at each read, and one whose
    `!Sub "${Resource.Attribute}"` named a resource that is not there raised ValidationError: the
    read failed with HTTP 500, which a client retries as AWS's own fault."""
    original = cfn_parsing.parse_output

    def parse_output(output_logical_id: str, output_json: Any, resources_map: Any) -> Any:
        try:
            return original(output_logical_id, output_json, resources_map)
        except cfn_parsing.ValidationError:
            return None

    cfn_parsing.parse_output = parse_output
