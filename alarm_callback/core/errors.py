"""Errors the backends raise. The receiver maps them to its outcomes; nothing else leaks.

Also `json_setting`: the first check of a setting written as JSON (``IDENTITY_FIELDS``,
``ROUTES``), so each says "not JSON" / "must be ..." the same way.
"""

from __future__ import annotations

import json
from typing import Any


class BackendError(Exception):
    """A store, publisher or quarantine call failed (network, throttling, timeout...)."""


class StoreError(BackendError):
    pass


class PublishError(BackendError):
    pass


class QuarantineError(BackendError):
    pass


class ConfigError(ValueError):
    """Settings that cannot work (unknown URL scheme, missing credential...)."""


def json_setting(text: str, name: str, expected: type, shape: str, error: type[ValueError] = ConfigError) -> Any:
    """`text` read as JSON that must be an `expected` (dict, list), else `error` naming the
    setting and the `shape` it takes: a start-up message a person can act on."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise error(f"{name} is not JSON: {exc}") from exc
    if not isinstance(value, expected):
        raise error(f"{name} must be {shape}")
    return value
