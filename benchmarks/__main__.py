"""`python -m benchmarks [--smoke] [--only cold,warm,sdk,server,size,memory,cost,handshake] [--json FILE] [--strict]`

Prints one Markdown table (the one benchmarks/RESULTS.md keeps), then the details (module
lists, the hot-path profile). `--smoke` runs every section at tiny sizes (the test suite
does, so the harness cannot rot); its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict

from . import cold, cost, handshake, memory, sdk, server, size, warm
from .common import Row, Section

SECTIONS: dict[str, Callable[[bool], Section]] = {
    "cold": cold.run,
    "warm": warm.run,
    "sdk": sdk.run,
    "server": server.run,
    "size": size.run,
    "memory": memory.run,
    "cost": cost.run,
    "handshake": handshake.run,
}


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, load average {load:.2f} at start, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def table(rows: list[Row]) -> str:
    mark = {True: "yes", False: "**NO**", None: ""}
    lines = [
        "| what | measured (median [min-max]) | baseline, same run | ratio | goal | met | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.what, row.value, row.baseline, row.ratio, row.goal, mark[row.ok], row.note]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--smoke", action="store_true", help="every section at tiny sizes (figures mean nothing)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is not met")
    args = parser.parse_args()
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    print(f"# make bench{' --smoke' if args.smoke else ''}\n\nMachine: {machine()}\n", flush=True)
    sections: list[Section] = []
    started = time.monotonic()
    for name in names:
        t0 = time.monotonic()
        try:
            section = SECTIONS[name](args.smoke)
        except Exception as exc:  # one broken section must not hide the others
            section = Section(name)
            section.add(f"{name}", f"FAILED: {type(exc).__name__}", ok=False, note=str(exc).splitlines()[0][:200])
            section.details.append(traceback.format_exc())
        section.data["seconds"] = round(time.monotonic() - t0, 1)
        print(f"[{name}: {section.data['seconds']} s]", file=sys.stderr, flush=True)
        sections.append(section)
    rows = [row for section in sections for row in section.rows]
    print(table(rows))
    print(
        f"\n{len(rows)} rows in {time.monotonic() - started:.0f} s; "
        f"goals met: {sum(r.ok is True for r in rows)}, not met: {sum(r.ok is False for r in rows)}"
    )
    for section in sections:
        for detail in section.details:
            print(f"\n```\n{detail}\n```")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {"machine": machine(), "rows": [asdict(r) for r in rows], "data": {s.name: s.data for s in sections}},
                out,
                indent=1,
                default=str,
            )
    failed = any(r.ok is False for r in rows)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
