"""Structured logs: one JSON object per line, so CloudWatch / CLS queries can filter fields.

Library code only calls ``logging.getLogger("alarm_callback")`` with ``extra={...}``; the
entry points call `configure` once. Fields listed in `FIELDS` are lifted out of the log
record into the JSON object.
"""

from __future__ import annotations

import logging
import sys
import time

from .http import json_encoder

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

# json.dumps(entry, ensure_ascii=False, default=str), with the encoder built once
_dumps = json_encoder(default=str)


def _timestamp(created: float) -> str:
    """`datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds")`,
    with the date and time of day formatted once per second (the cache is one tuple, swapped
    in one assignment, so threads never pair a second with another second's text)."""
    global _second_text
    seconds = int(created)
    micros = round((created - seconds) * 1e6)
    if micros >= 1_000_000:
        seconds += 1
        micros -= 1_000_000
    cached = _second_text
    if cached[0] != seconds:
        cached = _second_text = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{cached[1]}.{micros // 1000:03d}+00:00"


_second_text: tuple[int, str] = (-1, "")


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
            "time": _timestamp(record.created),
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
        return _dumps(entry)

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
    # The JSON lines never show thread or process names: skip collecting them per record
    # (the flags the logging HOWTO's "Optimization" section documents).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
