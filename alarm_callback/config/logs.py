"""Structured logs: one JSON object per line, so CloudWatch / CLS queries can filter fields.

Library code only calls ``logging.getLogger("alarm_callback")`` with ``extra={...}``; the
entry points call `configure` once and `invocation` per event. Every ``extra`` field is
lifted into the JSON object (an open set: a new field needs no change here), error lines
carry the formatted traceback, and every line of an invocation carries the platform's
request id and whether it ran in a cold container.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from pydantic_core import to_json

LOGGER = "alarm_callback"
EMF_NAMESPACE = "AlarmCallback"

# The attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
# The current invocation's (request id, cold start), or None outside one: one variable, so
# entering an invocation is one set and one reset, and a line reads both with one get.
_invocation: contextvars.ContextVar[tuple[str | None, bool] | None] = contextvars.ContextVar("invocation", default=None)
_cold = True
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class invocation:  # lower case: it replaces a function of that name, its callers unchanged
    """Tag every line logged inside with the platform request id and the cold-start flag
    (true for the first invocation of a container). A class rather than a
    `contextlib.contextmanager` generator: it is entered once per callback."""

    __slots__ = ("_request_id", "_token")

    def __init__(self, request_id: str | None) -> None:
        self._request_id = request_id

    def __enter__(self) -> None:
        global _cold
        self._token = _invocation.set((self._request_id, _cold))
        _cold = False

    def __exit__(self, *exc: object) -> None:
        _invocation.reset(self._token)


def request_id_of(context: Any) -> str | None:
    """Lambda's ``aws_request_id`` or SCF's ``request_id`` (a dict on SCF's Python runtime)."""
    for name in ("aws_request_id", "request_id"):
        value = context.get(name) if isinstance(context, dict) else getattr(context, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds")


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
        fields = {field: value for field, value in record.__dict__.items() if field not in _STANDARD}
        exc_info = record.exc_info if record.exc_info and record.exc_info[0] is not None else None
        return self.format_fields(record.created, record.levelname, record.name, record.getMessage(), fields, exc_info)

    def format_fields(
        self,
        created: float,
        levelname: str,
        name: str,
        message: str,
        fields: Mapping[str, object],
        exc_info: ExcInfo | None = None,
    ) -> str:
        """The line of one record, from its parts (`core.logline` calls this without a
        LogRecord): `fields` are the ``extra`` ones; None values are left out."""
        entry: dict[str, object] = {
            "time": _timestamp(created),
            "level": levelname,
            "logger": name,
            "message": self._mask(message),
        }
        current = _invocation.get()
        if current is not None and current[0] is not None:
            entry["request_id"] = current[0]
            entry["cold_start"] = current[1]
        for field, value in fields.items():
            if value is not None:
                entry[field] = value
        if exc_info is not None:
            entry["error"] = self._mask(f"{exc_info[0].__name__}: {exc_info[1]}")
            entry["traceback"] = self._mask(self.formatException(exc_info))
        if self.emf and "outcome" in entry:
            entry["Callbacks"] = 1
            entry["LatencyMs"] = entry.get("latency_ms", 0)
            entry["_aws"] = {
                "Timestamp": int(created * 1000),
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
        return to_json(entry, fallback=str).decode()

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


def configure(level: str = "INFO", secrets: tuple[str, ...] = (), emf: bool = False) -> None:
    """Install the JSON handler on the package logger (replacing an earlier one). Only our
    logger is touched: process-wide `logging` flags other libraries rely on stay as they are."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level.upper())
    for old in [h for h in logger.handlers if isinstance(h.formatter, JsonFormatter)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets, emf))
    logger.addHandler(handler)
    logger.propagate = False
