"""Golden outputs of the receiver, kept as digests so a hot-path change can prove it sends
exactly what the code sent before (issue 14: "byte-identical messages, acks and occurrence
keys before and after").

The cases: every seed sample in a chain through one receiver (new, resend, repeat firing,
recovery, another body under the same key), then a few thousand mutated bodies made from a
fixed seed (fields dropped, altered, retyped; unicode, big integers, NaN-like text, missing
ids; other encodings, broken JSON). For each case the receiver's visible outputs are recorded
with the clock fixed: status, headers and ack bytes, every published message (id, body,
fingerprint, attributes, occurrence key), the outbox record it stored, what it quarantined,
and its log lines (minus time, latency and tracebacks, which name source lines).

    python -m tests.byte_equality --regenerate   # rewrite tests/fixtures/byte_equality.json

Regenerate only when an output is *meant* to change, and say why in the commit.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from alarm_callback import samples
from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.config.logs import JsonFormatter
from alarm_callback.core.http import Request
from alarm_callback.core.receiver import Receiver

FIXTURE = Path(__file__).parent / "fixtures" / "byte_equality.json"
SEED = 14
MUTATIONS = 3000
NOW = 1767225600.123456  # 2026-01-01T00:00:00.123456Z: every "received at" of every case
DIGEST_HEX = 16  # per case; 64 bits tell any accidental change apart

_ODD_VALUES: list[Any] = [
    None,
    "",
    "   ",
    " padded ",
    0,
    -1,
    7,
    10**30,
    -(10**25),
    1.5,
    1e308,
    -0.0,
    True,
    False,
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "1e999",
    "0",
    "1",
    "01",
    "3.14",
    "1700000000",
    "1700000000000",
    "2017-03-09 07:00:00",
    "2017/03/09 07:00:00",
    "2017-03-09T07:00:00+08:00",
    "2017-13-45 99:00:00",
    "中文告警",
    "é\u0301",
    "🚨 alarm",
    "tab\tand\nnewline",
    'quote"back\\slash',
    "\u0000nul",
    "x" * 300,
    [],
    {},
    [1, "a", None],
    {"nested": {"deeper": [1, 2]}},
]
_ID_FIELDS = ("sessionId", "alertId", "id")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every (container path + key) in a decoded body."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from _paths(child, (*prefix, index))


def _parent(body: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        body = body[step]
    return body


def _retype(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return str(value) if rng.random() < 0.7 else [value]
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return {"v": value} if rng.random() < 0.5 else [value]
    if isinstance(value, (dict, list)):
        return json.dumps(value) if rng.random() < 0.5 else ""
    return "retyped"


def _alter(value: Any, rng: random.Random) -> Any:
    if isinstance(value, str):
        return rng.choice([value.upper(), f"  {value}  ", value + "\u00e9", value[: len(value) // 2], value * 2])
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return rng.choice([value + 1, -value, value * 10**20])
    return copy.deepcopy(rng.choice(_ODD_VALUES))


def mutate(body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for _ in range(rng.randint(1, 3)):
        paths = list(_paths(body))
        op = rng.random()
        if op < 0.08:  # the ids: missing, odd, or numeric
            field = rng.choice(_ID_FIELDS)
            choice = rng.random()
            if choice < 0.5:
                body.pop(field, None)
            else:
                body[field] = rng.choice(
                    [12345678901234567890, 0, " s-1 ", "with space", "ü", 1.0, True, "", "z" * 300]
                )
            continue
        if not paths:
            break
        path = rng.choice(paths)
        parent, key = _parent(body, path), path[-1]
        if op < 0.3:
            if isinstance(parent, dict):
                del parent[key]
            else:
                parent.pop(key)
        elif op < 0.55:
            parent[key] = copy.deepcopy(rng.choice(_ODD_VALUES))
        elif op < 0.75:
            parent[key] = _retype(parent[key], rng)
        elif op < 0.9:
            parent[key] = _alter(parent[key], rng)
        elif isinstance(parent, dict):  # rename (case) or add a field
            if rng.random() < 0.5 and isinstance(key, str):
                parent[key.swapcase()] = parent.pop(key)
            else:
                parent[f"extra{rng.randint(0, 9)}"] = copy.deepcopy(rng.choice(_ODD_VALUES))
    return body


def _encode(body: Any, rng: random.Random) -> bytes:
    """As a sender might: mostly UTF-8 JSON, sometimes escaped, odd spacing, other encodings,
    or broken."""
    roll = rng.random()
    text = json.dumps(body, ensure_ascii=roll < 0.3, indent=2 if roll > 0.95 else None)
    if roll < 0.01:
        return text.encode("utf-16")
    if roll < 0.02:
        return b"\xef\xbb\xbf" + text.encode()
    if roll < 0.03:
        return text.encode()[: max(1, len(text) // 2)]
    if roll < 0.04:
        return text.replace('"sessionId"', '"sessionId": "dup", "sessionId"', 1).encode()
    if roll < 0.045:
        return ("[" + text + "]").encode()
    if roll < 0.05:
        return text.replace('"', '"\\ud800', 1).encode()  # a lone surrogate in the first key
    return text.encode("utf-8", "surrogatepass")


def cases() -> Iterator[tuple[str, list[bytes]]]:
    """(case id, the bodies one receiver handles in order)."""
    seeds = samples.load()
    for name, raw in seeds.items():
        body = json.loads(raw)
        repeat = {**body, "sessionId": f"{body.get('sessionId')}-repeat"}
        recovery = {**body, "sessionId": f"{body.get('sessionId')}-ok", "alarmStatus": 0}
        if "alertId" in body:
            repeat["alertId"], recovery["alertId"] = f"{body['alertId']}-repeat", f"{body['alertId']}-ok"
        other = {**body, "durationTime": 999}
        chain = [raw, raw, json.dumps(repeat).encode(), json.dumps(recovery).encode(), json.dumps(other).encode()]
        yield f"seed:{name}", chain
    bodies = [json.loads(raw) for raw in seeds.values()]
    rng = random.Random(SEED)
    for index in range(MUTATIONS):
        yield f"mutation:{index}", [_encode(mutate(rng.choice(bodies), rng), rng)]
    yield "special:not-json", [b"not json"]
    yield "special:array", [b"[1, 2]"]
    yield "special:deep", [b'{"sessionId": "deep", "x": ' + b"[" * 40 + b"]" * 40 + b"}"]
    yield "special:nan-literal", [b'{"sessionId": "nan", "alarmStatus": NaN, "durationTime": Infinity}']
    yield "special:big-float", [b'{"sessionId": "big", "durationTime": 1e400}']
    yield "special:empty", [b""]


@contextmanager
def _fixed_clock() -> Iterator[None]:
    with mock.patch("time.time", return_value=NOW):
        yield


def _log_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        entry = json.loads(line)
        for field in ("time", "latency_ms", "traceback"):
            entry.pop(field, None)
        lines.append(dict(sorted(entry.items())))
    return lines


def outputs(bodies: list[bytes]) -> list[dict[str, Any]]:
    """What one receiver visibly does with `bodies`, in order."""
    store, publisher, quarantine = MemoryStore(), MemoryPublisher(), MemoryQuarantine()
    receiver = Receiver(store, publisher, quarantine)
    logger = logging.getLogger("alarm_callback")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    saved = (logger.handlers[:], logger.level, logger.propagate, logger.disabled)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate, logger.disabled = False, False
    found: list[dict[str, Any]] = []
    try:
        for body in bodies:
            seen = len(publisher.messages)
            stream.seek(0)
            stream.truncate()
            with _fixed_clock():
                response = receiver.handle(Request("POST", "/callback", body, source="golden"))
            published = [
                {
                    "id": m.id,
                    "body": m.body,
                    "fingerprint": m.fingerprint,
                    "attributes": m.attributes,
                    "occurrence": m.occurrence,
                    "routing_key": m.routing_key,
                }
                for m in publisher.messages[seen:]
            ]
            record = None
            for line in _log_lines(stream.getvalue()):
                key = line.get("dedup_key")
                if line.get("outcome") and isinstance(key, str):
                    stored = store.get(key)
                    record = None if stored is None else {"status": stored.status, "message": stored.message}
            found.append(
                {
                    "status": response.status,
                    "headers": dict(response.headers),
                    "ack": response.body.decode("utf-8", "backslashreplace"),
                    "published": published,
                    "stored": record,
                    "quarantined": sorted(
                        (item.id, item.reason, item.detail, item.truncated) for item in quarantine.items.values()
                    ),
                    "log": _log_lines(stream.getvalue()),
                }
            )
    finally:
        logger.handlers[:], logger.level, logger.propagate, logger.disabled = saved
    return found


def digest(found: list[dict[str, Any]]) -> str:
    text = json.dumps(found, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_HEX]


def compute() -> dict[str, str]:
    return {case: digest(outputs(bodies)) for case, bodies in cases()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.byte_equality")
    parser.add_argument("--regenerate", action="store_true", help=f"rewrite {FIXTURE.name} from today's code")
    args = parser.parse_args()
    started = time.perf_counter()
    found = compute()
    if args.regenerate:
        FIXTURE.write_text(json.dumps({"seed": SEED, "mutations": MUTATIONS, "cases": found}, indent=0) + "\n")
        print(f"wrote {len(found)} cases to {FIXTURE} in {time.perf_counter() - started:.1f} s")
        return
    golden = json.loads(FIXTURE.read_text())["cases"]
    differ = [case for case in found if golden.get(case) != found[case]]
    print(f"{len(found)} cases, {len(differ)} differ: {differ[:20]}")


if __name__ == "__main__":
    main()
