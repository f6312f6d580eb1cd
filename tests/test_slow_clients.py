"""Issue 12: bounded slow clients against the real local server (uvicorn on a free port).

200 connections that trickle a request a byte at a time (a slowloris) must neither stop
normal callbacks nor grow the server's memory without bound. Real time, about 10 s."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

from alarm_callback import samples
from tests.test_server import TOKEN, env, extra_env, server  # noqa: F401 - fixtures

SLOW_CLIENTS = 200
SECONDS = 8


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def server_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmdline and port.encode() in cmdline:
                return int(proc.name)
    raise AssertionError("server process not found")


def trickle(host: str, port: int, stop: threading.Event, opened: list[socket.socket]) -> None:
    """Open a connection, then send an authenticated request's head and body one byte a second."""
    head = f"POST /callback/{TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n".encode()
    try:
        sock = socket.create_connection((host, port), timeout=2)
    except OSError:
        return
    opened.append(sock)
    for byte in head:
        if stop.wait(1.0):
            return
        try:
            sock.send(bytes([byte]))
        except OSError:
            return


def test_slow_clients_do_not_stop_callbacks_nor_grow_memory(server: str) -> None:  # noqa: F811
    host, port = server.removeprefix("http://").split(":")
    pid = server_pid(server)
    before = rss_kib(pid)
    stop, opened = threading.Event(), []
    pool = [threading.Thread(target=trickle, args=(host, int(port), stop, opened)) for _ in range(SLOW_CLIENTS)]
    for thread in pool:
        thread.start()
    time.sleep(1.0)
    body = samples.load()["metric"]
    latencies = []
    deadline = time.monotonic() + SECONDS
    n = 0
    while time.monotonic() < deadline:
        n += 1
        payload = json.loads(body)
        payload["sessionId"] = f"slow-{n}"
        request = urllib.request.Request(f"{server}/callback/{TOKEN}", json.dumps(payload).encode(), method="POST")
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert json.load(reply) == {"sessionId": f"slow-{n}", "retCode": 0}
        latencies.append(time.monotonic() - started)
        time.sleep(0.2)
    grown = rss_kib(pid) - before
    print(f"slow clients: {len(opened)} connected, {n} callbacks, max {max(latencies):.3f} s, RSS +{grown} KiB")
    stop.set()
    for thread in pool:
        thread.join()
    for sock in opened:
        sock.close()
    assert len(opened) >= SLOW_CLIENTS * 0.9  # the slow clients really were connected
    assert n >= 10 and max(latencies) < 1.0, max(latencies)  # normal callbacks kept flowing
    assert grown < 20 * 1024, f"server RSS grew {grown} KiB with {SLOW_CLIENTS} slow clients"
