"""What every command prints in --json mode: one JSON object per line, times in ISO 8601 UTC."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any


def print_json(payload: Any) -> None:
    print(json.dumps(payload, ensure_ascii=False), flush=True)


def iso(timestamp: float) -> str:
    """Epoch seconds -> ISO 8601 UTC, the form of every time the CLI prints."""
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
