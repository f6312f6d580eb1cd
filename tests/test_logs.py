"""Logs: one JSON line per callback, EMF metrics on AWS, and never a secret."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.config import logs as log
from alarm_callback.config.settings import Settings
from alarm_callback.core.auth import Authenticator
from alarm_callback.core.errors import StoreError
from alarm_callback.core.http import Request
from alarm_callback.core.receiver import Receiver

TOKEN = "tok-Zq9xW2secret"
USER, PASSWORD = "tencent", "pw-K7v3secret"
REDIS_PASSWORD = "redis-Pw-91secret"


class LeakyStore(MemoryStore):
    """Fails the way a client library does: quoting its URL, password included."""

    def claim(self, key: str, message: str, now: float | None = None, **options: Any) -> Any:
        raise StoreError(f"cannot reach redis://:{REDIS_PASSWORD}@db.internal:6379/0")


@pytest.fixture(autouse=True)
def restore_logger() -> Iterator[None]:
    """`log.configure` binds the captured stderr; put the package logger back afterwards."""
    yield
    logger = logging.getLogger(log.LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_no_secret_in_any_log_line(capsys: pytest.CaptureFixture[str], metric_sample: dict[str, Any]) -> None:
    settings = Settings(
        token=TOKEN,
        basic_auth=f"{USER}:{PASSWORD}",
        store_url=f"redis://:{REDIS_PASSWORD}@db.internal:6379/0",
        log_level="DEBUG",
    )
    log.configure(settings.log_level, settings.secrets())
    auth = Authenticator(TOKEN, f"{USER}:{PASSWORD}")
    good = json.dumps(metric_sample).encode()
    basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    wrong_basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}x".encode()).decode()
    for store in (MemoryStore(), LeakyStore()):
        receiver = Receiver(store, MemoryPublisher(), MemoryQuarantine(), auth)
        requests = [
            Request("POST", f"/callback/{TOKEN}", good),
            Request("POST", "/callback", good, query={"token": TOKEN}),
            Request("POST", "/callback", good, headers={"authorization": basic}),
            Request("POST", f"/callback/{TOKEN}x", good),
            Request("POST", "/callback", good, headers={"authorization": wrong_basic}),
            Request("POST", f"/callback/{TOKEN}", b"{not json"),
            Request("GET", f"/callback/{TOKEN}"),
        ]
        for request in requests:
            receiver.handle(request)
    output = capsys.readouterr().err
    records = lines(output)
    assert len(records) >= 14  # one line per callback at least, plus the store errors
    assert any("***" in r.get("error", "") for r in records)  # the leaky error was logged, masked
    for secret in (TOKEN, PASSWORD, REDIS_PASSWORD):
        assert secret not in output


def test_one_line_per_callback_with_outcome(capsys: pytest.CaptureFixture[str], metric_sample: dict[str, Any]) -> None:
    log.configure("INFO")
    receiver = Receiver(MemoryStore(), MemoryPublisher(), MemoryQuarantine())
    body = json.dumps(metric_sample).encode()
    for raw in (body, body, b"[]"):
        receiver.handle(Request("POST", "/callback", raw, source="test"))
    records = lines(capsys.readouterr().err)
    assert [r["outcome"] for r in records] == ["published", "duplicate", "rejected"]
    assert records[0]["dedup_key"] == "xxxxxxxx" and len(records[0]["fingerprint"]) == 32
    assert records[2]["reason"] == "not_an_object" and records[2]["status_code"] == 400
    assert all(r["latency_ms"] >= 0 and r["source"] == "test" for r in records)


def test_emf_metrics_on_aws(capsys: pytest.CaptureFixture[str], metric_sample: dict[str, Any]) -> None:
    log.configure("INFO", emf=True)
    receiver = Receiver(MemoryStore(), MemoryPublisher(), MemoryQuarantine())
    receiver.handle(Request("POST", "/callback", json.dumps(metric_sample).encode()))
    [record] = lines(capsys.readouterr().err)
    metrics = record["_aws"]["CloudWatchMetrics"][0]
    assert metrics["Namespace"] == "AlarmCallback"
    assert metrics["Dimensions"] == [["outcome"]]
    assert {m["Name"] for m in metrics["Metrics"]} == {"Callbacks", "LatencyMs"}
    assert record["Callbacks"] == 1 and record["outcome"] == "published"
    assert isinstance(record["_aws"]["Timestamp"], int)


def test_wrong_and_missing_credentials_get_identical_replies(metric_sample: dict[str, Any]) -> None:
    receiver = Receiver(
        MemoryStore(), MemoryPublisher(), MemoryQuarantine(), Authenticator(TOKEN, f"{USER}:{PASSWORD}")
    )
    body = json.dumps(metric_sample).encode()
    replies = {
        (r.status, r.body, tuple(sorted(r.headers.items())))
        for r in (
            receiver.handle(Request("POST", "/callback", body)),
            receiver.handle(Request("POST", "/callback/nope", body)),
            receiver.handle(Request("POST", "/callback", body, query={"token": "nope"})),
            receiver.handle(Request("POST", "/callback", body, headers={"authorization": "Basic Zm9vOmJhcg=="})),
        )
    }
    assert len(replies) == 1 and next(iter(replies))[0] == 401


@pytest.mark.parametrize("emf", [False, True])
def test_the_direct_line_is_the_line_logging_writes(monkeypatch: pytest.MonkeyPatch, emf: bool) -> None:
    """`core.logline.info` skips the LogRecord, not a byte of the line (clock fixed)."""
    import io
    import time

    from alarm_callback.core import logline

    monkeypatch.setattr(time, "time", lambda: 1767225600.123456)
    logger = logging.getLogger(log.LOGGER)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log.JsonFormatter((PASSWORD,), emf=emf))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    fields = {"outcome": "published", "status_code": 200, "reason": None, "dedup_key": "k", "note": PASSWORD}
    with log.invocation("req-1"):
        logline.info(logger, f"callback published {PASSWORD}", fields)
        logger.info("callback %s", f"published {PASSWORD}", extra=fields)
    direct, standard = stream.getvalue().splitlines()
    assert direct == standard
    assert PASSWORD not in json.loads(direct)["message"]
    keep = logging.Filter()  # a filter: the line goes through logging
    logger.addFilter(keep)
    try:
        logline.info(logger, "callback published", fields)
        assert len(stream.getvalue().splitlines()) == 3
        logger.setLevel(logging.WARNING)
        logline.info(logger, "callback published", fields)
        assert len(stream.getvalue().splitlines()) == 3
    finally:
        logger.removeFilter(keep)
        logger.setLevel(logging.NOTSET)
