"""The local-server floor: a bare ASGI app under the same uvicorn settings that only parses
the body with pydantic, makes the same SQLite writes as the receiver (same two WAL files,
same pragmas: claim the key in the outbox, append to the queue, mark it published; a
resend's claim finds the key taken and writes nothing more) and acks."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Callback(BaseModel):
    model_config = ConfigDict(extra="allow")
    session_id: str = Field(alias="sessionId")


def _open(path: str, schema: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(schema)
    return conn


class FloorApp:
    def __init__(self, directory: str) -> None:
        self.store = _open(
            f"{directory}/store.db",
            "CREATE TABLE IF NOT EXISTS outbox (key TEXT PRIMARY KEY, status TEXT, message TEXT, updated_at REAL);",
        )
        self.queue = _open(
            f"{directory}/queue.db",
            "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT, body TEXT);",
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        alarm = Callback.model_validate_json(body)
        key = alarm.session_id
        text = body.decode()
        if self.store.execute(
            "INSERT INTO outbox (key, status, message, updated_at) VALUES (?, 'pending', ?, 0) ON CONFLICT DO NOTHING",
            (key, text),
        ).rowcount:
            self.queue.execute("INSERT INTO messages (id, body) VALUES (?, ?)", (key, text))
            self.store.execute("UPDATE outbox SET status = 'published' WHERE key = ?", (key,))
        reply = json.dumps({"sessionId": key, "retCode": 0}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(reply)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": reply})
