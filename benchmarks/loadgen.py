"""A small Python stand-in for wrk (smoke runs, or where wrk cannot be installed): the same
requests as post.lua over keep-alive HTTP/1.1 connections, for a fixed time."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from .common import percentile


async def _connection(
    host: str, port: int, path: str, template: str, share: float, prefix: str, until: float, out: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    rnd = random.Random(prefix)
    n = 0
    try:
        while time.perf_counter() < until:
            if n and rnd.random() < share:
                sid = f"{prefix}-{rnd.randint(max(1, n - 50), n)}"
                out["sent_resends"] += 1
            else:
                n += 1
                sid = f"{prefix}-{n}"
                out["sent_distinct"] += 1
            body = template.replace("__SESSION__", sid).encode()
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            out["latencies"].append(time.perf_counter() - started)
            if not status_line.startswith(b"HTTP/1.1 200"):
                out["errors"] += 1
    except (OSError, asyncio.IncompleteReadError):
        out["errors"] += 1
    finally:
        writer.close()


async def _run(url: str, template: str, share: float, prefix: str, connections: int, seconds: float) -> dict[str, Any]:
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    out: dict[str, Any] = {"latencies": [], "errors": 0, "sent_distinct": 0, "sent_resends": 0}
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(
            _connection(host, int(port), "/" + path, template, share, f"{prefix}-{i}", until, out)
            for i in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    latencies = sorted(out.pop("latencies"))
    return {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "p50_us": percentile(latencies, 0.5) * 1e6,
        "p99_us": percentile(latencies, 0.99) * 1e6,
        **out,
        "error_detail": "",
    }


def run(url: str, template: str, share: float, prefix: str, connections: int, seconds: float) -> dict[str, Any]:
    return asyncio.run(_run(url, template, share, prefix, connections, seconds))
