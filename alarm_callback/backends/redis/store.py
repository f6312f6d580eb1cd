"""`redis://` / `rediss://`: the dedup store and outbox on Redis (TencentDB for Redis).

URL: ``redis://[:PASSWORD@]HOST:6379/DB?prefix=alarm-callback`` (TencentDB writes the
password as ``instance-id:password``; put it URL-encoded in the password part). Any other
query parameter is redis-py's own (``socket_timeout=``, ``socket_connect_timeout=``...).

Layout, every key under one hash tag so a cluster keeps them in one slot:

* ``{PREFIX}:r:KEY``: a hash with the `Record` fields. A pending record has no Redis
  expiry (it is still owed to the queue); a published one expires at ``expires_at``.
  Expiry itself is decided from ``expires_at``, as in every store.
* ``{PREFIX}:e:FINGERPRINT``: the alarm's episode record (version, blob), expiring after
  the episode TTL without notifications; swapped by a Lua compare-and-swap.
* ``{PREFIX}:pending``: a sorted set of the pending keys scored by ``updated_at``, the
  sweeper's index, so it never scans the keyspace.

`claim` and `mark_published` are Lua scripts (`scripts.py`): the test of `Record.claimable`, the write and
the index update happen in one atomic step. A fresh key is a plain create (what SET NX
would do); a stale pending or expired record is taken over in the same script, and a lost
race returns the standing record in the same round trip.

The timeouts fit Tencent's 5 s window: 0.5 s to connect, 1 s per command, and one retry on
a dropped connection (a frozen SCF container finds its pooled socket closed). A retried
claim whose first attempt did land sees its own record "in progress" and acks; the record
is published by the sweeper once the lease runs out, so nothing is lost.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from typing import Any, cast
from urllib.parse import SplitResult, parse_qsl, urlencode

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ...core.errors import ConfigError, StoreError
from ...core.outbox import Claim, ClaimStatus, Record, Store
from ..options import BackendOptions
from . import scripts

log = logging.getLogger("alarm_callback")
DEFAULT_PREFIX = "alarm-callback"
_TIMEOUTS = {"socket_timeout": "1.0", "socket_connect_timeout": "0.5"}


class RedisStore(Store):
    schemes = ("redis", "rediss")

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = DEFAULT_PREFIX,
        ttl_seconds: float = 86400,
        lease_seconds: float = 10.0,
    ) -> None:
        super().__init__(ttl_seconds, lease_seconds)
        self.client = client
        self.prefix = prefix
        self._tag = "{" + prefix + "}"
        self._pending = f"{self._tag}:pending"
        self._claim_script = client.register_script(scripts.CLAIM)
        self._mark = client.register_script(scripts.MARK_PUBLISHED)
        self._remember_script = client.register_script(scripts.REMEMBER)
        self._swap_episode = client.register_script(scripts.SWAP_EPISODE)
        self._policy_checked = False

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> RedisStore:
        return cls.connect(url, options.ttl_seconds, options.lease_seconds)

    @classmethod
    def connect(cls, url: SplitResult, ttl_seconds: float = 86400, lease_seconds: float = 10.0) -> RedisStore:
        client, prefix = connect(url)
        return cls(client, prefix, ttl_seconds, lease_seconds)

    def _key(self, key: str) -> str:
        return f"{self._tag}:r:{key}"

    def _claim(self, record: Record, now: float, marker: Record | None = None) -> Claim:
        key = record.key
        args = [key, record.message, repr(now), repr(record.expires_at), repr(record.lease_until), record.digest]
        keys = [self._key(key), self._pending] + ([] if marker is None else [self._key(marker.key)])
        try:
            result = self._claim_script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise StoreError(f"redis claim failed: {exc}") from exc
        if result == 1:
            return Claim(ClaimStatus.CLAIMED, record)
        won, fields = result
        standing = _record(key, _pairs(fields))
        return Claim(ClaimStatus.CLAIMED, standing) if won == 1 else self.lost_claim(standing, record.digest)

    def _settle(self, key: str, status: str, now: float) -> None:
        try:
            self._mark(keys=[self._key(key), self._pending], args=[key, repr(now), status])
        except redis.RedisError as exc:
            raise StoreError(f"redis mark_published failed: {exc}") from exc

    def _remember(self, marker: Record, now: float) -> bool:
        args = [marker.message, repr(now), repr(marker.expires_at)]
        try:
            return bool(self._remember_script(keys=[self._key(marker.key)], args=args))
        except redis.RedisError as exc:
            raise StoreError(f"redis remember failed: {exc}") from exc

    def get(self, key: str) -> Record | None:
        try:
            fields = cast("dict[str, str]", self.client.hgetall(self._key(key)))
        except redis.RedisError as exc:
            raise StoreError(f"redis get failed: {exc}") from exc
        return _record(key, fields) if fields else None

    def pending(self, older_than: float, now: float | None = None, limit: int = 100) -> list[Record]:
        now = time.time() if now is None else now
        try:
            keys = cast("list[str]", self.client.zrangebyscore(self._pending, "-inf", repr(now - older_than), 0, limit))
            if not keys:
                return []
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(self._key(key))
            rows: list[dict[str, str]] = pipe.execute()
            # An index entry without its record (deleted by hand, or evicted: an acked alarm
            # lost to maxmemory-policy): said loudly, then dropped.
            orphans = [key for key, fields in zip(keys, rows, strict=True) if not fields]
            if orphans:
                log.error("pending records vanished from redis", extra={"keys": orphans[:20], "count": len(orphans)})
                self.client.zrem(self._pending, *orphans)
        except redis.RedisError as exc:
            raise StoreError(f"redis pending failed: {exc}") from exc
        return [_record(key, fields) for key, fields in zip(keys, rows, strict=True) if fields]

    def warnings(self) -> list[str]:
        """An evicting ``maxmemory-policy`` can delete a pending record: an acked alarm lost.
        Checked once per container (TencentDB may refuse CONFIG: then said so, not fatal)."""
        if self._policy_checked:
            return []
        self._policy_checked = True
        try:
            policy = cast("dict[str, str]", self.client.config_get("maxmemory-policy")).get("maxmemory-policy")
        except redis.RedisError as exc:
            return [f"could not read redis maxmemory-policy ({exc}); it must be noeviction (docs/tencent.md)"]
        if policy not in (None, "noeviction"):
            return [f"redis maxmemory-policy is {policy!r}: an evicted pending record is a lost alarm; use noeviction"]
        return []

    def load_episode(self, fingerprint: str) -> tuple[int, str] | None:
        try:
            version, blob = cast("list[str | None]", self.client.hmget(self._episode(fingerprint), "version", "blob"))
        except redis.RedisError as exc:
            raise StoreError(f"redis load_episode failed: {exc}") from exc
        return None if version is None or blob is None else (int(version), blob)

    def swap_episode(self, fingerprint: str, version: int, blob: str, now: float, ttl_seconds: float) -> bool:
        ttl_ms = math.ceil(ttl_seconds * 1000)
        try:
            return bool(self._swap_episode(keys=[self._episode(fingerprint)], args=[version, blob, ttl_ms]))
        except redis.RedisError as exc:
            raise StoreError(f"redis swap_episode failed: {exc}") from exc

    def _episode(self, fingerprint: str) -> str:
        return f"{self._tag}:e:{fingerprint}"

    def close(self) -> None:
        self.client.close()

    def drop_all(self) -> int:
        """Delete every key under this prefix (tests, and clearing a staging store)."""
        try:
            keys = list(self.client.scan_iter(match=f"{self._tag}:*", count=500))
            return int(self.client.delete(*keys)) if keys else 0
        except redis.RedisError as exc:
            raise StoreError(f"redis drop_all failed: {exc}") from exc


def connect(url: SplitResult) -> tuple[redis.Redis, str]:
    """The client for a ``redis://`` URL and the key prefix: our ``prefix`` is taken out of
    the query, redis-py reads the rest. Shared by the store and the quarantine."""
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    prefix = query.pop("prefix", DEFAULT_PREFIX)
    if not prefix:
        raise ConfigError("redis:// prefix must not be empty")
    query = {**_TIMEOUTS, **query}
    client = redis.Redis.from_url(
        url._replace(query=urlencode(query)).geturl(),
        retry=Retry(NoBackoff(), 1),
        retry_on_timeout=True,
        decode_responses=True,
        **_LEAN_HANDSHAKE,
    )
    return client, prefix


def _lean_handshake() -> dict[str, Any]:
    """Connection options that leave out the optional commands redis-py sends on connect
    (issue 14: a cold container's first claim waits for every one of them). RESP2 needs no
    HELLO; no driver info, no CLIENT SETINFO; RESP2 connections take no maintenance
    notifications, and the config says so explicitly where redis-py has one.
    What remains is what the URL asks for: AUTH with a password, SELECT for a db other
    than 0. A URL's own ``protocol=3`` still wins (redis-py lets the query override)."""
    base = getattr(redis.connection, "AbstractConnection", redis.connection.Connection)
    params = inspect.signature(base.__init__).parameters
    options: dict[str, Any] = {"protocol": 2}
    if "driver_info" in params:  # newer redis-py: lib_name/lib_version are deprecated
        options["driver_info"] = None
    else:
        options.update(lib_name=None, lib_version=None)
    if "maint_notifications_config" in params:
        from redis.maint_notifications import MaintNotificationsConfig

        options["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    return options


_LEAN_HANDSHAKE = _lean_handshake()


def _pairs(flat: Any) -> dict[str, str]:
    items = list(flat)
    return dict(zip(items[::2], items[1::2], strict=True))


def _record(key: str, fields: dict[str, str]) -> Record:
    try:
        return Record(
            key=key,
            status=fields["status"],
            message=fields["message"],
            created_at=float(fields["created_at"]),
            updated_at=float(fields["updated_at"]),
            expires_at=float(fields["expires_at"]),
            lease_until=float(fields["lease_until"]),
            digest=fields.get("digest", ""),
            attempts=int(fields.get("attempts", 1)),
        )
    except (KeyError, ValueError) as exc:
        raise StoreError(f"redis record {key!r} is malformed: {exc!r}") from exc
