"""`memory://` store, queue and quarantine: tests, benchmarks, and a single warm container
that needs nothing else. Tests read `MemoryPublisher.messages` and `MemoryQuarantine.items`."""

from __future__ import annotations

import threading
import time
from urllib.parse import SplitResult

from ..core.message import Message
from ..core.outbox import PENDING, Claim, ClaimStatus, Record, Store
from ..core.ports import Publisher, Quarantine, Quarantined
from .options import BackendOptions


class MemoryStore(Store):
    schemes = ("memory",)

    def __init__(self, ttl_seconds: float = 86400, lease_seconds: float = 10.0) -> None:
        super().__init__(ttl_seconds, lease_seconds)
        self._records: dict[str, Record] = {}
        self._episodes: dict[str, tuple[int, str, float]] = {}  # fingerprint -> version, blob, expires_at
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> MemoryStore:
        return cls(options.ttl_seconds, options.lease_seconds)

    def _claim(self, record: Record, now: float, marker: Record | None = None) -> Claim:
        with self._lock:
            existing = self._records.get(record.key)
            decision = "new" if existing is None else existing.decide(now, record.digest)
            if existing is not None and decision == "lost":
                return self.lost_claim(existing, record.digest)
            if existing is not None and decision == "takeover":
                record = existing.taken_over(now, record.lease_until - now)
            self._records[record.key] = record
            if decision == "new" and marker is not None:
                self._write_marker(marker, now)
            return Claim(ClaimStatus.CLAIMED, record)

    def _settle(self, key: str, status: str, now: float) -> None:
        with self._lock:
            record = self._records.get(key)
            if record is not None:
                self._records[key] = record.marked(status, now)

    def _remember(self, marker: Record, now: float) -> bool:
        with self._lock:
            return self._write_marker(marker, now)

    def _write_marker(self, marker: Record, now: float) -> bool:
        """Under the lock: write `marker` unless a live record holds its key."""
        existing = self._records.get(marker.key)
        if existing is not None and existing.expires_at > now:
            return False
        self._records[marker.key] = marker
        return True

    def get(self, key: str) -> Record | None:
        return self._records.get(key)

    def pending(self, older_than: float, now: float | None = None, limit: int = 100) -> list[Record]:
        now = time.time() if now is None else now
        with self._lock:
            found = [r for r in self._records.values() if r.status == PENDING and r.updated_at <= now - older_than]
        return sorted(found, key=lambda r: r.updated_at)[:limit]

    def load_episode(self, fingerprint: str) -> tuple[int, str] | None:
        found = self._episodes.get(fingerprint)
        return None if found is None else (found[0], found[1])

    def swap_episode(self, fingerprint: str, version: int, blob: str, now: float, ttl_seconds: float) -> bool:
        with self._lock:
            found = self._episodes.get(fingerprint)
            if (0 if found is None else found[0]) != version:
                return False
            self._episodes[fingerprint] = (version + 1, blob, now + ttl_seconds)
            return True

    def purge(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._lock:
            expired = [k for k, r in self._records.items() if r.status != PENDING and r.expires_at <= now]
            for key in expired:
                del self._records[key]
            for fingerprint in [f for f, (_, _, until) in self._episodes.items() if until <= now]:
                del self._episodes[fingerprint]
        return len(expired)


class MemoryPublisher(Publisher):
    schemes = ("memory",)

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> MemoryPublisher:
        return cls()

    def publish(self, message: Message) -> None:
        with self._lock:
            self.messages.append(message)


class MemoryQuarantine(Quarantine):
    schemes = ("memory",)

    def __init__(self) -> None:
        self.items: dict[str, Quarantined] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> MemoryQuarantine:
        return cls()

    def put(self, item: Quarantined) -> None:
        with self._lock:
            self.items[item.id] = item

    def list(self, limit: int = 100) -> list[Quarantined]:
        return sorted(self.items.values(), key=lambda item: item.received_at)[:limit]

    def delete(self, item_id: str) -> None:
        with self._lock:
            self.items.pop(item_id, None)
