"""`stdout://`: one CloudEvent JSON per line on standard output (pipes, debugging, logs-as-queue)."""

from __future__ import annotations

import sys
import threading
from typing import TextIO
from urllib.parse import SplitResult

from ..core.errors import PublishError
from ..core.message import Message
from ..core.ports import Publisher
from .options import BackendOptions


class StdoutPublisher(Publisher):
    schemes = ("stdout",)

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> StdoutPublisher:
        return cls()

    def publish(self, message: Message) -> None:
        stream = self.stream or sys.stdout
        try:
            with self._lock:
                stream.write(message.body + "\n")
                stream.flush()
        except (OSError, ValueError) as exc:
            raise PublishError(f"stdout write failed: {exc}") from exc
