"""Event-source adapters. Each platform's entry point tries only its own adapters.

Listed as import paths so that a platform imports only the adapters it can receive.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from .base import Adapter, UnknownEventError, select

AWS: tuple[str, ...] = (
    "alarm_callback.handlers.aws:RestApiAdapter",
    "alarm_callback.handlers.aws:HttpApiAdapter",
    "alarm_callback.handlers.aws:FunctionUrlAdapter",
)
SCF: tuple[str, ...] = (
    "alarm_callback.handlers.scf:ApiGatewayAdapter",
    "alarm_callback.handlers.scf:FunctionUrlAdapter",
    "alarm_callback.handlers.scf:DirectInvocationAdapter",
)


def load(paths: Sequence[str]) -> tuple[type[Adapter], ...]:
    classes = []
    for path in paths:
        module_name, _, class_name = path.partition(":")
        classes.append(getattr(importlib.import_module(module_name), class_name))
    return tuple(classes)


__all__ = ["AWS", "SCF", "Adapter", "UnknownEventError", "load", "select"]
