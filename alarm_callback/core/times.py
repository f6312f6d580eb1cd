"""Vendor times: offset-less local text (Beijing time by default) or epoch numbers, into
aware UTC datetimes. Shared by the normalizer and the alarm-history reconciler."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def load_timezone(name: str) -> tzinfo:
    """Vendor times carry no offset. Default Asia/Shanghai (UTC+8, no DST since 1991), so a
    missing tz database (slim containers) falls back to the fixed offset rather than failing."""
    match = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2})(?::?(\d{2}))?", name.strip())
    if match:
        sign = 1 if match.group(1) == "+" else -1
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        return timezone(sign * delta)
    if name in ("UTC", "Z"):
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == "Asia/Shanghai":
            return _SHANGHAI
        raise ValueError(f"unknown timezone {name!r}") from None


def from_epoch(seconds: int) -> datetime | None:
    """Epoch seconds (or milliseconds, which vendors mix in) as an aware UTC datetime."""
    if seconds > 100_000_000_000:
        seconds //= 1000
    try:
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def to_utc(value: str | None, tz: tzinfo) -> datetime | None:
    """'YYYY-MM-DD HH:MM:SS' in the vendor's zone (or epoch seconds) -> aware UTC datetime.
    `"0"` means "not yet" and gives None."""
    if value is None or value == "0":
        return None
    if value.isdigit():
        seconds = int(value)
        if seconds < 1_000_000_000:  # a small number is a duration, not a time
            return None
        return from_epoch(seconds)
    try:
        parsed = datetime.fromisoformat(value.replace("/", "-"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(timezone.utc)
