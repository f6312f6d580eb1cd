"""The ports the receiver hands alarms to: publishers and the quarantine.

Backends implement them (``alarm_callback.backends``); the core only sees these classes.
How a backend is built (its URL, its SDK, its options) is the registry's business, so
no port knows about settings or URLs.

A publisher raises `PublishError` when the broker did not take the message; the receiver
then leaves the record pending in the outbox (acked, not lost) for the sweeper.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

from .errors import PublishError
from .message import Message


class Publisher(ABC):
    schemes: ClassVar[tuple[str, ...]] = ()
    # The largest message body the broker takes, in bytes (None: no practical limit). The
    # receiver refuses larger alarms with 413 before claiming them, so nothing is acked
    # that could never be published.
    max_message_bytes: int | None = None

    @abstractmethod
    def publish(self, message: Message) -> None:
        """Hand the message off durably, or raise PublishError."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class FanOut(Publisher):
    """Publish to every configured publisher. Any failure fails the whole publish, so the
    record stays pending and the sweeper retries all of them: a target that already took it
    sees a repeat with the same id, which consumers drop (at-least-once)."""

    def __init__(self, publishers: Sequence[Publisher]) -> None:
        if not publishers:
            raise ValueError("FanOut needs at least one publisher")
        self.publishers = tuple(publishers)
        limits = [p.max_message_bytes for p in self.publishers if p.max_message_bytes is not None]
        self.max_message_bytes = min(limits) if limits else None

    def publish(self, message: Message) -> None:
        errors: list[str] = []
        for publisher in self.publishers:
            try:
                publisher.publish(message)
            except PublishError as exc:
                errors.append(f"{type(publisher).__name__}: {exc}")
        if errors:
            raise PublishError("; ".join(errors))

    def close(self) -> None:
        for publisher in self.publishers:
            publisher.close()


class Quarantined(NamedTuple):
    """One refused body (or a whole unreadable platform event), kept for inspection and replay."""

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
    """Bodies the receiver could not accept. Only bodies that passed authentication reach it
    (a stranger cannot fill it). Each item keeps the raw bytes (up to the body limit), why it
    was refused and when."""

    schemes: ClassVar[tuple[str, ...]] = ()

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
