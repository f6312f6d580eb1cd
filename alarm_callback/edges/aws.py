"""AWS Lambda event sources: API Gateway REST (payload 1.0), HTTP API (payload 2.0) and
Lambda Function URLs. No boto3 here: an adapter only reshapes the event.

Detection relies on fields each source always sets, and the three tests exclude each other:

* REST / payload 1.0: ``httpMethod`` plus a ``requestContext`` with ``apiId``, and no
  ``version`` other than ``"1.0"`` (REST APIs send none, HTTP APIs on 1.0 send ``"1.0"``).
  An ALB event also has ``httpMethod`` but its ``requestContext`` holds only ``elb``.
* HTTP API / payload 2.0: ``version == "2.0"`` and ``requestContext.http``.
* Function URL: the 2.0 shape too (AWS reuses it), told apart by its domain,
  ``<url-id>.lambda-url.<region>.on.aws``, which API Gateway never uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from ..core.http import Request, Response
from .base import Adapter
from .utils import body_bytes, encode_body, first_values, lower_headers

_FUNCTION_URL_DOMAIN = ".lambda-url."


def _context(event: Any) -> Mapping[str, Any]:
    context = event.get("requestContext") if isinstance(event, dict) else None
    return context if isinstance(context, dict) else {}


def _is_v2(event: Any) -> bool:
    return isinstance(event, dict) and event.get("version") == "2.0" and isinstance(_context(event).get("http"), dict)


def _is_function_url(event: Any) -> bool:
    return _FUNCTION_URL_DOMAIN in str(_context(event).get("domainName", ""))


def _proxy_reply(response: Response) -> dict[str, Any]:
    """The proxy-integration reply; every one of the three sources accepts this shape."""
    body, is_base64 = encode_body(response.body)
    return {
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": body,
        "isBase64Encoded": is_base64,
    }


class RestApiAdapter(Adapter):
    """API Gateway REST API (and HTTP API on payload format 1.0), Lambda proxy integration."""

    name = "aws-rest-api"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return (
            isinstance(event, dict)
            and isinstance(event.get("httpMethod"), str)
            and event.get("version", "1.0") == "1.0"
            and "apiId" in _context(event)
        )

    @property
    def request(self) -> Request:
        event = self.event
        # The multi-value maps hold every value; the single-value ones only the last.
        headers = event.get("multiValueHeaders") or event.get("headers")
        query = event.get("multiValueQueryStringParameters") or event.get("queryStringParameters")
        identity = _context(event).get("identity") or {}
        return Request(
            method=str(event["httpMethod"]),
            path=str(event.get("path") or "/"),
            body=body_bytes(event.get("body"), bool(event.get("isBase64Encoded"))),
            headers=lower_headers(headers),
            query=first_values(query),
            source_ip=identity.get("sourceIp"),
            source=self.name,
        )

    def render(self, response: Response) -> dict[str, Any]:
        return _proxy_reply(response)


class HttpApiAdapter(Adapter):
    """API Gateway HTTP API, payload format 2.0 (what serverless.yml's `httpApi` deploys)."""

    name = "aws-http-api"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return _is_v2(event) and not _is_function_url(event)

    @property
    def request(self) -> Request:
        event = self.event
        http = _context(event)["http"]
        # rawQueryString keeps repeated keys apart (queryStringParameters joins them with ",").
        raw_query = event.get("rawQueryString")
        query = parse_qs(raw_query, keep_blank_values=True) if raw_query else event.get("queryStringParameters")
        return Request(
            method=str(http.get("method", "")),
            path=str(http.get("path") or event.get("rawPath") or "/"),
            body=body_bytes(event.get("body"), bool(event.get("isBase64Encoded"))),
            headers=lower_headers(event.get("headers")),
            query=first_values(query),
            source_ip=http.get("sourceIp"),
            source=self.name,
        )

    def render(self, response: Response) -> dict[str, Any]:
        return _proxy_reply(response)


class FunctionUrlAdapter(HttpApiAdapter):
    """Lambda Function URL (auth type NONE): the 2.0 shape on a ``.lambda-url.`` domain."""

    name = "aws-function-url"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return _is_v2(event) and _is_function_url(event)
