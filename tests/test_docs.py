"""Docs that repeat each other stay in step."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cloud_docs_list_the_event_sources_of_event_sources_md() -> None:
    reference = (DOCS / "event-sources.md").read_text().splitlines()
    for doc in ("aws.md", "tencent.md"):
        section = (DOCS / doc).read_text().split("## Accepted event sources", 1)[1]
        rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
        assert len(rows) >= 5, doc
        assert all(row in reference for row in rows), doc
