"""Section 5: memory. One warm handler process (AWS adapter, SQLite store and queue in a
temporary directory, so nothing is kept in process memory by design) serves 10,000
callbacks with distinct sessionIds; its RSS and peak RSS are read after 1,000 and after
10,000. Growth between the two is what a leak would show."""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import traceback
from typing import Any

from .common import Section, env_without_ours, median, run_json, spread

GOAL_GROWTH_MIB = 2.0  # SQLite's page caches (2 MiB per connection by default) may still fill


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mib() -> float:
    return _status_mib("VmRSS")


def _peak_mib() -> float:
    """VmHWM: this process image's peak RSS (ru_maxrss would include the parent's, from before exec)."""
    peak = _status_mib("VmHWM")
    return peak if peak == peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(total: int, checkpoint: int) -> dict[str, Any]:
    from . import events

    directory = tempfile.mkdtemp(prefix="bench-memory-")
    os.environ.update(
        {
            "ALARM_CALLBACK_STORE_URL": f"sqlite:///{directory}/store.db",
            "ALARM_CALLBACK_QUEUE_URL": f"sqlite:///{directory}/queue.db",
            "ALARM_CALLBACK_QUARANTINE_URL": "memory://",
            "ALARM_CALLBACK_TOKEN": events.TOKEN,
        }
    )
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the log lines: written, not kept
    if os.path.exists(os.path.join(os.path.dirname(__file__), "..", "alarm_callback", "edges", "aws.py")):
        from alarm_callback.edges import entry

        def serve(body: bytes) -> int:
            reply = entry.lambda_handler(events.http_api(body), None)
            return int(reply["statusCode"])
    else:  # pragma: no cover - before the AWS adapter existed
        from alarm_callback.config.settings import Settings
        from alarm_callback.config.wiring import receiver_from_settings
        from alarm_callback.core.http import Request

        receiver = receiver_from_settings(Settings())

        def serve(body: bytes) -> int:
            return receiver.handle(Request("POST", f"/callback/{events.TOKEN}", body)).status

    bodies = events.bodies()
    figures: dict[str, Any] = {"start_rss": _rss_mib()}
    for i in range(total):
        status = serve(events.distinct(bodies[i % len(bodies)], f"mem-{i}"))
        if status != 200:
            raise RuntimeError(f"callback {i} answered {status}")
        if i + 1 in (checkpoint, total):
            gc.collect()
            figures[str(i + 1)] = {"rss": _rss_mib(), "peak": _peak_mib()}
    return figures


def run(smoke: bool = False) -> Section:
    section = Section("memory")
    total, checkpoint, runs = (200, 20, 1) if smoke else (10_000, 1_000, 3)
    outs = [
        run_json(
            [sys.executable, "-m", "benchmarks.memory", "--total", str(total), "--checkpoint", str(checkpoint)],
            env_without_ours(),
            timeout=900,
        )
        for _ in range(runs)
    ]
    section.data = {"runs": outs}
    first = [o[str(checkpoint)] for o in outs]
    last = [o[str(total)] for o in outs]
    growth = [b["peak"] - a["peak"] for a, b in zip(first, last, strict=True)]
    section.add(
        f"memory: peak RSS after {checkpoint:,} / {total:,} callbacks",
        f"{spread([f['peak'] for f in first])} / {spread([f['peak'] for f in last])} MiB "
        f"(RSS {median([f['rss'] for f in last]):.1f} MiB)",
        ratio=f"+{spread(growth, '{:.2f}')} MiB",
        goal=f"growth <= {GOAL_GROWTH_MIB:.0f} MiB",
        ok=median(growth) <= GOAL_GROWTH_MIB,
        note="AWS adapter, SQLite store and queue",
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--checkpoint", type=int, default=1_000)
    args = parser.parse_args()
    try:
        print(json.dumps(child(args.total, args.checkpoint)))
    except Exception:
        print(traceback.format_exc())
        sys.exit(1)


if __name__ == "__main__":
    main()
