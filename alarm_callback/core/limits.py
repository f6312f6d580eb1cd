"""Input limits the receiver enforces before it trusts a body's shape."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32  # real callbacks nest 4 deep; anything near this is not an alarm


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when containers nest deeper than `limit` (checked level by level, without recursion)."""
    level = [value]
    depth = 1
    while level:
        if depth > limit:
            return True
        below = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list or isinstance(child, (dict, list)):
                    below.append(child)
        level = below
        depth += 1
    return False
