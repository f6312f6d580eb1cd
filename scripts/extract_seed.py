"""Rebuild alarm_callback/samples/*.json from the vendor page in ../shared/seed/.

The page's code blocks carry `//` comments; they are stripped, then each dimension block
is dropped into the full metric or event payload with its own sessionId, so every sample
is a complete callback. Run: python scripts/extract_seed.py ../shared/seed/*.txt
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "alarm_callback" / "samples"


def blocks(text: str) -> list[tuple[str, str]]:
    """(heading, code) for every fenced block, with the nearest '#' heading above it."""
    found = []
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.strip().startswith("```"):
            j = i + 1
            while not lines[j].strip().startswith("```"):
                j += 1
            found.append((heading, "\n".join(lines[i + 1 : j])))
            i = j
        i += 1
    return found


def strip_comments(code: str) -> str:
    return "\n".join(re.sub(r"\s//.*$", "", line) for line in code.splitlines())


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def main(paths: list[str]) -> None:
    text = "\n".join(Path(p).read_text() for p in paths)
    metric = event = None
    metric_dims: list[tuple[str, dict]] = []
    event_dims: list[tuple[str, dict]] = []
    section = ""
    for heading, code in blocks(text):
        code = strip_comments(code).strip()
        if heading.startswith("Sample metric alarm dimensions") or heading.startswith("Sample event alarm dimensions"):
            section = heading
        if heading == "Sample metric alarm parameters":
            metric = json.loads(code)
            section = "metric"
        elif heading == "Sample event alarm parameters":
            event = json.loads(code)
            section = "event"
        elif code.startswith('"dimensions"'):
            dims = json.loads("{" + code + "}")["dimensions"]
            target = metric_dims if section in ("metric", "Sample metric alarm dimensions") else event_dims
            target.append((heading, dims))
        elif heading == "Sample event alarm dimensions":
            section = heading
    assert metric and event, "seed samples not found"
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    (OUT / "metric.json").write_text(json.dumps(metric, indent=2, ensure_ascii=False) + "\n")
    (OUT / "event.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
    seen: dict[str, int] = {}
    for kind, base, dims_list in (("metric", metric, metric_dims), ("event", event, event_dims)):
        for heading, dims in dims_list:
            name = f"{kind}-{slug(heading)}"
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name += f"-{seen[name]}"
            sample = copy.deepcopy(base)
            sample["sessionId"] = f"seed-{name}"
            sample["alarmObjInfo"]["dimensions"] = dims
            (OUT / f"{name}.json").write_text(json.dumps(sample, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {len(list(OUT.glob('*.json')))} samples to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
