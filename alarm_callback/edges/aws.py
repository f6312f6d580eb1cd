"""AWS Lambda event sources: API Gateway REST (payload 1.0), HTTP API (payload 2.0), Lambda
Function URLs and Application Load Balancer targets, plus a fallback for any other
HTTP-shaped event. No boto3 here: an adapter only reshapes the event.

Detection relies on the fields each source sets, and the tests exclude each other:

* REST / payload 1.0: ``httpMethod``, no ``version`` other than ``"1.0"`` (REST APIs send
  none, HTTP APIs on 1.0 send ``"1.0"``), and a ``requestContext`` that is API Gateway's:
  it has ``apiId`` or ``resourcePath`` (the AWS docs' own sample has no ``apiId``), and
  neither ``elb`` nor ``http``.
* ALB: ``httpMethod`` and ``requestContext.elb`` (the only key an ALB context holds). The
  target group sends either single-value maps or, with multi-value headers enabled, only
  ``multiValueHeaders`` / ``multiValueQueryStringParameters``; the reply must use the same
  mode and carry ``statusDescription``.
* HTTP API / payload 2.0: ``version == "2.0"`` and ``requestContext.http``.
* Function URL: the 2.0 shape too (AWS reuses it), told apart by its domain,
  ``<url-id>.lambda-url.<region>.on.aws``, which API Gateway never uses.
* Fallback: an HTTP method under any spelling and none of the above (see `FallbackAdapter`).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from ..core.http import Request, Response
from .base import Adapter, FallbackAdapter
from .utils import body_bytes, first_query, http_reply, joined_headers, merge_values

_FUNCTION_URL_DOMAIN = ".lambda-url."
_REST_CONTEXT_MARKERS = ("apiId", "resourcePath")


def _context(event: Any) -> Mapping[str, Any]:
    context = event.get("requestContext") if isinstance(event, dict) else None
    return context if isinstance(context, dict) else {}


def _is_v2(event: Any) -> bool:
    return isinstance(event, dict) and event.get("version") == "2.0" and isinstance(_context(event).get("http"), dict)


def _is_function_url(event: Any) -> bool:
    return _FUNCTION_URL_DOMAIN in str(_context(event).get("domainName", ""))


class RestApiAdapter(Adapter):
    """API Gateway REST API (and HTTP API on payload format 1.0), Lambda proxy integration."""

    name = "aws-rest-api"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        if not (isinstance(event, dict) and isinstance(event.get("httpMethod"), str)):
            return False  # the cheap test first: a 2.0 event has no httpMethod
        request_context = _context(event)
        return (
            event.get("version", "1.0") == "1.0"
            and any(marker in request_context for marker in _REST_CONTEXT_MARKERS)
            and "elb" not in request_context
            and "http" not in request_context
        )

    @property
    def request(self) -> Request:
        event = self.event
        identity = _context(event).get("identity")
        source_ip = identity.get("sourceIp") if isinstance(identity, dict) else None
        return Request(
            method=str(event["httpMethod"]),
            path=str(event.get("path") or "/"),
            body=body_bytes(event.get("body"), bool(event.get("isBase64Encoded"))),
            # The multi-value maps hold every value of a repeated key, but a key may be in
            # the single-value map only: both are read, the multi-value one first.
            headers=joined_headers(event.get("multiValueHeaders"), event.get("headers")),
            query=first_query(event.get("multiValueQueryStringParameters"), event.get("queryStringParameters")),
            source_ip=str(source_ip) if source_ip else None,
            source=self.name,
        )

    def render(self, response: Response) -> dict[str, Any]:
        return http_reply(response)


def _unquoted(query: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """ALB passes query keys and values as the client sent them, percent-encoded."""
    return {
        unquote_plus(name): [unquote_plus(value) for value in values] for name, values in merge_values(query).items()
    }


class AlbAdapter(Adapter):
    """Application Load Balancer with a Lambda target group (single- or multi-value mode)."""

    name = "aws-alb"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return (
            isinstance(event, dict)
            and isinstance(event.get("httpMethod"), str)
            and isinstance(_context(event).get("elb"), dict)
        )

    @property
    def multi_value(self) -> bool:
        return "multiValueHeaders" in self.event or "multiValueQueryStringParameters" in self.event

    @property
    def request(self) -> Request:
        event = self.event
        headers = joined_headers(event.get("multiValueHeaders"), event.get("headers"))
        query = first_query(
            _unquoted(event.get("multiValueQueryStringParameters")), _unquoted(event.get("queryStringParameters"))
        )
        forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip()
        return Request(
            method=str(event["httpMethod"]),
            path=str(event.get("path") or "/"),
            body=body_bytes(event.get("body"), bool(event.get("isBase64Encoded"))),
            headers=headers,
            query=query,
            source_ip=forwarded or None,
            source=self.name,
        )

    def render(self, response: Response) -> dict[str, Any]:
        reply = http_reply(response)
        headers = reply.pop("headers")
        reply["statusDescription"] = _status_line(response.status)
        if self.multi_value:
            reply["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
        else:
            reply["headers"] = headers
        return reply


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


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
        # rawQueryString keeps repeated keys apart (queryStringParameters joins them with ","),
        # but a test tool may fill only queryStringParameters: both are read, raw first.
        raw_query = event.get("rawQueryString")
        parsed = parse_qs(raw_query, keep_blank_values=True) if isinstance(raw_query, str) and raw_query else None
        return Request(
            method=str(http.get("method", "")),
            path=str(http.get("path") or event.get("rawPath") or "/"),
            body=body_bytes(event.get("body"), bool(event.get("isBase64Encoded"))),
            headers=joined_headers(event.get("headers")),
            query=first_query(parsed, event.get("queryStringParameters")),
            source_ip=http.get("sourceIp"),
            source=self.name,
        )

    def render(self, response: Response) -> dict[str, Any]:
        return http_reply(response)


class FunctionUrlAdapter(HttpApiAdapter):
    """Lambda Function URL (auth type NONE): the 2.0 shape on a ``.lambda-url.`` domain."""

    name = "aws-function-url"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return _is_v2(event) and _is_function_url(event)


class HttpFallbackAdapter(FallbackAdapter):
    """Any other HTTP-shaped event on Lambda (a proxy or test tool's variant of the above)."""

    name = "aws-http"
    specific = (RestApiAdapter, AlbAdapter, HttpApiAdapter, FunctionUrlAdapter)
