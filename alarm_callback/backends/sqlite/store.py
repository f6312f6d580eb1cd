"""SQLite store: the local default. One UPSERT is the atomic claim, across threads and processes."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict
from urllib.parse import SplitResult

from ...core.errors import StoreError
from ...core.outbox import PENDING, PUBLISHED, Claim, ClaimStatus, Record, Store
from ..options import BackendOptions
from .db import Database, path_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    lease_until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, updated_at);
"""

# The claim rule of Record.claimable, as the UPSERT's condition.
_CLAIM = """
INSERT INTO outbox (key, status, message, created_at, updated_at, expires_at, lease_until)
VALUES (:key, :status, :message, :created_at, :updated_at, :expires_at, :lease_until)
ON CONFLICT (key) DO UPDATE SET
    status = excluded.status, message = excluded.message, created_at = excluded.created_at,
    updated_at = excluded.updated_at, expires_at = excluded.expires_at, lease_until = excluded.lease_until
WHERE outbox.expires_at <= :updated_at OR (outbox.status = 'pending' AND outbox.lease_until <= :updated_at)
"""


class SQLiteStore(Store):
    schemes = ("sqlite",)

    def __init__(self, path: str, ttl_seconds: float = 86400, lease_seconds: float = 10.0) -> None:
        super().__init__(ttl_seconds, lease_seconds)
        self.db = Database(path, SCHEMA)

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> SQLiteStore:
        return cls(path_of(url), options.ttl_seconds, options.lease_seconds)

    def claim(self, key: str, message: str, now: float | None = None) -> Claim:
        now = time.time() if now is None else now
        record = self.new_record(key, message, now)
        try:
            conn = self.db.connection()
            for _ in range(3):  # the row can only vanish under a concurrent purge: retry
                if conn.execute(_CLAIM, asdict(record)).rowcount == 1:
                    return Claim(ClaimStatus.CLAIMED, record)
                existing = self.get(key)
                if existing is not None:
                    return self.lost_claim(existing)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite claim failed: {exc}") from exc
        raise StoreError(f"could not claim {key!r}")

    def mark_published(self, key: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        try:
            self.db.connection().execute(
                "UPDATE outbox SET status = ?, updated_at = ? WHERE key = ?", (PUBLISHED, now, key)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite mark_published failed: {exc}") from exc

    def get(self, key: str) -> Record | None:
        try:
            row = self.db.connection().execute("SELECT * FROM outbox WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite get failed: {exc}") from exc
        return Record(**dict(row)) if row is not None else None

    def pending(self, older_than: float, now: float | None = None, limit: int = 100) -> list[Record]:
        now = time.time() if now is None else now
        try:
            rows = (
                self.db.connection()
                .execute(
                    "SELECT * FROM outbox WHERE status = ? AND updated_at <= ? ORDER BY updated_at LIMIT ?",
                    (PENDING, now - older_than, limit),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite pending failed: {exc}") from exc
        return [Record(**dict(row)) for row in rows]

    def purge(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        cursor = self.db.connection().execute(
            "DELETE FROM outbox WHERE status = ? AND expires_at <= ?", (PUBLISHED, now)
        )
        return cursor.rowcount

    def close(self) -> None:
        self.db.close()
