"""SQLite store: the local default. One UPSERT is the atomic claim, across threads and processes."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from urllib.parse import SplitResult

from ...core.errors import StoreError
from ...core.outbox import PENDING, Claim, ClaimStatus, Record, Store
from ...core.ports import Publisher
from ..options import BackendOptions
from .db import Database, path_of
from .queue import SQLiteQueue

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    lease_until REAL NOT NULL,
    digest TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, updated_at);
CREATE TABLE IF NOT EXISTS episodes (
    fingerprint TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    blob TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""
# Columns added since the first release: a local database made by an older version gets them.
_ADDED = ("digest TEXT NOT NULL DEFAULT ''", "attempts INTEGER NOT NULL DEFAULT 1")

# Record.decide, as the UPSERT's condition: a fresh write when the standing record expired,
# a takeover (message, digest, created_at kept; lease moved; attempts + 1) when it is pending
# past its lease with the same body; no row otherwise.
_CLAIM = """
INSERT INTO outbox (key, status, message, created_at, updated_at, expires_at, lease_until, digest, attempts)
VALUES (:key, :status, :message, :created_at, :updated_at, :expires_at, :lease_until, :digest, 1)
ON CONFLICT (key) DO UPDATE SET
    message = CASE WHEN outbox.expires_at <= :updated_at THEN excluded.message ELSE outbox.message END,
    created_at = CASE WHEN outbox.expires_at <= :updated_at THEN excluded.created_at ELSE outbox.created_at END,
    expires_at = CASE WHEN outbox.expires_at <= :updated_at THEN excluded.expires_at ELSE outbox.expires_at END,
    digest = CASE WHEN outbox.expires_at <= :updated_at THEN excluded.digest ELSE outbox.digest END,
    attempts = CASE WHEN outbox.expires_at <= :updated_at THEN 1 ELSE outbox.attempts + 1 END,
    status = excluded.status, updated_at = excluded.updated_at, lease_until = excluded.lease_until
WHERE outbox.expires_at <= :updated_at OR (outbox.status = 'pending' AND outbox.lease_until <= :updated_at
    AND (:digest = '' OR outbox.digest = '' OR outbox.digest = :digest))
RETURNING *
"""
_REMEMBER = """
INSERT INTO outbox (key, status, message, created_at, updated_at, expires_at, lease_until, digest, attempts)
VALUES (:key, :status, :message, :created_at, :updated_at, :expires_at, :lease_until, :digest, :attempts)
ON CONFLICT (key) DO UPDATE SET
    status = excluded.status, message = excluded.message, created_at = excluded.created_at,
    updated_at = excluded.updated_at, expires_at = excluded.expires_at, lease_until = excluded.lease_until,
    digest = excluded.digest, attempts = excluded.attempts
WHERE outbox.expires_at <= :updated_at
"""


# Store.swap_episode: one conditional write. Version 0 inserts where no row stands; version
# n updates only the row still at n. SQLite serializes writers, across processes too.
_INSERT_EPISODE = """
INSERT INTO episodes (fingerprint, version, blob, expires_at) VALUES (:fingerprint, 1, :blob, :expires_at)
ON CONFLICT (fingerprint) DO NOTHING
"""
_UPDATE_EPISODE = """
UPDATE episodes SET version = version + 1, blob = :blob, expires_at = :expires_at
WHERE fingerprint = :fingerprint AND version = :version
"""


def _params(record: Record) -> dict[str, object]:
    """The statement parameters of `record`, spelled out: a dict display builds them in about
    half the time of `Record._asdict()` (once `dataclasses.asdict`, the costliest line of a
    claim on the local server). A test checks this against `_asdict`, so a field added to
    `Record` cannot be missed."""
    return {
        "key": record.key,
        "status": record.status,
        "message": record.message,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "expires_at": record.expires_at,
        "lease_until": record.lease_until,
        "digest": record.digest,
        "attempts": record.attempts,
    }


class SQLiteStore(Store):
    schemes = ("sqlite",)

    def __init__(self, path: str, ttl_seconds: float = 86400, lease_seconds: float = 10.0) -> None:
        super().__init__(ttl_seconds, lease_seconds)
        self.db = Database(path, SCHEMA)
        conn = self.db.connection()
        known = {row["name"] for row in conn.execute("PRAGMA table_info(outbox)")}
        for column in _ADDED:
            if column.split()[0] not in known:
                conn.execute(f"ALTER TABLE outbox ADD COLUMN {column}")  # constants only

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> SQLiteStore:
        return cls(path_of(url), options.ttl_seconds, options.lease_seconds)

    def share_file(self, publisher: Publisher) -> bool:
        """Let a local queue on this store's file (QUEUE_URL and STORE_URL name the same
        path) write through this store's connections, so `together` makes the receiver's
        episode step, claim, publish and mark one transaction: one commit per alarm, not four.
        False, and nothing shared, for any other publisher (another file, another kind,
        a router or fan-out over several)."""
        if not isinstance(publisher, SQLiteQueue) or ":memory:" in (self.db.path, publisher.db.path):
            return False
        if os.path.realpath(publisher.db.path) != os.path.realpath(self.db.path):
            return False
        publisher.use(self.db)
        return True

    def together(self, publisher: Publisher) -> AbstractContextManager[object]:
        """One ``BEGIN IMMEDIATE`` ... ``COMMIT`` around the receiver's episode step, claim,
        publish and mark when `publisher` writes through this store's connection (`share_file`). A
        refused queue insert undoes only itself (SQLite undoes a failed statement alone),
        so the claim commits pending for the sweeper, as with separate commits; an error
        that rolled the whole transaction back surfaces at the COMMIT, as StoreError."""
        if isinstance(publisher, SQLiteQueue) and publisher.db is self.db:
            return self._transaction()
        return nullcontext()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """The block's own exceptions pass as they are; a BEGIN or COMMIT that fails is a
        StoreError (what the receiver treats as the claim failing)."""
        inside = False
        try:
            with self.db.transaction():
                inside = True
                yield
                inside = False
        except sqlite3.Error as exc:
            if inside:
                raise
            raise StoreError(f"sqlite transaction failed: {exc}") from exc

    def _claim(self, record: Record, now: float, marker: Record | None = None) -> Claim:
        """One UPSERT; with a marker, the UPSERT and the marker's conditional insert in one
        transaction (a fresh record has ``attempts`` 1, a takeover more)."""
        try:
            for _ in range(3):  # the row can only vanish under a concurrent purge: retry
                with self.db.transaction() if marker is not None else nullcontext(self.db.connection()) as conn:
                    row = conn.execute(_CLAIM, _params(record)).fetchone()
                    if row is not None and marker is not None and row["attempts"] == 1:
                        conn.execute(_REMEMBER, _params(marker))
                if row is not None:
                    return Claim(ClaimStatus.CLAIMED, Record(**dict(row)))
                existing = self.get(record.key)
                if existing is not None:
                    return self.lost_claim(existing, record.digest)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite claim failed: {exc}") from exc
        raise StoreError(f"could not claim {record.key!r}")

    def _settle(self, key: str, status: str, now: float) -> None:
        try:
            self.db.connection().execute(
                "UPDATE outbox SET status = ?, updated_at = ? WHERE key = ?", (status, now, key)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite mark_published failed: {exc}") from exc

    def _remember(self, marker: Record, now: float) -> bool:
        try:
            cursor = self.db.connection().execute(_REMEMBER, _params(marker))
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite remember failed: {exc}") from exc
        return cursor.rowcount == 1

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

    def load_episode(self, fingerprint: str) -> tuple[int, str] | None:
        try:
            row = (
                self.db.connection()
                .execute("SELECT version, blob FROM episodes WHERE fingerprint = ?", (fingerprint,))
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite load_episode failed: {exc}") from exc
        return None if row is None else (int(row["version"]), str(row["blob"]))

    def swap_episode(self, fingerprint: str, version: int, blob: str, now: float, ttl_seconds: float) -> bool:
        args = {"fingerprint": fingerprint, "version": version, "blob": blob, "expires_at": now + ttl_seconds}
        try:
            cursor = self.db.connection().execute(_UPDATE_EPISODE if version else _INSERT_EPISODE, args)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite swap_episode failed: {exc}") from exc
        return cursor.rowcount == 1

    def purge(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        conn = self.db.connection()
        cursor = conn.execute("DELETE FROM outbox WHERE status != ? AND expires_at <= ?", (PENDING, now))
        conn.execute("DELETE FROM episodes WHERE expires_at <= ?", (now,))
        return cursor.rowcount

    def close(self) -> None:
        self.db.close()
