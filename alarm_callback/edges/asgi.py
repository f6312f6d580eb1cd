"""The local server's ASGI app: the same receiver behind uvicorn.

Routes: ``POST /callback`` and ``POST /callback/<token>``, ``GET /healthz``. Anything
else is a JSON 404.

The method and the credential (token in the path or query, Basic auth header) are checked
on the request line and headers alone, *before* the body is read: a stranger gets its 405
or 401 without the app reading a byte of what it sends (uvicorn discards the rest of
that body as it arrives, without buffering it). Then the body is read up to
one byte past the limit, so an oversized post costs at most the limit in memory. A client
that disconnects before the whole body has arrived is not processed at all (a truncated
body is never parsed, quarantined or published; the sender's retry will bring it whole).

Timeouts are the server's, not this app's. Under uvicorn (``alarm-callback serve``):
``timeout_keep_alive`` (default 5 s) closes an idle keep-alive connection; request-line
and header size is bounded by h11's ``h11_max_incomplete_event_size`` (16 KiB by default);
uvicorn has no timeout for reading the headers or the body of a request in progress, so
a slow client can hold a connection open (bounded by ``limit_concurrency`` if set). Put
a reverse proxy with read timeouts in front when the port is reachable from the internet.

The receiver is called inline on the event loop: the local backends (SQLite) answer in
microseconds, and a thread hop per request would cost more than it saves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from ..core.http import Request, Response
from ..core.receiver import Receiver

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CALLBACK_PREFIX = "/callback"
_HEALTH = Response.json(200, {"status": "ok"})
_NOT_FOUND = Response.error(404, "not_found", "POST alarms to /callback")


class App:
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/healthz":
            await _respond(send, _HEALTH)
            return
        if path != CALLBACK_PREFIX and not path.startswith(CALLBACK_PREFIX + "/"):
            await _respond(send, _NOT_FOUND)
            return
        client = scope.get("client")
        query_string: bytes = scope.get("query_string", b"")
        head = Request(
            method=scope["method"],
            path=path,
            headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]},
            query=dict(reversed(parse_qsl(query_string.decode("latin-1")))) if query_string else {},
            source_ip=client[0] if client else None,
            source="asgi",
        )
        if head.method.upper() != "POST" or not self.receiver.auth.check(head):
            # The receiver answers 405 / 401 from the head alone; the body is never read.
            await _respond(send, self.receiver.handle(head))
            return
        body = await _read_body(receive, self.receiver.max_body_bytes + 1)
        if body is None:  # the client left before the body was complete: nobody to answer
            return
        await _respond(send, self.receiver.handle(head._replace(body=body)))


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The body, cut at `limit` bytes; None when the client disconnected before its end."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


_JSON_ONLY = {"content-type": "application/json"}
_JSON_HEADER = (b"content-type", b"application/json")


async def _respond(send: Send, response: Response) -> None:
    if response.headers == _JSON_ONLY:  # nearly every reply: skip re-encoding the one header
        headers = [_JSON_HEADER]
    else:
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers.items()]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
