"""`sqlite:///path`: the local queue. Other processes read it (`alarm-callback tail`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import SplitResult

from ...core.errors import PublishError
from ...core.message import Message
from ...core.ports import Publisher
from ..options import BackendOptions
from .db import Database, path_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    grp TEXT NOT NULL,
    attributes TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at REAL NOT NULL DEFAULT ((julianday('now') - 2440587.5) * 86400.0)
);
"""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    seq: int
    message: Message


class SQLiteQueue(Publisher):
    schemes = ("sqlite",)

    def __init__(self, path: str) -> None:
        self.db = Database(path, SCHEMA)

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> SQLiteQueue:
        return cls(path_of(url))

    def use(self, db: Database) -> None:
        """Write through `db` (a store's, on this same file: `SQLiteStore.share_file`), so
        an insert joins the store's open transaction instead of committing alone."""
        if db is not self.db:  # the file already has this queue's table: built by this one
            self.db.close()
            self.db = db

    def publish(self, message: Message) -> None:
        try:
            self.db.connection().execute(
                "INSERT INTO messages (id, grp, attributes, body) VALUES (?, ?, ?, ?)",
                (message.id, message.fingerprint, json.dumps(message.attributes), message.body),
            )
        except sqlite3.Error as exc:
            raise PublishError(f"sqlite queue insert failed: {exc}") from exc

    def read(self, after: int = 0, limit: int = 1000) -> Iterator[QueuedMessage]:
        """Messages with seq > `after`, in order. Reading does not consume (it is a log)."""
        rows = self.db.connection().execute(
            "SELECT seq, id, grp, attributes, body FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        for row in rows:
            message = Message(
                id=row["id"], body=row["body"], fingerprint=row["grp"], attributes=json.loads(row["attributes"])
            )
            yield QueuedMessage(row["seq"], message)

    def close(self) -> None:
        self.db.close()
