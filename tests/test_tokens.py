"""Token rules of the deployed entry points, and token rotation (issue 13)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.config.settings import Settings, token_problem
from alarm_callback.config.wiring import authenticator
from alarm_callback.core.errors import ConfigError
from alarm_callback.core.http import Request
from alarm_callback.core.receiver import Receiver
from alarm_callback.edges import entry
from tests.conftest import memory_backends

GOOD = "Zq9xW2-0123456789abcdef"
OLD = "old-Zq9xW2-0123456789"


@pytest.fixture
def clean_entry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("TOKEN", "PREVIOUS_TOKEN", "BASIC_AUTH", "ALLOW_UNAUTHENTICATED"):
        monkeypatch.delenv(f"ALARM_CALLBACK_{name}", raising=False)
    memory_backends(monkeypatch)
    entry.reset()
    yield
    entry.reset()


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("abc", "is 3 characters; use at least 16"),
        ("callback", "segment of the route"),
        ("/callback/", "segment of the route"),
        ("{{resolve:ssm:/alarm-callback/prod/token}}", "unresolved placeholder"),
        ("${env:ALARM_CALLBACK_TOKEN_FROM_CI}", "unresolved placeholder"),
    ],
)
def test_deployed_entry_refuses_unsafe_tokens(
    clean_entry: None, monkeypatch: pytest.MonkeyPatch, token: str, why: str
) -> None:
    monkeypatch.setenv("ALARM_CALLBACK_TOKEN", token)
    with pytest.raises(ConfigError, match=why) as caught:
        entry.receiver()
    message = str(caught.value)
    assert "\n" not in message and message.startswith("ALARM_CALLBACK_TOKEN ")
    assert token_problem(token) is not None


def test_unsafe_previous_token_is_refused_too(clean_entry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALARM_CALLBACK_TOKEN", GOOD)
    monkeypatch.setenv("ALARM_CALLBACK_PREVIOUS_TOKEN", "short")
    with pytest.raises(ConfigError, match="ALARM_CALLBACK_PREVIOUS_TOKEN is 5 characters"):
        entry.receiver()


def test_good_token_starts(clean_entry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALARM_CALLBACK_TOKEN", GOOD)
    assert token_problem(GOOD) is None
    assert not entry.receiver().auth.open


def test_rules_apply_to_any_set_token_but_unset_passes() -> None:
    Settings().check_tokens()  # the local server may run open
    with pytest.raises(ConfigError, match="16"):
        Settings(token="short").check_tokens()


def _request(path: str, query: dict[str, str] | None = None) -> Request:
    return Request("POST", path, query=query or {}, source_ip="203.0.113.7", source="test")


def test_rotation_accepts_both_tokens_and_masks_both(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(token=GOOD, previous_token=OLD)
    settings.check_tokens()
    auth = authenticator(settings)
    assert auth.check(_request(f"/callback/{GOOD}"))
    assert auth.check(_request(f"/callback/{OLD}"))
    assert auth.check(_request("/callback", {"token": OLD}))
    assert not auth.check(_request("/callback/nope"))
    receiver = Receiver(MemoryStore(), MemoryPublisher(), MemoryQuarantine(), auth)
    with caplog.at_level(logging.INFO, logger="alarm_callback"):
        assert receiver.handle(_request("/callback/nope")).status == 401
    [record] = [r for r in caplog.records if r.__dict__.get("status_code") == 401]
    assert record.__dict__["source_ip"] == "203.0.113.7"  # the failed-auth line says who tried
    assert GOOD in settings.secrets() and OLD in settings.secrets()
    # without a previous token the old one no longer works
    assert not authenticator(Settings(token=GOOD)).check(_request(f"/callback/{OLD}"))
