"""Tencent SCF event sources: the API gateway trigger, the Function URL, and direct
invocation by a Cloud Monitor notification template. No Tencent SDK here: an adapter only
reshapes the event.

Detection uses the fields each source sets, and the tests exclude each other:

* API gateway trigger: ``httpMethod`` plus a ``requestContext`` holding ``serviceId``
  (the gateway service that forwarded the request).
* HTTP trigger without ``serviceId``: ``httpMethod`` plus a ``requestContext`` that is
  Tencent's, judged by all its keys rather than one optional key: every key is one Tencent
  documents (``serviceId``, ``path``, ``httpMethod``, ``requestId``, ``identity``,
  ``sourceIp``, ``stage``, ``websocketEnable``) and the client address is at
  ``requestContext.sourceIp`` (AWS puts it under ``identity``). This covers the events a
  deployed function logs with ``requestContext: {"sourceIp": ...}`` only, and the ``scf
  local start-api`` emulator (no ``serviceId``, headers under ``headersParameters``).
* Function URL: ``httpMethod`` and *no* ``requestContext`` at all. Tencent documents this
  event as the gateway shape with ``requestContext``, ``headerParameters``,
  ``pathParameters``, ``queryStringParameters`` and ``isBase64Encoded`` removed.
* Direct invocation: no ``httpMethod`` and no ``requestContext``, and at least one of the
  top-level keys every Cloud Monitor callback carries (``sessionId``, ``alarmType``...):
  the event *is* the alarm.
* Fallback: an HTTP method under any spelling and none of the above (an AWS-shaped event
  from a serverless-http style tool, say); see `FallbackAdapter`. An event with no HTTP
  shape and no alarm keys matches nothing, so `select` raises and the entry point keeps
  it in the quarantine instead of guessing.

The gateway can answer in two ways, chosen on the API (``ALARM_CALLBACK_SCF_RESPONSE``,
handed to the adapter as `EdgeOptions.scf_response`):
``integration`` (integrated response enabled: the function returns ``{isBase64Encoded,
statusCode, headers, body}``) or ``passthrough`` (disabled: the gateway returns the
function's return value as the body with HTTP 200, so the function returns the ack itself,
and a failure is told by its ``retCode``, which Cloud Monitor checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.http import Request, Response
from .base import Adapter, FallbackAdapter
from .utils import body_bytes, encode_body, first_query, joined_headers

# Keys a Cloud Monitor callback body always has at its top level (metric and event alarms).
ALARM_KEYS = frozenset({"sessionId", "alertId", "alarmStatus", "alarmType", "alarmObjInfo", "alarmPolicyInfo"})
_SOURCE_IP_HEADERS = ("x-scf-remote-addr", "x-real-ip", "x-forwarded-for")
# Every key Tencent documents in an HTTP trigger's requestContext.
TENCENT_CONTEXT_KEYS = frozenset(
    {"serviceId", "path", "httpMethod", "requestId", "identity", "sourceIp", "stage", "websocketEnable"}
)


class InvocationFailed(RuntimeError):
    """Raised to a direct invoker when nothing durable happened (a 5xx): the failed
    invocation is the only way to ask for a retry when there is no HTTP status."""


def _is_http(event: Any) -> bool:
    return isinstance(event, dict) and isinstance(event.get("httpMethod"), str)


def _context(event: Any) -> Mapping[str, Any] | None:
    context = event.get("requestContext") if isinstance(event, dict) else None
    return context if isinstance(context, dict) else None


def _gateway_context(event: Any) -> Mapping[str, Any] | None:
    context = _context(event)
    return context if context is not None and "serviceId" in context else None


def _tencent_context(event: Any) -> Mapping[str, Any] | None:
    """A requestContext without serviceId that is still Tencent's (see the module doc)."""
    context = _context(event)
    if context is None or "serviceId" in context or not context.keys() <= TENCENT_CONTEXT_KEYS:
        return None
    return context if isinstance(context.get("sourceIp"), str) else None


def _integration_reply(response: Response) -> dict[str, Any]:
    body, is_base64 = encode_body(response.body)
    return {
        "isBase64Encoded": is_base64,
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": body,
    }


def _payload(response: Response) -> Any:
    """The reply as the object the receiver sent (the ack or the error)."""
    try:
        return response.payload()
    except ValueError:
        return {"retCode": response.status, "body": response.body.decode("utf-8", "replace")}


def _header_ip(headers: Mapping[str, str]) -> str | None:
    for name in _SOURCE_IP_HEADERS:
        value = headers.get(name, "").split(",")[0].strip()
        if value:
            return value
    return None


def _http_request(event: dict[str, Any], source: str, source_ip: str | None) -> Request:
    """The fields the gateway and the Function URL share. ``queryString`` holds every
    parameter (a string, a list for a repeated key, ``true`` for a key without a value);
    ``queryStringParameters`` only those declared on the API, and ``headerParameters``
    only the declared headers: each is read after the complete map, for a key only it has.
    The scf CLI emulator spells the headers ``headersParameters`` and has no ``headers``."""
    headers = joined_headers(event.get("headers"), event.get("headerParameters"), event.get("headersParameters"))
    return Request(
        method=str(event["httpMethod"]),
        path=str(event.get("path") or "/"),
        body=body_bytes(event.get("body"), event.get("isBase64Encoded") is True),
        headers=headers,
        query=first_query(event.get("queryString"), event.get("queryStringParameters")),
        source_ip=source_ip or _header_ip(headers),
        source=source,
    )


class ApiGatewayAdapter(Adapter):
    """API gateway trigger (event function behind an API gateway service)."""

    name = "scf-api-gateway"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return _is_http(event) and _gateway_context(event) is not None

    @property
    def request(self) -> Request:
        source_ip = (_gateway_context(self.event) or {}).get("sourceIp")
        return _http_request(self.event, self.name, str(source_ip) if source_ip else None)

    def render(self, response: Response) -> Any:
        if self.options.scf_response == "passthrough":
            return _payload(response)
        return _integration_reply(response)


class HttpTriggerAdapter(ApiGatewayAdapter):
    """The gateway shape without ``serviceId``: a function's HTTP trigger whose
    ``requestContext`` holds only ``sourceIp``, and the ``scf local`` emulator. Replies like
    the API gateway (the `scf_response` mode applies)."""

    name = "scf-http"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return _is_http(event) and _tencent_context(event) is not None

    @property
    def request(self) -> Request:
        source_ip = (_tencent_context(self.event) or {}).get("sourceIp")
        return _http_request(self.event, self.name, str(source_ip) if source_ip else None)


class FunctionUrlAdapter(Adapter):
    """SCF Function URL (``https://<appid>-<id>.<region>.tencentscf.com``)."""

    name = "scf-function-url"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return _is_http(event) and "requestContext" not in event

    @property
    def request(self) -> Request:
        return _http_request(self.event, self.name, None)

    def render(self, response: Response) -> dict[str, Any]:
        return _integration_reply(response)


class DirectInvocationAdapter(Adapter):
    """A notification template invoking the function: the event is the alarm JSON itself.

    There is no HTTP edge, so no URL credential: only callers with ``scf:InvokeFunction``
    permission get here, which is why the request is marked authenticated."""

    name = "scf-direct"

    @classmethod
    def infer(cls, event: Any, context: Any) -> bool:
        return (
            isinstance(event, dict)
            and "httpMethod" not in event
            and "requestContext" not in event
            and not ALARM_KEYS.isdisjoint(event)
        )

    @property
    def request(self) -> Request:
        return Request(
            method="POST",
            path="/",
            body=body_bytes(self.event, False),
            headers={"content-type": "application/json"},
            source=self.name,
            authenticated=True,
        )

    def render(self, response: Response) -> Any:
        if response.status >= 500:
            raise InvocationFailed(response.body.decode("utf-8", "replace"))
        return _payload(response)


class HttpFallbackAdapter(FallbackAdapter):
    """Any other HTTP-shaped event on SCF. Replies in the integration form."""

    name = "scf-http-fallback"
    specific = (ApiGatewayAdapter, HttpTriggerAdapter, FunctionUrlAdapter, DirectInvocationAdapter)
