"""In-process store: tests, benchmarks, and a single warm container that needs nothing else."""

from __future__ import annotations

import threading
import time
from urllib.parse import SplitResult

from ..settings import Settings
from .base import PENDING, Claim, ClaimStatus, Record, Store


class MemoryStore(Store):
    schemes = ("memory",)

    def __init__(self, ttl_seconds: float = 86400, lease_seconds: float = 10.0) -> None:
        super().__init__(ttl_seconds, lease_seconds)
        self._records: dict[str, Record] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: SplitResult, settings: Settings) -> MemoryStore:
        return cls(settings.dedup_ttl_seconds, settings.claim_lease_seconds)

    def claim(self, key: str, message: str, now: float | None = None) -> Claim:
        now = time.time() if now is None else now
        with self._lock:
            existing = self._records.get(key)
            if existing is not None and not existing.claimable(now):
                return self.outcome(existing)
            record = self.new_record(key, message, now)
            self._records[key] = record
            return Claim(ClaimStatus.CLAIMED, record)

    def mark_published(self, key: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            record = self._records.get(key)
            if record is not None:
                self._records[key] = self.published(record, now)

    def get(self, key: str) -> Record | None:
        return self._records.get(key)

    def pending(self, older_than: float, now: float | None = None, limit: int = 100) -> list[Record]:
        now = time.time() if now is None else now
        with self._lock:
            found = [r for r in self._records.values() if r.status == PENDING and r.updated_at <= now - older_than]
        return sorted(found, key=lambda r: r.updated_at)[:limit]

    def purge(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._lock:
            expired = [k for k, r in self._records.items() if r.status != PENDING and r.expires_at <= now]
            for key in expired:
                del self._records[key]
        return len(expired)
