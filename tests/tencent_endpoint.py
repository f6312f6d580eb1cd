"""A local stand-in for the Tencent Cloud API (tdmq.tencentcloudapi.com), for driving the
real SDK in tests.

It checks every request the way the API does: a TC3-HMAC-SHA256 ``Authorization`` header
recomputed here from Tencent's documented algorithm (canonical request -> string to sign
-> HMAC chain ``TC3<key>`` / date / service / ``tc3_request``) with the configured key,
a fresh ``X-TC-Timestamp`` whose date is the credential scope's, and the expected
``X-TC-Action``, ``X-TC-Version``, ``X-TC-Region`` and ``X-TC-Token``. A request that fails
a check is answered with the vendor's error body (``AuthFailure.SignatureFailure``...), and
a test can script service errors or HTTP failures for the next calls.

This is written from the documentation, not from the SDK's code, so a test passes only
when the SDK and the documented algorithm agree.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ALGORITHM = "TC3-HMAC-SHA256"


@dataclass
class Call:
    action: str
    params: dict[str, Any]
    headers: dict[str, str]
    error: str | None  # the error code answered, None for success


@dataclass
class TencentEndpoint:
    secret_id: str
    secret_key: str
    region: str
    token: str | None = None
    service: str = "tdmq"
    version: str = "2020-02-17"
    actions: tuple[str, ...] = ("SendCmqMsg", "PublishCmqMsg")
    calls: list[Call] = field(default_factory=list)
    # Scripted failures for the next calls: ("Code", "Message") for an API error,
    # or an int for a bare HTTP status.
    failures: list[tuple[str, str] | int] = field(default_factory=list)
    port: int = 0
    # The real API answers exactly "application/json"; the SDK looks for errors only then.
    content_type: str = "application/json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> list[Call]:
        return [c for c in self.calls if c.error is None]

    def answer(self, action: str, params: dict[str, Any]) -> tuple[str, str] | dict[str, Any]:
        """The reply to a request that passed `check`: (code, message) of an API error, or the
        success body. This one answers the TDMQ CMQ actions; subclasses answer others."""
        missing = [name for name in _REQUIRED.get(action, ()) if name not in params]
        if missing:
            return ("MissingParameter", f"the parameters {missing} are required")
        return {"Result": True, "MsgId": uuid.uuid4().hex.upper()}

    def check(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[str, str] | None:
        """The API's own checks; returns (code, message) of the first that fails."""
        auth = headers.get("authorization", "")
        algorithm, _, rest = auth.partition(" ")
        if algorithm != ALGORITHM:
            return ("AuthFailure.SignatureFailure", f"unsupported algorithm {algorithm!r}")
        parts = dict(item.strip().split("=", 1) for item in rest.split(",") if "=" in item)
        scope = parts.get("Credential", "").split("/")
        if len(scope) != 4 or scope[3] != "tc3_request":
            return ("AuthFailure.SignatureFailure", "malformed credential scope")
        secret_id, date, service, _ = scope
        if secret_id != self.secret_id:
            return ("AuthFailure.SecretIdNotFound", "the SecretId is not found")
        timestamp = headers.get("x-tc-timestamp", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 300:
            return ("AuthFailure.SignatureExpire", "timestamp is missing or more than 5 minutes off")
        if date != datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d") or service != self.service:
            return ("AuthFailure.SignatureFailure", "credential scope date or service is wrong")
        signed_headers = parts.get("SignedHeaders", "")
        if "host" not in signed_headers.split(";") or "content-type" not in signed_headers.split(";"):
            return ("AuthFailure.SignatureFailure", "content-type and host must be signed")
        expected = signature(
            self.secret_key, method, path, query, headers, signed_headers, body, timestamp, date, service
        )
        if not hmac.compare_digest(parts.get("Signature", ""), expected):
            return ("AuthFailure.SignatureFailure", "the provided credentials could not be validated")
        if (headers.get("x-tc-token") or None) != self.token:
            return ("AuthFailure.TokenFailure", "the session token is missing or wrong")
        if headers.get("x-tc-action") not in self.actions:
            return ("InvalidAction", f"action {headers.get('x-tc-action')!r} is not found")
        if headers.get("x-tc-version") != self.version:
            return ("NoSuchVersion", f"version {headers.get('x-tc-version')!r} is not supported")
        if headers.get("x-tc-region") != self.region:
            return ("InvalidParameter.Region", f"region {headers.get('x-tc-region')!r} is wrong")
        return None


def signature(
    secret_key: str,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    signed_headers: str,
    body: bytes,
    timestamp: str,
    date: str,
    service: str,
) -> str:
    """TC3-HMAC-SHA256, step by step as Tencent's "Signature v3" page describes it."""
    names = signed_headers.split(";")
    # "header keys and values lower-cased and trimmed, one key:value\n each, keys in ASCII order"
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in sorted(names))
    canonical_request = "\n".join(
        [method, path or "/", query, canonical_headers, signed_headers, hashlib.sha256(body).hexdigest()]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, f"{date}/{service}/tc3_request", hashlib.sha256(canonical_request.encode()).hexdigest()]
    )

    def _hmac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    secret_signing = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _handler(endpoint: TencentEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            path, _, query = self.path.partition("?")
            failure = endpoint.check("POST", path, query, headers, body)
            action = headers.get("x-tc-action", "")
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params, failure = {}, failure or ("InvalidParameter", "body is not JSON")
            if failure is None and endpoint.failures:
                scripted = endpoint.failures.pop(0)
                if isinstance(scripted, int):
                    endpoint.calls.append(Call(action, params, headers, f"HTTP {scripted}"))
                    self._send(scripted, {"message": "upstream error"})
                    return
                failure = scripted
            answer = endpoint.answer(action, params) if failure is None else failure
            request_id = str(uuid.uuid4())
            error = answer[0] if isinstance(answer, tuple) else None
            endpoint.calls.append(Call(action, params, headers, error))
            if isinstance(answer, tuple):
                reply: dict[str, Any] = {"Error": {"Code": answer[0], "Message": answer[1]}}
            else:
                reply = answer
            self._send(200, {"Response": {**reply, "RequestId": request_id}})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", endpoint.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# Required request parameters per action (the API's "Required: Yes" rows).
_REQUIRED = {
    "SendCmqMsg": ("QueueName", "MsgContent", "DelaySeconds"),
    "PublishCmqMsg": ("TopicName", "MsgContent"),
}


@contextmanager
def serve(endpoint: TencentEndpoint) -> Iterator[TencentEndpoint]:
    """Run `endpoint` on a free port of 127.0.0.1 for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(endpoint))
    endpoint.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
