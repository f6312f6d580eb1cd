"""AWS adapters: every documented event shape goes through `handler.lambda_handler`."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import handler
from alarm_callback.backends.memory import MemoryPublisher
from alarm_callback.core.http import Response
from alarm_callback.edges import AWS, UnknownEventError, entry, load, select
from alarm_callback.edges.aws import (
    AlbAdapter,
    FunctionUrlAdapter,
    HttpApiAdapter,
    HttpFallbackAdapter,
    RestApiAdapter,
)
from tests.conftest import deploy_on_memory

FIXTURES = Path(__file__).parent / "fixtures" / "aws"
TOKEN = "s3cr3t-token-0123456789"
ADAPTER_OF = {
    "rest-api-token-in-path": RestApiAdapter,
    "rest-api-base64-token-in-query": RestApiAdapter,
    "http-api-token-in-path": HttpApiAdapter,
    "http-api-base64-token-in-query": HttpApiAdapter,
    "function-url-basic-auth": FunctionUrlAdapter,
    "function-url-base64-basic-auth": FunctionUrlAdapter,
}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryPublisher]:
    """The deployed entry point, configured like the Lambda but on memory backends."""
    yield deploy_on_memory(monkeypatch, TOKEN)
    entry.reset()


def test_every_fixture_is_covered() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(ADAPTER_OF)
    assert load(AWS) == (RestApiAdapter, AlbAdapter, HttpApiAdapter, FunctionUrlAdapter, HttpFallbackAdapter)


@pytest.mark.parametrize("name", sorted(ADAPTER_OF))
def test_exactly_one_adapter_claims_each_fixture(name: str) -> None:
    event = fixture(name)
    assert [a for a in load(AWS) if a.infer(event, None)] == [ADAPTER_OF[name]]


@pytest.mark.parametrize("name", sorted(ADAPTER_OF))
def test_fixture_is_acked_through_lambda_handler(deployed: MemoryPublisher, name: str) -> None:
    reply = handler.lambda_handler(fixture(name), None)
    assert set(reply) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert reply["statusCode"] == 200 and reply["isBase64Encoded"] is False
    assert reply["headers"]["content-type"] == "application/json"
    assert json.loads(reply["body"]) == {"sessionId": "xxxxxxxx", "retCode": 0}
    [message] = deployed.messages
    assert message.id == "xxxxxxxx" and json.loads(message.body)["data"]["status"] == "firing"


def test_resends_through_any_source_publish_once(deployed: MemoryPublisher) -> None:
    for name in sorted(ADAPTER_OF):
        assert handler.lambda_handler(fixture(name), None)["statusCode"] == 200
    assert len(deployed.messages) == 1


def test_request_fields() -> None:
    rest = RestApiAdapter(fixture("rest-api-base64-token-in-query"), None).request
    assert (rest.method, rest.path, rest.query, rest.source_ip) == (
        "POST",
        "/callback",
        {"token": TOKEN},
        "119.29.29.29",
    )
    assert rest.headers["content-type"] == "application/octet-stream" and rest.source == "aws-rest-api"
    assert json.loads(rest.body)["sessionId"] == "xxxxxxxx"
    http = HttpApiAdapter(fixture("http-api-base64-token-in-query"), None).request
    assert http.query == {"token": TOKEN}  # the first of the repeated keys, from rawQueryString
    assert json.loads(http.body)["sessionId"] == "xxxxxxxx" and http.source == "aws-http-api"
    url = FunctionUrlAdapter(fixture("function-url-basic-auth"), None).request
    assert url.headers["authorization"].startswith("Basic ") and url.source_ip == "119.29.29.29"
    assert HttpApiAdapter(fixture("http-api-token-in-path"), None).request.path == f"/callback/{TOKEN}"


def test_mixed_case_headers_are_lower_cased() -> None:
    event = fixture("rest-api-token-in-path")
    del event["multiValueHeaders"]
    event["headers"]["AUTHORIZATION"] = "Basic xyz"
    assert RestApiAdapter(event, None).request.headers["authorization"] == "Basic xyz"


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("rest-api-token-in-path", lambda e: e.update(path="/callback/wrong")),
        ("rest-api-base64-token-in-query", lambda e: e["multiValueQueryStringParameters"].update(token=["wrong"])),
        ("http-api-token-in-path", lambda e: e["requestContext"]["http"].update(path="/callback/wrong")),
        ("http-api-base64-token-in-query", lambda e: e.update(rawQueryString="token=wrong")),
        (
            "function-url-basic-auth",
            lambda e: e["headers"].update(authorization="Basic " + base64.b64encode(b"tencent:nope").decode()),
        ),
    ],
)
def test_wrong_credential_renders_401(deployed: MemoryPublisher, name: str, change: Any) -> None:
    event = copy.deepcopy(fixture(name))
    change(event)
    reply = handler.lambda_handler(event, None)
    assert reply["statusCode"] == 401
    assert reply["headers"]["www-authenticate"].startswith("Basic")
    assert json.loads(reply["body"])["error"] == "unauthorized"
    assert deployed.messages == []


def test_get_is_405(deployed: MemoryPublisher) -> None:
    event = fixture("http-api-token-in-path")
    event["requestContext"]["http"]["method"] = "GET"
    reply = handler.lambda_handler(event, None)
    assert reply["statusCode"] == 405 and reply["headers"]["allow"] == "POST"


def test_undecodable_base64_is_a_clear_400(deployed: MemoryPublisher) -> None:
    event = fixture("function-url-base64-basic-auth")
    event["body"] = "%%% not base64 %%%"
    reply = handler.lambda_handler(event, None)
    assert reply["statusCode"] == 400 and json.loads(reply["body"])["error"] == "invalid_json"


def test_binary_response_is_base64_encoded() -> None:
    adapter = HttpApiAdapter(fixture("http-api-token-in-path"), None)
    reply = adapter.render(Response(200, b"\xff\xfe", {"content-type": "application/octet-stream"}))
    assert reply["isBase64Encoded"] is True and base64.b64decode(reply["body"]) == b"\xff\xfe"


def _alb_event() -> dict[str, Any]:
    event = fixture("rest-api-token-in-path")
    event["requestContext"] = {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/t/1"}}
    return event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"sessionId": "x", "alarmStatus": 1}, id="direct-invoke"),
        pytest.param({"version": "2.0", "routeKey": "$default"}, id="v2-without-http"),
        pytest.param({"body": "{}", "headers": {}}, id="no-method"),
        pytest.param([], id="list"),
    ],
)
def test_events_without_http_shape_match_no_adapter(event: Any) -> None:
    with pytest.raises(UnknownEventError, match="matching adapters: none"):
        select(event, None, load(AWS))


@pytest.mark.parametrize(
    ("event", "adapter"),
    [
        pytest.param(_alb_event(), AlbAdapter, id="alb"),
        pytest.param(
            {"httpMethod": "POST", "version": "2.0", "requestContext": {"apiId": "a"}},
            HttpFallbackAdapter,
            id="v1-claiming-2.0",
        ),
        pytest.param(
            {"requestContext": {"http": {"method": "POST"}}, "body": "{}"}, HttpFallbackAdapter, id="v2-no-ver"
        ),
        pytest.param({"httpMethod": "POST", "body": "{}"}, HttpFallbackAdapter, id="bare"),
    ],
)
def test_odd_http_events_are_claimed_by_exactly_one(event: Any, adapter: type) -> None:
    assert [a for a in load(AWS) if a.infer(event, None)] == [adapter]


def test_fallback_serves_an_unclaimed_http_event(deployed: MemoryPublisher) -> None:
    event = fixture("http-api-token-in-path")
    del event["version"]  # no longer the 2.0 shape: only the fallback claims it
    assert select(event, None, load(AWS)).name == "aws-http"
    reply = handler.lambda_handler(event, None)
    assert set(reply) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert reply["statusCode"] == 200 and json.loads(reply["body"])["retCode"] == 0
    assert len(deployed.messages) == 1
    event["requestContext"]["http"]["path"] = "/callback/wrong"
    event.pop("rawPath", None)
    assert handler.lambda_handler(event, None)["statusCode"] == 401


def test_rest_token_only_in_the_single_value_query_map() -> None:
    event = fixture("rest-api-base64-token-in-query")
    event["multiValueQueryStringParameters"] = {"source": ["monitor"]}
    event["queryStringParameters"] = {"source": "monitor", "token": TOKEN}
    assert RestApiAdapter(event, None).request.query == {"source": "monitor", "token": TOKEN}


def test_rest_header_only_in_the_single_value_map() -> None:
    event = fixture("rest-api-token-in-path")
    event["headers"]["Authorization"] = "Basic xyz"
    event["multiValueHeaders"] = {"X-Multi": ["a", "b"]}
    headers = RestApiAdapter(event, None).request.headers
    assert headers["authorization"] == "Basic xyz" and headers["x-multi"] == "a, b"


@pytest.mark.parametrize("multi", [False, True], ids=["single", "multi"])
def test_alb_reply_matches_the_request_mode(deployed: MemoryPublisher, multi: bool) -> None:
    event = _alb_event()
    event.pop("multiValueQueryStringParameters", None)
    if multi:
        event["multiValueHeaders"] = {k: [v] for k, v in event.pop("headers").items()}
        event.pop("queryStringParameters", None)
        event["multiValueQueryStringParameters"] = {"token": [TOKEN]}
        event["path"] = "/callback"
    else:
        event.pop("multiValueHeaders", None)
    reply = handler.lambda_handler(event, None)
    assert reply["statusCode"] == 200 and reply["statusDescription"] == "200 OK"
    assert reply["isBase64Encoded"] is False and json.loads(reply["body"])["retCode"] == 0
    if multi:
        assert "headers" not in reply and reply["multiValueHeaders"]["content-type"] == ["application/json"]
    else:
        assert "multiValueHeaders" not in reply and reply["headers"]["content-type"] == "application/json"
    event["path"] = "/callback/wrong"
    event.pop("multiValueQueryStringParameters", None)
    refused = handler.lambda_handler(event, None)
    assert refused["statusCode"] == 401 and refused["statusDescription"] == "401 Unauthorized"
    assert len(deployed.messages) == 1


def test_alb_query_is_percent_decoded() -> None:
    event = _alb_event()
    event.pop("multiValueHeaders", None)
    event["queryStringParameters"] = {"token": "a%2Bb%20c"}
    assert AlbAdapter(event, None).request.query["token"] == "a+b c"
