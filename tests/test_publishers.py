from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from alarm_callback.backends.memory import MemoryPublisher
from alarm_callback.backends.sqlite.quarantine import SQLiteQuarantine
from alarm_callback.backends.sqlite.queue import SQLiteQueue
from alarm_callback.backends.sqlite.store import SQLiteStore
from alarm_callback.backends.stdout import StdoutPublisher
from alarm_callback.config.settings import Settings
from alarm_callback.config.wiring import publisher_from_settings, quarantine_from_settings, store_from_settings
from alarm_callback.core.errors import ConfigError, PublishError
from alarm_callback.core.message import Message
from alarm_callback.core.ports import FanOut, Publisher, Quarantined

MSG = Message(id="a", body='{"id":"a"}', fingerprint="g", attributes={"status": "firing"})


def test_sqlite_queue_is_readable_from_another_connection(tmp_path: Path) -> None:
    path = str(tmp_path / "q.db")
    queue = SQLiteQueue(path)
    queue.publish(MSG)
    queue.publish(Message(id="b", body='{"id":"b"}'))
    reader = SQLiteQueue(path)
    items = list(reader.read())
    assert [i.message for i in items] == [MSG, Message(id="b", body='{"id":"b"}')]
    assert [i.message.id for i in reader.read(after=items[0].seq)] == ["b"]


def test_stdout_writes_one_line_per_message() -> None:
    stream = io.StringIO()
    StdoutPublisher(stream).publish(MSG)
    assert stream.getvalue() == '{"id":"a"}\n'


class Broken(Publisher):
    def publish(self, message: Message) -> None:
        raise PublishError("nope")


def test_fan_out_reaches_all_and_fails_if_one_fails() -> None:
    a, b = MemoryPublisher(), MemoryPublisher()
    FanOut([a, b]).publish(MSG)
    assert a.messages == b.messages == [MSG]
    c = MemoryPublisher()
    with pytest.raises(PublishError, match="Broken: nope"):
        FanOut([c, Broken()]).publish(MSG)
    assert c.messages == [MSG]


def test_backends_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path}/s.db",
        queue_url=f"sqlite:///{tmp_path}/q.db, stdout://",
        quarantine_url=f"sqlite:///{tmp_path}/z.db",
    )
    assert isinstance(store_from_settings(settings), SQLiteStore)
    fan = publisher_from_settings(settings)
    assert isinstance(fan, FanOut)
    assert [type(p) for p in fan.publishers] == [SQLiteQueue, StdoutPublisher]
    assert isinstance(quarantine_from_settings(settings), SQLiteQuarantine)
    assert (tmp_path / "s.db").exists()


@pytest.mark.parametrize("url", ["nope://x", "", "kafka://broker"])
def test_unknown_scheme_is_a_clear_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="unknown"):
        store_from_settings(Settings(store_url=url))


def test_sqlite_quarantine_round_trip(tmp_path: Path) -> None:
    q = SQLiteQuarantine(str(tmp_path / "z.db"))
    item = Quarantined("id1", 1.5, "invalid_json", "bad", b"\xff{", "asgi", truncated=True)
    q.put(item)
    assert q.list() == [item]
    as_json = q.list()[0].to_json()
    assert as_json["body_base64"] == "/3s=" and json.dumps(as_json)
    q.delete("id1")
    assert q.list() == []
