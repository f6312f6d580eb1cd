"""Quarantine: bodies the receiver could not accept, kept for inspection and replay.

Only bodies that passed authentication reach it (a stranger cannot fill it). Each item
keeps the raw bytes (up to the body limit), why it was refused and when.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import SplitResult

from ..settings import Settings


@dataclass(frozen=True, slots=True)
class Quarantined:
    id: str
    received_at: float
    reason: str  # machine code, e.g. invalid_json
    detail: str  # human explanation
    body: bytes
    source: str  # adapter that received it
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        text = self.body.decode("utf-8", "replace")
        return {
            "id": self.id,
            "received_at": self.received_at,
            "reason": self.reason,
            "detail": self.detail,
            "source": self.source,
            "truncated": self.truncated,
            "body": text,
            "body_base64": base64.b64encode(self.body).decode(),
        }


class Quarantine(ABC):
    schemes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def from_url(cls, url: SplitResult, settings: Settings) -> Quarantine: ...

    @abstractmethod
    def put(self, item: Quarantined) -> None:
        """Keep the item. Raises QuarantineError when the backend is unreachable."""

    @abstractmethod
    def list(self, limit: int = 100) -> list[Quarantined]:
        """Oldest first."""

    @abstractmethod
    def delete(self, item_id: str) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
