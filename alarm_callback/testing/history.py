"""A fake Cloud Monitor alarm history built from what the simulator sent.

`SimulatedHistory` is a `reconcile.run.HistorySource`: it lists one DescribeAlarmHistories
record (the shape of tests/fixtures/history/describe-alarm-histories.json) per new alarm
the simulator has sent so far, for a seeded share of them (the history API is not the
whole truth either), ``AlarmStatus: OK`` with the recovery time as ``LastOccurTime`` once
its recovery was sent. Each record maps (`reconcile.records.to_alarm`) to the fingerprint
and occurrence the callback's message has; `add` checks that, so a drift between the two
mappings fails the chaos run instead of hiding in it.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timezone
from typing import Any

from ..core.build import MessageBuilder
from ..core.identity import occurrence_key
from ..core.times import load_timezone
from ..reconcile.records import to_alarm
from ..reconcile.run import Listing
from .simulator import VENDOR_TIME, Item


class HistoryMismatch(AssertionError):
    """A history record would not meet its callback under the same occurrence key."""


class SimulatedHistory:
    def __init__(self, seed: int = 0, share: float = 0.8) -> None:
        self.share = share
        self.tz = load_timezone("Asia/Shanghai")
        self.builder = MessageBuilder(self.tz)
        self._random = random.Random(seed + 2)  # noqa: S311  # nosec B311
        self.records: dict[str, dict[str, Any]] = {}  # by instance id
        self.occurrences: dict[str, str] = {}  # occurrence key -> the history message id
        self.listed = 0

    def _epoch(self, vendor_time: str) -> int:
        return int(datetime.strptime(vendor_time, VENDOR_TIME).replace(tzinfo=self.tz).timestamp())

    def add(self, item: Item) -> None:
        """Take note of a sent delivery: a new alarm (maybe) enters the history; a recovery
        turns its record OK."""
        if item.key is None or item.kind not in ("firing", "recovery"):
            return
        alarm = json.loads(item.body)
        instance = alarm["alarmObjInfo"]["dimensions"]["unInstanceId"]
        if item.kind == "recovery":
            known = self.records.get(instance)
            if known is not None and known["AlarmStatus"] != "OK":
                known.update({"AlarmStatus": "OK", "LastOccurTime": self._epoch(alarm["recoverTime"])})
                self._check(known, alarm, item.key, "resolved")
            return
        if self._random.random() >= self.share:
            return
        policy = alarm["alarmPolicyInfo"]
        conditions = policy.get("conditions") or {}
        first = self._epoch(alarm["firstOccurTime"])
        metric = alarm["alarmType"] == "metric"
        record: dict[str, Any] = {
            "AlarmId": hashlib.sha256(f"{item.key}".encode()).hexdigest()[:8] + f"-{instance}",
            "AlarmType": "METRIC" if metric else "EVENT",
            "AlarmStatus": "ALARM",
            "AlarmLevel": alarm.get("alarmLevel", ""),
            "PolicyId": policy.get("policyId"),
            "PolicyName": policy.get("policyName"),
            "Namespace": policy.get("policyType"),
            "Region": alarm["alarmObjInfo"].get("region"),
            "AlarmObject": instance,
            "Content": conditions.get("metricShowName") or conditions.get("eventShowName"),
            "FirstOccurTime": first,
            "LastOccurTime": first + 60,
            "EventId": 0 if metric else 1843,
            "MetricsInfo": [
                {
                    "QceNamespace": alarm["alarmObjInfo"].get("namespace"),
                    "MetricName": conditions.get("metricName"),
                    "Period": 60,
                    "Value": str(conditions.get("currentValue", "")),
                    "Description": conditions.get("metricShowName"),
                }
            ]
            if metric
            else [],
            "Dimensions": json.dumps({"InstanceId": instance}),
        }
        if not metric:
            record["MetricName"] = conditions.get("eventName")
        self.records[instance] = record
        self._check(record, alarm, item.key, "firing")

    def _check(self, record: dict[str, Any], alarm: dict[str, Any], key: str, status: str) -> None:
        received = datetime.now(timezone.utc)
        from_history, _ = to_alarm(record, status, received)  # type: ignore[arg-type]
        from_callback = self.builder.build(alarm, key, received.timestamp())
        occurrence = occurrence_key(from_history.fingerprint, from_history.first_occur_time, status)
        if occurrence is None or occurrence != from_callback.occurrence:
            raise HistoryMismatch(f"{record['AlarmId']} {status}: {occurrence} != {from_callback.occurrence}")
        self.occurrences[occurrence] = from_history.id

    def list(self, start: int, end: int) -> Listing:
        self.listed += 1
        found = [dict(r) for r in self.records.values() if start <= r["FirstOccurTime"] <= end]
        return Listing(found, requests=1, pages=1)

    def window(self) -> tuple[float, float]:
        """A reconcile `now` whose window (``since`` = a day, ``until`` = 0) covers every record."""
        last = max((r["LastOccurTime"] for r in self.records.values()), default=0)
        return float(last + 60), 86400.0
