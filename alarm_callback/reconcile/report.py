"""What a reconcile run did, per occurrence and in total, as JSON or as a table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

Verdict = Literal["published", "delivered", "reconciled", "in_progress", "too_recent", "failed"]


@dataclass(frozen=True, slots=True)
class OccurrenceResult:
    history_id: str | None
    status: str
    outcome: Verdict
    kind: str
    object: str | None
    subject: str | None
    first_occur_time: str | None
    message_id: str
    occurrence: str | None
    identity: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    window_start: str
    window_end: str
    records: int
    requests: int
    pages: int
    throttled: int
    items: list[OccurrenceResult] = field(default_factory=list)

    def count(self, outcome: Verdict) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    @property
    def published(self) -> int:
        return self.count("published")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def skipped(self) -> int:
        return sum(self.count(o) for o in ("delivered", "reconciled", "in_progress", "too_recent"))

    def summary(self) -> dict[str, Any]:
        return {
            "window_start": self.window_start,
            "window_end": self.window_end,
            "records": self.records,
            "occurrences": len(self.items),
            "published": self.published,
            "delivered": self.count("delivered"),
            "reconciled": self.count("reconciled"),
            "in_progress": self.count("in_progress"),
            "too_recent": self.count("too_recent"),
            "failed": self.failed,
            "requests": self.requests,
            "pages": self.pages,
            "throttled": self.throttled,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "items": [asdict(item) for item in self.items]}


def iso(moment: datetime | float | None) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def render(report: ReconcileReport) -> str:
    """The human table `alarm-callback reconcile` prints."""
    lines = [
        f"alarm history {report.window_start} .. {report.window_end} (first occurrence): "
        f"{report.records} record(s), {report.requests} API call(s), {report.pages} page(s)"
        + (f", {report.throttled} throttled" if report.throttled else "")
    ]
    rows: Sequence[Sequence[str]] = [
        (
            item.outcome,
            item.status,
            item.kind,
            item.first_occur_time or "-",
            item.object or "-",
            item.subject or "-",
            item.message_id + (f"  ({item.detail})" if item.detail else ""),
        )
        for item in report.items
    ]
    if rows:
        header = ("OUTCOME", "STATUS", "KIND", "FIRST OCCURRED", "OBJECT", "METRIC/EVENT", "MESSAGE ID")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            lines.append(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
            )
    lines.append(
        f"published {report.published}, skipped {report.skipped} "
        f"(delivered {report.count('delivered')}, reconciled before {report.count('reconciled')}, "
        f"in progress {report.count('in_progress')}, too recent {report.count('too_recent')}), failed {report.failed}"
    )
    return "\n".join(lines)
