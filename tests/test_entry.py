"""Entry points, settings, the CLI banner and the sender's Tencent semantics."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from alarm_callback.config.settings import Settings
from alarm_callback.core.errors import ConfigError
from alarm_callback.core.http import Request, Response
from alarm_callback.edges import entry
from alarm_callback.edges.base import Adapter, UnknownEventError, select
from alarm_callback.ops.cli import banner
from alarm_callback.ops.sender import is_ack, split_credentials
from tests.conftest import memory_backends


@pytest.fixture
def clean_entry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("TOKEN", "BASIC_AUTH", "ALLOW_UNAUTHENTICATED"):
        monkeypatch.delenv(f"ALARM_CALLBACK_{name}", raising=False)
    memory_backends(monkeypatch)
    entry.reset()
    yield
    entry.reset()


def test_deployed_receiver_refuses_to_run_open(clean_entry: None) -> None:
    with pytest.raises(ConfigError, match="no credential configured"):
        entry.receiver()


def test_deployed_receiver_runs_open_when_allowed(clean_entry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALARM_CALLBACK_ALLOW_UNAUTHENTICATED", "true")
    assert entry.receiver().auth.open


def test_deployed_receiver_with_token(clean_entry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALARM_CALLBACK_TOKEN", "abc-0123456789abcdef")
    receiver = entry.receiver()
    assert not receiver.auth.open
    assert entry.sweep_handler({}, None) == {"found": 0, "published": 0, "failed": 0, "purged": 0, "undeliverable": 0}


def test_settings_validation() -> None:
    assert Settings(token="  ").token is None
    with pytest.raises(ValueError, match="user:password"):
        Settings(basic_auth="nocolon")
    assert "s3" not in repr(Settings(token="s3", basic_auth="u:s3"))


class _A(Adapter):
    name = "a"

    @classmethod
    def infer(cls, event: object, context: object) -> bool:
        return isinstance(event, dict) and "a" in event

    @property
    def request(self) -> Request:
        return Request("POST", "/")

    def render(self, response: Response) -> object:
        return response.status


class _B(_A):
    name = "b"

    @classmethod
    def infer(cls, event: object, context: object) -> bool:
        return isinstance(event, dict) and "b" in event


def test_select_needs_exactly_one_adapter() -> None:
    assert isinstance(select({"a": 1}, None, [_A, _B]), _A)
    with pytest.raises(UnknownEventError, match="matching adapters: none"):
        select({"c": 1}, None, [_A, _B])
    with pytest.raises(UnknownEventError, match="a, b"):
        select({"a": 1, "b": 1}, None, [_A, _B])


def test_banner_warns_when_open_and_masks_secrets() -> None:
    open_text = banner(Settings(), "127.0.0.1", 8080)
    assert "WARNING" in open_text and "http://127.0.0.1:8080/callback" in open_text
    token = "abc-0123456789abcdef"
    token_text = banner(Settings(token=token), "127.0.0.1", 8080)
    assert "WARNING" not in token_text and "http://127.0.0.1:8080/callback/***" in token_text
    assert token not in token_text and "$ALARM_CALLBACK_TOKEN" in token_text
    assert ".venv/bin/alarm-callback send" in token_text
    basic_text = banner(
        Settings(
            basic_auth="u:pw-secret", queue_url="amqp://u:amqp-pw@h/?exchange=x", store_url="redis://:redis-pw@h/0"
        ),
        "127.0.0.1",
        8080,
    )
    assert "http://***@127.0.0.1:8080/callback" in basic_text
    for secret in ("pw-secret", "amqp-pw", "redis-pw"):
        assert secret not in basic_text
    assert "amqp://u:***@h/" in basic_text and "redis://:***@h/0" in basic_text


def test_sender_turns_url_credentials_into_basic_auth() -> None:
    url, headers = split_credentials("https://tencent:p%40ss@example.test:8443/callback?x=1")
    assert url == "https://example.test:8443/callback?x=1"
    assert base64.b64decode(headers["authorization"].split()[1]) == b"tencent:p@ss"
    assert split_credentials("http://h/callback") == ("http://h/callback", {})


@pytest.mark.parametrize(
    ("status", "body", "ok"),
    [
        (200, '{"sessionId": "s", "retCode": 0}', True),
        (200, '{"sessionId": "other", "retCode": 0}', False),
        (200, '{"sessionId": "s", "retCode": 1}', False),
        (500, '{"sessionId": "s", "retCode": 0}', False),
        (200, "not json", False),
        (None, "", False),
    ],
)
def test_is_ack(status: int | None, body: str, ok: bool) -> None:
    assert is_ack(status, body, "s") is ok
