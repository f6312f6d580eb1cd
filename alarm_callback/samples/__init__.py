"""The vendor's documented samples (see scripts/extract_seed.py): every metric and event
dimension block dropped into the full payload, each with its own sessionId."""

from __future__ import annotations

from importlib import resources


def load() -> dict[str, bytes]:
    """name -> JSON body, in name order; `metric` is the page's own metric sample."""
    folder = resources.files(__name__)
    return {
        entry.name.removesuffix(".json"): entry.read_bytes()
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    }
