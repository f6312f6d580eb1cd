"""The hot-path shortcuts taken for `make bench` give exactly what the plain code gives.

* `encode` calls the envelope's core validator and serializer directly;
* the receiver's alarm is `normalize.alarm_fields`' dict, serialized without the `Alarm`
  model: it must be what validating it as an `Alarm` dumps;
* the log line's timestamp is the ISO form of the record's time;
* `too_deep` walks level by level.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alarm_callback import samples
from alarm_callback.config.logs import _timestamp
from alarm_callback.core.identity import dedup_key
from alarm_callback.core.limits import MAX_DEPTH, too_deep
from alarm_callback.core.message import encode, encode_data, to_event
from alarm_callback.core.models.alarm import Alarm, AlarmEvent, Episode
from alarm_callback.core.normalize import alarm_fields, normalize
from alarm_callback.core.times import load_timezone

SAMPLES = [json.loads(body) for body in samples.load().values()]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 1, 1, 1, 2, 3, 456789, tzinfo=timezone.utc)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "  ", " x ", "0", "1", "2017-03-09 07:00:00", "1700000000", "\u4e2d"]),
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


@pytest.mark.parametrize("body", SAMPLES, ids=[str(b.get("sessionId")) for b in SAMPLES])
def test_encode_is_the_envelope_models_json(body: dict[str, Any]) -> None:
    alarm = normalize(body, dedup_key(body), load_timezone("Asia/Shanghai"), NOW)
    for dedup in ("checked", "skipped"):
        message = encode(alarm, "src", dedup=dedup, recovered=dedup == "skipped")  # type: ignore[arg-type]
        event = to_event(alarm, "src", dedup=dedup, recovered=dedup == "skipped")  # type: ignore[arg-type]
        assert message.body == event.model_dump_json()
        assert json.loads(message.body)["data"]["raw"] == body


@pytest.mark.parametrize(
    "episode",
    [
        None,
        Episode(id="e1", sequence=1, opened_at=NOW, state="open"),
        Episode(id="e1", sequence=4, opened_at=NOW, state="closed", flapping=True),
        Episode(id="e2", sequence=1, opened_at=NOW, state="closed", orphan=True),
    ],
)
def test_the_envelope_dict_is_the_envelope_model(episode: Episode | None) -> None:
    """`encode` builds the envelope as a dict for `to_json`: it must be `AlarmEvent`'s dump,
    field for field and in order (a field added to the model fails here until added there)."""
    for body in [*SAMPLES[:3], {"sessionId": "no-object"}]:
        alarm = normalize(body, dedup_key(body), load_timezone("Asia/Shanghai"), NOW)
        alarm = alarm.model_copy(update={"episode": episode})
        for dedup, recovered in (("checked", False), ("skipped", True)):
            message = encode(alarm, "src", dedup=dedup, recovered=recovered)  # type: ignore[arg-type]
            event = to_event(alarm, "src", dedup=dedup, recovered=recovered)  # type: ignore[arg-type]
            assert message.body == event.model_dump_json()
            fields = list(AlarmEvent.model_fields)
            assert list(json.loads(message.body)) == [f for f in fields if f in json.loads(message.body)]


@FUZZ
@given(st.sampled_from(SAMPLES), st.lists(st.tuples(st.sampled_from(sorted({k for b in SAMPLES for k in b})), values)))
def test_alarm_fields_are_the_alarms_dump(body: dict[str, Any], changes: list[tuple[str, Any]]) -> None:
    """`alarm_fields` gives `Alarm.model_validate(...).model_dump()` itself (every field, in
    order, nested models as dicts), so `encode_data` of it is `encode` of the model."""
    body = {**body, **dict(changes)}
    try:
        key = dedup_key(body)
    except ValueError:
        return
    fields = alarm_fields(body, key, load_timezone("Asia/Shanghai"), NOW)
    if fields is None:
        return
    alarm = Alarm.model_validate(fields)
    assert list(fields) == list(Alarm.model_fields)
    assert repr(fields) == repr(alarm.model_dump())
    for episode in (
        None,
        {"id": "e1", "sequence": 2, "opened_at": NOW, "state": "open", "orphan": False, "flapping": True},
    ):
        data = {**fields, "episode": episode}
        with_episode = Alarm.model_validate(data)
        assert repr(data) == repr(with_episode.model_dump())
        assert encode_data(data, "src") == encode(with_episode, "src")


def _reference_attributes(alarm: Alarm, dedup: str, recovered: bool) -> dict[str, str]:
    """`message._attributes` as it was written before: all ten, then the empty ones dropped."""
    found = {
        "status": alarm.status,
        "kind": alarm.kind,
        "namespace": alarm.object.namespace,
        "region": alarm.object.region,
        "policy_id": alarm.policy.id,
        "dedup": "skipped" if dedup == "skipped" else None,
        "recovered": "true" if recovered else None,
        "episode": alarm.episode.id if alarm.episode else None,
        "sequence": str(alarm.episode.sequence) if alarm.episode else None,
        "flapping": "true" if alarm.episode and alarm.episode.flapping else None,
    }
    return {key: value for key, value in found.items() if value}


@pytest.mark.parametrize(
    "episode",
    [
        None,
        Episode(id="e1", sequence=1, opened_at=NOW, state="open"),
        Episode(id="", sequence=4, opened_at=NOW, state="closed", flapping=True),
    ],
)
def test_attributes_are_the_non_empty_ones_in_order(episode: Episode | None) -> None:
    for body in [*SAMPLES, {"sessionId": "no-object"}]:
        alarm = normalize(body, dedup_key(body), load_timezone("Asia/Shanghai"), NOW)
        blank = {"object": alarm.object.model_copy(update={"namespace": "", "region": None})}
        for variant in (alarm, alarm.model_copy(update=blank)):
            variant = variant.model_copy(update={"episode": episode})
            for dedup, recovered in (("checked", False), ("skipped", True)):
                message = encode(variant, "src", dedup=dedup, recovered=recovered)  # type: ignore[arg-type]
                expected = _reference_attributes(variant, dedup, recovered)
                assert list(message.attributes.items()) == list(expected.items())


@FUZZ
@given(st.floats(min_value=0, max_value=4_000_000_000))
def test_log_timestamp_is_isoformat(created: float) -> None:
    assert _timestamp(created) == datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@FUZZ
@given(st.dictionaries(st.text(max_size=3), values, max_size=3), st.integers(0, 40))
def test_too_deep_is_the_nesting_depth(body: dict[str, Any], extra: int) -> None:
    for _ in range(extra):
        body = {"k": [body]} if extra % 2 else {"k": body}
    assert too_deep(body) == (_depth(body) > MAX_DEPTH)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False),
        st.text(max_size=12),
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(json_values, st.booleans(), st.sampled_from(["utf-8", "utf-16", "utf-8-sig"]))
def test_decode_reads_what_json_loads_reads(value: Any, ascii: bool, encoding: str) -> None:
    """`build.decode` takes `pydantic_core.from_json` where it can: same values, same types."""
    from alarm_callback.core.build import decode

    body = json.dumps(value, ensure_ascii=ascii).encode(encoding, "surrogatepass")
    assert repr(decode(body)) == repr(json.loads(body))


@FUZZ
@given(
    st.binary(max_size=40) | st.text(alphabet='{}[]",:0123456789.eE+-\\unatrflsNIy \n\t', max_size=30).map(str.encode)
)
def test_decode_fails_as_json_loads_fails(body: bytes) -> None:
    from alarm_callback.core.build import decode

    try:
        expected: Any = repr(json.loads(body))
    except (ValueError, RecursionError) as exc:
        expected = (type(exc), str(exc))
    try:
        found: Any = repr(decode(body))
    except (ValueError, RecursionError) as exc:
        found = (type(exc), str(exc))
    assert found == expected
