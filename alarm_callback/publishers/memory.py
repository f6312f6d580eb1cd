"""`memory://`: keeps messages in a list. Tests and benchmarks read `.messages`."""

from __future__ import annotations

import threading
from urllib.parse import SplitResult

from ..message import Message
from ..settings import Settings
from .base import Publisher


class MemoryPublisher(Publisher):
    schemes = ("memory",)

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: SplitResult, settings: Settings) -> MemoryPublisher:
        return cls()

    def publish(self, message: Message) -> None:
        with self._lock:
            self.messages.append(message)
