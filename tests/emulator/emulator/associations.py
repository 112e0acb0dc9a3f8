"""Every Lambda@Edge association each distribution has had, and when: what the tests read to tell
which versions a release ever exposed (a candidate that reached the primary, a staging distribution
that served a version, a rollback), however the configuration changed.

CloudFront keeps no such history: GetDistributionConfig shows the configuration of now only, and
moto likewise. The emulator records the associations of every distribution when it is created
(CreateDistribution, CopyDistribution, a stack's AWS::CloudFront::Distribution), each time an
update changes them (UpdateDistribution, UpdateDistributionWithStagingConfig, a stack's update or
its rollback, which all end in moto's update_distribution) and when the distribution is deleted.
The control API serves it (control.py: GET /_emulator/associations?DistributionId=E...); it is kept
after the distribution is deleted and cleared by POST /moto-api/reset.

One entry per change: {"At": epoch seconds, "Associations": [{"EventType", "LambdaFunctionARN"}, ...]},
the default cache behavior's first, then each cache behavior's in order with its "PathPattern"; an
update that leaves them as they were adds nothing; a deletion adds {"At", "Associations": [],
"Deleted": true}.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from . import clock
from .util import items_of

_history: dict[str, list[dict[str, Any]]] = {}
_lock = threading.Lock()


def associations_of(config: Any) -> list[dict[str, str]]:
    """The associations of a DistributionConfig (moto's model), in the order CloudFront lists them."""
    found: list[dict[str, str]] = []
    behaviors = [(None, getattr(config, "DefaultCacheBehavior", None))]
    behaviors += [(getattr(b, "path_pattern", ""), b) for b in items_of(getattr(config, "CacheBehaviors", None))]
    for pattern, behavior in behaviors:
        for association in items_of(getattr(behavior, "lambda_function_associations", None)):
            if not isinstance(association, dict) or not association.get("LambdaFunctionARN"):
                continue
            entry = {"EventType": str(association.get("EventType", "")),
                     "LambdaFunctionARN": str(association["LambdaFunctionARN"])}
            if pattern is not None:
                entry["PathPattern"] = str(pattern)
            found.append(entry)
    return found


def record(distribution_id: str, config: Any = None, deleted: bool = False) -> None:
    entry: dict[str, Any] = {"At": clock.now(), "Associations": [] if deleted else associations_of(config)}
    if deleted:
        entry["Deleted"] = True
    with _lock:
        entries = _history.setdefault(distribution_id, [])
        last = entries[-1] if entries else None
        if last is not None and not deleted and not last.get("Deleted") and last["Associations"] == entry["Associations"]:
            return
        entries.append(entry)


def history(distribution_id: str) -> list[dict[str, Any]] | None:
    """The distribution's entries, oldest first; None if it never existed."""
    with _lock:
        entries = _history.get(distribution_id)
        return copy.deepcopy(entries) if entries is not None else None


def _patch_backend() -> None:
    import moto.cloudfront.models as cf_models

    backend_cls = cf_models.CloudFrontBackend
    original_create = backend_cls.create_distribution_with_tags
    original_update = backend_cls.update_distribution
    original_delete = backend_cls.delete_distribution

    def create_distribution_with_tags(self: Any, distribution_config: dict[str, Any], tags: list[Any]) -> Any:
        known = set(self.distributions)
        result = original_create(self, distribution_config, tags)
        dist = result[0]
        if dist.distribution_id not in known:  # not a retry answered with the earlier distribution
            record(dist.distribution_id, dist.distribution_config)
        return result

    def update_distribution(self: Any, dist_config: dict[str, Any], _id: str, if_match: Any) -> Any:
        result = original_update(self, dist_config, _id, if_match)
        record(_id, result[0].distribution_config)
        return result

    def delete_distribution(self: Any, distribution_id: str, if_match: Any) -> None:
        original_delete(self, distribution_id, if_match)
        record(distribution_id, deleted=True)

    backend_cls.create_distribution_with_tags = create_distribution_with_tags
    backend_cls.update_distribution = update_distribution
    backend_cls.delete_distribution = delete_distribution


def _reset() -> None:
    with _lock:
        _history.clear()


def install() -> None:
    _patch_backend()
    clock.on_reset(_reset)
