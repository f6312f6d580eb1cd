"""Quirks shared by the gateway adapters: header case, base64 bodies, query values."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any


def lower_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Header names lower-cased; list values (multi-value headers) joined by ', '."""
    result: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(item) for item in value)
        result[str(name).lower()] = "" if value is None else str(value)
    return result


def first_values(query: Mapping[str, Any] | None) -> dict[str, str]:
    """Query parameters with one value each: lists give their first item, `True`
    (SCF's value-less key) gives ''."""
    result: dict[str, str] = {}
    for name, value in (query or {}).items():
        if isinstance(value, (list, tuple)):
            value = value[0] if value else ""
        if value is True or value is None:
            value = ""
        result[str(name)] = str(value)
    return result


def body_bytes(body: Any, is_base64: bool) -> bytes:
    """The raw body. A base64 body that does not decode is passed on as-is, so the
    receiver answers 400 and quarantines it rather than the adapter raising."""
    if body is None:
        return b""
    if isinstance(body, (dict, list)):  # some test tools hand over parsed JSON
        return json.dumps(body).encode()
    raw = body if isinstance(body, bytes) else str(body).encode("utf-8", "surrogateescape")
    if is_base64:
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return raw
    return raw


def encode_body(response_body: bytes) -> tuple[str, bool]:
    """A response body as text for a JSON gateway reply; base64 when not UTF-8."""
    try:
        return response_body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(response_body).decode(), True
