"""The local layout with the SQLite outbox and local queue in one file: the receiver's claim,
publish and mark are one transaction (`SQLiteStore.share_file`, `Store.together`), and the
delivery guarantee holds as with three commits: an acked alarm is on the queue or pending
in the outbox; a refused insert leaves the claim pending for the sweeper under the same id;
a transaction SQLite rolled back is a store failure, never an ack of nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from alarm_callback.backends.memory import MemoryPublisher, MemoryQuarantine, MemoryStore
from alarm_callback.backends.sqlite.queue import SQLiteQueue
from alarm_callback.backends.sqlite.store import SQLiteStore
from alarm_callback.config.settings import Settings
from alarm_callback.config.wiring import receiver_from_settings
from alarm_callback.core.errors import PublishError, StoreError
from alarm_callback.core.message import Message
from alarm_callback.core.outbox import PENDING, PUBLISHED
from alarm_callback.core.receiver import Outcome, Receiver
from alarm_callback.core.sweeper import sweep
from alarm_callback.testing.faults import Crash
from tests.conftest import post


def one_file(tmp_path: Path, **settings: Any) -> Receiver:
    path = tmp_path / "local.db"
    return receiver_from_settings(
        Settings(
            store_url=f"sqlite:///{path}",
            queue_url=f"sqlite:///{path}",
            quarantine_url="memory://",
            **settings,
        )
    )


def queued(path: Path) -> list[Message]:
    """What `alarm-callback tail` reads: a queue of its own on the file."""
    reader = SQLiteQueue(str(path))
    try:
        return [item.message for item in reader.read()]
    finally:
        reader.close()


def test_the_wiring_shares_the_file_only_between_a_store_and_a_queue_on_it(tmp_path: Path) -> None:
    receiver = one_file(tmp_path)
    assert isinstance(receiver.store, SQLiteStore) and isinstance(receiver.publisher, SQLiteQueue)
    assert receiver.publisher.db is receiver.store.db
    store = SQLiteStore(str(tmp_path / "store.db"))
    assert not store.share_file(SQLiteQueue(str(tmp_path / "queue.db")))  # the two-file layout
    assert not store.share_file(MemoryPublisher())
    assert not SQLiteStore(":memory:").share_file(SQLiteQueue(":memory:"))  # two separate databases
    same = SQLiteQueue(str(tmp_path / "sub" / ".." / "store.db"))  # the same file, spelled otherwise
    assert store.share_file(same) and same.db is store.db
    assert isinstance(MemoryStore().together(MemoryPublisher()), type(store.together(MemoryPublisher())))


def test_the_default_settings_put_the_local_queue_in_the_stores_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` with no settings gets one transaction per alarm: the default QUEUE_URL
    names the store's file (relative to the working directory)."""
    monkeypatch.chdir(tmp_path)
    for name in ("STORE_URL", "QUEUE_URL"):
        monkeypatch.delenv(f"ALARM_CALLBACK_{name}", raising=False)
    receiver = receiver_from_settings(Settings(quarantine_url="memory://"))
    assert isinstance(receiver.store, SQLiteStore) and isinstance(receiver.publisher, SQLiteQueue)
    assert receiver.publisher.db is receiver.store.db
    assert (tmp_path / ".data" / "store.db").exists() and not (tmp_path / ".data" / "queue.db").exists()


def test_a_new_alarm_is_one_transaction_and_a_resend_adds_nothing(
    tmp_path: Path, metric_sample: dict[str, Any]
) -> None:
    receiver = one_file(tmp_path, episode_ttl_seconds=0)
    assert isinstance(receiver.store, SQLiteStore)
    statements: list[str] = []
    receiver.store.db.connection().set_trace_callback(statements.append)
    response = post(receiver, metric_sample)
    assert response.payload() == {"sessionId": "xxxxxxxx", "retCode": 0}
    writes = [s.split()[0] for s in statements]
    assert writes[0] == "BEGIN" and writes[-1] == "COMMIT"
    assert writes.count("BEGIN") == writes.count("COMMIT") == 1  # claim, insert, mark: one commit
    assert post(receiver, metric_sample).status == 200  # a resend
    [message] = queued(tmp_path / "local.db")
    assert message.id == "xxxxxxxx"
    record = receiver.store.get("xxxxxxxx")
    assert record is not None and record.status == PUBLISHED
    assert sweep(receiver.store, receiver.publisher, receiver.builder, now=record.lease_until + 1).found == 0


def test_with_episodes_the_episode_step_commits_with_the_claim(tmp_path: Path, metric_sample: dict[str, Any]) -> None:
    """Episodes on (the default): the episode record's read and swap are statements of the
    one transaction, so a new alarm is still one commit, and a transaction that does not
    commit keeps nothing of its step (the resend counts the notification once)."""
    receiver = one_file(tmp_path)
    assert isinstance(receiver.store, SQLiteStore) and receiver.episodes is not None
    statements: list[str] = []
    receiver.store.db.connection().set_trace_callback(statements.append)
    assert post(receiver, metric_sample).payload() == {"sessionId": "xxxxxxxx", "retCode": 0}
    verbs = [s.split()[0].upper() for s in statements]
    assert verbs[0] == "BEGIN" and verbs[-1] == "COMMIT" and verbs.count("COMMIT") == 1
    assert any("episodes" in s for s in statements)  # the step ran, inside the transaction
    [message] = queued(tmp_path / "local.db")
    assert json.loads(message.body)["sequence"] == 1


def test_a_transaction_rolled_back_keeps_no_episode_step(tmp_path: Path, metric_sample: dict[str, Any]) -> None:
    """The episode swap goes with the rest of a transaction SQLite rolled back: nothing of
    the notification is kept, the resend opens the episode."""
    path = str(tmp_path / "local.db")
    store, queue = SQLiteStore(path), RolledBack(path)
    assert store.share_file(queue)
    receiver = Receiver(store, queue, MemoryQuarantine(), store_down="reject")
    body = json.dumps(metric_sample).encode()
    assert receiver.accept(body).response.status == 503  # nothing durable: Tencent resends
    assert store.db.connection().execute("SELECT count(*) FROM episodes").fetchone()[0] == 0
    assert receiver.accept(body).outcome is Outcome.PUBLISHED  # the resend
    [message] = queued(tmp_path / "local.db")
    event = json.loads(message.body)
    assert event["sequence"] == 1
    assert store.load_episode(event["fingerprint"]) is not None


def test_with_markers_the_marker_commits_with_the_claim(tmp_path: Path, metric_sample: dict[str, Any]) -> None:
    receiver = one_file(tmp_path, record_occurrences=True)
    assert isinstance(receiver.store, SQLiteStore)
    post(receiver, metric_sample)
    [message] = queued(tmp_path / "local.db")
    occurrence = Message.from_body(message.body).occurrence
    assert occurrence is not None
    marker = receiver.store.get(occurrence)
    assert marker is not None and (marker.status, marker.message) == (PUBLISHED, "xxxxxxxx")
    assert not receiver.store.db.connection().in_transaction


def test_a_refused_insert_leaves_the_claim_pending_for_the_sweeper_under_the_same_id(
    tmp_path: Path, metric_sample: dict[str, Any]
) -> None:
    receiver = one_file(tmp_path)
    assert isinstance(receiver.store, SQLiteStore)
    conn = receiver.store.db.connection()
    conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'queue refused'); END")
    response = post(receiver, metric_sample)
    assert response.payload() == {"sessionId": "xxxxxxxx", "retCode": 0}  # acked: it is durable
    record = receiver.store.get("xxxxxxxx")
    assert record is not None and record.status == PENDING and record.digest
    assert queued(tmp_path / "local.db") == []
    conn.execute("DROP TRIGGER refuse")
    assert sweep(receiver.store, receiver.publisher, receiver.builder, now=record.lease_until + 1).published == 1
    [message] = queued(tmp_path / "local.db")
    assert message.id == "xxxxxxxx" and json.loads(message.body)["data"]["raw"] == metric_sample
    swept = receiver.store.get("xxxxxxxx")
    assert swept is not None and swept.status == PUBLISHED


class RolledBack(SQLiteQueue):
    """A queue insert after which SQLite rolled the whole transaction back (as it may on a
    full disk or an I/O error), once."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.failures = 1

    def publish(self, message: Message) -> None:
        if self.failures:
            self.failures -= 1
            self.db.connection().execute("ROLLBACK")
            raise PublishError("database or disk is full")
        super().publish(message)


@pytest.mark.parametrize("store_down", ["publish", "reject"])
def test_a_transaction_rolled_back_under_the_receiver_is_a_store_failure(
    tmp_path: Path, metric_sample: dict[str, Any], store_down: str
) -> None:
    path = str(tmp_path / "local.db")
    store, queue = SQLiteStore(path), RolledBack(path)
    assert store.share_file(queue)
    receiver = Receiver(store, queue, MemoryQuarantine(), store_down=store_down)
    result = receiver.accept(json.dumps(metric_sample).encode())
    assert store.get("xxxxxxxx") is None  # the claim went with the transaction: not acked as stored
    if store_down == "reject":
        assert (result.outcome, result.response.status) == (Outcome.UNAVAILABLE, 503)
        assert queued(tmp_path / "local.db") == []
    else:
        assert (result.outcome, result.response.status) == (Outcome.UNCHECKED, 200)
        [message] = queued(tmp_path / "local.db")
        assert message.id == "xxxxxxxx" and message.attributes["dedup"] == "skipped"
    assert not store.db.connection().in_transaction


def test_a_crash_inside_the_transaction_leaves_nothing_and_acks_nothing(
    tmp_path: Path, metric_sample: dict[str, Any]
) -> None:
    path = str(tmp_path / "local.db")
    store = SQLiteStore(path)

    class Crashing(SQLiteQueue):
        def publish(self, message: Message) -> None:
            super().publish(message)
            raise Crash("the process died after the insert")

    queue = Crashing(path)
    assert store.share_file(queue)
    with pytest.raises(Crash):
        post(Receiver(store, queue, MemoryQuarantine()), metric_sample)
    assert store.get("xxxxxxxx") is None and queued(tmp_path / "local.db") == []  # Tencent resends
    assert not store.db.connection().in_transaction
    receiver = Receiver(store, SQLiteQueue(path), MemoryQuarantine())
    assert receiver.accept(json.dumps(metric_sample).encode()).outcome is Outcome.PUBLISHED


def test_a_failed_commit_is_a_store_error_and_a_nested_write_fails_alone(tmp_path: Path) -> None:
    path = str(tmp_path / "local.db")
    store, queue = SQLiteStore(path), SQLiteQueue(path)
    assert store.share_file(queue)
    with pytest.raises(StoreError, match="no transaction is active"), store.together(queue):
        store.claim("k", "m")
        store.db.connection().execute("ROLLBACK")  # as SQLite does itself after some errors
    assert store.get("k") is None
    with store.together(queue):
        store.claim("k2", "m")
        with pytest.raises(sqlite3.OperationalError), store.db.transaction() as conn:  # a savepoint
            conn.execute("INSERT INTO episodes VALUES ('fp', 1, 'blob', 0)")
            conn.execute("INSERT INTO nowhere VALUES (1)")
    assert store.get("k2") is not None and store.load_episode("fp") is None
