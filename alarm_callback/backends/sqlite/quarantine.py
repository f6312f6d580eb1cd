"""`sqlite:///path` quarantine: the local default."""

from __future__ import annotations

import sqlite3
from urllib.parse import SplitResult

from ...core.errors import QuarantineError
from ...core.ports import Quarantine, Quarantined
from ..options import BackendOptions
from .db import Database, path_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    id TEXT PRIMARY KEY,
    received_at REAL NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    body BLOB NOT NULL,
    source TEXT NOT NULL,
    truncated INTEGER NOT NULL
);
"""


class SQLiteQuarantine(Quarantine):
    schemes = ("sqlite",)

    def __init__(self, path: str) -> None:
        self.db = Database(path, SCHEMA)

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> SQLiteQuarantine:
        return cls(path_of(url))

    def put(self, item: Quarantined) -> None:
        try:
            self.db.connection().execute(
                "INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
                (item.id, item.received_at, item.reason, item.detail, item.body, item.source, int(item.truncated)),
            )
        except sqlite3.Error as exc:
            raise QuarantineError(f"sqlite quarantine insert failed: {exc}") from exc

    def list(self, limit: int = 100) -> list[Quarantined]:
        rows = (
            self.db.connection().execute("SELECT * FROM quarantine ORDER BY received_at LIMIT ?", (limit,)).fetchall()
        )
        return [
            Quarantined(
                id=row["id"],
                received_at=row["received_at"],
                reason=row["reason"],
                detail=row["detail"],
                body=bytes(row["body"]),
                source=row["source"],
                truncated=bool(row["truncated"]),
            )
            for row in rows
        ]

    def delete(self, item_id: str) -> None:
        self.db.connection().execute("DELETE FROM quarantine WHERE id = ?", (item_id,))

    def close(self) -> None:
        self.db.close()
