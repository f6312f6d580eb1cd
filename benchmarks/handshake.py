"""Section 7: Redis round trips before a container's first claim (issue 14: at most 2).

A throwaway redis-server behind `alarm_callback.testing.redis_proxy.CountingProxy`: a fresh
`RedisStore` claims one key and the commands it sent before its claim script are counted,
on db 0 and db 1 (a non-zero db costs a SELECT). The baseline, in the same run: a client
built with redis-py's defaults (`redis.Redis.from_url`), counted before its first SET. Each
command is one round trip: several milliseconds each in the cloud, nothing locally.
"""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from urllib.parse import urlsplit

from . import fakes
from .common import Section

GOAL = 2


def _count(port: int, db: int, ours: bool) -> list[str]:
    """The handshake commands (name and first argument) a new client sends before its first claim."""
    import redis

    from alarm_callback.backends.redis.store import RedisStore
    from alarm_callback.testing.redis_proxy import CountingProxy, before_first

    proxy = CountingProxy(("127.0.0.1", port))
    try:
        url = f"redis://127.0.0.1:{proxy.port}/{db}"
        if ours:
            store = RedisStore.connect(urlsplit(f"{url}?prefix=bench-{uuid.uuid4().hex[:8]}"), 100, 10)
            try:
                store.claim("bench-key", "message")
            finally:
                store.drop_all()
                store.close()
            sent = before_first(proxy.commands())
        else:
            client = redis.Redis.from_url(url)
            try:
                client.set(f"bench-{uuid.uuid4().hex}", "message", nx=True, ex=60)
            finally:
                client.close()
            sent = before_first(proxy.commands(), ["SET"])
        return [" ".join(args[:2]).upper() for args in sent]
    finally:
        proxy.close()


def run(smoke: bool = False) -> Section:
    section = Section("handshake")
    with ExitStack() as stack:
        port = stack.enter_context(fakes.redis_server())
        if isinstance(port, str):
            section.add("Redis: round trips before a container's first claim", f"not available ({port})")
            return section
        ours = {db: _count(port, db, ours=True) for db in (0, 1)}
        plain = {db: _count(port, db, ours=False) for db in (0, 1)}
    worst = max(len(sent) for sent in ours.values())
    section.add(
        "Redis: round trips before a container's first claim (db 0 / db 1)",
        f"{len(ours[0])} / {len(ours[1])} ({', '.join(ours[1]) or 'none'})",
        f"redis-py defaults {len(plain[0])} / {len(plain[1])} ({', '.join(plain[1])})",
        f"{len(ours[1]) / len(plain[1]):.2f}x (db 1)" if plain[1] else "",
        goal=f"<= {GOAL}",
        ok=worst <= GOAL,
        note="counted through a TCP proxy in front of a local redis-server; a password adds one AUTH",
    )
    section.data = {"ours": ours, "redis_py_defaults": plain}
    return section
