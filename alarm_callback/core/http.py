"""The one request and response type every event source is turned into.

Adapters (``alarm_callback.edges``) and the ASGI app build a `Request` from whatever
their platform hands them and render the `Response` back; the receiver never sees a
platform event. Header names are lower-case, the query keeps the first value of each key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from pydantic_core import to_json

_JSON_HEADERS = {"content-type": "application/json"}
# Shared defaults, so read-only: the records are NamedTuples (docs/architecture.md, "Value records").
_NONE: Mapping[str, str] = MappingProxyType({})
_JSON_ONLY: Mapping[str, str] = MappingProxyType(_JSON_HEADERS)


class Request(NamedTuple):
    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = _NONE
    query: Mapping[str, str] = _NONE
    source_ip: str | None = None
    source: str = "unknown"  # which adapter built it, for logs
    authenticated: bool = False  # set by an event source that has no HTTP edge (direct invocation)


class Response(NamedTuple):
    status: int
    body: bytes
    headers: Mapping[str, str] = _JSON_ONLY

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        body = to_json(payload)
        return cls(status, body, {**_JSON_HEADERS, **headers} if headers else dict(_JSON_HEADERS))

    @classmethod
    def error(cls, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> Response:
        """Every failure reply: ``{"error": code, "detail": text, "retCode": status}``."""
        return cls.json(status, {"error": code, "detail": detail, "retCode": status}, headers)

    def payload(self) -> Any:
        return json.loads(self.body)
