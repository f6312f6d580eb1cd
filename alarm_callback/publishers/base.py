"""Publishers: where a normalized alarm is handed off. One small module per broker.

A publisher raises `PublishError` when the broker did not take the message; the receiver
then leaves the record pending in the outbox (acked, not lost) for the sweeper.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar
from urllib.parse import SplitResult

from ..errors import PublishError
from ..message import Message
from ..settings import Settings


class Publisher(ABC):
    schemes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def from_url(cls, url: SplitResult, settings: Settings) -> Publisher:
        """Build the publisher from its URL and the shared settings."""

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

    @classmethod
    def from_url(cls, url: SplitResult, settings: Settings) -> FanOut:
        raise NotImplementedError("FanOut is built by alarm_callback.backends.publisher_from_settings")

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
