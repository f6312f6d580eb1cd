"""Fuzzing the receiver and the local server's ASGI edge with hypothesis.

Properties, whatever arrives: no unhandled exception; the reply is JSON with 200 or a 4xx;
and a 200 always means the alarm is published or already handed off under its dedup key.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alarm_callback import samples
from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.core.auth import Authenticator
from alarm_callback.core.http import Request, Response
from alarm_callback.core.identity import dedup_key
from alarm_callback.core.outbox import PUBLISHED
from alarm_callback.core.receiver import Receiver
from alarm_callback.edges.asgi import App

SAMPLES = [json.loads(body) for body in samples.load().values()]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", " ", "0", "1", "2017-03-09 07:00:00", "\u0000", "\u00fc\u4e2d\U0001d518", "9" * 400]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    return found


@st.composite
def mutated_callbacks(draw: st.DrawFn) -> Any:
    body = json.loads(json.dumps(draw(st.sampled_from(SAMPLES))))
    for _ in range(draw(st.integers(0, 6))):
        paths = [p for p in _paths(body) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["swap", "delete", "add"]))
        if action == "swap":
            parent[path[-1]] = draw(json_values)
        elif action == "delete":
            del parent[path[-1]]
        else:
            parent[draw(st.text(max_size=10))] = draw(json_values)
    return body


def deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"sessionId": "deep"}
    for _ in range(levels):
        node = {"sessionId": "deep", "x": node}
    return node


bodies = st.one_of(
    mutated_callbacks().map(lambda b: json.dumps(b).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.integers(0, 200).map(lambda n: json.dumps(deep(n)).encode()),
    st.integers(10, 100).map(lambda n: b"[" * n * 1000),
    st.sampled_from([b"\xff\xfe\xfd", b'{"sessionId": "\xff"}', b"\x00" * 10, b"{" * 5000]),
)


def fresh() -> Receiver:
    return Receiver(MemoryStore(), MemoryPublisher(), MemoryQuarantine(), max_body_bytes=65536)


def check(receiver: Receiver, body: bytes, response: Response) -> None:
    assert response.status in (200, 400, 413), response
    assert response.headers["content-type"] == "application/json"
    payload = json.loads(response.body)
    if response.status != 200:
        assert payload["error"] and payload["detail"]
        return
    assert payload["retCode"] == 0
    key = dedup_key(json.loads(body))
    record = receiver.store.get(key)
    assert record is not None and record.status == PUBLISHED
    assert isinstance(receiver.publisher, MemoryPublisher)
    assert key in {m.id for m in receiver.publisher.messages}


@FUZZ
@given(bodies)
def test_receiver_never_breaks(body: bytes) -> None:
    receiver = fresh()
    check(receiver, body, receiver.handle(Request("POST", "/callback", body)))


@FUZZ
@given(mutated_callbacks())
def test_mutated_callbacks_with_an_id_are_accepted(body: dict[str, Any]) -> None:
    receiver = fresh()
    raw = json.dumps(body).encode()
    response = receiver.handle(Request("POST", "/callback", raw))
    check(receiver, raw, response)
    try:
        dedup_key(body)
    except ValueError:
        assert response.status == 400
    else:
        assert response.status == 200  # loose types never cost an alarm that names its id


header_names = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1, max_size=20
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60)


@FUZZ
@given(
    body=bodies,
    headers=st.lists(st.tuples(header_names, header_values), max_size=6),
    path=st.sampled_from(["/callback", "/callback/tok", "/callback/x/y", "/callback/", "/other", "/healthz"]),
    query=st.binary(max_size=40),
    method=st.sampled_from(["POST", "GET", "PUT", "DELETE"]),
)
def test_asgi_edge_never_breaks(
    body: bytes, headers: list[tuple[str, str]], path: str, query: bytes, method: str
) -> None:
    receiver = Receiver(
        MemoryStore(), MemoryPublisher(), MemoryQuarantine(), Authenticator(token="tok"), max_body_bytes=65536
    )
    sent: list[dict[str, Any]] = []
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)] or [b""]

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 1234),
    }
    asyncio.run(App(receiver)(scope, receive, send))
    status = sent[0]["status"]
    assert status in (200, 400, 401, 404, 405, 413)
    assert json.loads(sent[1]["body"])
    if status == 200 and path != "/healthz":
        check(receiver, body, Response(200, sent[1]["body"]))
