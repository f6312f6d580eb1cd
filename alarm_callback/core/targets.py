"""Target URLs: the publishers a route names, and how a log line shows one.

Apart from `routing` because every start reads the default route (``QUEUE_URL``) while
most deployments set no ``ROUTES``: they never import the router and its rule classes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

DROP_URL = "drop://"


def parse_targets(value: Any, where: str) -> tuple[str, ...]:
    """Target URLs from a comma-separated string or a list of strings. ``drop://`` must
    stand alone: a route either delivers or discards."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{where}: targets must be a URL, comma-separated URLs or a list of URLs")
    urls = [DROP_URL if urlsplit(item.strip()).scheme == "drop" else item.strip() for item in items if item.strip()]
    if not urls:
        raise ConfigError(f"{where}: names no target URL")
    if DROP_URL in urls and len(urls) > 1:
        raise ConfigError(f"{where}: drop:// must be the only target of its route")
    return tuple(dict.fromkeys(urls))


def shown_url(url: str) -> str:
    """A target URL fit for a log line: scheme, host and path (no user, password or query,
    where a webhook keeps its secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
