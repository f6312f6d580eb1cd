"""Counting what a Redis client says: a TCP proxy that records every command sent through it.

Issue 14 wants at most 2 round trips before a container's first claim on Redis (each extra
one costs several milliseconds in the cloud and nothing locally, so only a count shows it).
`tests/test_redis_handshake.py` asserts it; `make bench` prints it against redis-py's
defaults. Every redis-py command is one RESP array of bulk strings and one round trip.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable


class CountingProxy:
    """Forwards a free local port to `upstream` and keeps the bytes each client sent, in order."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.sent = bytearray()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self.sent += data
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def commands(self) -> list[list[str]]:
        with self._lock:
            return parse_commands(bytes(self.sent))

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()


def parse_commands(raw: bytes) -> list[list[str]]:
    """The RESP arrays of bulk strings a client sends."""
    commands: list[list[str]] = []
    at = 0
    while at < len(raw):
        if raw[at : at + 1] != b"*":
            raise ValueError(f"not a RESP array at byte {at}: {raw[at : at + 40]!r}")
        end = raw.index(b"\r\n", at)
        count, at = int(raw[at + 1 : end]), end + 2
        args: list[str] = []
        for _ in range(count):
            end = raw.index(b"\r\n", at)
            size, at = int(raw[at + 1 : end]), end + 2
            args.append(raw[at : at + size].decode(errors="replace"))
            at += size + 2
        commands.append(args)
    return commands


def before_first(commands: list[list[str]], names: Iterable[str] = ("EVALSHA", "EVAL")) -> list[list[str]]:
    """The commands sent before the first one named in `names` (by default the store's claim
    script): the connection's handshake."""
    wanted = {name.upper() for name in names}
    for index, args in enumerate(commands):
        if args[0].upper() in wanted:
            return commands[:index]
    raise ValueError(f"none of {sorted(wanted)} was sent: {commands}")
