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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    """Install the JSON handler on the package logger (idempotent)."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level.upper())
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
