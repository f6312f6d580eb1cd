"""`drop://`: takes every message and keeps none.

A routing rule sends what nobody should receive here (e.g. repeats after the third), so
the outbox record is marked published like any delivered message. `core.routing.Router`
logs each message routed here as ``routed to drop://`` with its rule and counts them.
"""

from __future__ import annotations

from urllib.parse import SplitResult

from ..core.message import Message
from ..core.ports import Publisher
from .options import BackendOptions


class DropPublisher(Publisher):
    schemes = ("drop",)

    @classmethod
    def from_url(cls, url: SplitResult, options: BackendOptions) -> DropPublisher:
        return cls()

    def publish(self, message: Message) -> None:
        """Discard the message on purpose (the router logs it)."""
