"""`redis://` quarantine: refused bodies kept in the same Redis as the store.

SCF has no lasting disk, so on Tencent Cloud this is the durable place for them. Items are
hashes ``{PREFIX}:q:ID`` (the body base64-encoded) indexed by a sorted set
``{PREFIX}:quarantine`` scored by arrival, under the store's hash tag and prefix.
"""

from __future__ import annotations

import base64
from typing import Any, cast
from urllib.parse import SplitResult

import redis

from ...core.errors import QuarantineError
from ...core.ports import Quarantine, Quarantined
from ..options import BackendOptions
from .store import connect


class RedisQuarantine(Quarantine):
    schemes = ("redis", "rediss")

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self._tag = "{" + prefix + "}"
        self._index = f"{self._tag}:quarantine"

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> RedisQuarantine:
        return cls(*connect(url))

    def _key(self, item_id: str) -> str:
        return f"{self._tag}:q:{item_id}"

    def put(self, item: Quarantined) -> None:
        fields: dict[Any, Any] = {  # redis-py types the mapping invariantly
            "received_at": repr(item.received_at),
            "reason": item.reason,
            "detail": item.detail,
            "body": base64.b64encode(item.body).decode(),
            "source": item.source,
            "truncated": "1" if item.truncated else "0",
        }
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self._key(item.id), mapping=fields)
            pipe.zadd(self._index, {item.id: item.received_at})
            pipe.execute()
        except redis.RedisError as exc:
            raise QuarantineError(f"redis quarantine put failed: {exc}") from exc

    def list(self, limit: int = 100) -> list[Quarantined]:
        try:
            ids = cast("list[str]", self.client.zrange(self._index, 0, limit - 1))
            pipe = self.client.pipeline(transaction=False)
            for item_id in ids:
                pipe.hgetall(self._key(item_id))
            rows: list[dict[str, str]] = pipe.execute() if ids else []
        except redis.RedisError as exc:
            raise QuarantineError(f"redis quarantine list failed: {exc}") from exc
        return [
            Quarantined(
                id=item_id,
                received_at=float(row["received_at"]),
                reason=row["reason"],
                detail=row["detail"],
                body=base64.b64decode(row["body"]),
                source=row["source"],
                truncated=row["truncated"] == "1",
            )
            for item_id, row in zip(ids, rows, strict=True)
            if row
        ]

    def delete(self, item_id: str) -> None:
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(self._key(item_id))
            pipe.zrem(self._index, item_id)
            pipe.execute()
        except redis.RedisError as exc:
            raise QuarantineError(f"redis quarantine delete failed: {exc}") from exc

    def close(self) -> None:
        self.client.close()
