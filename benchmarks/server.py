"""Section 3: the local server. uvicorn serving `alarm_callback.edges.asgi.App` on SQLite store and
queue, driven by wrk (post.lua: distinct alarms, 10% resends) at fixed concurrency for a
fixed time, against the floor app (baselines/floor_app.py) under the same uvicorn settings.
Subject and floor runs alternate, each on fresh database files. After each subject run the
queue is checked: exactly one message per distinct alarm, nothing left pending.

Without wrk (or in smoke runs) a small Python load generator sends the same requests.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import events, fakes, loadgen, serve
from .common import ROOT, Section, child_cwd, env_without_ours, median, ratios, spread

GOAL_RATIO = 0.6  # issue 14: callbacks/s at least this share of the floor's, on the same stack
GOAL_P99_MS = 15.0
RESEND_SHARE = 0.1


def _template(directory: Path) -> tuple[Path, str]:
    body = events.distinct(events.bodies()[0], "__SESSION__").decode()
    path = directory / "template.json"
    path.write_text(body, encoding="utf-8")
    return path, body


def _load(
    tool: str, url: str, template: tuple[Path, str], prefix: str, connections: int, seconds: float
) -> dict[str, Any]:
    if tool == "wrk":
        proc = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "5s",
                "-s",
                str(ROOT / "benchmarks" / "post.lua"),
                url,
                "--",
                str(template[0]),
                str(RESEND_SHARE),
                prefix,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"wrk failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result
    return loadgen.run(url, template[1], RESEND_SHARE, prefix, connections, seconds)


def _check_queue(directory: Path, layout: str) -> dict[str, int]:
    store_path, queue_path = serve.layout_files(str(directory), layout)
    queue = sqlite3.connect(queue_path)
    store = sqlite3.connect(store_path)
    try:
        messages, distinct = queue.execute("SELECT count(*), count(DISTINCT id) FROM messages").fetchone()
        outbox, pending = store.execute("SELECT count(*), coalesce(sum(status = 'pending'), 0) FROM outbox").fetchone()
    finally:
        queue.close()
        store.close()
    return {"messages": messages, "distinct": distinct, "outbox": outbox, "pending": pending}


def layout() -> str:
    """The subject's SQLite layout: ``BENCH_SERVER_LAYOUT=one-file`` measures the outbox and
    queue in one file; by default the layout of `Settings`' default URLs (see serve.py)."""
    chosen = os.environ.get("BENCH_SERVER_LAYOUT", "defaults")
    if chosen not in serve.LAYOUTS:
        raise ValueError(f"BENCH_SERVER_LAYOUT must be one of {', '.join(serve.LAYOUTS)}, not {chosen!r}")
    return chosen


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) the server process has used, from /proc (Linux; None
    elsewhere). Per request it is steadier than callbacks/s on a machine shared with other
    work: a busy neighbour stretches the wall clock more than the server's own CPU time."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _serve_once(
    kind: str, tool: str, template: tuple[Path, str], connections: int, seconds: float, run_no: int
) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    port = fakes.free_port()
    env = env_without_ours(ALARM_CALLBACK_TOKEN=events.TOKEN)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "benchmarks.serve", kind, "--port", str(port)),
            *("--dir", str(directory), "--layout", layout()),
        ],
        env=env,
        cwd=child_cwd(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not fakes.wait_port(port, 30):
            raise RuntimeError(f"{kind} server did not start")
        url = f"http://127.0.0.1:{port}/callback/{events.TOKEN}"
        _load(tool, url, template, f"warm{run_no}", connections, min(1.0, seconds))  # warm-up, not counted
        cpu_before = _cpu_seconds(proc.pid)
        result = _load(tool, url, template, f"run{run_no}", connections, seconds)
        cpu_after = _cpu_seconds(proc.pid)
        if cpu_before is not None and cpu_after is not None and result["requests"]:
            result["cpu_us_per_request"] = (cpu_after - cpu_before) / result["requests"] * 1e6
    finally:
        proc.terminate()
        proc.wait(30)
    result["queue"] = _check_queue(directory, layout()) if kind == "subject" else {}
    shutil.rmtree(directory, ignore_errors=True)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def run(smoke: bool = False) -> Section:
    section = Section("server")
    have_wrk = shutil.which("wrk") is not None
    tool = "wrk" if have_wrk and not smoke else "python"
    runs, seconds, connections = (1, 1.0, 4) if smoke else (3, 10.0, 16)
    results: dict[str, list[dict[str, Any]]] = {"subject": [], "floor": []}
    with tempfile.TemporaryDirectory() as tmp:
        template = _template(Path(tmp))
        for run_no in range(runs):
            order = ["subject", "floor"] if run_no % 2 == 0 else ["floor", "subject"]
            for kind in order:
                results[kind].append(_serve_once(kind, tool, template, connections, seconds, run_no))
    section.data = results
    subject, floor = results["subject"], results["floor"]
    rps_ratio = ratios([r["rps"] for r in subject], [r["rps"] for r in floor])
    p99 = [r["p99_us"] / 1000 for r in subject]
    errors = sum(r["errors"] for r in subject)
    from alarm_callback.ops.serve import served_stack

    stack = "uvicorn on {} + {}".format(*served_stack())
    store_file, queue_file = serve.layout_files("", layout())
    files = (
        f"outbox and queue in one file ({store_file})" if store_file == queue_file else f"{store_file} + {queue_file}"
    )
    load = (
        f"{stack}; {tool}, {connections} connections, {seconds:.0f} s x {runs} runs, {RESEND_SHARE:.0%} resends; "
        f"SQLite layout {layout()}: {files}"
    )
    section.add(
        "local server: callbacks/s (uvicorn + App, SQLite store and queue, vs the floor on the same stack)",
        f"{spread([r['rps'] for r in subject], '{:.0f}')}/s",
        f"floor {spread([r['rps'] for r in floor], '{:.0f}')}/s",
        f"{spread(rps_ratio, '{:.2f}')}x",
        f">= {GOAL_RATIO}x floor",
        median(rps_ratio) >= GOAL_RATIO,
        note=load + ("" if have_wrk else "; wrk not installed: Python load generator"),
    )
    section.add(
        "local server: latency p50 / p99",
        f"p50 {spread([r['p50_us'] / 1000 for r in subject], '{:.2f}')} ms, p99 {spread(p99, '{:.2f}')} ms",
        f"floor p50 {median([r['p50_us'] / 1000 for r in floor]):.2f} ms, p99 {median([r['p99_us'] / 1000 for r in floor]):.2f} ms",
        goal=f"p99 < {GOAL_P99_MS:.0f} ms",
        ok=median(p99) < GOAL_P99_MS,
    )
    cpu = [r["cpu_us_per_request"] for r in subject if "cpu_us_per_request" in r]
    floor_cpu = [r["cpu_us_per_request"] for r in floor if "cpu_us_per_request" in r]
    if cpu and floor_cpu:
        cpu_ratio = ratios(floor_cpu, cpu)
        section.add(
            "local server: CPU per callback (server process, user + system)",
            f"{spread(cpu, '{:.0f}')} us",
            f"floor {spread(floor_cpu, '{:.0f}')} us",
            f"{spread(cpu_ratio, '{:.2f}')}x",
            note="floor CPU / subject CPU per request, pairwise: the throughput ratio without the "
            "neighbours' share of the 2 cores (information, not a goal)",
        )
    checks = [r["queue"] for r in subject]
    exact = all(c["messages"] == c["distinct"] == c["outbox"] and c["pending"] == 0 for c in checks)
    section.add(
        "local server: errors; one message per distinct alarm",
        f"{errors} errors; queue {sum(c['messages'] for c in checks)} messages for "
        f"{sum(c['distinct'] for c in checks)} distinct alarms, {sum(c['pending'] for c in checks)} pending",
        goal="0 errors, exactly one each",
        ok=errors == 0 and exact,
        note=f"{sum(r['sent_resends'] for r in subject)} resends sent",
    )
    return section
