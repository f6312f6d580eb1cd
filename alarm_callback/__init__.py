"""alarm-callback: receive Tencent Cloud Monitor alarm callbacks, dedup, hand off to a queue."""

__version__ = "0.1.0"
