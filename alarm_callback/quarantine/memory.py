"""`memory://` quarantine for tests."""

from __future__ import annotations

import threading
from urllib.parse import SplitResult

from ..settings import Settings
from .base import Quarantine, Quarantined


class MemoryQuarantine(Quarantine):
    schemes = ("memory",)

    def __init__(self) -> None:
        self.items: dict[str, Quarantined] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: SplitResult, settings: Settings) -> MemoryQuarantine:
        return cls()

    def put(self, item: Quarantined) -> None:
        with self._lock:
            self.items[item.id] = item

    def list(self, limit: int = 100) -> list[Quarantined]:
        return sorted(self.items.values(), key=lambda item: item.received_at)[:limit]

    def delete(self, item_id: str) -> None:
        with self._lock:
            self.items.pop(item_id, None)
