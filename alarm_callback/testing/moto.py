"""moto's DynamoDB behaving like the service where the guarantee depends on it.

DynamoDB evaluates a write's condition and applies the write as one atomic step. moto
checks, then writes: under threads two conditional writers can both pass (two sweepers both
"win" a claim), which the service never allows. `atomic_methods` wraps moto's writes in one
lock so that a run sees the service's semantics, not moto's race.

A long chaos run also wants moto out of its process: the simulator, two sweepers and
moto's server in one interpreter share one GIL. `moto_process` starts
``python -m alarm_callback.testing.moto PORT`` (atomic writes, transactions backed up per
item dict instead of per deep copy (`TableSnapshots`), moto's threaded server) and yields
its URL. Its tables list their items sorted once per item, not per comparison
(`keyed_all_items`): moto's own sort made every query cost more as the table grew; and
its models do not keep every instance they ever created (`untrack_instances`). An index
query walks only the items that carry the index's key attributes (`index_scoped_query`):
moto walked and sorted the whole table for the sweeper's query of a few pending records;
and it orders them by keys computed once per item (`keyed_sorted_items`).
"""

from __future__ import annotations

import contextlib
import copy
import os
import socket
import subprocess  # nosec B404 - starts this module in a child interpreter
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

# The writes, and the read that must never see one half done (moto's UpdateItem creates the
# item, then sets its attributes: a concurrent GetItem saw an episode without its version).
_ATOMIC = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item")


def atomic_methods() -> dict[str, Callable[..., Any]]:
    """moto's DynamoDB writes (and GetItem), each wrapped in one shared re-entrant lock (a
    transaction calls put_item inside). Set them on `DynamoDBBackend` (a test's monkeypatch
    does it reversibly)."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    wrapped: dict[str, Callable[..., Any]] = {}
    for name in _ATOMIC:
        original = getattr(DynamoDBBackend, name)

        def atomic(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        wrapped[name] = atomic
    return wrapped


class TableSnapshots:
    """Stands in for the `copy` module inside moto's DynamoDB backend, whose only deep copies
    are a backup of every table a TransactWriteItems touches (so a run's n-th transaction
    costs O(n): a 10,000-alarm chaos run with occurrence markers took hours) and of the one
    item an UpdateItem changes. This store's transactions are Puts, which put new item
    objects in the table's item dict: a copy of the table with a copy of that dict is a
    backup they can be rolled back to. Anything else is deep-copied as before."""

    @staticmethod
    def deepcopy(value: Any) -> Any:
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table):
            snapshot = copy.copy(value)
            snapshot.items = copy.copy(value.items)
            return snapshot
        return copy.deepcopy(value)


_INDEX_KEYS = threading.local()  # the key attributes of the index the thread is querying


def keyed_all_items(table: Any) -> list[Any]:
    """moto's `Table.all_items` (every query and scan starts with it) with the same order,
    computed once per item: moto sorts the whole table by comparing its typed values, and
    each comparison converts both sides again, so an index query on a table of 20,000 items
    took 336 ms in process (155 ms with this, the sort itself 56 ms), and a 10,000-alarm run
    crawled as the table grew. Inside `index_scoped_query`, only the items that carry the
    index's key attributes (the items the index holds; the query skips the others anyway)."""
    needed: tuple[str, ...] = getattr(_INDEX_KEYS, "names", ())
    items: list[Any] = []
    for entry in table.items.values():
        for item in entry.values() if table.range_key_attr else (entry,):
            if all(name in item.attrs for name in needed):
                items.append(item)
    return sorted(
        items,
        key=lambda item: (
            (item.hash_key.cast_value, item.range_key.cast_value) if item.range_key else (item.hash_key.cast_value,)
        ),
    )


def keyed_sorted_items(
    table: Any, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]
) -> list[Any]:
    """moto's `Table.sorted_items` (a query orders its matches with it), each item's sort key
    computed once: moto's key is a tuple of typed values that convert both sides again on every
    comparison, 19% of the chaos server's CPU while the sweepers queried a few thousand
    pending records. Same order: the same attributes, compared as their Python values."""
    # moto's order: an index's hash and range keys first, then the table's hash and range key
    table_keys: list[str | None] = [hash_key_attrs[-1], range_key_attrs[-1] if range_key_attrs else None]
    index_keys: list[str | None] = [*hash_key_attrs[:-1], *range_key_attrs[:-1]] if len(hash_key_attrs) > 1 else []
    names = [name for name in index_keys + table_keys if name is not None and name != "None"]
    items.sort(key=lambda item: tuple(item.attrs[name].cast_value for name in names))
    return items


def index_scoped_query(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's `Table.query`, listing only the index's items (see `keyed_all_items`) when it
    queries an index. moto passes the index name as the eighth positional argument."""

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        if not index_name:
            return original(self, *args, **kwargs)
        _INDEX_KEYS.names = tuple(key["AttributeName"] for key in self.get_index(index_name).schema)
        try:
            return original(self, *args, **kwargs)
        finally:
            _INDEX_KEYS.names = ()

    return query


class _KeepsNothing(list[Any]):
    """A list that every append leaves empty."""

    def append(self, item: Any) -> None:
        pass


def untrack_instances() -> None:
    """moto's DynamoDB models stop listing every instance they create. Each class keeps them
    all in a list for moto's dashboard (emptied only by a reset), copies included, so a
    long-running server kept every item ever written and every transaction's backup of its
    table (with a copy of the item dict): it grew by about 225 KB per transaction and slowed
    as its heap grew, to 2.8 GB after 45,000 calls of a chaos run."""
    from moto.core.model_instances import model_data

    for model in model_data["dynamodb"].values():
        model.instances_tracked = _KeepsNothing()  # type: ignore[attr-defined]


@contextlib.contextmanager
def moto_process(startup_seconds: float = 30.0) -> Iterator[str]:
    """moto's server (atomic DynamoDB writes) in a child process on a free port: its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    # The child reads its stdin until it closes: when this process dies, so does the server.
    child = subprocess.Popen([sys.executable, "-m", __name__, str(port)], stdin=subprocess.PIPE)  # noqa: S603  # nosec B603
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's server did not start on port {port}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(timeout=10)
        if child.stdin is not None:
            child.stdin.close()


def main(argv: list[str] | None = None) -> int:
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.server import ThreadedMotoServer

    models.copy = TableSnapshots()  # type: ignore[attr-defined,assignment]
    Table.all_items = keyed_all_items  # type: ignore[method-assign,assignment]
    Table.query = index_scoped_query(Table.query)  # type: ignore[method-assign]
    Table.sorted_items = keyed_sorted_items  # type: ignore[method-assign,assignment]
    untrack_instances()

    port = int((argv if argv is not None else sys.argv[1:])[0])
    for name, method in atomic_methods().items():
        setattr(DynamoDBBackend, name, method)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    sys.stdin.read()  # until the parent closes the pipe (or dies), or a terminate
    os._exit(0)  # now: request threads still busy for a dead client would hold the exit


if __name__ == "__main__":
    sys.exit(main())
