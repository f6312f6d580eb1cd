"""Quirks shared by the gateway adapters: header case, base64 bodies, query values, the
merging of single- and multi-value maps, and the generic reading of an HTTP-shaped event."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from ..core.http import Request, Response


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


def merge_values(*maps: Mapping[str, Any] | None, fold_case: bool = False) -> dict[str, list[str]]:
    """Several parameter maps of one request as one map of value lists.

    Gateways send the same parameters twice (``headers`` and ``multiValueHeaders``,
    ``queryStringParameters`` and ``multiValueQueryStringParameters``, SCF's ``queryString``
    and ``queryStringParameters``) and the copies may disagree: a key can be in one map only,
    and a single-value map keeps only one of a repeated key's values. So every key of every
    map is kept; for a key in several maps, the first map (in argument order) that has a
    value for it wins, so pass the most complete map first. A list value (multi-value
    maps, SCF's repeated key) is kept whole, ``True`` (SCF's key without a value) and
    ``None`` give ``""``. ``fold_case`` lower-cases the keys (header names)."""
    result: dict[str, list[str]] = {}
    for mapping in maps:
        if mapping is None or not isinstance(mapping, Mapping):  # None (the usual absent map) skips the ABC check
            continue
        for name, value in mapping.items():
            key = str(name).lower() if fold_case else str(name)
            if key in result:
                continue
            texts = _texts(value)
            if texts:
                result[key] = texts
    return result


def _texts(value: Any) -> list[str]:
    """One map value as `merge_values` keeps it: a list's (or tuple's) items, or the value
    alone, each as text (``True`` and ``None``: ``""``); empty for an empty list."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    return ["" if item is True or item is None else str(item) for item in items]


def joined_headers(*maps: Mapping[str, Any] | None) -> dict[str, str]:
    """Header maps merged as `merge_values` merges them, names lower-cased, repeated values
    joined by ', '. Built in one pass, without `merge_values`' list per header: a plain text
    value (nearly every header of every event) is its own joined value, anything else goes
    through `_texts` as `merge_values` would take it."""
    result: dict[str, str] = {}
    for mapping in maps:
        if mapping is None or not isinstance(mapping, Mapping):  # None (the usual absent map) skips the ABC check
            continue
        for name, value in mapping.items():
            key = str(name).lower()
            if key in result:
                continue
            if type(value) is str:
                result[key] = value
                continue
            texts = _texts(value)
            if texts:
                result[key] = ", ".join(texts)
    return result


def first_query(*maps: Mapping[str, Any] | None) -> dict[str, str]:
    """Query maps merged (see `merge_values`), each key with its first value."""
    return {name: values[0] for name, values in merge_values(*maps).items()}


def dig(event: Any, *keys: str) -> Any:
    """``event[k1][k2]...`` or None when any step is missing or not a dict."""
    for key in keys:
        if not isinstance(event, dict):
            return None
        event = event.get(key)
    return event


# Where an HTTP-shaped event keeps the method, in the order the shapes prefer it.
METHOD_FIELDS: tuple[tuple[str, ...], ...] = (
    ("httpMethod",),
    ("requestContext", "http", "method"),
    ("requestContext", "httpMethod"),
)


def http_method(event: Any) -> str | None:
    """The request method under any spelling a gateway uses, or None (no HTTP shape)."""
    for path in METHOD_FIELDS:
        value = dig(event, *path)
        if isinstance(value, str) and value:
            return value
    return None


def http_reply(response: Response) -> dict[str, Any]:
    """The proxy-integration reply every JSON gateway accepts (AWS REST/HTTP API, Function
    URLs, Tencent's API gateway with integrated response): the most likely shape for an
    event nothing more specific recognised."""
    body, is_base64 = encode_body(response.body)
    return {
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": body,
        "isBase64Encoded": is_base64,
    }


def generic_request(event: dict[str, Any], source: str) -> Request:
    """An HTTP-shaped event whose source is unknown, read from every spelling the known
    shapes use (AWS REST/HTTP API/ALB, Tencent gateway, Function URL, scf CLI)."""
    found = event.get("requestContext")
    context: dict[str, Any] = found if isinstance(found, dict) else {}
    raw_query = event.get("rawQueryString")
    path = event.get("path") or event.get("rawPath") or dig(context, "http", "path") or context.get("path") or "/"
    source_ip = dig(context, "http", "sourceIp") or context.get("sourceIp") or dig(context, "identity", "sourceIp")
    headers = joined_headers(
        event.get("multiValueHeaders"),
        event.get("headers"),
        event.get("headerParameters"),
        event.get("headersParameters"),
    )
    return Request(
        method=http_method(event) or "",
        path=str(path),
        body=body_bytes(event.get("body"), event.get("isBase64Encoded") is True),
        headers=headers,
        query=first_query(
            parse_qs(raw_query, keep_blank_values=True) if isinstance(raw_query, str) and raw_query else None,
            event.get("multiValueQueryStringParameters"),
            event.get("queryString"),
            event.get("queryStringParameters"),
        ),
        source_ip=str(source_ip) if source_ip else None,
        source=source,
    )
