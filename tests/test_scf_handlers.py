"""SCF adapters: every documented event shape goes through `handler.main_handler` with
SCF's dict context, in both API gateway response modes."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import handler
from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine
from alarm_callback.core.http import Response
from alarm_callback.edges import SCF, UnknownEventError, entry, load
from alarm_callback.edges.scf import (
    ApiGatewayAdapter,
    DirectInvocationAdapter,
    FunctionUrlAdapter,
    HttpFallbackAdapter,
    HttpTriggerAdapter,
    InvocationFailed,
)
from tests.conftest import deploy_on_memory

FIXTURES = Path(__file__).parent / "fixtures" / "scf"
TOKEN = "s3cr3t-token-0123456789"
ADAPTER_OF = {
    "api-gateway-token-in-path": ApiGatewayAdapter,
    "api-gateway-token-in-query": ApiGatewayAdapter,
    "api-gateway-basic-auth": ApiGatewayAdapter,
    "function-url-token-in-query": FunctionUrlAdapter,
    "function-url-basic-auth": FunctionUrlAdapter,
    "direct-invocation": DirectInvocationAdapter,
}
# What the SCF Python runtime passes as `context` (a plain dict).
CONTEXT = {
    "callbackWaitsForEmptyEventLoop": True,
    "memory_limit_in_mb": 128,
    "time_limit_in_ms": 5000,
    "request_id": "0c2fb1ef-0000-0000-0000-6c1b2f9c1a2e",
    "environment": "{}",
    "environ": "",
    "function_version": "$LATEST",
    "function_name": "alarm-callback",
    "namespace": "default",
    "tencentcloud_region": "ap-guangzhou",
    "tencentcloud_appid": "1250000000",
    "tencentcloud_uin": "100000000001",
}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryPublisher]:
    """The deployed entry point, configured like the SCF function but on memory backends."""
    yield deploy_on_memory(monkeypatch, TOKEN, "ALARM_CALLBACK_SCF_RESPONSE")
    entry.reset()


def passthrough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALARM_CALLBACK_SCF_RESPONSE", "passthrough")
    entry.edge_options.cache_clear()
    entry.settings.cache_clear()


def test_every_fixture_is_covered() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(ADAPTER_OF)
    assert load(SCF) == (
        ApiGatewayAdapter,
        HttpTriggerAdapter,
        FunctionUrlAdapter,
        DirectInvocationAdapter,
        HttpFallbackAdapter,
    )


@pytest.mark.parametrize("name", sorted(ADAPTER_OF))
def test_exactly_one_adapter_claims_each_fixture(name: str) -> None:
    assert [a for a in load(SCF) if a.infer(fixture(name), CONTEXT)] == [ADAPTER_OF[name]]


@pytest.mark.parametrize("name", sorted(n for n, a in ADAPTER_OF.items() if a is not DirectInvocationAdapter))
def test_http_fixture_is_acked_in_integration_form(deployed: MemoryPublisher, name: str) -> None:
    reply = handler.main_handler(fixture(name), CONTEXT)
    assert set(reply) == {"isBase64Encoded", "statusCode", "headers", "body"}
    assert reply["statusCode"] == 200 and reply["isBase64Encoded"] is False
    assert reply["headers"]["content-type"] == "application/json"
    assert json.loads(reply["body"]) == {"sessionId": "xxxxxxxx", "retCode": 0}
    [message] = deployed.messages
    assert message.id == "xxxxxxxx" and json.loads(message.body)["data"]["status"] == "firing"


def test_direct_invocation_returns_the_ack(deployed: MemoryPublisher) -> None:
    assert handler.main_handler(fixture("direct-invocation"), CONTEXT) == {"sessionId": "xxxxxxxx", "retCode": 0}
    assert [m.id for m in deployed.messages] == ["xxxxxxxx"]


def test_direct_invocation_needs_no_url_credential(deployed: MemoryPublisher) -> None:
    request = DirectInvocationAdapter(fixture("direct-invocation"), CONTEXT).request
    assert request.authenticated and request.method == "POST" and request.source == "scf-direct"
    assert json.loads(request.body) == fixture("direct-invocation")


def test_passthrough_mode_returns_the_ack_object(deployed: MemoryPublisher, monkeypatch: pytest.MonkeyPatch) -> None:
    passthrough(monkeypatch)
    reply = handler.main_handler(fixture("api-gateway-token-in-path"), CONTEXT)
    assert reply == {"sessionId": "xxxxxxxx", "retCode": 0}
    # the Function URL has no passthrough: its reply is always the integration form
    assert handler.main_handler(fixture("function-url-basic-auth"), CONTEXT)["statusCode"] == 200


def test_passthrough_failure_is_told_by_ret_code(deployed: MemoryPublisher, monkeypatch: pytest.MonkeyPatch) -> None:
    passthrough(monkeypatch)
    event = fixture("api-gateway-token-in-path")
    event["path"] = "/callback/wrong"
    reply = handler.main_handler(event, CONTEXT)
    assert reply["retCode"] == 401 and reply["error"] == "unauthorized"
    assert deployed.messages == []


@pytest.mark.parametrize("name", sorted(n for n, a in ADAPTER_OF.items() if a is not DirectInvocationAdapter))
def test_http_fixture_without_credential_is_401(deployed: MemoryPublisher, name: str) -> None:
    event = fixture(name)
    event["path"] = "/callback"
    for key in ("queryString", "queryStringParameters"):
        event.pop(key, None)
    event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != "authorization"}
    reply = handler.main_handler(event, CONTEXT)
    assert reply["statusCode"] == 401
    assert deployed.messages == []


def test_query_values_string_list_and_true() -> None:
    request = ApiGatewayAdapter(fixture("api-gateway-token-in-query"), CONTEXT).request
    assert request.query == {"token": TOKEN, "source": "monitor", "debug": ""}
    assert request.source_ip == "43.139.0.10"
    assert request.headers["content-type"] == "application/json"  # names lower-cased


def test_query_falls_back_to_declared_parameters() -> None:
    event = fixture("api-gateway-token-in-query")
    del event["queryString"]
    assert ApiGatewayAdapter(event, CONTEXT).request.query["token"] == TOKEN


def test_function_url_source_ip_from_header() -> None:
    assert FunctionUrlAdapter(fixture("function-url-token-in-query"), CONTEXT).request.source_ip == "43.139.0.10"


def test_base64_body_is_decoded(deployed: MemoryPublisher) -> None:
    event = fixture("api-gateway-basic-auth")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert handler.main_handler(event, CONTEXT)["statusCode"] == 200
    assert len(deployed.messages) == 1


def test_resends_through_any_source_publish_once(deployed: MemoryPublisher) -> None:
    for name in sorted(ADAPTER_OF):
        handler.main_handler(fixture(name), CONTEXT)
    assert len(deployed.messages) == 1


def test_bad_body_is_400_and_kept(deployed: MemoryPublisher) -> None:
    event = fixture("function-url-basic-auth")
    event["body"] = "{not json"
    reply = handler.main_handler(event, CONTEXT)
    assert reply["statusCode"] == 400 and json.loads(reply["body"])["error"] == "invalid_json"
    quarantine = entry.receiver().quarantine
    assert isinstance(quarantine, MemoryQuarantine) and len(quarantine.items) == 1


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"hello": "world"},
        # a body and headers but no method anywhere: no HTTP shape
        {"body": "{}", "headers": {"content-type": "application/json"}},
        # a timer trigger's event belongs to the sweeper, not here
        {"Type": "Timer", "TriggerName": "sweep", "Time": "2024-01-01T00:00:00Z", "Message": ""},
        [1, 2],
        "text",
    ],
)
def test_foreign_events_are_refused_and_kept(deployed: MemoryPublisher, event: Any) -> None:
    with pytest.raises(UnknownEventError):
        handler.main_handler(event, CONTEXT)
    quarantine = entry.receiver().quarantine
    assert isinstance(quarantine, MemoryQuarantine) and len(quarantine.items) == 1


def test_the_adapters_never_overlap() -> None:
    """Each fixture, also with the other sources' marker fields added, matches at most one."""
    extras: list[dict[str, Any]] = [
        {},
        {"requestContext": {"serviceId": "s"}},
        {"requestContext": {"sourceIp": "1.2.3.4"}},
        {"requestContext": {"apiId": "a", "identity": {}}},
        {"httpMethod": "POST"},
        {"sessionId": "x"},
    ]
    for name in ADAPTER_OF:
        for extra in extras:
            event = {**copy.deepcopy(fixture(name)), **extra}
            assert sum(a.infer(event, CONTEXT) for a in load(SCF)) <= 1, (name, extra)


@pytest.mark.parametrize(
    ("context", "adapter"),
    [
        ({"serviceId": "s", "sourceIp": "1.2.3.4"}, ApiGatewayAdapter),
        ({"sourceIp": "1.2.3.4"}, HttpTriggerAdapter),
        (
            {"sourceIp": "1.2.3.4", "path": "/callback", "httpMethod": "POST", "requestId": "r", "stage": "prod"},
            HttpTriggerAdapter,
        ),
        ({"stage": "release"}, HttpFallbackAdapter),  # Tencent keys, but no client address: not guessed at
        ({"sourceIp": "1.2.3.4", "apiId": "a"}, HttpFallbackAdapter),  # a key Tencent never sends
        ({"identity": {"sourceIp": "1.2.3.4"}, "apiId": "a"}, HttpFallbackAdapter),  # AWS-shaped
    ],
)
def test_http_trigger_is_told_by_all_its_context_keys(context: dict[str, Any], adapter: type) -> None:
    event = {"httpMethod": "POST", "path": "/callback", "body": "{}", "requestContext": context}
    assert [a for a in load(SCF) if a.infer(event, CONTEXT)] == [adapter]


def test_source_ip_only_event_is_acked(deployed: MemoryPublisher) -> None:
    event = fixture("api-gateway-token-in-path")
    event["requestContext"] = {"sourceIp": "36.159.237.104"}
    request = HttpTriggerAdapter(event, CONTEXT).request
    assert request.source == "scf-http" and request.source_ip == "36.159.237.104"
    reply = handler.main_handler(event, CONTEXT)
    assert reply["statusCode"] == 200 and json.loads(reply["body"])["retCode"] == 0
    assert len(deployed.messages) == 1


def test_emulator_headers_parameters_are_read() -> None:
    event = fixture("api-gateway-basic-auth")
    event["headersParameters"] = event.pop("headers")
    event["requestContext"] = {"sourceIp": "127.0.0.1", "stage": "prod", "path": "/callback", "httpMethod": "POST"}
    assert HttpTriggerAdapter(event, CONTEXT).request.headers["authorization"].startswith("Basic ")


def test_query_merges_query_string_and_declared_parameters() -> None:
    event = fixture("api-gateway-token-in-query")
    event["queryString"] = {"source": "monitor"}
    event["queryStringParameters"] = {"token": TOKEN}
    assert ApiGatewayAdapter(event, CONTEXT).request.query == {"source": "monitor", "token": TOKEN}


def test_fallback_serves_an_unclaimed_http_event(deployed: MemoryPublisher) -> None:
    event = fixture("api-gateway-token-in-path")
    event["requestContext"] = {"stage": "release"}
    reply = handler.main_handler(event, CONTEXT)
    assert set(reply) == {"isBase64Encoded", "statusCode", "headers", "body"}
    assert reply["statusCode"] == 200 and len(deployed.messages) == 1
    event["path"] = "/callback"
    assert handler.main_handler(event, CONTEXT)["statusCode"] == 401


def test_direct_invocation_raises_on_5xx() -> None:
    adapter = DirectInvocationAdapter(fixture("direct-invocation"), CONTEXT)
    with pytest.raises(InvocationFailed):
        adapter.render(Response.error(503, "unavailable", "resend later"))
    assert adapter.render(Response.error(400, "invalid_json", "x"))["retCode"] == 400


def test_binary_reply_is_base64(deployed: MemoryPublisher) -> None:
    adapter = ApiGatewayAdapter(fixture("api-gateway-basic-auth"), CONTEXT)
    reply = adapter.render(Response(200, b"\xff\xfe"))
    assert reply["isBase64Encoded"] is True and base64.b64decode(reply["body"]) == b"\xff\xfe"
