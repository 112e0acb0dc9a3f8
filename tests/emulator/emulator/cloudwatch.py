"""CloudWatch: reading a metric back as CloudWatch answers it, for the distribution metrics a
release watches (`5xxErrorRate` in namespace `AWS/CloudFront`, region us-east-1, dimensions
`DistributionId=<id>` and `Region=Global`: CloudFront Developer Guide, "Monitor CloudFront metrics
with Amazon CloudWatch").

moto 5.2.5 stores PutMetricData and answers GetMetricStatistics and GetMetricData, but not as
CloudWatch does (CloudWatch User Guide, "Dimensions": "a unique combination of a name, namespace
and dimensions is a separate metric ... you must specify the same dimensions that were used when
the metrics were created"; API reference GetMetricStatistics and GetMetricData, StartTime/EndTime/Period):

- GetMetricStatistics matched any datum that has the dimensions asked for among others (asking for
  DistributionId alone found data published with DistributionId and Region), and one asked without
  dimensions found every datum of the name. CloudWatch matches the dimension set exactly: a query
  without Region=Global finds nothing of CloudFront's metrics.
- GetMetricData with dimensions dropped the namespace test (another namespace's datum of the same
  name and dimensions was averaged in) and compared dimension sets with a broken ordering
  (moto's Dimension.__lt__), so dimensions given in another order could miss.
- Periods started at the first datum (GetMetricStatistics) or at StartTime to the microsecond.
  CloudWatch rounds StartTime down (to the minute when less than 15 days ago, 5 minutes when less
  than 63, else the hour), and every datapoint's timestamp is StartTime + k × Period; EndTime is
  exclusive. Period must be 1, 5, 10, 20, 30 or a multiple of 60 (InvalidParameterValue), and at most
  1,440 datapoints are asked for at once in GetMetricStatistics (InvalidParameterCombination).
- ListMetrics listed one entry per datum put (moto's duplicate test compares every dimension with
  every other); CloudWatch lists each metric once.

PutMetricData stays as moto has it. Note that CloudWatch refuses PutMetricData into a namespace
that starts with `AWS/`; the emulator accepts it, since the tests publish what CloudFront would.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

MAX_DATAPOINTS = 1440
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 20, 30)  # high-resolution metrics; standard ones: multiples of 60


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:  # moto's own timestamps are naive UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def _rounded_start(start: datetime) -> float:
    """StartTime as CloudWatch rounds it (GetMetricStatistics, GetMetricData: StartTime)."""
    at = _epoch(start)
    age = datetime.now(timezone.utc).timestamp() - at
    step = 60 if age < 15 * 86400 else 300 if age < 63 * 86400 else 3600
    return math.floor(at / step) * step


def _dimension_set(dimensions: Any) -> frozenset[tuple[str, str]]:
    found = set()
    for d in dimensions or []:
        if isinstance(d, dict):
            found.add((str(d.get("Name")), str(d.get("Value"))))
        else:
            found.add((str(d.name), str(d.value)))
    return frozenset(found)


def _select(backend: Any, namespace: str, name: str, dimensions: Any, unit: str | None) -> list[Any]:
    wanted = _dimension_set(dimensions)
    return [md for md in backend.get_all_metrics()
            if md.namespace == namespace and md.name == name and _dimension_set(md.dimensions) == wanted
            and (not unit or md.unit == unit)]


def _periods(data: list[Any], start: datetime, end: datetime, period: int) -> list[tuple[datetime, list[Any]]]:
    """The data by period, oldest first: periods start at the rounded StartTime, EndTime excluded;
    periods without data are left out, as CloudWatch leaves them out."""
    first, last = _rounded_start(start), _epoch(end)
    buckets: dict[int, list[Any]] = {}
    for md in data:
        at = _epoch(md.timestamp)
        if first <= at < last:
            buckets.setdefault(int((at - first) // period), []).append(md)
    return [(datetime.fromtimestamp(first + k * period, timezone.utc), buckets[k]) for k in sorted(buckets)]


def _check_period(period: Any) -> int:
    from moto.cloudwatch.exceptions import InvalidParameterValue

    try:
        value = int(period)
    except (TypeError, ValueError):
        raise InvalidParameterValue("The parameter Period must be a number of seconds.") from None
    if value <= 0 or (value < 60 and value not in HIGH_RESOLUTION_PERIODS) or (value >= 60 and value % 60):
        raise InvalidParameterValue(f"The parameter Period must be 1, 5, 10, 20, 30 or a multiple of 60, not {value}.")
    return value


def _patch_backend() -> None:
    from moto.cloudwatch import models as cw_models
    from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue, ValidationError

    backend_cls = cw_models.CloudWatchBackend
    original_get_metric_data = backend_cls.get_metric_data

    def get_metric_statistics(self: Any, namespace: str, metric_name: str, start_time: datetime, end_time: datetime,
                              period: int, stats: list[str], dimensions: list[dict[str, str]],
                              unit: str | None = None) -> list[Any]:
        period = _check_period(period)
        if _epoch(start_time) >= _epoch(end_time):
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        asked = math.ceil((_epoch(end_time) - _rounded_start(start_time)) / period)
        if asked > MAX_DATAPOINTS:
            raise InvalidParameterCombination(
                f"You have requested up to {asked} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. "
                "You may reduce the datapoints requested by increasing Period, or decreasing the time range.")
        data = _select(self, namespace, metric_name, dimensions, unit)
        answer = []
        for at, members in _periods(data, start_time, end_time, period):
            statistics = cw_models.Statistics(stats, at)
            statistics.metric_data = members
            statistics.unit = members[-1].unit
            answer.append(statistics)
        return answer

    def get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime,
                        scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
        if _epoch(start_time) > _epoch(end_time):
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        if _epoch(start_time) == _epoch(end_time):
            raise ValidationError("The parameter StartTime must not equal parameter EndTime.")
        computed: dict[str, dict[str, Any]] = {}
        for query in (q for q in queries if "MetricStat" in q):
            stat = query["MetricStat"]
            metric = stat["Metric"]
            period = _check_period(stat["Period"])
            data = _select(self, metric["Namespace"], metric["MetricName"], metric.get("Dimensions"), stat.get("Unit"))
            timestamps, values = [], []
            for at, members in _periods(data, start_time, end_time, period):
                statistics = cw_models.Statistics([stat["Stat"]], at)
                statistics.metric_data = members
                timestamps.append(at)
                values.append(statistics.get_statistics_for_type(stat["Stat"]))
            if scan_by == "TimestampDescending":
                timestamps.reverse()
                values.reverse()
            computed[query["Id"]] = {"id": query["Id"], "label": query.get("Label") or f"{metric['MetricName']} {stat['Stat']}",
                                     "values": values, "timestamps": timestamps, "status_code": "Complete"}
        # Metric math over those results, and Metrics Insights queries, as moto answers them.
        others = [q for q in queries if "MetricStat" not in q]
        inherited: dict[str, dict[str, Any]] = {}
        math_queries = [q for q in others if not str(q.get("Expression", "")).startswith("SELECT")]
        for query in math_queries:
            values, timestamps = cw_models.parse_expression(query["Expression"], list(computed.values()))
            inherited[query["Id"]] = {"id": query["Id"], "label": query.get("Label") or query["Id"], "values": values,
                                      "timestamps": timestamps, "status_code": "Complete"}
        insights = [q for q in others if q not in math_queries]
        if insights:
            for result in original_get_metric_data(self, insights, start_time, end_time, scan_by):
                inherited[result["id"]] = result
        answer = []
        for query in queries:
            result = computed.get(query["Id"]) or inherited.get(query["Id"])
            if result is not None and query.get("ReturnData", True):
                answer.append(result)
        return answer

    def get_filtered_metrics(self: Any, metric_name: str, namespace: str, dimensions: list[dict[str, str]]) -> list[Any]:
        seen, found = set(), []
        for md in self.get_all_metrics():
            if not md.filter(namespace=namespace, name=metric_name, dimensions=dimensions):
                continue
            key = (md.namespace, md.name, _dimension_set(md.dimensions))
            if key not in seen:
                seen.add(key)
                found.append(md)
        return found

    backend_cls.get_metric_statistics = get_metric_statistics
    backend_cls.get_metric_data = get_metric_data
    backend_cls.get_filtered_metrics = get_filtered_metrics


def install() -> None:
    _patch_backend()

