"""TDMQ CMQ publishers through the real Tencent SDK against a local endpoint that checks
each request's TC3-HMAC-SHA256 signature, action, version, region and token."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from alarm_callback.backends.memory import MemoryQuarantine, MemoryStore
from alarm_callback.backends.options import BackendOptions, TencentOptions
from alarm_callback.backends.tencent import clients as tencent
from alarm_callback.backends.tencent.cmq import CMQQueuePublisher, CMQTopicPublisher
from alarm_callback.config.settings import Settings
from alarm_callback.config.wiring import publisher_from_settings, tencent_options
from alarm_callback.core.errors import ConfigError, PublishError
from alarm_callback.core.message import Message
from alarm_callback.core.outbox import PENDING, PUBLISHED
from alarm_callback.core.receiver import Receiver
from alarm_callback.core.sweeper import sweep
from tests.conftest import post
from tests.tencent_endpoint import TencentEndpoint, serve

SECRET_ID = "AKIDtest0000000000000000000000000000"
SECRET_KEY = "test-secret-key-0000000000000000"
TOKEN = "session-token-from-the-execution-role"
REGION = "ap-guangzhou"
MESSAGE = Message(id="s-1", body='{"id":"s-1"}', attributes={"status": "firing", "kind": "metric"})


def env_options() -> TencentOptions:
    """The Tencent client options the deployed function would build from its environment."""
    return tencent_options(Settings())


@pytest.fixture
def role_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What SCF gives a function with an execution role, and nothing else."""
    for name in ("REGION", "ENDPOINT", "SECRET_ID", "SECRET_KEY", "SESSION_TOKEN", "TIMEOUT", "MAX_ATTEMPTS"):
        monkeypatch.delenv(f"ALARM_CALLBACK_TENCENT_{name}", raising=False)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", SECRET_KEY)
    monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", TOKEN)
    monkeypatch.setenv("TENCENTCLOUD_REGION", REGION)
    tencent.reset_clients()
    yield
    tencent.reset_clients()


@pytest.fixture
def endpoint(role_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[TencentEndpoint]:
    with serve(TencentEndpoint(SECRET_ID, SECRET_KEY, REGION, token=TOKEN)) as running:
        monkeypatch.setenv("ALARM_CALLBACK_TENCENT_ENDPOINT", running.url)
        tencent.reset_clients()
        yield running


def test_queue_send_is_signed_and_carries_the_event(endpoint: TencentEndpoint) -> None:
    CMQQueuePublisher("alarms", options=env_options()).publish(MESSAGE)
    [call] = endpoint.calls
    assert call.error is None
    assert call.action == "SendCmqMsg"
    assert call.params == {"QueueName": "alarms", "MsgContent": MESSAGE.body, "DelaySeconds": 0}
    assert call.headers["x-tc-version"] == "2020-02-17"
    assert call.headers["x-tc-region"] == REGION
    assert call.headers["x-tc-token"] == TOKEN
    assert call.headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")


def test_topic_publish_tags_status_and_kind(endpoint: TencentEndpoint) -> None:
    CMQTopicPublisher("alarm-topic", options=env_options()).publish(MESSAGE)
    [call] = endpoint.accepted
    assert call.action == "PublishCmqMsg"
    assert call.params == {
        "TopicName": "alarm-topic",
        "MsgContent": MESSAGE.body,
        "MsgTag": ["firing", "metric", "firing.metric"],
    }


def test_topic_in_routing_mode_sends_one_route(endpoint: TencentEndpoint) -> None:
    publisher = publisher_from_settings(Settings(queue_url="cmq-topic://alarm-topic?route=true"))
    assert isinstance(publisher, CMQTopicPublisher) and publisher.route
    publisher.publish(MESSAGE)
    assert endpoint.accepted[0].params["MsgTag"] == ["alarm.firing.metric"]


def test_wrong_key_is_refused_by_the_signature_check(role_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(TencentEndpoint(SECRET_ID, "another-key", REGION, token=TOKEN)) as running:
        monkeypatch.setenv("ALARM_CALLBACK_TENCENT_ENDPOINT", running.url)
        tencent.reset_clients()
        with pytest.raises(PublishError, match=r"AuthFailure\.SignatureFailure.*RequestId"):
            CMQQueuePublisher("alarms", options=env_options()).publish(MESSAGE)
        assert [c.error for c in running.calls] == ["AuthFailure.SignatureFailure"]  # not retried


def test_wrong_region_is_refused(endpoint: TencentEndpoint) -> None:
    with pytest.raises(PublishError, match=r"InvalidParameter\.Region"):
        CMQQueuePublisher("alarms", options=env_options(), region="ap-shanghai").publish(MESSAGE)


def test_explicit_settings_win_over_the_role(endpoint: TencentEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALARM_CALLBACK_TENCENT_SECRET_ID", "AKIDexplicit")
    monkeypatch.setenv("ALARM_CALLBACK_TENCENT_SECRET_KEY", "explicit-key")
    tencent.reset_clients()
    endpoint.secret_id, endpoint.secret_key, endpoint.token = "AKIDexplicit", "explicit-key", None
    CMQQueuePublisher("alarms", options=env_options()).publish(MESSAGE)
    assert "x-tc-token" not in endpoint.accepted[0].headers


def test_rotated_role_keys_are_picked_up(endpoint: TencentEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    publisher = CMQQueuePublisher("alarms", options=env_options())
    publisher.publish(MESSAGE)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "rotated-key")
    monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", "rotated-token")
    endpoint.secret_key, endpoint.token = "rotated-key", "rotated-token"
    publisher.publish(MESSAGE)  # same client, new keys
    assert len(endpoint.accepted) == 2


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("ResourceNotFound.Queue", "the queue does not exist"),
        ("LimitExceeded.MsgSize", "the message is too large"),
        ("InternalError", "an internal error occurred"),
    ],
)
def test_api_errors_are_publish_errors(endpoint: TencentEndpoint, code: str, text: str) -> None:
    endpoint.failures.append((code, text))
    with pytest.raises(PublishError, match=code):
        CMQQueuePublisher("alarms", options=env_options()).publish(MESSAGE)


def test_an_http_failure_is_retried_once(endpoint: TencentEndpoint) -> None:
    endpoint.failures.append(502)
    CMQQueuePublisher("alarms", options=env_options()).publish(MESSAGE)
    assert [c.error for c in endpoint.calls] == ["HTTP 502", None]
    endpoint.failures += [502, 503]
    with pytest.raises(PublishError, match="ServerNetworkError"):
        CMQQueuePublisher("alarms", options=env_options()).publish(MESSAGE)


def test_an_answer_without_message_id_is_a_failure(endpoint: TencentEndpoint) -> None:
    """An error body the SDK does not recognise (content type with a charset) still fails."""
    endpoint.content_type = "application/json; charset=utf-8"
    endpoint.failures.append(("InternalError", "boom"))
    with pytest.raises(PublishError, match="no message id"):
        CMQQueuePublisher("alarms", options=env_options()).publish(MESSAGE)


def test_a_silent_endpoint_times_out_within_the_window(role_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never answers
        monkeypatch.setenv("ALARM_CALLBACK_TENCENT_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("ALARM_CALLBACK_TENCENT_TIMEOUT", "0.3")
        tencent.reset_clients()
        started = time.monotonic()
        with pytest.raises(PublishError, match=r"ClientNetworkError|timed out|Timeout"):
            CMQQueuePublisher("alarms", options=env_options()).publish(MESSAGE)
        assert time.monotonic() - started < 2.0  # 2 attempts x 0.3 s + 0.1 s pause


def test_defaults_fit_the_five_second_window(role_env: None) -> None:
    settings = env_options()
    worst = settings.max_attempts * settings.timeout + (settings.max_attempts - 1) * settings.retry_delay
    assert worst < 3.5  # leaves the dedup write and the cold start room in 5 s
    client = tencent.tdmq_client(env_options())
    assert client.profile.httpProfile.reqTimeout == settings.timeout
    assert client.profile.httpProfile.endpoint is None  # the SDK's own: tdmq.tencentcloudapi.com
    assert client._apiVersion == "2020-02-17" and client.region == REGION
    assert tencent.tdmq_client(env_options()) is client  # built once per container


def test_missing_credentials_or_region_fail_at_cold_start(role_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRETKEY")
    tencent.reset_clients()
    with pytest.raises(ConfigError, match="no Tencent credentials"):
        CMQQueuePublisher("alarms", options=env_options())
    monkeypatch.delenv("TENCENTCLOUD_REGION")
    tencent.reset_clients()
    with pytest.raises(ConfigError, match="no Tencent region"):
        CMQQueuePublisher("alarms", options=env_options())
    with pytest.raises(ConfigError, match="needs a name"):
        CMQQueuePublisher.from_url(urlsplit("cmq://"), BackendOptions())


def test_failed_publish_is_acked_kept_and_swept_later(
    endpoint: TencentEndpoint, metric_sample: dict[str, object]
) -> None:
    """The guarantee on Tencent: CMQ refuses, Cloud Monitor is still acked, the alarm waits
    in the outbox, and the sweeper hands it off once CMQ recovers."""
    store = MemoryStore(lease_seconds=10)
    publisher = publisher_from_settings(Settings(queue_url="cmq://alarms"))
    receiver = Receiver(store, publisher, MemoryQuarantine())
    endpoint.failures.append(("ResourceUnavailable", "the queue is being migrated"))
    response = post(receiver, metric_sample)
    assert response.status == 200 and response.payload() == {"sessionId": "xxxxxxxx", "retCode": 0}
    record = store.get("xxxxxxxx")
    assert record is not None and record.status == PENDING
    assert endpoint.accepted == []
    # a resend within the lease is acked and publishes nothing
    assert post(receiver, metric_sample).status == 200
    assert endpoint.accepted == []
    report = sweep(store, publisher, now=time.time() + 11)
    assert (report.published, report.failed) == (1, 0)
    [call] = endpoint.accepted
    assert call.params["MsgContent"] == receiver.builder.rebuild(record.message, "xxxxxxxx").body
    assert json.loads(call.params["MsgContent"])["id"] == "xxxxxxxx"
    published = store.get("xxxxxxxx")
    assert published is not None and published.status == PUBLISHED
    assert sweep(store, publisher, now=time.time() + 30).published == 0
    assert len(endpoint.accepted) == 1


def test_blank_explicit_keys_fall_back_to_the_role(endpoint: TencentEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deploy file maps unset variables to empty strings: those must not count as keys."""
    for name in ("SECRET_ID", "SECRET_KEY", "SESSION_TOKEN", "REGION"):
        monkeypatch.setenv(f"ALARM_CALLBACK_TENCENT_{name}", "")
    tencent.reset_clients()
    CMQQueuePublisher("alarms", options=env_options()).publish(MESSAGE)
    assert endpoint.accepted[0].headers["x-tc-token"] == TOKEN


def test_the_options_repr_leaves_the_keys_out() -> None:
    """Options end up in tracebacks and test reports: their repr names no key."""
    options = TencentOptions(region=REGION, secret_id="AKIDsecretid", secret_key="verysecretkey", session_token="tok3n")
    shown = repr(BackendOptions(tencent=options))
    assert REGION in shown and "timeout=1.5" in shown
    assert not any(key in shown for key in ("AKIDsecretid", "verysecretkey", "tok3n", "secret_", "session_token"))
