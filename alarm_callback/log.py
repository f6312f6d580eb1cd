"""Structured logs: one JSON object per line, so CloudWatch / CLS queries can filter fields.

Library code only calls ``logging.getLogger("alarm_callback")`` with ``extra={...}``; the
entry points call `configure` once. Fields listed in `FIELDS` are lifted out of the log
record into the JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

LOGGER = "alarm_callback"
FIELDS = (
    "outcome",
    "status_code",
    "reason",
    "dedup_key",
    "fingerprint",
    "alarm_status",
    "kind",
    "source",
    "latency_ms",
    "published",
    "failed",
)


EMF_NAMESPACE = "AlarmCallback"


class JsonFormatter(logging.Formatter):
    """JSON lines. `secrets` are masked in every message and error text (a backend error can
    quote a URL with its password). With `emf`, each callback line is also a CloudWatch
    Embedded Metric Format record: a `Callbacks` count and `LatencyMs` per `outcome`, which
    CloudWatch turns into metrics a user can alarm on without any API call."""

    def __init__(self, secrets: tuple[str, ...] = (), emf: bool = False) -> None:
        super().__init__()
        self.secrets = tuple(secret for secret in secrets if secret)
        self.emf = emf

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._mask(record.getMessage()),
        }
        for field in FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = self._mask(f"{record.exc_info[0].__name__}: {record.exc_info[1]}")
        if self.emf and "outcome" in entry:
            entry["Callbacks"] = 1
            entry["LatencyMs"] = entry.get("latency_ms", 0)
            entry["_aws"] = {
                "Timestamp": int(record.created * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": EMF_NAMESPACE,
                        "Dimensions": [["outcome"]],
                        "Metrics": [
                            {"Name": "Callbacks", "Unit": "Count"},
                            {"Name": "LatencyMs", "Unit": "Milliseconds"},
                        ],
                    }
                ],
            }
        return json.dumps(entry, ensure_ascii=False, default=str)

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


def configure(level: str = "INFO", secrets: tuple[str, ...] = (), emf: bool = False) -> None:
    """Install the JSON handler on the package logger (replacing an earlier one)."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level.upper())
    for old in [h for h in logger.handlers if isinstance(h.formatter, JsonFormatter)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets, emf))
    logger.addHandler(handler)
    logger.propagate = False
