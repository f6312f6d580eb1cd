"""Platform events around the seed samples, each with its own dedup key."""

from __future__ import annotations

import json
from typing import Any

from alarm_callback import samples

TOKEN = "bench-token-0123456789"


def bodies() -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in samples.load().values()]


def distinct(body: dict[str, Any], session_id: str) -> bytes:
    """The body as Tencent would send it (UTF-8 JSON), under a new sessionId (and alertId)."""
    body = dict(body)
    body["sessionId"] = session_id
    if "alertId" in body:
        body["alertId"] = f"{session_id}_1"
    return json.dumps(body, ensure_ascii=False).encode()


def http_api(body: bytes, token: str = TOKEN) -> dict[str, Any]:
    """API Gateway HTTP API, payload format 2.0 (what serverless.yml's httpApi deploys)."""
    path = f"/callback/{token}"
    return {
        "version": "2.0",
        "routeKey": "POST /callback/{token}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "*/*",
            "content-length": str(len(body)),
            "content-type": "application/json",
            "host": "k7xmpl9a2b.execute-api.ap-southeast-1.amazonaws.com",
            "user-agent": "Go-http-client/1.1",
            "x-amzn-trace-id": "Root=1-656f1d2a-0a1b2c3d4e5f60718293a4b5",
            "x-forwarded-for": "119.29.29.29",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "k7xmpl9a2b",
            "domainName": "k7xmpl9a2b.execute-api.ap-southeast-1.amazonaws.com",
            "domainPrefix": "k7xmpl9a2b",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "119.29.29.29",
                "userAgent": "Go-http-client/1.1",
            },
            "requestId": "PZ4aBhYsSQ0EJ8g=",
            "routeKey": "POST /callback/{token}",
            "stage": "$default",
            "time": "05/Dec/2023:12:53:30 +0000",
            "timeEpoch": 1701780810456,
        },
        "pathParameters": {"token": token},
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def scf_api_gateway(body: bytes, token: str = TOKEN) -> dict[str, Any]:
    """Tencent SCF API gateway trigger."""
    path = f"/callback/{token}"
    return {
        "requestContext": {
            "serviceId": "service-f94sy04v",
            "path": "/callback/{token}",
            "httpMethod": "POST",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {},
            "sourceIp": "43.139.0.10",
            "stage": "release",
        },
        "headers": {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Host": "service-f94sy04v-1250000000.gz.apigw.tencentcs.com",
            "User-Agent": "Go-http-client/1.1",
            "X-Anonymous-Consumer": "true",
            "X-Api-Requestid": "c6af9ac6****93e8deadbeef",
            "X-B3-Traceid": "c6af9ac6****93e8deadbeef",
            "X-Qualifier": "$DEFAULT",
        },
        "body": body.decode(),
        "pathParameters": {"token": token},
        "queryStringParameters": {},
        "headerParameters": {},
        "stageVariables": {"stage": "release"},
        "path": path,
        "queryString": {},
        "httpMethod": "POST",
        "isBase64Encoded": False,
    }


class LambdaContext:
    """Enough of a Lambda context for Powertools' idempotency."""

    function_name = "alarm-callback-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:alarm-callback-bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/alarm-callback-bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 5000
