"""Event-source adapters. Each platform's entry point tries only its own adapters.

Listed as import paths so that a platform imports only the adapters it can receive.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from .base import Adapter, UnknownEventError, select

AWS: tuple[str, ...] = (
    "alarm_callback.edges.aws:RestApiAdapter",
    "alarm_callback.edges.aws:AlbAdapter",
    "alarm_callback.edges.aws:HttpApiAdapter",
    "alarm_callback.edges.aws:FunctionUrlAdapter",
    "alarm_callback.edges.aws:HttpFallbackAdapter",
)
SCF: tuple[str, ...] = (
    "alarm_callback.edges.scf:ApiGatewayAdapter",
    "alarm_callback.edges.scf:HttpTriggerAdapter",
    "alarm_callback.edges.scf:FunctionUrlAdapter",
    "alarm_callback.edges.scf:DirectInvocationAdapter",
    "alarm_callback.edges.scf:HttpFallbackAdapter",
)


def load(paths: Sequence[str]) -> tuple[type[Adapter], ...]:
    classes = []
    for path in paths:
        module_name, _, class_name = path.partition(":")
        classes.append(getattr(importlib.import_module(module_name), class_name))
    return tuple(classes)


__all__ = ["AWS", "SCF", "Adapter", "UnknownEventError", "load", "select"]
