"""One SQLite connection helper shared by the local store, queue and quarantine.

WAL mode lets the server write while `alarm-callback tail` reads from another process;
`synchronous=NORMAL` keeps every committed write across a crash of the process (not of
the machine's power), which is the right trade for the local, laptop backend. A busy
timeout turns cross-process contention into a short wait instead of an error.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import SplitResult, unquote


def path_of(url: SplitResult) -> str:
    """`sqlite:///rel/path.db` is relative, `sqlite:////abs/path.db` absolute, `sqlite://:memory:` in memory."""
    if url.netloc == ":memory:" or url.path in ("/:memory:", ":memory:"):
        return ":memory:"
    path = unquote(url.path)
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ValueError(f"sqlite URL needs a path: {url.geturl()}")
    return path


class Database:
    """A connection per thread on one file, created on first use, schema applied once."""

    def __init__(self, path: str, schema: str) -> None:
        self.path = path
        self._schema = schema
        self._local = threading.local()
        self._shared: sqlite3.Connection | None = None
        self._shared_lock = threading.RLock()  # one transaction at a time on the shared connection
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.connection()  # apply the schema now, so errors surface at start-up

    def connection(self) -> sqlite3.Connection:
        if self.path == ":memory:":  # one shared connection, or each thread would see its own db
            if self._shared is None:
                self._shared = self._open()
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Several statements as one atomic write. ``BEGIN IMMEDIATE`` takes the write lock
        up front, so a concurrent writer waits (busy timeout) instead of failing mid-way.
        Inside an enclosing transaction (`SQLiteStore.together`) it is a savepoint: undone
        alone on an exception, committed with the enclosing one.

        SQLite rolls a whole transaction back by itself after some errors (disk full, I/O
        error): the COMMIT then fails ("no transaction is active") rather than reporting a
        commit of what is left, so a caller never takes a rolled-back write for a durable one."""
        conn = self.connection()
        with self._shared_lock if self.path == ":memory:" else nullcontext():
            if conn.in_transaction:
                conn.execute("SAVEPOINT nested")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK TO nested")
                        conn.execute("RELEASE nested")
                    raise
                conn.execute("RELEASE nested")
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        if self.path != ":memory:":
            _wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(self._schema)
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._shared is not None:
            self._shared.close()
            self._shared = None


def _wal(conn: sqlite3.Connection, tries: int = 100) -> None:
    """Switch to WAL. The switch needs the file to itself and, unlike other statements, can
    fail at once with "database is locked" while another connection opens the same new file
    (the server and `tail`, or threads opening stores together): wait and try again."""
    for attempt in range(tries):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.05)
