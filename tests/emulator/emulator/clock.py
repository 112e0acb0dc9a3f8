"""The emulator's settings and its sense of time.

AWS operations take minutes; the emulator plays them out at `time_scale` emulator seconds per AWS
second (0.002 by default, so CloudFront's 5 minutes of deployment take 0.6 s). Every duration below is
in AWS seconds, as an operator would think of it; `seconds(name)` turns one into wall-clock seconds.

Timestamps are wall-clock time (`time.time()`): stack events carry them, and the tool compares them
with its own clock, as it does against AWS.
"""

from __future__ import annotations

import copy
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

# AWS seconds. CloudFormation's own work on a small stack, CloudFront's deployment of a distribution
# change (what CloudFormation waits for too), an invalidation, a change set's computation, and how long
# Lambda@Edge replicas outlive the last association of their version (CloudFront removes them hours
# later; until then Lambda refuses to delete the version).
DEFAULT_DURATIONS: dict[str, float] = {
    "stack_create": 60,
    "stack_update": 30,
    "stack_delete": 30,
    "stack_rollback": 30,
    "distribution_deploy": 300,
    "invalidation": 60,
    "change_set": 5,
    "replica_delay": 10800,
}

DEFAULTS: dict[str, Any] = {
    "time_scale": 0.002,
    "durations": DEFAULT_DURATIONS,
    # S3 answers HeadObject/GetObject of a missing key with 404 only to a caller allowed
    # s3:ListBucket; false plays a caller without it (403 AccessDenied).
    "s3_list_bucket": True,
    # Names of stacks whose DeleteStack ends DELETE_FAILED (a resource that cannot be deleted).
    "fail_delete_stacks": [],
}


class SettingsError(ValueError):
    pass


class Settings:
    """The settings the control API reads and writes; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._defaults = copy.deepcopy(DEFAULTS)
        self._values = copy.deepcopy(DEFAULTS)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._values)

    def get(self, name: str) -> Any:
        with self._lock:
            return copy.deepcopy(self._values[name])

    def update(self, changes: Any) -> dict[str, Any]:
        """Applies any subset of the settings (`durations` merges); all or nothing."""
        if not isinstance(changes, dict):
            raise SettingsError("expected a JSON object of settings")
        with self._lock:
            values = copy.deepcopy(self._values)
            for key, value in changes.items():
                if key not in DEFAULTS:
                    raise SettingsError(f"unknown setting {key!r}; known: {', '.join(sorted(DEFAULTS))}")
                if key == "time_scale":
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                        raise SettingsError("time_scale must be a number >= 0 (emulator seconds per AWS second)")
                    values[key] = float(value)
                elif key == "durations":
                    if not isinstance(value, dict):
                        raise SettingsError("durations must be an object of AWS seconds")
                    for name, seconds in value.items():
                        if name not in DEFAULT_DURATIONS:
                            raise SettingsError(
                                f"unknown duration {name!r}; known: {', '.join(sorted(DEFAULT_DURATIONS))}"
                            )
                        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                            raise SettingsError(f"durations.{name} must be a number >= 0 (AWS seconds)")
                        values["durations"][name] = float(seconds)
                elif key == "s3_list_bucket":
                    if not isinstance(value, bool):
                        raise SettingsError("s3_list_bucket must be true or false")
                    values[key] = value
                elif key == "fail_delete_stacks":
                    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                        raise SettingsError("fail_delete_stacks must be a list of stack names")
                    values[key] = list(value)
            self._values = values
            return copy.deepcopy(values)

    def set_defaults(self, changes: dict[str, Any]) -> None:
        """Makes `changes` part of what a reset returns to (the launcher's --time-scale)."""
        self.update(changes)
        with self._lock:
            self._defaults = copy.deepcopy(self._values)

    def reset(self) -> None:
        with self._lock:
            self._values = copy.deepcopy(self._defaults)


SETTINGS = Settings()


def scale() -> float:
    return float(SETTINGS.get("time_scale"))


def aws_seconds(name: str) -> float:
    """A duration in AWS seconds, as configured."""
    return float(SETTINGS.get("durations")[name])


def seconds(name: str) -> float:
    """A duration in wall-clock seconds: its AWS seconds times the time scale."""
    return aws_seconds(name) * scale()


def now() -> float:
    return time.time()


def utc(at: float) -> datetime:
    """`at` as the naive UTC datetime moto's models carry (moto.core.utils.utcnow)."""
    return datetime.fromtimestamp(at, timezone.utc).replace(tzinfo=None)


def epoch(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=timezone.utc).timestamp()


def later(naive_utc: datetime, wall_seconds: float) -> datetime:
    return naive_utc + timedelta(seconds=wall_seconds)


# --- Reset ---------------------------------------------------------------------------------
# POST /moto-api/reset clears moto's backends; each module's own state (tokens, timelines,
# caller references) and the settings go with it.

_reset_hooks: list[Callable[[], None]] = []


def on_reset(hook: Callable[[], None]) -> Callable[[], None]:
    _reset_hooks.append(hook)
    return hook


def reset() -> None:
    SETTINGS.reset()
    for hook in _reset_hooks:
        hook()
