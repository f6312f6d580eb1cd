"""Fuzzing every platform adapter through the real entry point: broken envelopes, odd
headers, bodies of every kind. Whatever arrives: no unhandled exception except the explicit
UnknownEventError (kept in the quarantine), and every reply renders a 200 or a 4xx JSON."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note
from hypothesis import strategies as st

from alarm_callback import edges as handlers
from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine
from alarm_callback.core.identity import dedup_key
from alarm_callback.core.outbox import PUBLISHED
from alarm_callback.edges import entry
from alarm_callback.edges.base import UnknownEventError, select
from tests.conftest import memory_backends
from tests.test_fuzz import _paths, bodies, json_values

FIXTURES = Path(__file__).parent / "fixtures"
PLATFORMS = {"aws": "aws", "scf": "scf"}
EVENTS = sorted(
    (platform, path)
    for folder, platform in PLATFORMS.items()
    for path in (FIXTURES / folder).glob("*.json")
    if (FIXTURES / folder).is_dir()
)


@pytest.fixture(autouse=True)
def open_memory_entry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("TOKEN", "BASIC_AUTH"):
        monkeypatch.delenv(f"ALARM_CALLBACK_{name}", raising=False)
    monkeypatch.setenv("ALARM_CALLBACK_ALLOW_UNAUTHENTICATED", "true")
    memory_backends(monkeypatch)
    entry.reset()
    yield
    entry.reset()


def test_every_platform_has_fixtures() -> None:
    platforms = {platform for platform, _ in EVENTS}
    expected = {p for p, paths in (("aws", handlers.AWS), ("scf", handlers.SCF)) if paths}
    assert platforms >= expected, f"adapters without fixtures: {expected - platforms}"


def reply_status(result: Any) -> tuple[int, Any]:
    """(status, decoded JSON body) from any adapter's reply shape."""
    assert isinstance(result, dict), result
    if "statusCode" in result:
        body = result["body"]
        if result.get("isBase64Encoded"):
            body = base64.b64decode(body)
        return int(result["statusCode"]), json.loads(body)
    return (200 if result.get("retCode") == 0 else int(result.get("retCode", 0))), result


@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[str, Any]:
    platform, path = draw(st.sampled_from(EVENTS))
    event = copy.deepcopy(json.loads(path.read_text()))
    for _ in range(draw(st.integers(0, 4))):
        paths = [p for p in _paths(event) if p]
        target = draw(st.sampled_from(paths))
        parent = event
        for key in target[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["swap", "delete", "body"]))
        if action == "swap":
            parent[target[-1]] = draw(json_values)
        elif action == "delete":
            del parent[target[-1]]
        elif "body" in event:
            raw = draw(bodies)
            event["body"] = (
                base64.b64encode(raw).decode()
                if event.get("isBase64Encoded") is True
                else raw.decode("utf-8", "replace")
            )
    return platform, event


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_adapters_never_break(case: tuple[str, Any]) -> None:
    platform, event = case
    current = entry.receiver()
    assert isinstance(current.quarantine, MemoryQuarantine)
    try:
        result = entry.serve(event, {}, platform)
    except UnknownEventError:
        event_note("unknown event")
        kept = hashlib.sha256(entry._event_bytes(event)).hexdigest()[:32]
        assert current.quarantine.items[kept].reason == "unknown_event"  # the event is kept, not lost
        return
    status, payload = reply_status(result)
    event_note(f"status {status}")
    assert status == 200 or 400 <= status < 500, (status, payload)
    if status == 200:  # an ack: the alarm it names is on the queue (now or earlier)
        assert payload["retCode"] == 0
        body = select(event, {}, entry.adapters(platform)).request.body
        record = current.store.get(dedup_key(json.loads(body)))
        assert record is not None and record.status == PUBLISHED


@pytest.mark.parametrize(("platform", "path"), EVENTS, ids=[p.stem for _, p in EVENTS])
def test_each_fixture_is_accepted(platform: str, path: Path) -> None:
    result = entry.serve(json.loads(path.read_text()), {}, platform)
    status, payload = reply_status(result)
    assert status == 200 and payload["retCode"] == 0
    current = entry.receiver()
    assert isinstance(current.publisher, MemoryPublisher)
    assert len(current.publisher.messages) == 1


def _reference_select(event: Any, adapters: tuple[type[Any], ...]) -> list[str]:
    """What `select` decided before its fallback shortcut: every adapter's own `infer`."""
    return [adapter.name for adapter in adapters if adapter.infer(event, {})]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_select_answers_as_every_infer_would(case: tuple[str, Any]) -> None:
    """`select` answers a fallback's `infer` from the specific adapters' answers
    (`FallbackAdapter.infer_after`): the same adapter, or the same error, as asking all."""
    platform, event = case
    adapters = entry.adapters(platform)
    expected = _reference_select(event, adapters)
    try:
        chosen = select(event, {}, adapters)
    except UnknownEventError as exc:
        assert len(expected) != 1
        assert f"matching adapters: {', '.join(expected) or 'none'};" in str(exc)
        return
    assert expected == [chosen.name]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=6) | st.none(), max_size=3))
def test_joined_headers_is_merge_values_joined(maps: list[Any]) -> None:
    """The one-pass `joined_headers` gives what joining `merge_values`' lists gave."""
    from alarm_callback.edges.utils import joined_headers, merge_values

    expected = {name: ", ".join(values) for name, values in merge_values(*maps, fold_case=True).items()}
    assert joined_headers(*maps) == expected
