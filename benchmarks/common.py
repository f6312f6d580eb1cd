"""What every section shares: rows of the table, statistics, child processes."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
NOT_AVAILABLE = "not available yet"


@dataclass
class Row:
    section: str
    what: str
    value: str
    baseline: str = ""
    ratio: str = ""
    goal: str = ""
    ok: bool | None = None  # None: no goal, or not measured
    note: str = ""


@dataclass
class Section:
    name: str
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # printed under the table (module lists, profiles)
    data: dict[str, Any] = field(default_factory=dict)  # raw figures, for --json

    def add(self, *args: Any, **kwargs: Any) -> Row:
        row = Row(self.name, *args, **kwargs)
        self.rows.append(row)
        return row


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[index])


def spread(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    """`median [min-max]` of per-run figures."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Pairwise ratios of runs made side by side (run i of one against run i of the other)."""
    return [a / b for a, b in zip(numerators, denominators, strict=False) if b]


def env_without_ours(**extra: str) -> dict[str, str]:
    """The environment minus ALARM_CALLBACK_* and AWS_* (a child gets exactly what we set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALARM_CALLBACK_", "AWS_"))}
    # BENCH_CODE_ROOT: measure another tree's alarm_callback/handler.py (e.g. a checkout of
    # the commit before an optimization) with this harness; it must not hold benchmarks/.
    code_root = os.environ.get("BENCH_CODE_ROOT")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [code_root, str(ROOT), env.get("PYTHONPATH", "")]))
    env["PYTHONDONTWRITEBYTECODE"] = "0"
    env.update(extra)
    return env


def child_cwd() -> Path:
    """Where children run: their own directory comes first on sys.path (see BENCH_CODE_ROOT)."""
    return Path(os.environ.get("BENCH_CODE_ROOT") or ROOT)


def run_json(args: list[str], env: dict[str, str], timeout: float = 600, cwd: Path | None = None) -> Any:
    """Run a child that prints one JSON object as its last stdout line."""
    proc = subprocess.run(
        args, env=env, cwd=cwd or child_cwd(), capture_output=True, text=True, timeout=timeout, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(args[:4])}... failed ({proc.returncode}):\n{proc.stderr[-3000:]}{proc.stdout[-1000:]}"
        )
    return json.loads(lines[-1])


def module_exists(name: str) -> bool:
    """True when `alarm_callback.<name>` (a path relative to the package) exists."""
    return (ROOT / "alarm_callback" / name).exists()


def status_of(reply: Any) -> int:
    """The HTTP status of a handler's reply (a Lambda-style dict, or an object with ``status``)."""
    if isinstance(reply, dict):
        return int(reply.get("statusCode", 200))
    return int(getattr(reply, "status", 200))


def timed_batch(
    name: str, handler: Callable[[Any, Any], Any], batch: Sequence[Any], context: Any
) -> tuple[list[float], float]:
    """One batch through `handler`: the per-call wall times in ns, sorted, and the process's
    CPU ns per call. Raises on any reply other than 200 (a figure of failures means nothing)."""
    times: list[float] = []
    cpu_start = time.process_time_ns()
    for event in batch:
        started = time.perf_counter_ns()
        reply = handler(event, context)
        times.append(time.perf_counter_ns() - started)
        if status_of(reply) != 200:
            raise RuntimeError(f"{name}: {reply!r}")
    cpu = (time.process_time_ns() - cpu_start) / len(batch)
    times.sort()
    return times, cpu
